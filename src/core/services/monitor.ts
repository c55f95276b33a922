/**
 * The sampler: once a second, for every running VM, what it uses of the host — CPU (the QEMU
 * process and each vCPU thread, from /proc), memory (resident set, balloon, the guest's own
 * figures through the balloon's statistics), disks (QMP query-blockstats) and network
 * adapters (frames mirrored by QEMU's filter-mirror, counted here). Samples go out as
 * `vm.stats` events (the core sends them only to clients that subscribed) and into per-minute
 * history in SQLite.
 *
 * QMP queries go over the VM's second monitor socket (`qmp-stats.sock`), never the one
 * lifecycle operations use, and at most one sample per VM is in flight: a slow QEMU delays
 * its own statistics, nothing else.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { HostStats, VmStatsSample } from '../api/contract';
import type { VmConfig } from '../domain/config';
import { isActive, type VmState } from '../domain/lifecycle';
import {
  cpuPercentOfHost,
  cpuPercentOfOne,
  delta,
  FrameCounter,
  latencyMs,
  MinuteAccumulator,
  parseHostCpu,
  parseKbFields,
  parseProcStat,
  rate,
} from '../domain/stats';
import { nicMirrorSocket, RUNTIME_FILES } from '../qemu/argv';
import type { NicConfig } from '../domain/config';
import type { GuestWatch } from './guestwatch';
import { readKsm } from '../qemu/cgroups';
import { QmpClient } from '../qemu/qmp';
import type { QemuProcess } from '../qemu/supervisor';
import type { StatsRepository } from '../store/stats';
import type { EventBus } from './events';

export interface MonitoredVm {
  readonly uuid: string;
  readonly config: VmConfig;
  readonly proc: QemuProcess;
  /** The guest agent, whose per-interface counters cost nothing (absent without its port). */
  readonly guest?: GuestWatch | null;
}

export interface MonitorDeps {
  readonly running: () => readonly MonitoredVm[];
  readonly history: StatsRepository;
  readonly bus: EventBus;
  readonly intervalMs?: number;
}

const RECENT_SAMPLES = 600;

/** How long a sample waits for a new guest-agent watch's first answer (once per watch). */
const AGENT_FIRST_ANSWER_MS = 3000;

/** Values QEMU uses for "the guest did not report this" (a u64 of all ones). */
const UNREPORTED = 2 ** 63;

