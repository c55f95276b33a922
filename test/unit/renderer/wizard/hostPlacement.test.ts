/** The New VM wizard on a libvirt host: names, pools, the ISO, the network, the host's limits and the spec sent to the core. */
import { describe, expect, it } from 'vitest';
import type { HostInfo, HostPool, HostSummary, OsType } from '../../../../src/core/api/contract';
import { initialDraft, touch, type Draft } from '../../../../src/renderer/src/wizard/draft';
import {
  LOCAL_PLACEMENT,
  NOT_ON_HOST,
  defaultPool,
  hostLimits,
  hostStepProblem,
  hostSummary,
  hostVmNameProblem,
  isoChoices,
  placementOn,
  placementProblem,
  poolChoices,
  toHostSpec,
  uploadTarget,
  type HostPlacement,
} from '../../../../src/renderer/src/wizard/hostPlacement';

const debian = { id: 'linux-debian', family: 'linux', label: 'Debian', preset: { memoryMiB: 2048, cpus: 2, firmware: 'bios', diskGiB: 20, secureBoot: false, tpm: false } } as unknown as OsType;
const win11 = { id: 'windows-11', family: 'windows', label: 'Windows 11', preset: { memoryMiB: 4096, cpus: 2, firmware: 'uefi', diskGiB: 64, secureBoot: true, tpm: true } } as unknown as OsType;
const local = { osTypes: [debian, win11], memoryMiB: 16384, cpus: 8, firmware: { bios: true, uefi: '/ovmf', secureBoot: '/sb' }, swtpm: '/usr/bin/swtpm' } as unknown as HostInfo;
const lab = { name: 'lab', status: 'connected', cpus: 2, memoryMiB: 3072 } as unknown as HostSummary;

const GiB = 2 ** 30;
const pools: readonly HostPool[] = [
  { name: 'default', active: true, path: '/var/lib/libvirt/images', capacity: 100 * GiB, available: 40 * GiB, isos: [{ pool: 'default', name: 'debian.iso', path: '/var/lib/libvirt/images/debian.iso', capacity: 600 * 2 ** 20 }] },
  { name: 'iso', active: true, path: '/srv/iso', capacity: 10 * GiB, available: 5 * GiB, isos: [{ pool: 'iso', name: 'alpine.iso', path: '/srv/iso/alpine.iso', capacity: 50 * 2 ** 20 }] },
  { name: 'old', active: false, path: null, capacity: 0, available: 0, isos: [] },
];
const on = (over: Partial<HostPlacement> = {}): HostPlacement => ({ ...placementOn('lab'), ...over });
const draft = (over: Partial<Draft> = {}): Draft => ({ ...initialDraft(local), name: 'web1', ...over });
const ctx = { host: hostLimits(local, lab), takenOnHost: ['taken'], pools };

describe('names on a host', () => {
  it("follows libvirt's rule and the host's own VMs", () => {
    expect(hostVmNameProblem('web-1.a_b+c', [])).toBeNull();
    expect(hostVmNameProblem('', [])).toMatch(/Enter a name/);
    expect(hostVmNameProblem('my vm', [])).toMatch(/no spaces/);
    expect(hostVmNameProblem('x;rm', [])).toMatch(/only letters, digits/);
    expect(hostVmNameProblem('-x', [])).toMatch(/must start/);
    expect(hostVmNameProblem('x'.repeat(65), [])).toMatch(/at most 64/);
    expect(hostVmNameProblem('taken', ['taken'])).toMatch(/already has a VM named 'taken'/);
    // Another host's (or this computer's) VM of that name is no clash.
    expect(hostStepProblem(0, draft({ name: 'other' }), on(), ctx)).toBeNull();
    expect(hostStepProblem(0, draft({ name: 'taken' }), on(), ctx)).toMatch(/already has/);
  });
});

