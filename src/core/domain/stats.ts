/**
 * The arithmetic of monitoring, kept pure so it is tested without a VM: CPU percentages from
 * tick counters, rates and latencies from cumulative counters, and the per-minute aggregate
 * that history keeps. Counters can go backwards (QEMU restarted, a disk hot-swapped, the core
 * re-attached): a negative delta is treated as "no information", never as a negative rate.
 */

/** Fields of /proc/<pid>/stat we need; `ticks` is utime + stime in clock ticks. */
export interface ProcStat {
  readonly ticks: number;
  readonly state: string;
}

/**
 * Parses /proc/<pid>/stat (or /proc/<pid>/task/<tid>/stat). The command name (field 2) may
 * itself contain spaces and parentheses, so fields are counted from the last ')'.
 */
export function parseProcStat(text: string): ProcStat | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const rest = text.slice(close + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return { ticks: utime + stime, state: rest[0] ?? '?' };
}

/** Values in kB from /proc/<pid>/status or /proc/meminfo, as bytes, by key. */
export function parseKbFields(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]) * (line.trimEnd().endsWith('kB') ? 1024 : 1));
  }
  return out;
}

/** The first line of /proc/stat: busy and total jiffies of the whole host. */
export function parseHostCpu(procStat: string): { busy: number; total: number } | null {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  if (v.length < 4 || v.some((x) => !Number.isFinite(x))) return null;
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Percent of the whole host's CPU capacity used between two tick readings: 100 means every
 * host CPU was busy with this process for the whole interval.
 */
export function cpuPercentOfHost(prevTicks: number, ticks: number, seconds: number, clockTicks: number, hostCpus: number): number {
  if (seconds <= 0 || hostCpus <= 0 || clockTicks <= 0) return 0;
  const d = ticks - prevTicks;
  if (d <= 0) return 0;
  return clamp((d / clockTicks / seconds / hostCpus) * 100, 0, 100);
}

/** Percent of one host CPU (a vCPU thread can use at most one). */
export function cpuPercentOfOne(prevTicks: number, ticks: number, seconds: number, clockTicks: number): number {
  return cpuPercentOfHost(prevTicks, ticks, seconds, clockTicks, 1);
}

export function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** Per-second rate of a cumulative counter; 0 when it went backwards (reset). */
export function rate(prev: number, cur: number, seconds: number): number {
  if (seconds <= 0) return 0;
  const d = cur - prev;
  return d > 0 ? d / seconds : 0;
}

/** Counter growth; 0 when it went backwards (reset). */
export function delta(prev: number, cur: number): number {
  const d = cur - prev;
  return d > 0 ? d : 0;
}

/** Average latency in ms of the operations completed in an interval, from QMP's total_time_ns. */
export function latencyMs(prevOps: number, ops: number, prevNs: number, ns: number): number | null {
  const n = ops - prevOps;
  const t = ns - prevNs;
  if (n <= 0 || t < 0) return null;
  return t / n / 1e6;
}

/** One second's figures of one VM, the shape history aggregates. */
export interface SamplePoint {
  /** Milliseconds since the epoch. */
  readonly ts: number;
  readonly cpuPct: number;
  readonly rssBytes: number;
  readonly balloonBytes: number | null;
  readonly guestUsedBytes: number | null;
  /** Bytes / operations during the interval that ended at `ts`, summed over disks / NICs. */
  readonly diskRdBytes: number;
  readonly diskWrBytes: number;
  readonly diskRdOps: number;
  readonly diskWrOps: number;
  /** null when no adapter of the VM has counters (see the sample's reasons). */
  readonly netRxBytes: number | null;
  readonly netTxBytes: number | null;
  readonly netRxPackets: number | null;
  readonly netTxPackets: number | null;
}

/** One minute of one VM. Averages and maxima of levels, sums of per-interval amounts. */
export interface MinuteAggregate {
  /** Start of the minute, ms since the epoch. */
  readonly minute: number;
  readonly samples: number;
  readonly cpuAvg: number;
  readonly cpuMax: number;
  readonly rssAvg: number;
  readonly rssMax: number;
  readonly balloonLast: number | null;
  readonly guestUsedAvg: number | null;
  readonly diskRdBytes: number;
  readonly diskWrBytes: number;
  readonly diskRdOps: number;
  readonly diskWrOps: number;
  readonly netRxBytes: number | null;
  readonly netTxBytes: number | null;
  readonly netRxPackets: number | null;
  readonly netTxPackets: number | null;
}

export const minuteOf = (ts: number): number => Math.floor(ts / 60_000) * 60_000;

function sumNullable(points: readonly SamplePoint[], key: 'netRxBytes' | 'netTxBytes' | 'netRxPackets' | 'netTxPackets'): number | null {
  const vals = points.map((p) => p[key]).filter((v): v is number => v !== null);
  return vals.length ? vals.reduce((a, b) => a + b, 0) : null;
}

/** Aggregates the samples of one minute (all `points` must fall in the same minute). */
export function aggregateMinute(points: readonly SamplePoint[]): MinuteAggregate {
  if (points.length === 0) throw new Error('no samples to aggregate');
  const minute = minuteOf(points[0]!.ts);
  if (points.some((p) => minuteOf(p.ts) !== minute)) throw new Error('samples from different minutes');
  const n = points.length;
  const sum = (f: (p: SamplePoint) => number) => points.reduce((a, p) => a + f(p), 0);
  const guest = points.map((p) => p.guestUsedBytes).filter((v): v is number => v !== null);
  const balloon = points.map((p) => p.balloonBytes).filter((v): v is number => v !== null);
  return {
    minute,
    samples: n,
    cpuAvg: sum((p) => p.cpuPct) / n,
    cpuMax: Math.max(...points.map((p) => p.cpuPct)),
    rssAvg: Math.round(sum((p) => p.rssBytes) / n),
    rssMax: Math.max(...points.map((p) => p.rssBytes)),
    balloonLast: balloon.length ? balloon[balloon.length - 1]! : null,
    guestUsedAvg: guest.length ? Math.round(guest.reduce((a, b) => a + b, 0) / guest.length) : null,
    diskRdBytes: sum((p) => p.diskRdBytes),
    diskWrBytes: sum((p) => p.diskWrBytes),
    diskRdOps: sum((p) => p.diskRdOps),
    diskWrOps: sum((p) => p.diskWrOps),
    netRxBytes: sumNullable(points, 'netRxBytes'),
    netTxBytes: sumNullable(points, 'netTxBytes'),
    netRxPackets: sumNullable(points, 'netRxPackets'),
    netTxPackets: sumNullable(points, 'netTxPackets'),
  };
}

/**
 * Collects samples and hands back a finished minute when the first sample of a later minute
 * arrives (or on `flush`, when the VM stops).
 */
export class MinuteAccumulator {
  private points: SamplePoint[] = [];

  add(p: SamplePoint): MinuteAggregate | null {
    const cur = this.points[0];
    let done: MinuteAggregate | null = null;
    if (cur && minuteOf(cur.ts) !== minuteOf(p.ts)) {
      done = aggregateMinute(this.points);
      this.points = [];
    }
    this.points.push(p);
    return done;
  }

  flush(): MinuteAggregate | null {
    if (this.points.length === 0) return null;
    const done = aggregateMinute(this.points);
    this.points = [];
    return done;
  }
}

/**
 * Parses `--since`: a duration back from `now` (90s, 10m, 1h, 7d) or an ISO date. Returns ms
 * since the epoch, or throws with a message for the user.
 */
export function parseSince(spec: string, now: number): number {
  const m = /^(\d+)\s*(s|m|h|d)$/i.exec(spec.trim());
  if (m) {
    const n = Number(m[1]);
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2]!.toLowerCase() as 's' | 'm' | 'h' | 'd'];
    return now - n * unit;
  }
  if (/^\d{4}-\d\d-\d\d/.test(spec)) {
    const t = Date.parse(spec);
    if (Number.isFinite(t)) return t;
  }
  throw new Error(`'${spec}' is not a time: use a duration such as 10m, 1h, 2d, or an ISO date such as 2026-01-31T12:00`);
}

