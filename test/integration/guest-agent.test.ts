/**
 * The guest agent against real QEMU and the real qemu-ga in the test guest (one boot):
 * addresses of two adapters, network counters without mirroring, and Shut down of a guest
 * that ignores ACPI succeeding through the agent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RpcClient } from '../../src/core/api/rpc';
import type { VmInfo } from '../../src/core/api/contract';
import type { HostedCore } from '../../src/core/server/host';
import { cleanupHome, openCore, SerialSession, tempHome, testIso, waitForFile } from './helpers';

const NAME = 'agent guest';

describe('the guest agent in a real guest', () => {
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;

  beforeAll(async () => {
    home = tempHome();
    ({ hosted, client } = await openCore(home));
    await client.call('vms.create', { name: NAME, osType: 'linux-other', memoryMiB: 256, cpus: 1, noDisk: true, iso: testIso(), nic: 'nat' });
    await client.call('network.addNic', { ref: NAME, spec: { mode: 'nat', model: 'e1000', natNetwork: '10.0.3.0/24' } });
    const r = await client.call('vms.start', { ref: NAME });
    await waitForFile(r.vm.serialLog, /NESTBOX-NET-UP 10\.0\.3\.15/, 180_000);
  }, 240_000);
  afterAll(async () => {
    await client.call('vms.powerOff', { ref: NAME }).catch(() => undefined);
    await hosted.close();
    await cleanupHome(home);
  });

  it('reports the OS, host name and both adapters\' addresses, with counters from the agent', async () => {
    let info: VmInfo | undefined;
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      info = await client.call('vms.info', { ref: NAME });
      const addrs = info.guestAgent?.interfaces.flatMap((i) => i.addresses) ?? [];
      if (addrs.includes('10.0.2.15/24') && addrs.includes('10.0.3.15/24') && info.guestAgent?.hostName) break;
      await sleep(1000);
    }
    expect(info?.config.guestAgent).toBe(true);
    expect(info?.guestAgent?.connected).toBe(true);
    expect(info?.guestAgent?.hostName).toBe('nestbox-guest');
    expect(info?.guestAgent?.os?.prettyName).toBe('Nestbox test guest 1.0');
    const byMac = new Map(info!.guestAgent!.interfaces.map((i) => [i.mac, i.addresses]));
    expect(byMac.get(info!.config.nics[0]!.mac)).toContain('10.0.2.15/24');
    expect(byMac.get(info!.config.nics[1]!.mac)).toContain('10.0.3.15/24');
    await sleep(6000); // one more poll, so the sampler has the agent's counters
    const recent = await client.call('stats.recent', { ref: NAME });
    const last = recent.at(-1)!;
    expect(last.nics).toHaveLength(2);
    for (const n of last.nics) expect(n.available, n.reason).toBe(true);
  }, 120_000);

  it('Shut down of a guest that ignores ACPI works through the agent', async () => {
    const serial = await SerialSession.open(client, NAME);
    await serial.run('nestbox-ignore-acpi', /NESTBOX-ACPI-IGNORED/);
    await serial.close();
    const t0 = Date.now();
    const r = await client.call('vms.shutdown', { ref: NAME, timeoutS: 60 });
    expect(r.vm.state).toBe('poweredOff');
    expect(Date.now() - t0).toBeLessThan(60_000);
  }, 120_000);
});
