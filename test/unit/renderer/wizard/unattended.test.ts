/** The wizard's "Install automatically" and OS minimums: what blocks a step, and what reaches the core. */
import { describe, expect, it } from 'vitest';
import type { HostInfo, OsType } from '../../../../src/core/api/contract';
import { initialDraft, minimumShortfalls, stepProblem, toSpec, touch, withOsType, type Draft } from '../../../../src/renderer/src/wizard/draft';

const os = (id: string, preset: { memoryMiB: number; cpus: number; firmware: 'bios' | 'uefi'; diskGiB: number }): OsType => ({ id, family: id.split('-')[0], label: id, preset }) as unknown as OsType;
const debian = os('linux-debian', { memoryMiB: 2048, cpus: 2, firmware: 'bios', diskGiB: 20 });
const win11 = os('windows-11', { memoryMiB: 4096, cpus: 2, firmware: 'uefi', diskGiB: 64 });
const host = { osTypes: [debian, win11], memoryMiB: 16384, cpus: 8, firmware: { uefi: '/ovmf' } } as unknown as HostInfo;
const ctx = { host, takenNames: [] };

function auto(d: Draft, over: Partial<Draft['unattended']> = {}): Draft {
  return { ...d, unattended: { ...d.unattended, enabled: true, user: 'alice', password: 'pw', ...over } };
}

describe('OS minimums in the wizard', () => {
  it('names what falls short and whose figures those are, without blocking a manual install', () => {
    let d = withOsType(touch(initialDraft(host), 'name', 'w'), win11, host);
    expect(minimumShortfalls(d)).toEqual([]);
    d = touch(touch(touch(d, 'memoryMiB', 2048, 'memory'), 'cpus', 1, 'cpus'), 'diskSizeGiB', '40', 'diskSize');
    const msgs = minimumShortfalls(d).map((s) => s.message);
    expect(msgs).toEqual([
      expect.stringMatching(/2048 MiB of memory is less than the 4096 MiB this OS needs \(Microsoft's Windows 11 requirements/),
      expect.stringMatching(/1 CPU is fewer than the 2/),
      expect.stringMatching(/a 40 GiB disk is smaller than the 64 GiB/),
    ]);
    expect(stepProblem(2, d, ctx)).toBeNull();
    expect(stepProblem(2, auto(d, { productKey: '' }), ctx)).toMatch(/An automatic install needs more: 2048 MiB/);
    expect(stepProblem(3, auto(touch(d, 'memoryMiB', 4096, 'memory')), ctx)).toMatch(/40 GiB disk/);
  });
});

describe('Install automatically', () => {
  const base = touch(touch(initialDraft(host), 'name', 'Deb Box'), 'iso', '/isos/debian.iso');

  it('checks the entries with the core’s own rules', () => {
    expect(stepProblem(1, auto(base, { user: '' }), ctx)).toBe('Enter the user name to create.');
    expect(stepProblem(1, auto(base, { password: '' }), ctx)).toMatch(/password must have 1/);
    expect(stepProblem(1, auto(base, { user: 'Alice' }), ctx)).toMatch(/not a valid user name/);
    expect(stepProblem(1, auto(base, { timezone: 'Mars/Olympus Mons' }), ctx)).toMatch(/time zone/);
    expect(stepProblem(1, auto(withOsType(base, os('bsd-freebsd', debian.preset as never), host)), ctx)).toMatch(/cannot install 'bsd-freebsd'/);
    expect(stepProblem(1, auto(base), ctx)).toBeNull();
  });

  it('without an ISO expects a cloud image as the existing disk', () => {
    const cloud = auto(touch(base, 'iso', ''));
    expect(stepProblem(1, cloud, ctx)).toBeNull();
    expect(stepProblem(3, cloud, ctx)).toMatch(/cloud image chosen as an existing disk/);
    expect(stepProblem(3, touch(touch(cloud, 'diskMode', 'existing'), 'diskPath', '/img/debian-12-genericcloud.qcow2'), ctx)).toBeNull();
  });

  it('sends the answers with the spec, and nothing when it is off', () => {
    expect(toSpec(base).unattended).toBeUndefined();
    expect(toSpec(auto(base, { hostname: 'deb', timezone: 'Europe/Berlin', locale: 'de_DE' })).unattended).toEqual({
      user: 'alice', password: 'pw', hostname: 'deb', timezone: 'Europe/Berlin', locale: 'de_DE',
    });
  });
});