describe('pools and ISO volumes', () => {
  it('lists pools with their free space; an inactive pool cannot be chosen', () => {
    expect(poolChoices(pools)).toEqual([
      { name: 'default', label: 'default — 40 GiB free of 100 GiB', disabled: false },
      { name: 'iso', label: 'iso — 5 GiB free of 10 GiB', disabled: false },
      { name: 'old', label: 'old — not active', disabled: true },
    ]);
  });

  it("starts with libvirt's 'default' pool when active, else the first active one", () => {
    expect(defaultPool(pools)).toBe('default');
    expect(defaultPool([pools[2]!, pools[1]!])).toBe('iso');
    expect(defaultPool([pools[2]!])).toBe('');
    expect(defaultPool([])).toBe('');
  });

  it('lists every ISO volume as POOL/VOLUME', () => {
    expect(isoChoices(pools).map((c) => [c.value, c.label])).toEqual([
      ['default/debian.iso', 'default/debian.iso (600 MiB)'],
      ['iso/alpine.iso', 'iso/alpine.iso (50 MiB)'],
    ]);
  });

  it('names the volume a copied file becomes, and finds one of that name already in the pool', () => {
    expect(uploadTarget(pools, 'default', '/home/me/debian.iso')).toEqual({ volume: 'debian.iso', existing: pools[0]!.isos[0] });
    expect(uploadTarget(pools, 'iso', '/home/me/debian.iso')).toEqual({ volume: 'debian.iso', existing: null });
    expect(uploadTarget(pools, 'default', '/home/me/My Distro.iso').volume).toBe('My_Distro.iso');
  });
});

describe('the host step', () => {
  it('is not in the way on this computer', () => {
    expect(placementProblem(LOCAL_PLACEMENT, null)).toBeNull();
  });

  it('waits for the pools and needs an active one', () => {
    expect(placementProblem(on(), null)).toMatch(/Reading the storage pools of lab/);
    expect(placementProblem(on(), [])).toMatch(/no storage pool/);
    expect(placementProblem(on({ pool: 'nope' }), pools)).toMatch(/Choose the storage pool/);
    expect(placementProblem(on({ pool: 'old' }), pools)).toMatch(/'old' is not active/);
    expect(placementProblem(on(), pools)).toBeNull();
  });

  it('needs the ISO chosen, and a local file copied to the host before going on', () => {
    expect(placementProblem(on({ isoSource: 'volume', isoVolume: '' }), pools)).toMatch(/Choose an ISO volume/);
    expect(placementProblem(on({ isoSource: 'volume', isoVolume: 'default/gone.iso' }), pools)).toMatch(/Choose an ISO volume/);
    expect(placementProblem(on({ isoSource: 'volume', isoVolume: 'iso/alpine.iso' }), pools)).toBeNull();
    expect(placementProblem(on({ isoSource: 'file', isoFile: '' }), pools)).toMatch(/Choose the ISO file/);
    expect(placementProblem(on({ isoSource: 'file', isoFile: 'rel.iso' }), pools)).toMatch(/must be absolute/);
    expect(placementProblem(on({ isoSource: 'file', isoFile: '/a/b.iso' }), pools)).toMatch(/Copy b\.iso to lab first/);
  });

  it("checks the host's network names", () => {
    expect(placementProblem(on({ network: '' }), pools)).toMatch(/libvirt network/);
    expect(placementProblem(on({ netMode: 'bridge', bridge: 'br 0' }), pools)).toMatch(/host bridge/);
    expect(placementProblem(on({ netMode: 'bridge', bridge: 'br0' }), pools)).toBeNull();
    expect(placementProblem(on({ netMode: 'none', network: '' }), pools)).toBeNull();
  });
});

