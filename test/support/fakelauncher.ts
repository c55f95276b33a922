/**
 * A QEMU launcher for unit tests of the services: the real supervisor (QemuProcess) runs a
 * fake QEMU (fakeqemu.mjs, a node process serving QMP the way QEMU does) in QEMU's place,
 * so lifecycle code paths run without QEMU, quickly, and with scripted guest behaviour.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostCapabilities } from '../../src/core/qemu/host';
import { QemuProcess } from '../../src/core/qemu/supervisor';
import type { QemuLauncher } from '../../src/core/services/lifecycle';

export type FakeQemuBehaviour = 'obeys' | 'ignores' | 'dies' | 'dies-later';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fakeqemu.mjs');

export interface FakeLauncher extends QemuLauncher {
  /** How the next QEMUs behave. */
  behaviour: FakeQemuBehaviour;
  /** Every launch, with the argv the service built for real QEMU. */
  readonly launched: { uuid: string; argv: readonly string[] }[];
}

export function fakeLauncher(behaviour: FakeQemuBehaviour = 'obeys'): FakeLauncher {
  const l: FakeLauncher = {
    behaviour,
    launched: [],
    launch: (spec) => {
      l.launched.push({ uuid: spec.uuid, argv: spec.argv });
      return QemuProcess.launch({ ...spec, binary: process.execPath, argv: [SCRIPT, spec.runDir, l.behaviour], timeoutMs: 10_000 });
    },
    attach: () => Promise.resolve({ gone: 'clean', reason: 'no QEMU is left running in a unit test' }),
  };
  return l;
}

/** A host with QEMU (never run: the fake launcher stands in for it). */
export const FAKE_HOST: HostCapabilities = {
  qemu: { binary: '/usr/bin/qemu-system-x86_64', imgBinary: '/usr/bin/qemu-img', version: '7.2.0', major: 7, minor: 2 },
  accelerators: [{ name: 'tcg', usable: true }],
  ovmf: null,
  memoryMiB: 8192,
  cpus: 4,
};