/** Percent of the quota period for a CPU limit given as percent of the whole host. */
export function cpuQuotaMicros(limitPct: number, hostCpus: number, periodMicros = 100_000): number {
  return Math.max(1000, Math.round((limitPct / 100) * hostCpus * periodMicros));
}

/** cgroup v1 cpu.shares for a cpu.weight-scale value (100 ↔ 1024, the defaults of each). */
export function weightToShares(weight: number): number {
  return clamp(Math.round((weight * 1024) / 100), 2, 262_144);
}

/** "0-2,5" for [0,1,2,5], the list syntax of cpuset.cpus. */
export function cpuListString(cpus: readonly number[]): string {
  const s = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Parses "0-2,5" (cpuset syntax) or "0,1,2,5" into CPU numbers. */
export function parseCpuList(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`'${spec}' is not a CPU list (e.g. 0,1 or 0-3)`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 1024) throw new Error(`'${part}' is not a valid CPU range`);
    for (let c = a; c <= b; c++) out.push(c);
  }
  if (out.length === 0) throw new Error('the CPU list is empty');
  return [...new Set(out)].sort((x, y) => x - y);
}

/**
 * Counts the frames of QEMU's filter-mirror stream: each frame is a 4-byte big-endian length
 * followed by that many bytes (no vnet header: the argv builder never asks for one). Chunks
 * may split anywhere; payloads are skipped, never copied.
 */
export class FrameCounter {
  bytes = 0;
  packets = 0;
  private header = new Uint8Array(4);
  private headerFill = 0;
  private skip = 0;

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      this.header[this.headerFill++] = chunk[i++]!;
      if (this.headerFill === 4) {
        const len = ((this.header[0]! << 24) >>> 0) + (this.header[1]! << 16) + (this.header[2]! << 8) + this.header[3]!;
        this.headerFill = 0;
        this.packets++;
        this.bytes += len;
        this.skip = len;
      }
    }
  }
}
