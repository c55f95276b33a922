/**
 * What applyCgroupLimits writes, against a directory laid out like a cgroup tree (real
 * cgroup files need root and a delegated hierarchy; the integration test covers those).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyCgroupLimits, readKsm, removeCgroups, type CgroupSupport } from '../../../../src/core/qemu/cgroups';

const UUID = '0b3c9f2e-5d4a-4e8b-9c1d-2f3a4b5c6d7e';
let root: string;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-cg-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const read = (...p: string[]) => fs.readFileSync(path.join(root, ...p), 'utf8');

describe('applyCgroupLimits', () => {
  it('writes cgroup v2 files, moves the pid, and reports each setting', () => {
    fs.writeFileSync(path.join(root, 'cpuset.cpus.effective'), '0-3');
    const sup: CgroupSupport = { version: 'v2', controllers: { cpu: { dir: root }, cpuset: { dir: root }, memory: { dir: root } } };
    const st = applyCgroupLimits(sup, UUID, 4242, { cpuShares: 400, cpuLimitPct: 50, pinCpus: [1, 2], memoryMaxMiB: 512 }, 2);
    expect(read(UUID, 'cpu.weight')).toBe('400');
    expect(read(UUID, 'cpu.max')).toBe('100000 100000');
    expect(read(UUID, 'cpuset.cpus')).toBe('1-2');
    expect(read(UUID, 'memory.max')).toBe(String(512 * 1024 * 1024));
    expect(read(UUID, 'cgroup.procs')).toBe('4242');
    expect(st.map((s) => [s.setting, s.enforced])).toEqual([['cpuShares', true], ['cpuLimitPct', true], ['pinCpus', true], ['memoryMaxMiB', true]]);
  });

  it('uses the v1 files on hybrid hosts', () => {
    fs.writeFileSync(path.join(root, 'cpuset.cpus'), '0-1');
    fs.writeFileSync(path.join(root, 'cpuset.mems'), '0');
    const sup: CgroupSupport = { version: 'v1', controllers: { cpu: { dir: root }, cpuset: { dir: root }, memory: { dir: root } } };
    applyCgroupLimits(sup, UUID, 7, { cpuShares: 50, cpuLimitPct: 25, memoryMaxMiB: 300 }, 2);
    expect(read(UUID, 'cpu.shares')).toBe('512');
    expect(read(UUID, 'cpu.cfs_quota_us')).toBe('50000');
    expect(read(UUID, 'cpuset.cpus')).toBe('0-1');
    expect(read(UUID, 'cpuset.mems')).toBe('0');
    expect(read(UUID, 'memory.limit_in_bytes')).toBe(String(300 * 1024 * 1024));
  });

  it('says "not enforced" with the reason, setting by setting, and never for settings left out', () => {
    fs.writeFileSync(path.join(root, 'cpuset.cpus.effective'), '0-1');
    const sup: CgroupSupport = { version: 'v2', controllers: { cpu: { dir: root }, cpuset: { dir: root }, memory: { reason: 'the memory controller is not delegated' } } };
    const st = applyCgroupLimits(sup, UUID, 1, { memoryMaxMiB: 512, pinCpus: [5] }, 2);
    expect(st).toEqual([
      { setting: 'pinCpus', enforced: false, detail: expect.stringMatching(/^not enforced: host CPU 5 is not available here \(usable: 0-1\)/) },
      { setting: 'memoryMaxMiB', enforced: false, detail: 'not enforced: the memory controller is not delegated' },
    ]);
  });

  it('touches nothing when no setting is set', () => {
    const sup: CgroupSupport = { version: 'v2', controllers: { cpu: { dir: root }, cpuset: { dir: root }, memory: { dir: root } } };
    expect(applyCgroupLimits(sup, UUID, 1, {}, 2)).toEqual([]);
    expect(fs.existsSync(path.join(root, UUID))).toBe(false);
  });

  it('clearing a setting on a placed VM writes the default back', () => {
    fs.writeFileSync(path.join(root, 'cpuset.cpus.effective'), '0-1');
    const sup: CgroupSupport = { version: 'v2', controllers: { cpu: { dir: root }, cpuset: { dir: root }, memory: { dir: root } } };
    applyCgroupLimits(sup, UUID, 1, { cpuLimitPct: 10 }, 2);
    expect(applyCgroupLimits(sup, UUID, 1, {}, 2)).toEqual([]);
    expect(read(UUID, 'cpu.max')).toBe('max 100000');
    expect(read(UUID, 'memory.max')).toBe('max');
    // Regular files in a plain directory cannot be rmdir'ed; on cgroupfs they can.
    expect(removeCgroups(sup, UUID)).toBe(false);
  });
});

describe('readKsm', () => {
  it('reads run and the sharing counters', () => {
    for (const [f, v] of [['run', '1'], ['pages_shared', '10'], ['pages_sharing', '100']]) fs.writeFileSync(path.join(root, f!), `${v}\n`);
    expect(readKsm(root)).toEqual({ available: true, running: true, pagesShared: 10, pagesSharing: 100, savedBytes: 409600 });
  });
  it('says why when it is off or missing', () => {
    fs.writeFileSync(path.join(root, 'run'), '0\n');
    expect(readKsm(root).reason).toMatch(/KSM is off/);
    expect(readKsm(path.join(root, 'nope'))).toMatchObject({ available: false, reason: expect.stringMatching(/does not exist/) });
  });
});
