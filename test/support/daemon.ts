/**
 * `nestbox daemon` in tests: started in the foreground as a child the test can kill for
 * real, or the background daemon the CLI starts by itself, asked to leave.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { RpcClient } from '../../src/core/api/rpc';
import type { ExitAnswer, ServerHello } from '../../src/core/server/host';
import { lockHolder } from '../../src/core/server/lock';
import { connectUnix } from '../../src/core/server/socket';
import { DataLayout } from '../../src/core/store/paths';
import { sleep } from './waits';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'bin', 'nestbox.cjs');

export interface Daemon {
  readonly child: ChildProcess;
  /** A client connected to this daemon. */
  readonly client: RpcClient;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** The hosting layer's own methods (not in the core's typed API). */
export function hostCall<T>(client: RpcClient, method: 'server.hello' | 'server.exit', params: unknown = {}): Promise<T> {
  const call = client.call as unknown as (this: RpcClient, m: string, p: unknown) => Promise<T>;
  return call.call(client, method, params);
}

/**
 * Starts `nestbox daemon` for `home` and connects to it. A socket file left by a killed core
 * may still be there: it waits until the daemon that answers is this child.
 */
export async function daemon(home: string, env: Record<string, string> = {}): Promise<Daemon> {
  // A CLI command run before (e.g. `create`) leaves its background daemon holding the data
  // directory's lock: the test's own daemon takes over from it.
  await stopBackgroundDaemon(home);
  const child = spawn(process.execPath, [CLI, 'daemon'], { env: { ...process.env, NESTBOX_HOME: home, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    if (process.env['NESTBOX_TEST_DAEMON_STDERR']) process.stderr.write(d);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const sock = new DataLayout(home).coreSocket;
  for (let i = 0; i < 600; i++) {
    if (fs.existsSync(sock)) {
      try {
        const client = new RpcClient(await connectUnix(sock));
        const hello = await hostCall<ServerHello>(client, 'server.hello');
        if (hello.pid === child.pid) {
          await client.call('host.info', {});
          return { child, client, exited, stderr: () => err };
        }
        client.close();
      } catch {
        /* the old socket, or not listening yet */
      }
    }
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`nestbox daemon did not come up: ${err}`);
}

export async function stopDaemon(d: Daemon): Promise<void> {
  d.client.close();
  if (d.child.exitCode === null && d.child.signalCode === null) {
    d.child.kill('SIGTERM');
    await d.exited;
  }
}

/** Who hosts the core of `home` now, or null when none answers. */
export async function runningCore(home: string): Promise<ServerHello | null> {
  const sock = new DataLayout(home).coreSocket;
  if (!fs.existsSync(sock)) return null;
  let client: RpcClient;
  try {
    client = new RpcClient(await connectUnix(sock));
  } catch {
    return null;
  }
  try {
    return await hostCall<ServerHello>(client, 'server.hello');
  } catch {
    return null;
  } finally {
    client.close();
  }
}

/**
 * Asks the background daemon the CLI started for `home` to leave and waits until its lock is
 * free. No-op when no daemon runs (nothing, or a core hosted by the test itself).
 */
export async function stopBackgroundDaemon(home: string, timeoutMs = 60_000): Promise<void> {
  const layout = new DataLayout(home);
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    // No live lock holder: no core runs (a socket file left by a killed core is stale).
    if (lockHolder(layout.lockFile) === null) return;
    let client: RpcClient | null = null;
    try {
      client = new RpcClient(await connectUnix(layout.coreSocket));
      const hello = await hostCall<ServerHello>(client, 'server.hello');
      if (hello.role !== 'daemon') return;
      const answer = await hostCall<ExitAnswer>(client, 'server.exit', { reason: 'test cleanup' });
      if (!answer.exiting) last = answer.reason ?? 'busy';
    } catch {
      // gone, or on its way out
    } finally {
      client?.close();
    }
    if (lockHolder(layout.lockFile) === null) return;
    await sleep(100);
  }
  throw new Error(`the background daemon of ${home} did not exit${last ? ` (${last})` : ''}`);
}
