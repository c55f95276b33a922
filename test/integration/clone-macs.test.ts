/**
 * Networking leftovers of the clone and create paths: a clone gets new MAC addresses unless
 * asked to keep them, and `nestbox create --nic` takes nat, none, internal:NAME and
 * bridged:BRIDGE. No VM is booted: the configuration is what is checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../src/core/api/contract';
import { cleanupHome, cli, openCore, tempHome } from './helpers';

let home: string;
beforeAll(() => {
  home = tempHome();
});
afterAll(async () => {
  await cleanupHome(home);
});

async function info(name: string): Promise<VmInfo> {
  const r = await cli(home, ['info', name, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as VmInfo;
}

describe('MAC addresses of clones', () => {
  it('a clone gets new MACs; --keep-macs keeps the source\'s', async () => {
    expect((await cli(home, ['create', 'src', '--memory', '128', '--cpus', '1', '--disk-size', '32M'])).code).toBe(0);
    const src = await info('src');
    expect(src.config.nics).toHaveLength(1);

    const fresh = await cli(home, ['clone', 'src', 'fresh']);
    expect(fresh.code, fresh.stderr).toBe(0);
    const a = await info('fresh');
    expect(a.config.nics.map((n) => n.mode)).toEqual(['nat']);
    expect(a.config.nics[0]!.mac).not.toBe(src.config.nics[0]!.mac);

    const kept = await cli(home, ['clone', 'src', 'kept', '--keep-macs']);
    expect(kept.code, kept.stderr).toBe(0);
    expect((await info('kept')).config.nics.map((n) => n.mac)).toEqual(src.config.nics.map((n) => n.mac));

    const linked = await cli(home, ['clone', 'src', 'linked-fresh', '--linked']);
    expect(linked.code, linked.stderr).toBe(0);
    const l = await info('linked-fresh');
    expect(new Set([src, a, l].map((v) => v.config.nics[0]!.mac)).size).toBe(3);
  });
});

describe('nestbox create --nic', () => {
  it('takes nat, none, internal:NAME and bridged:BRIDGE', async () => {
    const base = ['--memory', '128', '--cpus', '1', '--no-disk'];
    expect((await cli(home, ['create', 'n-nat', ...base, '--nic', 'nat'])).code).toBe(0);
    expect((await info('n-nat')).config.nics.map((n) => n.mode)).toEqual(['nat']);
    expect((await cli(home, ['create', 'n-none', ...base, '--nic', 'none'])).code).toBe(0);
    expect((await info('n-none')).config.nics).toEqual([]);
    const internal = await cli(home, ['create', 'n-int', ...base, '--nic', 'internal:lab']);
    expect(internal.code, internal.stderr).toBe(0);
    expect((await info('n-int')).config.nics).toMatchObject([{ mode: 'internal', network: 'lab' }]);
    const bridged = await cli(home, ['create', 'n-br', ...base, '--nic', 'bridged:nbtestbr0']);
    expect(bridged.code, bridged.stderr).toBe(0);
    expect((await info('n-br')).config.nics).toMatchObject([{ mode: 'bridged', bridge: 'nbtestbr0' }]);

    for (const bad of ['wifi', 'internal:', 'bridged']) {
      const r = await cli(home, ['create', 'n-bad', ...base, '--nic', bad]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/--nic must be nat, none, internal:NAME or bridged:BRIDGE/);
    }
    const list = JSON.parse((await cli(home, ['list', '--json'])).stdout) as { name: string }[];
    expect(list.map((v) => v.name)).not.toContain('n-bad');
  });
});

describe('vms.create with an adapter other than NAT', () => {
  it('refuses internal without a network name, bridged without a bridge, and unknown modes', async () => {
    const h = tempHome();
    const { hosted, client } = await openCore(h);
    try {
      const base = { osType: 'linux-other', memoryMiB: 128, cpus: 1, noDisk: true } as const;
      await expect(client.call('vms.create', { ...base, name: 'a', nic: 'internal' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(client.call('vms.create', { ...base, name: 'b', nic: 'bridged' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(client.call('vms.create', { ...base, name: 'c', nic: 'wifi' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(client.call('vms.create', { ...base, name: 'd', nic: 'internal', nicNetwork: 'bad name!' })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
      expect(await client.call('vms.list', {})).toEqual([]);
    } finally {
      await hosted.close();
      await cleanupHome(h);
    }
  });
});