describe("the host's limits and what does not apply there", () => {
  it("checks memory and CPUs against the host's, not this computer's", () => {
    expect(hostStepProblem(2, draft({ memoryMiB: 2048, cpus: 2 }), on(), ctx)).toBeNull();
    expect(hostStepProblem(2, draft({ memoryMiB: 8192 }), on(), ctx)).not.toBeNull();
    expect(hostStepProblem(2, draft({ cpus: 4 }), on(), ctx)).not.toBeNull();
    // UEFI is the host's to provide; Secure Boot and the TPM are not offered there at all.
    expect(hostStepProblem(2, draft({ firmware: 'uefi', memoryMiB: 1024, cpus: 1 }), on(), ctx)).toBeNull();
    expect(hostLimits(local, lab)).toMatchObject({ cpus: 2, memoryMiB: 3072, swtpm: null, firmware: { secureBoot: null } });
  });

  it('takes no existing disk, checks a new disk as here, allows none', () => {
    expect(hostStepProblem(3, draft({ diskMode: 'existing', diskPath: '/x.qcow2' }), on(), ctx)).toBe(NOT_ON_HOST.existingDisk);
    expect(hostStepProblem(3, draft({ diskSizeGiB: 'lots' }), on(), ctx)).toMatch(/disk size/);
    expect(hostStepProblem(3, draft({ diskMode: 'none' }), on(), ctx)).toBeNull();
  });

  it('an automatic install set up for this computer does not block a host VM (it is not sent)', () => {
    const d = draft({ unattended: { enabled: true, user: '', password: '', hostname: '', timezone: 'UTC', locale: 'en_US', productKey: '' } });
    expect(hostStepProblem(3, d, on(), ctx)).toBeNull();
    expect(toHostSpec(d, on())).not.toHaveProperty('unattended');
  });
});

describe('the spec sent to the core', () => {
  it('carries only what a host VM has: pool, ISO volume, network, hardware', () => {
    const d = touch(touch(draft({ osType: 'windows-11', firmware: 'uefi', secureBoot: true, tpm: true, group: 'lab', iso: '/here.iso' }), 'diskSizeGiB', '1.5', 'diskSize'), 'memoryMiB', 1024, 'memory');
    expect(toHostSpec(d, on({ pool: 'iso', isoSource: 'volume', isoVolume: 'default/debian.iso' }))).toEqual({
      name: 'web1',
      host: 'lab',
      osType: 'windows-11',
      memoryMiB: 1024,
      cpus: 2,
      firmware: 'uefi',
      pool: 'iso',
      diskSize: '1536M',
      isoVolume: 'default/debian.iso',
      nic: 'nat',
      nicNetwork: 'default',
    });
  });

  it('no disk, no ISO, a bridge or no network', () => {
    expect(toHostSpec(draft({ diskMode: 'none' }), on({ netMode: 'bridge', bridge: 'br0' }))).toMatchObject({ noDisk: true, nic: 'bridged', nicBridge: 'br0' });
    const s = toHostSpec(draft(), on({ netMode: 'none', isoSource: 'file', isoFile: '/a.iso' }));
    expect(s).toMatchObject({ nic: 'none', diskSize: '20480M' });
    expect(s).not.toHaveProperty('isoVolume');
    expect(s).not.toHaveProperty('iso');
    expect(() => toHostSpec(draft(), LOCAL_PLACEMENT)).toThrow(/needs a host/);
  });

  it('sums up where things go on the host', () => {
    expect(hostSummary(on({ isoSource: 'volume', isoVolume: 'iso/alpine.iso' }), draft())).toEqual({
      disk: 'New 20 GiB QCOW2 volume web1.qcow2 in pool default',
      iso: 'iso/alpine.iso',
      network: 'NAT on libvirt network default',
    });
    expect(hostSummary(on(), draft({ diskSizeGiB: '0.0625' })).disk).toBe('New 64 MiB QCOW2 volume web1.qcow2 in pool default');
    expect(hostSummary(on({ netMode: 'bridge', bridge: 'br0' }), draft({ diskMode: 'none' }))).toEqual({ disk: 'None', iso: 'None', network: 'Bridge br0' });
  });
});
