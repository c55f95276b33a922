/**
 * Storage jobs through Nestbox (API of `nestbox daemon`: identify the source with the
 * inspector and limited qemu-img info, convert with progress events, identify the result and
 * register it) against the same `qemu-img convert` run by hand, alternately, on one
 * incompressible raw image. Also `media.info` against plain `qemu-img info`.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { printTable, row, startDaemon, tempHome, writeResults, type Row } from './lib';

const SIZE_MIB = Number(process.env['BENCH_SIZE_MIB'] ?? 512);
const REPS = Number(process.env['BENCH_REPS'] ?? 5);

async function main(): Promise<void> {
  const home = tempHome();
  const src = path.join(home, 'source.raw');
  const fd = fs.openSync(src, 'w');
  for (let i = 0; i < SIZE_MIB / 16; i++) fs.writeSync(fd, crypto.randomBytes(16 * 1024 * 1024));
  fs.closeSync(fd);
  const d = await startDaemon(home);
  const rows: Row[] = [];
  try {
    for (const [format, extra] of [
      ['qcow2', []],
      ['vmdk', ['-o', 'subformat=streamOptimized']],
    ] as const) {
      const ours: number[] = [];
      const plain: number[] = [];
      const viaNestbox = async (i: number) => {
        const a = path.join(home, `n${i}.${format}`);
        const t = performance.now();
        const job = await d.client.call('media.convert', { source: src, target: a, format, ...(format === 'vmdk' ? { subformat: 'streamOptimized' as const } : {}) });
        const end = await d.client.call('jobs.wait', { id: job.id });
        if (end.state !== 'done') throw new Error(`conversion ${end.state}: ${end.error?.message}`);
        ours.push(performance.now() - t);
        await d.client.call('media.delete', { path: a, deleteFile: true });
      };
      const byHand = (i: number) => {
        const b = path.join(home, `p${i}.${format}`);
        const t = performance.now();
        execFileSync('qemu-img', ['convert', '-p', '-f', 'raw', '-O', format, ...extra, '-S', '4k', src, b], { stdio: 'ignore' });
        plain.push(performance.now() - t);
        fs.rmSync(b);
      };
      // Nestbox first in even repetitions, qemu-img by hand first in odd ones.
      for (let i = 0; i < REPS; i++) {
        if (i % 2) {
          byHand(i);
          await viaNestbox(i);
        } else {
          await viaNestbox(i);
          byHand(i);
        }
      }
      rows.push(row(`convert ${SIZE_MIB} MiB raw → ${format}`, 'ms', ours, 'qemu-img convert', plain));
    }
    const vdi = path.join(home, 'x.vdi');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vdi', src, vdi]);
    const ours: number[] = [];
    const plain: number[] = [];
    const info = async () => {
      const t = performance.now();
      await d.client.call('media.info', { path: vdi });
      ours.push(performance.now() - t);
    };
    const qemuInfo = () => {
      const t = performance.now();
      execFileSync('qemu-img', ['info', '-f', 'vdi', '--force-share', '--output=json', vdi]);
      plain.push(performance.now() - t);
    };
    for (let i = 0; i < REPS * 4; i++) {
      if (i % 2) {
        qemuInfo();
        await info();
      } else {
        await info();
        qemuInfo();
      }
    }
    rows.push(row('identify a VDI (media.info)', 'ms', ours, 'qemu-img info', plain));
  } finally {
    await d.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
  printTable('Storage jobs: Nestbox vs qemu-img by hand', rows);
  console.log(`\nwrote ${writeResults('storage', rows, { sizeMiB: SIZE_MIB, reps: REPS })}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
