/**
 * Per-VM Linux control groups: CPU weight, CPU limit, CPU pinning and a memory ceiling for a
 * VM's QEMU process. Works with cgroup v2 (cpu.weight, cpu.max, cpuset.cpus, memory.max) and
 * with the per-controller v1 hierarchies still found on hybrid hosts (cpu.shares,
 * cpu.cfs_quota_us, cpuset.cpus, memory.limit_in_bytes).
 *
 * Each VM gets `<our cgroup>/nestbox/<uuid>` in every controller we may write to (v1), or a
 * sibling `nestbox-vms/<uuid>` of our own cgroup (v2, whose "no internal processes" rule
 * forbids children of a cgroup that holds the core). Whatever cannot be done is reported with
 * its reason, setting by setting: a limit is never silently ignored.
 */
import fs from 'node:fs';
import path from 'node:path';
import { cpuListString, cpuQuotaMicros, parseCpuList, weightToShares } from '../domain/stats';

export type CgroupKnob = 'cpuShares' | 'cpuLimitPct' | 'pinCpus' | 'memoryMaxMiB';
type Controller = 'cpu' | 'cpuset' | 'memory';

export interface CgroupLimits {
  readonly cpuShares?: number;
  readonly cpuLimitPct?: number;
  readonly pinCpus?: readonly number[];
  readonly memoryMaxMiB?: number;
}

export interface KnobStatus {
  readonly setting: CgroupKnob;
  readonly enforced: boolean;
  /** Where it is enforced (the file written), or why it is not. */
  readonly detail: string;
}

const KNOB_CONTROLLER: Record<CgroupKnob, Controller> = { cpuShares: 'cpu', cpuLimitPct: 'cpu', pinCpus: 'cpuset', memoryMaxMiB: 'memory' };

export interface CgroupSupport {
  readonly version: 'v1' | 'v2' | 'none';
  /** Parent directory per controller where VM cgroups go, or why there is none. */
  readonly controllers: Readonly<Record<Controller, { readonly dir: string } | { readonly reason: string }>>;
}

