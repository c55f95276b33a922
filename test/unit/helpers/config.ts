/**
 * Builders for raw (untrusted) VM config objects. Tests start from a valid Linux config and
 * override what they need; `validConfig` runs the result through `parseVmConfig` so every
 * config a test hands to the rest of the core is one the core could really receive.
 */
import { parseVmConfig } from '../../../src/core/domain/config';
import type { VmConfig } from '../../../src/core/domain/config';

export type RawConfig = Record<string, unknown>;

export const UUID_A = '0b3c9f2e-5d4a-4e8b-9c1d-2f3a4b5c6d7e';
export const UUID_B = '7f6e5d4c-3b2a-4190-8a7b-6c5d4e3f2a1b';

export function rawDisk(over: RawConfig = {}): RawConfig {
  return { id: 'disk0', file: 'disk0.qcow2', format: 'qcow2', bus: 'virtio', readOnly: false, owned: true, ...over };
}

export function rawCdrom(over: RawConfig = {}): RawConfig {
  return { id: 'cd0', iso: '/srv/isos/debian-12.iso', ...over };
}

export function rawNic(over: RawConfig = {}): RawConfig {
  return { id: 'net0', mode: 'nat', model: 'virtio-net-pci', mac: '52:54:00:12:34:56', forwards: [], ...over };
}

/** A valid Linux (BIOS, q35, virtio) config, with top-level overrides. */
export function rawConfig(over: RawConfig = {}): RawConfig {
  return {
    version: 1,
    uuid: UUID_A,
    name: 'Debian 12',
    osType: 'linux-debian',
    description: '',
    group: '',
    memoryMiB: 2048,
    cpus: 2,
    firmware: 'bios',
    machine: 'q35',
    disks: [rawDisk()],
    cdroms: [rawCdrom()],
    bootOrder: ['disk', 'cdrom'],
    nics: [rawNic()],
    display: { adapter: 'vga' },
    serial: { enabled: true },
    ...over,
  };
}

export function validConfig(over: RawConfig = {}): VmConfig {
  return parseVmConfig(rawConfig(over));
}
