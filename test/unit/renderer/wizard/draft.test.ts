/** The New VM wizard's draft: presets per OS type, what each step refuses, and the spec sent to the core. */
import { describe, expect, it } from 'vitest';
import type { HostInfo, OsType } from '../../../../src/core/api/contract';
import { defaultOsType, diskSizeValue, initialDraft, stepProblem, toSpec, touch, withOsType, type Draft } from '../../../../src/renderer/src/wizard/draft';

const os = (id: string, family: string, preset: { memoryMiB: number; cpus: number; firmware: 'bios' | 'uefi'; diskGiB: number }): OsType =>
  ({ id, family, label: id, preset }) as unknown as OsType;
const debian = os('linux-debian', 'linux', { memoryMiB: 2048, cpus: 2, firmware: 'bios', diskGiB: 20 });
const win11 = os('windows-11', 'windows', { memoryMiB: 8192, cpus: 4, firmware: 'uefi', diskGiB: 64 });
const host = (over: Partial<{ memoryMiB: number; cpus: number; uefi: string | null; osTypes: OsType[] }> = {}): HostInfo =>
  ({
    osTypes: over.osTypes ?? [win11, debian],
    memoryMiB: over.memoryMiB ?? 4096,
    cpus: over.cpus ?? 2,
    firmware: { uefi: over.uefi === undefined ? '/usr/share/OVMF/OVMF_CODE.fd' : over.uefi },
  }) as unknown as HostInfo;
const ctx = (h = host()) => ({ host: h, takenNames: ['existing'] });

describe('the starting draft', () => {
  it('starts with Debian (else the first Linux, else the first type) and its preset', () => {
    expect(defaultOsType([win11, debian])?.id).toBe('linux-debian');
    expect(defaultOsType([win11, os('linux-arch', 'linux', debian.preset)])?.id).toBe('linux-arch');
    expect(defaultOsType([win11])?.id).toBe('windows-11');
    expect(defaultOsType([])).toBeUndefined();
    const d = initialDraft(host());
    expect(d).toMatchObject({ osType: 'linux-debian', memoryMiB: 2048, cpus: 2, firmware: 'bios', diskMode: 'new', diskSizeGiB: '20', name: '' });
  });

  it('fits a preset to the host: memory and CPUs capped, UEFI only when installed', () => {
    const d = withOsType(initialDraft(host()), win11, host({ uefi: null }));
    expect(d).toMatchObject({ osType: 'windows-11', memoryMiB: 4096, cpus: 2, firmware: 'bios', diskSizeGiB: '64' });
    expect(withOsType(d, win11, host()).firmware).toBe('uefi');
  });

  it('keeps what the user changed by hand when the type changes', () => {
    const d = touch(touch(initialDraft(host()), 'memoryMiB', 1536, 'memory'), 'diskSizeGiB', '7.5', 'diskSize');
    const w = withOsType(d, win11, host());
    expect(w.memoryMiB).toBe(1536);
    expect(w.diskSizeGiB).toBe('7.5');
    expect(w.cpus).toBe(2); // not touched: the preset (capped) applies
    expect(d.touched).toEqual(new Set(['memory', 'diskSize']));
  });

  it('touch without a preset field changes the value only', () => {
    const d = initialDraft(host());
    const n = touch(d, 'name', 'web');
    expect(n.name).toBe('web');
    expect(n.touched).toBe(d.touched);
  });
});

describe('stepProblem', () => {
  const good = (): Draft => ({ ...initialDraft(host()), name: 'web' });

  it('lets a complete draft through every step', () => {
    for (const s of [0, 1, 2, 3, 4] as const) expect(stepProblem(s, good(), ctx()), `step ${s}`).toBeNull();
  });

  it('step 0: the name (also a taken one), the type and the group', () => {
    expect(stepProblem(0, { ...good(), name: '' }, ctx())).toMatch(/Enter a name/);
    expect(stepProblem(0, { ...good(), name: 'Existing' }, ctx())).toMatch(/already exists/);
    expect(stepProblem(0, { ...good(), osType: '' }, ctx())).toBe('Choose the type of operating system.');
    expect(stepProblem(0, { ...good(), group: 'a/b' }, ctx())).toMatch(/must not contain/);
  });

  it('step 1: no ISO is fine, a relative one is not', () => {
    expect(stepProblem(1, { ...good(), iso: '' }, ctx())).toBeNull();
    expect(stepProblem(1, { ...good(), iso: 'debian.iso' }, ctx())).toMatch(/must be absolute/);
    expect(stepProblem(1, { ...good(), iso: ' /isos/debian.iso ' }, ctx())).toBeNull();
  });

  it('step 2: memory, CPUs and UEFI the host lacks', () => {
    expect(stepProblem(2, { ...good(), memoryMiB: 8 }, ctx())).toMatch(/At least 16 MiB/);
    expect(stepProblem(2, { ...good(), memoryMiB: 8192 }, ctx())).toMatch(/only 4,096 MiB/);
    expect(stepProblem(2, { ...good(), cpus: 3 }, ctx())).toMatch(/only 2 CPUs/);
    expect(stepProblem(2, { ...good(), firmware: 'uefi' }, ctx(host({ uefi: null })))).toBe('UEFI firmware is not installed on this host.');
  });

  it('step 3: the size of a new disk, the path of an existing one, or none', () => {
    expect(stepProblem(3, { ...good(), diskSizeGiB: 'twenty' }, ctx())).toMatch(/Enter the disk size/);
    expect(stepProblem(3, { ...good(), diskSizeGiB: '-1' }, ctx())).toMatch(/Enter the disk size/);
    expect(stepProblem(3, { ...good(), diskSizeGiB: '0.01' }, ctx())).toMatch(/at least 0.0625 GiB/);
    expect(stepProblem(3, { ...good(), diskSizeGiB: '70000' }, ctx())).toMatch(/at most 65,536 GiB/);
    expect(stepProblem(3, { ...good(), diskSizeGiB: '0.0625' }, ctx())).toBeNull();
    expect(stepProblem(3, { ...good(), diskMode: 'existing', diskPath: '' }, ctx())).toMatch(/Enter the path of the disk image/);
    expect(stepProblem(3, { ...good(), diskMode: 'existing', diskPath: 'disk.qcow2' }, ctx())).toMatch(/must be absolute/);
    expect(stepProblem(3, { ...good(), diskMode: 'none', diskSizeGiB: 'junk' }, ctx())).toBeNull();
  });
});

