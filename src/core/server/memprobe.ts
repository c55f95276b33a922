/**
 * A memory probe for the benchmarks only (`bench/memory.bench.ts`): with
 * NESTBOX_BENCH_MEMORY=FILE set and Node started with `--expose-gc`, each SIGUSR2 makes the
 * daemon run a full garbage collection and then write its process.memoryUsage() (RSS and V8
 * heap, in bytes) with a sequence number to FILE. Without both, nothing is installed: the
 * variable alone is refused with a log line (a probe that cannot force a GC would report
 * garbage-laden figures), and no normal run reacts to SIGUSR2 differently than before.
 */
import fs from 'node:fs';

export const MEMPROBE_ENV = 'NESTBOX_BENCH_MEMORY';

export interface MemSample {
  readonly seq: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** Installs the probe when asked for and possible; returns a function that removes it. */
export function installMemProbe(log: (line: string) => void): () => void {
  const file = process.env[MEMPROBE_ENV];
  if (!file) return () => undefined;
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') {
    log(`nestbox: ${MEMPROBE_ENV} refused: Node was not started with --expose-gc`);
    return () => undefined;
  }
  let seq = 0;
  const onSignal = () => void writeMemSample(gc, file, ++seq);
  process.on('SIGUSR2', onSignal);
  log(`nestbox: memory probe on (SIGUSR2 → forced GC → ${file})`);
  return () => process.off('SIGUSR2', onSignal);
}

/** Runs `gc`, then writes this process's memory figures to `file` (atomically, by rename). */
export function writeMemSample(gc: () => void, file: string, seq: number): MemSample {
  gc();
  const m = process.memoryUsage();
  const sample: MemSample = { seq, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(sample));
  fs.renameSync(tmp, file);
  return sample;
}
