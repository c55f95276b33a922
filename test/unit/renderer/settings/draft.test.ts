/** The Settings dialog sends only what the user changed, in the core's terms. */
import { describe, expect, it } from 'vitest';
import type { VmInfo } from '../../../../src/core/api/contract';
import type { VmConfig } from '../../../../src/core/domain/config';
import { changesOf, draftOf } from '../../../../src/renderer/src/settings/draft';
import { validConfig } from '../../helpers/config';

function vmWith(config: VmConfig): VmInfo {
  // Only `config` is read by the draft; the rest is what a powered-off VM reports.
  return {
    uuid: config.uuid,
    name: config.name,
    osType: config.osType,
    group: config.group,
    state: 'poweredOff',
    memoryMiB: config.memoryMiB,
    cpus: config.cpus,
    config,
    dir: '/vms/x',
    allowed: [],
    runtime: null,
    hasSavedState: false,
    createdAt: '2026-12-06T00:00:00.000Z',
    serialLog: '/vms/x/logs/serial.log',
    qemuLog: '/vms/x/logs/qemu.log',
    linkedClones: [],
    linkedTo: [],
  } as unknown as VmInfo;
}

describe('settings draft', () => {
  const vm = vmWith(validConfig({ description: 'web server', resources: { cpuShares: 200 } }));

  it('opens as the config and sends nothing when nothing changed', () => {
    const d = draftOf(vm);
    expect(d).toMatchObject({ name: 'Debian 12', description: 'web server', memoryMiB: 2048, cpus: 2, firmware: 'bios', display: 'vga', clipboard: true, iso: '/srv/isos/debian-12.iso', autoSnapshots: 0, resetTpm: false });
    expect(changesOf(vm, d)).toEqual({});
  });

  it('sends only the fields that differ (a rename of a running VM carries no memory)', () => {
    const d = draftOf(vm);
    expect(changesOf(vm, { ...d, name: 'Debian 12 (web)' })).toEqual({ name: 'Debian 12 (web)' });
    expect(changesOf(vm, { ...d, memoryMiB: 4096, cpus: 4 })).toEqual({ memoryMiB: 4096, cpus: 4 });
    expect(changesOf(vm, { ...d, clipboard: false, autoSnapshots: 3 })).toEqual({ clipboard: false, autoSnapshots: 3 });
  });

  it('trims the group and the ISO path, and an emptied ISO ejects it (null)', () => {
    const d = draftOf(vm);
    expect(changesOf(vm, { ...d, group: '  Servers ' })).toEqual({ group: 'Servers' });
    expect(changesOf(vm, { ...d, group: ' ' })).toEqual({});
    expect(changesOf(vm, { ...d, iso: ' /srv/isos/debian-12.iso ' })).toEqual({});
    expect(changesOf(vm, { ...d, iso: '   ' })).toEqual({ iso: null });
  });

  it('sends Secure Boot only with UEFI firmware, and a TPM reset only when asked', () => {
    const d = draftOf(vm);
    expect(changesOf(vm, { ...d, secureBoot: true })).toEqual({});
    expect(changesOf(vm, { ...d, firmware: 'uefi', secureBoot: true })).toEqual({ firmware: 'uefi', secureBoot: true });
    expect(changesOf(vm, { ...d, resetTpm: true })).toEqual({ resetTpm: true });
  });

  it('carries resource changes as the resources module words them', () => {
    const d = draftOf(vm);
    const changed = changesOf(vm, { ...d, resources: { ...d.resources, cpuShares: '500' } });
    expect(Object.keys(changed)).toEqual(['resources']);
    expect(changed.resources).toMatchObject({ cpuShares: 500 });
  });
});