function read(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

function write(file: string, value: string): void {
  fs.writeFileSync(file, value);
}

function errMsg(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code} ${e.path ?? ''}`.trim() : String((err as Error).message ?? err);
}

/** Our own cgroup path per v1 controller and the v2 path, from /proc/self/cgroup. */
function ownCgroups(): { v1: Map<string, string>; v2: string | null } {
  const v1 = new Map<string, string>();
  let v2: string | null = null;
  for (const line of (read('/proc/self/cgroup') ?? '').split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[2] === '') v2 = m[3]!;
    else for (const c of m[2]!.split(',')) v1.set(c, m[3]!);
  }
  return { v1, v2 };
}

/** Mount points: v1 per controller, and the v2 (unified) one. */
function mounts(): { v1: Map<string, string>; v2: string | null } {
  const v1 = new Map<string, string>();
  let v2: string | null = null;
  for (const line of (read('/proc/self/mountinfo') ?? '').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const mountPoint = left[4];
    if (!mountPoint) continue;
    if (right[0] === 'cgroup2') v2 ??= mountPoint;
    else if (right[0] === 'cgroup') {
      for (const o of (right[2] ?? '').split(',')) if (o === 'cpu' || o === 'cpuset' || o === 'memory') v1.set(o, mountPoint);
    }
  }
  return { v1, v2 };
}

/** Tries to create (or find) a writable directory; returns the reason when it cannot. */
function ensureDir(dir: string): string | null {
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
    return null;
  } catch (err) {
    return `cannot create ${dir} (${errMsg(err)}); the cgroup is not delegated to this user`;
  }
}

/** Finds where this host lets Nestbox make per-VM cgroups. Cached by the caller. */
export function detectCgroups(): CgroupSupport {
  if (process.platform !== 'linux') {
    const reason = `control groups exist only on Linux (this host is ${process.platform})`;
    return { version: 'none', controllers: { cpu: { reason }, cpuset: { reason }, memory: { reason } } };
  }
  const m = mounts();
  const own = ownCgroups();
  const v2Controllers = m.v2 ? (read(path.join(m.v2, own.v2 ?? '/', 'cgroup.controllers')) ?? read(path.join(m.v2, 'cgroup.controllers')) ?? '').split(/\s+/) : [];
  const v2Has = (c: Controller) => v2Controllers.includes(c);
  if (m.v2 && (['cpu', 'cpuset', 'memory'] as const).some(v2Has) && !m.v1.size) {
    const ownPath = own.v2 ?? '/';
    const parent = ownPath === '/' ? m.v2 : path.join(m.v2, path.dirname(ownPath));
    const base = path.join(parent, 'nestbox-vms');
    let reason = ensureDir(base);
    if (!reason) {
      const want = (['cpu', 'cpuset', 'memory'] as const).filter(v2Has);
      try {
        write(path.join(base, 'cgroup.subtree_control'), want.map((c) => `+${c}`).join(' '));
      } catch (err) {
        reason = `cannot enable ${want.join(', ')} in ${base}/cgroup.subtree_control (${errMsg(err)})`;
      }
    }
    const entry = (c: Controller) =>
      reason ? { reason } : v2Has(c) ? { dir: base } : { reason: `the ${c} controller is not available in ${ownPath} (cgroup v2; not delegated)` };
    return { version: 'v2', controllers: { cpu: entry('cpu'), cpuset: entry('cpuset'), memory: entry('memory') } };
  }
  const entry = (c: Controller) => {
    const mp = m.v1.get(c);
    if (!mp) return { reason: `no ${c} controller is mounted (neither cgroup v2 nor v1)` };
    const base = path.join(mp, own.v1.get(c) ?? '/', 'nestbox');
    const reason = ensureDir(base);
    if (reason) return { reason };
    if (c === 'cpuset') {
      // v1 cpuset: a new group starts with no CPUs and no memory nodes; inherit the parent's.
      try {
        if (!read(path.join(base, 'cpuset.cpus'))) write(path.join(base, 'cpuset.cpus'), read(path.join(base, '..', 'cpuset.cpus')) ?? '');
        if (!read(path.join(base, 'cpuset.mems'))) write(path.join(base, 'cpuset.mems'), read(path.join(base, '..', 'cpuset.mems')) ?? '');
      } catch (err) {
        return { reason: `cannot set up ${base} (${errMsg(err)})` };
      }
    }
    return { dir: base };
  };
  if (!m.v1.size && !m.v2) {
    const reason = 'no cgroup file system is mounted';
    return { version: 'none', controllers: { cpu: { reason }, cpuset: { reason }, memory: { reason } } };
  }
  return { version: 'v1', controllers: { cpu: entry('cpu'), cpuset: entry('cpuset'), memory: entry('memory') } };
}

/** The VM's cgroup directories, one per controller we could use. */
function vmDirs(support: CgroupSupport, uuid: string): Map<Controller, string> {
  const out = new Map<Controller, string>();
  for (const c of ['cpu', 'cpuset', 'memory'] as const) {
    const e = support.controllers[c];
    if ('dir' in e) out.set(c, path.join(e.dir, uuid));
  }
  return out;
}

function applyKnob(support: CgroupSupport, dir: string, knob: CgroupKnob, limits: CgroupLimits, hostCpus: number): string {
  const v2 = support.version === 'v2';
  switch (knob) {
    case 'cpuShares': {
      const w = limits.cpuShares ?? 100;
      if (v2) {
        write(path.join(dir, 'cpu.weight'), String(w));
        return `cpu.weight=${w}`;
      }
      write(path.join(dir, 'cpu.shares'), String(weightToShares(w)));
      return `cpu.shares=${weightToShares(w)}`;
    }
    case 'cpuLimitPct': {
      const pct = limits.cpuLimitPct;
      const quota = pct === undefined ? null : cpuQuotaMicros(pct, hostCpus);
      if (v2) {
        const v = quota === null ? 'max 100000' : `${quota} 100000`;
        write(path.join(dir, 'cpu.max'), v);
        return `cpu.max=${v}`;
      }
      write(path.join(dir, 'cpu.cfs_period_us'), '100000');
      write(path.join(dir, 'cpu.cfs_quota_us'), String(quota ?? -1));
      return `cpu.cfs_quota_us=${quota ?? -1}`;
    }
    case 'pinCpus': {
      const parent = read(path.join(dir, '..', v2 ? 'cpuset.cpus.effective' : 'cpuset.cpus')) ?? '';
      const allowed = parent ? parseCpuList(parent) : [];
      const want = limits.pinCpus;
      if (want) {
        const missing = want.filter((c) => !allowed.includes(c));
        if (missing.length) throw new Error(`host CPU ${missing.join(', ')} is not available here (usable: ${parent || 'unknown'})`);
      }
      const v = want ? cpuListString(want) : parent;
      if (!v2 && !read(path.join(dir, 'cpuset.mems'))) write(path.join(dir, 'cpuset.mems'), read(path.join(dir, '..', 'cpuset.mems')) ?? '0');
      write(path.join(dir, 'cpuset.cpus'), v);
      return `cpuset.cpus=${v}`;
    }
    case 'memoryMaxMiB': {
      const mib = limits.memoryMaxMiB;
      if (v2) {
        const v = mib === undefined ? 'max' : String(mib * 1024 * 1024);
        write(path.join(dir, 'memory.max'), v);
        return `memory.max=${v}`;
      }
      const v = mib === undefined ? '-1' : String(mib * 1024 * 1024);
      write(path.join(dir, 'memory.limit_in_bytes'), v);
      return `memory.limit_in_bytes=${v}`;
    }
  }
}

const KNOBS: readonly CgroupKnob[] = ['cpuShares', 'cpuLimitPct', 'pinCpus', 'memoryMaxMiB'];

/**
 * Puts `pid` (all its threads) into the VM's cgroups with these limits, or updates the limits
 * of a VM already placed. Settings left out get the controller's default, so clearing one
 * works on a running VM. Returns a status for every setting that is set; when no setting is
 * set at all, nothing on the host is touched.
 */
export function applyCgroupLimits(support: CgroupSupport, uuid: string, pid: number, limits: CgroupLimits, hostCpus: number): KnobStatus[] {
  const set = KNOBS.filter((k) => limits[k] !== undefined);
  const dirs = vmDirs(support, uuid);
  const placed = [...dirs.values()].some((d) => fs.existsSync(d));
  if (set.length === 0 && !placed) return [];
  const out: KnobStatus[] = [];
  const ready = new Map<Controller, string | Error>();
  for (const c of ['cpu', 'cpuset', 'memory'] as const) {
    const e = support.controllers[c];
    if (!('dir' in e)) {
      ready.set(c, new Error(e.reason));
      continue;
    }
    const dir = dirs.get(c)!;
    try {
      fs.mkdirSync(dir, { recursive: true });
      if (c === 'cpuset' && support.version === 'v1') applyKnob(support, dir, 'pinCpus', { ...limits, pinCpus: undefined }, hostCpus);
      ready.set(c, dir);
    } catch (err) {
      ready.set(c, new Error(`cannot create ${dir} (${errMsg(err)})`));
    }
  }
  for (const k of KNOBS) {
    const c = KNOB_CONTROLLER[k];
    const dir = ready.get(c)!;
    const wanted = limits[k] !== undefined;
    if (dir instanceof Error) {
      if (wanted) out.push({ setting: k, enforced: false, detail: `not enforced: ${dir.message}` });
      continue;
    }
    try {
      const what = applyKnob(support, dir, k, limits, hostCpus);
      if (wanted) out.push({ setting: k, enforced: true, detail: `cgroup ${support.version} ${what} (${dir})` });
    } catch (err) {
      if (wanted) out.push({ setting: k, enforced: false, detail: `not enforced: ${errMsg(err)}` });
    }
  }
  for (const [c, dir] of ready) {
    if (dir instanceof Error) continue;
    try {
      write(path.join(dir, 'cgroup.procs'), String(pid));
    } catch (err) {
      // Moving failed: whatever was "enforced" in this controller is not.
      for (let i = 0; i < out.length; i++) {
        const s = out[i]!;
        if (KNOB_CONTROLLER[s.setting] === c && s.enforced) out[i] = { setting: s.setting, enforced: false, detail: `not enforced: cannot move QEMU (pid ${pid}) into ${dir} (${errMsg(err)})` };
      }
    }
  }
  return out;
}

/** Removes the VM's cgroups once QEMU is gone (a cgroup with tasks cannot be removed; retried by the caller). */
export function removeCgroups(support: CgroupSupport, uuid: string): boolean {
  let ok = true;
  for (const dir of vmDirs(support, uuid).values()) {
    try {
      if (fs.existsSync(dir)) fs.rmdirSync(dir);
    } catch {
      ok = false;
    }
  }
  return ok;
}

/** Host-wide page sharing (Linux KSM): whether it runs and what it saves. */
export interface KsmStatus {
  readonly available: boolean;
  readonly running: boolean;
  readonly pagesShared: number;
  readonly pagesSharing: number;
  /** Roughly what sharing saves: pages_sharing × page size. */
  readonly savedBytes: number;
  readonly reason?: string;
}

export function readKsm(dir = '/sys/kernel/mm/ksm'): KsmStatus {
  const run = read(path.join(dir, 'run'));
  if (run === null) return { available: false, running: false, pagesShared: 0, pagesSharing: 0, savedBytes: 0, reason: `${dir} does not exist (kernel without KSM, or not Linux)` };
  const n = (f: string) => Number(read(path.join(dir, f)) ?? 0) || 0;
  const sharing = n('pages_sharing');
  return {
    available: true,
    running: run === '1',
    pagesShared: n('pages_shared'),
    pagesSharing: sharing,
    savedBytes: sharing * 4096,
    ...(run === '1' ? {} : { reason: `KSM is off (${dir}/run = ${run}); as root: echo 1 > ${dir}/run` }),
  };
}