describe('toSpec', () => {
  it('sends a new disk in MiB, so fractions of a GiB stay exact', () => {
    expect(diskSizeValue(' 1.5 ')).toBe(1.5);
    expect(diskSizeValue('1,5')).toBeNaN();
    const spec = toSpec({ ...initialDraft(host()), name: 'web', diskSizeGiB: '1.5' });
    expect(spec).toEqual({ name: 'web', osType: 'linux-debian', memoryMiB: 2048, cpus: 2, firmware: 'bios', diskSize: '1536M' });
  });

  it('sends an existing disk or none, and the ISO and group only when given (trimmed)', () => {
    const base = { ...initialDraft(host()), name: 'web' };
    expect(toSpec({ ...base, diskMode: 'existing', diskPath: ' /d/x.qcow2 ', iso: ' /i/d.iso ', group: ' Lab ' })).toMatchObject({ disk: '/d/x.qcow2', iso: '/i/d.iso', group: 'Lab' });
    const none = toSpec({ ...base, diskMode: 'none', iso: '  ', group: '' });
    expect(none).toMatchObject({ noDisk: true });
    expect(none).not.toHaveProperty('iso');
    expect(none).not.toHaveProperty('group');
    expect(none).not.toHaveProperty('diskSize');
  });

  it('sends the clipboard only when turned off, and a shared folder only when one is given (absolute)', () => {
    const base = { ...initialDraft(host()), name: 'web' };
    expect(toSpec(base)).not.toHaveProperty('clipboard');
    expect(toSpec(base)).not.toHaveProperty('shares');
    expect(toSpec({ ...base, clipboard: false, share: ' /srv/docs ', shareReadOnly: true })).toMatchObject({ clipboard: false, shares: [{ path: '/srv/docs', readOnly: true }] });
    expect(toSpec({ ...base, share: '/srv/docs' }).shares).toEqual([{ path: '/srv/docs' }]);
    expect(stepProblem(4, { ...base, share: 'docs' }, ctx())).toMatch(/shared folder must be an absolute path/);
    expect(stepProblem(4, { ...base, share: '' }, ctx())).toBeNull();
  });
});

describe('Secure Boot and TPM in the draft', () => {
  const win11sb = os('windows-11', 'windows', { memoryMiB: 4096, cpus: 2, firmware: 'uefi', diskGiB: 64 });
  (win11sb.preset as unknown as Record<string, unknown>)['secureBoot'] = true;
  (win11sb.preset as unknown as Record<string, unknown>)['tpm'] = true;
  const withSb = (sb: string | null, swtpm: string | null): HostInfo => {
    const h = host() as unknown as { firmware: Record<string, unknown>; swtpm?: string | null };
    return { ...h, firmware: { ...h.firmware, secureBoot: sb }, swtpm } as unknown as HostInfo;
  };

  it('takes them from the preset where the host has them, and sends them', () => {
    const h = withSb('/usr/share/OVMF/OVMF_CODE_4M.ms.fd', '/usr/bin/swtpm');
    const d = withOsType(initialDraft(h), win11sb, h);
    expect(d).toMatchObject({ firmware: 'uefi', secureBoot: true, tpm: true });
    expect(toSpec({ ...d, name: 'w' })).toMatchObject({ firmware: 'uefi', secureBoot: true, tpm: true });
  });

  it('leaves them off on a host without them, and a user who unticks them sends false', () => {
    const none = withSb(null, null);
    const d = withOsType(initialDraft(none), win11sb, none);
    expect(d).toMatchObject({ secureBoot: false, tpm: false });
    expect(toSpec({ ...d, name: 'w' })).not.toHaveProperty('secureBoot');
    const h = withSb('/sb', '/swtpm');
    const off = touch(touch(withOsType(initialDraft(h), win11sb, h), 'secureBoot', false, 'secureBoot'), 'tpm', false, 'tpm');
    expect(toSpec({ ...off, name: 'w' })).toMatchObject({ secureBoot: false, tpm: false });
  });
});
