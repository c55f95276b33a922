/**
 * The desktop's core process (src/core/server/desktop.ts) with a real `nestbox daemon`: a
 * window opened after the daemon went away (it exits when idle) still reaches a core.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { memoryTransportPair, RpcClient } from '../../src/core/api/rpc';
import { desktopCore, type DesktopCore } from '../../src/core/server/desktop';
import { daemon, hostCall } from '../support/daemon';
import type { ServerHello } from '../../src/core/server/host';
import { cleanupHome, tempHome } from './helpers';

async function openWindow(desktop: DesktopCore): Promise<RpcClient> {
  const [mine, theirs] = memoryTransportPair();
  await desktop.serve(theirs);
  return new RpcClient(mine);
}

describe('the desktop app and the background daemon', () => {
  const home = tempHome();
  let desktop: DesktopCore | null = null;
  afterAll(async () => {
    await desktop?.close();
    await cleanupHome(home);
  });

  it('bridges windows to a running daemon, and hosts the core itself for a window opened after the daemon exited', async () => {
    const d = await daemon(home);
    desktop = await desktopCore(home, { retryMs: 20_000 });
    expect(desktop.hosted(), 'a daemon runs: the desktop bridges to it').toBeNull();
    const first = await openWindow(desktop);
    expect((await hostCall<ServerHello>(first, 'server.hello')).pid).toBe(d.child.pid);
    first.close();
    d.client.close();
    d.child.kill('SIGTERM');
    expect((await d.exited).code).toBe(0);

    const later = await openWindow(desktop);
    const info = await later.call('host.info', {});
    expect(info).toBeTruthy();
    expect(desktop.hosted(), 'the desktop now hosts the core').not.toBeNull();
    expect((await hostCall<ServerHello>(later, 'server.hello')).pid).toBe(process.pid);
    await later.call('vms.list', {});
    later.close();
  });
});
