/**
 * Adapter management through a real core on a temp data directory (real SQLite; no QEMU is
 * started): MACs unique across the inventory, at most 8 adapters, each mode's settings
 * checked, host networks listed, and bridges the host does not allow refused before start.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Core } from '../../../../src/core/services/core';
import type { HostCapabilities } from '../../../../src/core/qemu/host';

const HOST: HostCapabilities = {
  qemu: null,
  accelerators: [{ name: 'tcg', usable: true }],
  ovmf: null,
  memoryMiB: 8192,
  cpus: 4,
};

describe('NetworkService: adapters', () => {
  let dir: string;
  let core: Core;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-net-'));
    core = await Core.open({ dataDir: dir, host: HOST });
    await core.vms.create({ name: 'a', noDisk: true, memoryMiB: 128, cpus: 1 });
    await core.vms.create({ name: 'b', noDisk: true, memoryMiB: 128, cpus: 1 });
  });
  afterAll(() => {
    core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps MACs unique across the inventory, normalises what is typed, regenerates on request', () => {
    const macA = core.vms.info('a').config.nics[0]!.mac;
    expect(() => core.network.setNic('b', '1', { mac: macA })).toThrow(`MAC ${macA} is already used by 'a'`);
    expect(core.network.setNic('b', 'net0', { mac: '02-AA-BB-CC-DD-EE' }).vm.config.nics[0]!.mac).toBe('02:aa:bb:cc:dd:ee');
    expect(core.network.setNic('b', '1', { mac: '02AABBCCDDEF' }).vm.config.nics[0]!.mac).toBe('02:aa:bb:cc:dd:ef');
    expect(() => core.network.setNic('b', '1', { mac: '03:00:00:00:00:01' })).toThrow(/multicast/);
    expect(() => core.network.setNic('b', '1', { mac: 'nonsense' })).toThrow(/not a MAC address/);
    const regen = core.network.setNic('b', '1', { mac: 'auto' }).vm.config.nics[0]!.mac;
    expect(regen).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(regen).not.toBe(macA);
    expect(core.network.newMac().mac).toMatch(/^52:54:00/);
  });

  it('adds up to 8 adapters with distinct ids and MACs, and removes them', () => {
    for (let i = 0; i < 7; i++) core.network.addNic('a', i === 3 ? { mode: 'internal', network: 'lab' } : {});
    const nics = core.vms.info('a').config.nics;
    expect(nics.map((n) => n.id)).toEqual(['net0', 'net1', 'net2', 'net3', 'net4', 'net5', 'net6', 'net7']);
    expect(new Set(nics.map((n) => n.mac)).size).toBe(8);
    expect(() => core.network.addNic('a')).toThrow("'a' already has 8 network adapters, the most a VM can have");
    core.network.removeNic('a', 'net7');
    core.network.removeNic('a', '7');
    expect(core.vms.info('a').config.nics.map((n) => n.id)).toEqual(['net0', 'net1', 'net2', 'net3', 'net4', 'net5']);
    expect(() => core.network.removeNic('a', 'net9')).toThrow("'a' has no network adapter 'net9' (it has 6)");
  });

  it('checks what each mode needs, and keeps other modes\' settings', () => {
    expect(() => core.network.setNic('b', '1', { mode: 'bridged' })).toThrow('bridge: a bridged adapter needs the name of a host bridge');
    expect(() => core.network.setNic('b', '1', { mode: 'internal', network: 'no spaces allowed' })).toThrow(/invalid value/);
    expect(() => core.network.setNic('b', '1', { natNetwork: '10.0.2.7/24' })).toThrow(/host bits/);
    expect(() => core.network.setNic('b', '1', { mode: 'wifi' as never })).toThrow(/the mode must be one of nat, bridged, internal, none/);
    expect(() => core.network.setNic('b', '1', { colour: 'blue' } as never)).toThrow(/unknown adapter setting 'colour'/);
    core.network.setNic('b', '1', { natNetwork: '10.0.9.0/24', restrict: true });
    const nic = core.network.setNic('b', '1', { mode: 'internal', network: 'lab' }).vm.config.nics[0]!;
    expect(nic).toMatchObject({ mode: 'internal', network: 'lab', natNetwork: '10.0.9.0/24', restrict: true });
    expect(core.network.setNic('b', '1', { mode: 'nat', natNetwork: '10.0.2.0/24', restrict: false }).vm.config.nics[0]!.natNetwork).toBeUndefined();
    core.network.setNic('b', '1', { mode: 'internal' });
  });

  it('turns mirrored traffic counters on and off (off is not written)', () => {
    expect(core.network.setNic('b', '1', { mirrorCounters: true }).vm.config.nics[0]!.mirrorCounters).toBe(true);
    expect(core.network.setNic('b', '1', { mirrorCounters: false }).vm.config.nics[0]).not.toHaveProperty('mirrorCounters');
  });

  it('lists internal networks with their VMs', () => {
    const info = core.network.hostInfo();
    expect(info.internalNetworks).toEqual([
      {
        name: 'lab',
        vms: [
          { uuid: core.vms.info('a').uuid, name: 'a', nic: 'net4', state: 'poweredOff', connected: false },
          { uuid: core.vms.info('b').uuid, name: 'b', nic: 'net0', state: 'poweredOff', connected: false },
        ],
      },
    ]);
  });

  it('refuses, before start, a bridge the host does not have or a platform it does not run on', () => {
    core.network.setNic('b', '1', { mode: 'bridged', bridge: 'nbnosuchbr0' });
    expect(() => core.network.preflight(core.vms.resolve('b').config)).toThrow(
      /^adapter 'net0' cannot be bridged to 'nbnosuchbr0': there is no bridge 'nbnosuchbr0' on this host .*To allow it, run: sudo ip link add nbnosuchbr0 type bridge && sudo ip link set nbnosuchbr0 up/,
    );
    core.network.setNic('b', '1', { bridgeVia: 'vmnet', bridge: 'en0' });
    expect(() => core.network.preflight(core.vms.resolve('b').config)).toThrow("adapter 'net0' cannot be bridged to 'en0': vmnet-bridged exists only on macOS");
    core.network.setNic('b', '1', { bridgeVia: 'tap', tap: 'nbnotap0' });
    expect(() => core.network.preflight(core.vms.resolve('b').config)).toThrow(/there is no tap device 'nbnotap0' on this host/);
  });
});
