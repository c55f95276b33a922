/**
 * The core's memory per running VM, measured after a forced garbage collection: the daemon
 * runs with `--expose-gc` and NESTBOX_BENCH_MEMORY (src/core/server/memprobe.ts), and each
 * sample is one SIGUSR2 → full GC → process.memoryUsage() written by the daemon itself. At 0,
 * 10, 20 and 40 running VMs, in BENCH_REPS rounds (default 5) that go up (0 → 40) and down
 * (40 → 0) in turn, so a drift over time does not pass for a slope. The VMs are the smallest
 * config that runs (64 MiB, no disk, no network, no boot medium) and are paused right after
 * their start: to the core they are running VMs (QMP, serial, sampler), while the two cores of
 * the machine stay usable. Reported: each level's samples, and the slope per running VM as a
 * least-squares fit over all samples with the spread of the per-round slopes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { printTable, row, sleep, startDaemon, stat, tempHome, writeResults, type Row, type Stat } from './lib';

const ROUNDS = Number(process.env['BENCH_REPS'] ?? 5);
const LEVELS = (process.env['BENCH_LEVELS'] ?? '0,10,20,40').split(',').map(Number);
const SETTLE_MS = Number(process.env['BENCH_SETTLE_MS'] ?? 2000);
const PREFIX = 'nestbox-bench-mem-';
const MiB = 2 ** 20;

interface Sample {
  readonly round: number;
  readonly running: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  readonly heapTotalMiB: number;
  readonly externalMiB: number;
}

/** Least-squares slope of y over x. */
function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxy / sxx;
}

async function main(): Promise<void> {
  const loadAtStart = os.loadavg();
  const startedAt = new Date().toISOString();
  const home = tempHome();
  const probe = path.join(home, 'memprobe.json');
  const d = await startDaemon(home, { nodeArgs: ['--expose-gc'], env: { NESTBOX_BENCH_MEMORY: probe } });
  const pid = d.child.pid!;
  let seq = 0;
  const sampleNow = async () => {
    const want = ++seq;
    process.kill(pid, 'SIGUSR2');
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const s = JSON.parse(fs.readFileSync(probe, 'utf8')) as { seq: number; rss: number; heapUsed: number; heapTotal: number; external: number };
        if (s.seq === want) return s;
      } catch {
        /* not written yet */
      }
      if (Date.now() > deadline) throw new Error('the daemon did not answer the memory probe (is it built with src/core/server/memprobe.ts?)');
      await sleep(20);
    }
  };
  const max = Math.max(...LEVELS);
  const names = Array.from({ length: max }, (_, i) => `${PREFIX}${i}`);
  const running = new Set<string>();
  const samples: Sample[] = [];
  try {
    process.stdout.write(`defining ${max} VMs (64 MiB, no disk, no network)…\n`);
    for (const name of names) await d.client.call('vms.create', { name, osType: 'linux-other', memoryMiB: 64, cpus: 1, noDisk: true, nic: 'none' });
    const setRunning = async (k: number) => {
      for (const name of names.slice(0, k)) {
        if (running.has(name)) continue;
        await d.client.call('vms.start', { ref: name });
        await d.client.call('vms.pause', { ref: name });
        running.add(name);
      }
      for (const name of names.slice(k)) {
        if (!running.has(name)) continue;
        await d.client.call('vms.powerOff', { ref: name });
        running.delete(name);
      }
    };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? [...LEVELS] : [...LEVELS].reverse();
      for (const k of order) {
        await setRunning(k);
        await sleep(SETTLE_MS);
        const m = await sampleNow();
        const s: Sample = { round: r, running: k, rssMiB: m.rss / MiB, heapUsedMiB: m.heapUsed / MiB, heapTotalMiB: m.heapTotal / MiB, externalMiB: m.external / MiB };
        samples.push(s);
        process.stdout.write(`round ${r + 1}/${ROUNDS}, ${k} running: RSS ${s.rssMiB.toFixed(1)} MiB, heap used ${s.heapUsedMiB.toFixed(2)} MiB\n`);
      }
    }
  } finally {
    for (const name of running) await d.client.call('vms.powerOff', { ref: name }).catch(() => undefined);
    await d.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }

  const rows: Row[] = [];
  const at = (k: number, key: 'rssMiB' | 'heapUsedMiB') => samples.filter((s) => s.running === k).map((s) => s[key]);
  for (const k of LEVELS.filter((x) => x > 0)) {
    rows.push(row(`core RSS after a forced GC, ${k} running (paused)`, 'MiB', at(k, 'rssMiB'), 'none running', at(0, 'rssMiB')));
    rows.push(row(`V8 heap used after a forced GC, ${k} running (paused)`, 'MiB', at(k, 'heapUsedMiB'), 'none running', at(0, 'heapUsedMiB')));
  }
  // All rounds, then the rising (0 → 40, even) and falling (40 → 0, odd) rounds apart: memory
  // a process has grown to is not always given back to the system when VMs stop.
  const slopes: { metric: string; unit: string; rounds: string; leastSquares: number; perRound: Stat }[] = [];
  const sets = [
    ['all rounds', () => true],
    ['rising rounds (0 → 40)', (r: number) => r % 2 === 0],
    ['falling rounds (40 → 0)', (r: number) => r % 2 === 1],
  ] as const;
  for (const [metric, key] of [['core RSS', 'rssMiB'], ['V8 heap used', 'heapUsedMiB']] as const) {
    for (const [rounds, keep] of sets) {
      const rs = Array.from({ length: ROUNDS }, (_, r) => r).filter(keep);
      if (!rs.length) continue;
      const all = samples.filter((s) => keep(s.round)).map((s) => [s.running, s[key] * 1024] as const);
      const perRound = rs.map((r) => slope(samples.filter((s) => s.round === r).map((s) => [s.running, s[key] * 1024] as const)));
      slopes.push({ metric: `${metric} per running VM, ${rounds}`, unit: 'KiB per VM', rounds, leastSquares: slope(all), perRound: stat(perRound) });
    }
  }
  printTable('Core memory after a forced GC, by running VMs', rows);
  console.log('\nslope per running VM (least squares over all samples; per-round slopes median (min–max))');
  for (const s of slopes) {
    console.log(`  ${s.metric}: ${s.leastSquares.toFixed(1)} ${s.unit}; per round ${s.perRound.median.toFixed(1)} (${s.perRound.min.toFixed(1)}–${s.perRound.max.toFixed(1)}), n=${s.perRound.n}`);
  }
  console.log(`results: ${writeResults('memory', rows, { startedAt, loadAtStart, loadAtEnd: os.loadavg(), rounds: ROUNDS, levels: LEVELS, settleMs: SETTLE_MS, vm: { memoryMiB: 64, disk: false, nic: 'none', paused: true }, slopes, samples })}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