function clockTicks(): number {
  try {
    const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (Number.isInteger(v) && v > 0) return v;
  } catch {
    // not available: every Linux architecture Nestbox runs on uses 100
  }
  return 100;
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

interface BlockCounters {
  rdBytes: number;
  wrBytes: number;
  rdOps: number;
  wrOps: number;
  rdNs: number;
  wrNs: number;
}

interface NicCounter {
  readonly id: string;
  readonly rx: FrameCounter;
  readonly tx: FrameCounter;
  readonly sockets: net.Socket[];
  reason: string | null;
  prev: { rxBytes: number; txBytes: number; rxPackets: number; txPackets: number } | null;
}

class VmSampler {
  private qmp: QmpClient | null = null;
  private connecting: Promise<void> | null = null;
  private prevTs = 0;
  private prevTicks = -1;
  private readonly prevThreads = new Map<number, number>();
  private vcpuThreads: { index: number; threadId: number }[] = [];
  private vcpuCheckedAt = 0;
  private readonly prevBlock = new Map<string, BlockCounters>();
  private readonly nics = new Map<string, NicCounter>();
  private readonly nicPrev = new Map<string, NonNullable<NicCounter['prev']>>();
  private guestPolling = false;
  readonly acc = new MinuteAccumulator();
  inFlight = false;
  latest: VmStatsSample | null = null;
  /** The last ten minutes, so a chart opened now starts full. */
  readonly recent: VmStatsSample[] = [];
  closed = false;

  constructor(
    readonly uuid: string,
    readonly pid: number,
    private readonly proc: QemuProcess,
    private readonly clk: number,
    private readonly hostCpus: number,
  ) {}

  /** The statistics monitor; VMs started before it existed share the main one (read-only queries). */
  private async channel(): Promise<QmpClient | null> {
    if (this.qmp && !this.qmp.closed) return this.qmp;
    const sock = path.join(this.proc.runDir, RUNTIME_FILES.qmpStats);
    if (!fs.existsSync(sock)) {
      // Started by an older Nestbox: its statistics share the control channel (queries only).
      return this.proc.qmp.closed ? null : this.proc.qmp;
    }
    this.connecting ??= QmpClient.connect(sock, { timeoutMs: 3000 })
      .then((c) => {
        c.unref();
        if (this.closed) c.close();
        else this.qmp = c;
      })
      .catch(() => undefined)
      .finally(() => {
        this.connecting = null;
      });
    await this.connecting;
    return this.qmp;
  }

  private async q<T>(command: string, args?: Record<string, unknown>): Promise<T | null> {
    const c = await this.channel();
    if (!c) return null;
    try {
      return await c.execute<T>(command, args, { timeoutMs: 3000 });
    } catch {
      return null;
    }
  }

  private nic(id: string): NicCounter {
    let n = this.nics.get(id);
    if (n) return n;
    n = { id, rx: new FrameCounter(), tx: new FrameCounter(), sockets: [], reason: null, prev: null };
    this.nics.set(id, n);
    for (const dir of ['rx', 'tx'] as const) {
      const file = path.join(this.proc.runDir, nicMirrorSocket(id, dir));
      if (!fs.existsSync(file)) {
        n.reason = 'no counters: this VM was started before Nestbox counted network traffic; restart it to get them';
        continue;
      }
      const s = net.createConnection(file);
      const counter = dir === 'rx' ? n.rx : n.tx;
      s.on('data', (chunk: Buffer) => counter.push(chunk));
      s.on('error', () => undefined);
      s.unref();
      n.sockets.push(s);
    }
    return n;
  }

  /**
   * An adapter's counters seen from the guest, from the cheapest source there is: frames
   * mirrored to the core only when the user asked for that; a tap device's own counters (the
   * host's rx is the guest's tx); the guest agent's per-interface statistics (matched by MAC).
   */
  private counters(cfgNic: NicConfig, guest: GuestWatch | null | undefined): { cur: NonNullable<NicCounter['prev']>; reason: string | null } {
    if (cfgNic.mirrorCounters) {
      const n = this.nic(cfgNic.id);
      return { cur: { rxBytes: n.rx.bytes, txBytes: n.tx.bytes, rxPackets: n.rx.packets, txPackets: n.tx.packets }, reason: n.reason };
    }
    const zero = { rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 };
    if (cfgNic.mode === 'bridged' && cfgNic.bridgeVia === 'tap' && cfgNic.tap) {
      const st = (f: string): number | null => {
        const t = readText(`/sys/class/net/${cfgNic.tap}/statistics/${f}`);
        const v = t === null ? NaN : Number(t.trim());
        return Number.isFinite(v) ? v : null;
      };
      const rx = st('tx_bytes');
      const tx = st('rx_bytes');
      if (rx !== null && tx !== null) return { cur: { rxBytes: rx, txBytes: tx, rxPackets: st('tx_packets') ?? 0, txPackets: st('rx_packets') ?? 0 }, reason: null };
    }
    const ifs = guest?.interfaces;
    const match = ifs?.find((i) => i.mac === cfgNic.mac.toLowerCase());
    if (match?.stats) return { cur: match.stats, reason: null };
    if (!guest) return { cur: zero, reason: 'no counters: this VM has no guest agent port (add it with nestbox modify VM --guest-agent on), or turn on mirrored counters (nestbox nic VM set N --mirror-counters on)' };
    if (!ifs) return { cur: zero, reason: 'no counters: the guest agent is not answering (install qemu-guest-agent in the guest), or turn on mirrored counters (nestbox nic VM set N --mirror-counters on)' };
    return { cur: zero, reason: 'no counters: the guest agent reports no interface with this adapter\'s MAC address' };
  }

  async sample(config: VmConfig, agent?: GuestWatch | null): Promise<VmStatsSample | null> {
    // Once per watch (a start, a re-attaching core): the agent's first answer, so the counters
    // it gives are not called missing for the moment it takes to answer.
    await agent?.firstAnswer(AGENT_FIRST_ANSWER_MS);
    const now = Date.now();
    const stat = parseProcStat(readText(`/proc/${this.pid}/stat`) ?? '');
    if (!stat) return null;
    const dt = this.prevTs ? (now - this.prevTs) / 1000 : 0;
    const hostPct = this.prevTicks >= 0 ? cpuPercentOfHost(this.prevTicks, stat.ticks, dt, this.clk, this.hostCpus) : 0;
    this.prevTicks = stat.ticks;

    if (now - this.vcpuCheckedAt > 10_000 || this.vcpuThreads.length === 0) {
      const cpus = await this.q<{ 'cpu-index': number; 'thread-id': number }[]>('query-cpus-fast');
      if (cpus) {
        this.vcpuThreads = cpus.map((c) => ({ index: c['cpu-index'], threadId: c['thread-id'] }));
        this.vcpuCheckedAt = now;
      }
    }
    const vcpus = this.vcpuThreads.map((t) => {
      const ts = parseProcStat(readText(`/proc/${this.pid}/task/${t.threadId}/stat`) ?? '');
      const prev = this.prevThreads.get(t.threadId);
      const pct = ts && prev !== undefined ? cpuPercentOfOne(prev, ts.ticks, dt, this.clk) : 0;
      if (ts) this.prevThreads.set(t.threadId, ts.ticks);
      return { ...t, pct };
    });

    const status = parseKbFields(readText(`/proc/${this.pid}/status`) ?? '');
    const rssBytes = status.get('VmRSS') ?? 0;

    let balloonBytes: number | null = null;
    let guest: VmStatsSample['memory']['guest'] = null;
    let guestNote: string | undefined;
    if (config.resources?.balloon) {
      const b = await this.q<{ actual: number }>('query-balloon');
      balloonBytes = b?.actual ?? null;
      const qom = '/machine/peripheral/balloon0';
      if (!this.guestPolling) {
        this.guestPolling = (await this.q('qom-set', { path: qom, property: 'guest-stats-polling-interval', value: 2 })) !== null;
      }
      const gs = await this.q<{ stats: Record<string, number>; 'last-update': number }>('qom-get', { path: qom, property: 'guest-stats' });
      const v = (k: string) => {
        const x = gs?.stats[k];
        return x === undefined || x >= UNREPORTED ? null : x;
      };
      const total = v('stat-total-memory');
      const free = v('stat-free-memory');
      if (gs && gs['last-update'] > 0 && total !== null && free !== null) {
        const avail = v('stat-available-memory');
        guest = { totalBytes: total, freeBytes: free, availableBytes: avail, usedBytes: total - (avail ?? free) };
      } else {
        guestNote = 'the guest has not reported memory statistics (its balloon driver is missing or does not send them)';
      }
    } else {
      guestNote = 'no balloon device: enable it in the VM settings to see the guest’s own memory figures';
    }

    const disks: VmStatsSample['disks'][number][] = [];
    const blk = await this.q<{ qdev?: string; 'node-name'?: string; stats: Record<string, number> }[]>('query-blockstats');
    for (const b of blk ?? []) {
      const m = /peripheral\/([^/]+)/.exec(b.qdev ?? '');
      const id = m ? m[1]!.replace(/-dev$/, '') : (b['node-name'] ?? '');
      if (!id) continue;
      const c: BlockCounters = {
        rdBytes: b.stats['rd_bytes'] ?? 0,
        wrBytes: b.stats['wr_bytes'] ?? 0,
        rdOps: b.stats['rd_operations'] ?? 0,
        wrOps: b.stats['wr_operations'] ?? 0,
        rdNs: b.stats['rd_total_time_ns'] ?? 0,
        wrNs: b.stats['wr_total_time_ns'] ?? 0,
      };
      const p = this.prevBlock.get(id) ?? c;
      this.prevBlock.set(id, c);
      disks.push({
        id,
        rdBytes: c.rdBytes,
        wrBytes: c.wrBytes,
        rdOps: c.rdOps,
        wrOps: c.wrOps,
        rdBytesPerS: rate(p.rdBytes, c.rdBytes, dt),
        wrBytesPerS: rate(p.wrBytes, c.wrBytes, dt),
        rdOpsPerS: rate(p.rdOps, c.rdOps, dt),
        wrOpsPerS: rate(p.wrOps, c.wrOps, dt),
        rdLatencyMs: latencyMs(p.rdOps, c.rdOps, p.rdNs, c.rdNs),
        wrLatencyMs: latencyMs(p.wrOps, c.wrOps, p.wrNs, c.wrNs),
      });
    }

    const nics = config.nics
      .filter((n) => n.mode !== 'none')
      .map((cfgNic) => {
        const { cur, reason } = this.counters(cfgNic, agent);
        const prev = this.nicPrev.get(cfgNic.id);
        // A counter that went down (the guest rebooted, the source changed) starts afresh.
        const p = prev && prev.rxBytes <= cur.rxBytes && prev.txBytes <= cur.txBytes ? prev : cur;
        this.nicPrev.set(cfgNic.id, cur);
        return {
          id: cfgNic.id,
          available: reason === null,
          ...(reason ? { reason } : {}),
          ...cur,
          rxBytesPerS: rate(p.rxBytes, cur.rxBytes, dt),
          txBytesPerS: rate(p.txBytes, cur.txBytes, dt),
          rxPacketsPerS: rate(p.rxPackets, cur.rxPackets, dt),
          txPacketsPerS: rate(p.txPackets, cur.txPackets, dt),
        };
      });

    const first = this.prevTs === 0;
    this.prevTs = now;
    if (first) return null; // rates need two readings
    const sample: VmStatsSample = {
      uuid: this.uuid,
      name: config.name,
      ts: now,
      intervalS: dt,
      cpu: { hostPct, hostCpus: this.hostCpus, vcpus },
      memory: {
        assignedBytes: config.memoryMiB * 1024 * 1024,
        rssBytes,
        balloonBytes,
        guest,
        ...(guestNote ? { guestNote } : {}),
      },
      disks,
      nics,
    };
    return sample;
  }

  close(): void {
    this.closed = true;
    if (this.qmp && this.qmp !== this.proc.qmp) this.qmp.close();
    this.qmp = null;
    for (const n of this.nics.values()) for (const s of n.sockets) s.destroy();
  }
}

/** What history keeps of a sample: sums over disks and adapters, the interval's amounts. */
function toPoint(s: VmStatsSample) {
  const avail = s.nics.filter((n) => n.available);
  const net = (f: (n: VmStatsSample['nics'][number]) => number) => (avail.length ? avail.reduce((a, n) => a + f(n) * s.intervalS, 0) : null);
  const disk = (f: (d: VmStatsSample['disks'][number]) => number) => s.disks.reduce((a, d) => a + f(d) * s.intervalS, 0);
  return {
    ts: s.ts,
    cpuPct: s.cpu.hostPct,
    rssBytes: s.memory.rssBytes,
    balloonBytes: s.memory.balloonBytes,
    guestUsedBytes: s.memory.guest?.usedBytes ?? null,
    diskRdBytes: Math.round(disk((d) => d.rdBytesPerS)),
    diskWrBytes: Math.round(disk((d) => d.wrBytesPerS)),
    diskRdOps: Math.round(disk((d) => d.rdOpsPerS)),
    diskWrOps: Math.round(disk((d) => d.wrOpsPerS)),
    netRxBytes: net((n) => n.rxBytesPerS),
    netTxBytes: net((n) => n.txBytesPerS),
    netRxPackets: net((n) => n.rxPacketsPerS),
    netTxPackets: net((n) => n.txPacketsPerS),
  };
}

export class Monitor {
  private readonly samplers = new Map<string, VmSampler>();
  private readonly clk = clockTicks();
  private readonly hostCpus = os.cpus().length || 1;
  private timer: ReturnType<typeof setInterval> | null = null;
  private prevHostCpu: { busy: number; total: number } | null = null;
  private hostLatest: HostStats | null = null;
  private lastPrune = 0;
  private offBus: (() => void) | null = null;

  constructor(private readonly d: MonitorDeps) {}

  start(): void {
    if (this.timer) return;
    // A VM that stops closes its running minute into the history at once, not at the next tick.
    this.offBus = this.d.bus.on((name, data) => {
      if (name !== 'vm.state') return;
      const ev = data as { uuid: string; state: VmState };
      if (isActive(ev.state)) return;
      for (const [key, sampler] of this.samplers) if (sampler.uuid === ev.uuid) this.retire(key, sampler);
    });
    this.timer = setInterval(() => void this.tick(), this.d.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** The latest figures of every running VM and of the host. */
  current(): { host: HostStats; vms: VmStatsSample[] } {
    return { host: this.hostLatest ?? this.hostStats(), vms: [...this.samplers.values()].map((s) => s.latest).filter((s): s is VmStatsSample => s !== null) };
  }

  /** The samples of one VM's last ten minutes (this QEMU process), oldest first. */
  recent(uuid: string): VmStatsSample[] {
    for (const s of this.samplers.values()) if (s.uuid === uuid && !s.closed) return [...s.recent];
    return [];
  }

  private hostStats(): HostStats {
    const cpu = parseHostCpu(readText('/proc/stat') ?? '');
    let pct = 0;
    if (cpu && this.prevHostCpu) {
      const total = cpu.total - this.prevHostCpu.total;
      pct = total > 0 ? (delta(this.prevHostCpu.busy, cpu.busy) / total) * 100 : 0;
    }
    if (cpu) this.prevHostCpu = cpu;
    const mem = parseKbFields(readText('/proc/meminfo') ?? '');
    return {
      ts: Date.now(),
      cpuPct: pct,
      cpus: this.hostCpus,
      memTotalBytes: mem.get('MemTotal') ?? os.totalmem(),
      memAvailableBytes: mem.get('MemAvailable') ?? os.freemem(),
      ksm: readKsm(),
      runningVms: this.samplers.size,
    };
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    const vms = this.d.running();
    const seen = new Set<string>();
    for (const vm of vms) {
      const key = `${vm.uuid}:${vm.proc.pid}`;
      seen.add(key);
      let s = this.samplers.get(key);
      if (!s) {
        s = new VmSampler(vm.uuid, vm.proc.pid, vm.proc, this.clk, this.hostCpus);
        this.samplers.set(key, s);
      }
      if (s.inFlight) continue;
      s.inFlight = true;
      const sampler = s;
      sampler
        .sample(vm.config, vm.guest)
        .then((sample) => {
          if (!sample || sampler.closed) return;
          sampler.latest = sample;
          sampler.recent.push(sample);
          if (sampler.recent.length > RECENT_SAMPLES) sampler.recent.splice(0, sampler.recent.length - RECENT_SAMPLES);
          this.d.bus.emit('vm.stats', sample);
          const done = sampler.acc.add(toPoint(sample));
          if (done) this.save(sampler.uuid, done);
        })
        .catch(() => undefined)
        .finally(() => {
          sampler.inFlight = false;
        });
    }
    for (const [key, s] of this.samplers) {
      if (seen.has(key)) continue;
      this.retire(key, s);
    }
    this.hostLatest = this.hostStats();
    this.d.bus.emit('host.stats', this.hostLatest);
    if (now - this.lastPrune > 3600_000) {
      this.lastPrune = now;
      try {
        this.d.history.prune(now);
      } catch {
        // the database is closing
      }
    }
  }

  private save(uuid: string, m: ReturnType<MinuteAccumulator['add']>): void {
    if (!m) return;
    try {
      this.d.history.insert(uuid, m);
    } catch {
      // the VM was deleted (foreign key) or the database is closing: nothing to keep
    }
  }

  private retire(key: string, s: VmSampler): void {
    this.samplers.delete(key);
    s.close();
    this.save(s.uuid, s.acc.flush());
  }

  /** Stops sampling and keeps the partial minute of every VM. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.offBus?.();
    this.offBus = null;
    for (const [key, s] of this.samplers) this.retire(key, s);
  }
}
