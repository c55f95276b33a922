/**
 * qemu-img under limits, for real: every QemuImg operation still works under both ways of
 * applying the limits (prlimit, and the /bin/sh wrapper used where prlimit is missing), and
 * a limit really ends a runaway with an error that says which limit it was.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NestboxError } from '../../src/core/api/errors';
import { IMAGE_TOOL_LIMITS } from '../../src/core/storage/limits';
import { QemuImg } from '../../src/core/storage/qemuimg';

const QEMU_IMG = process.env['NESTBOX_QEMU_IMG'] ?? '/usr/bin/qemu-img';
let dir: string;

beforeAll(() => {
  if (!fs.existsSync(QEMU_IMG)) throw new Error(`this test needs qemu-img at ${QEMU_IMG} (Debian: apt-get install qemu-utils)`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-limits-'));
  // Random data: compressing it costs real CPU time.
  const fd = fs.openSync(path.join(dir, 'random.raw'), 'w');
  for (let i = 0; i < 128; i++) fs.writeSync(fd, crypto.randomBytes(1024 * 1024));
  fs.closeSync(fd);
});

afterAll(() => {
  delete process.env['NESTBOX_IMAGE_LIMITER'];
  fs.rmSync(dir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<NestboxError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof NestboxError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

for (const limiter of ['prlimit', 'sh'] as const) {
  describe(`qemu-img limited by ${limiter}`, () => {
    beforeAll(() => {
      process.env['NESTBOX_IMAGE_LIMITER'] = limiter;
    });

    it('every operation works within the normal limits', async () => {
      const img = new QemuImg(QEMU_IMG);
      const disk = path.join(dir, `${limiter}.qcow2`);
      await img.create(disk, 'qcow2', 64 * 1024 * 1024);
      expect((await img.info(disk, 'qcow2')).virtualSize).toBe(64 * 1024 * 1024);
      await img.snapshot(disk, 'create', 'one');
      expect(await img.snapshotTags(disk)).toEqual(['one']);
      expect((await img.snapshots(disk)).map((s) => s.name)).toEqual(['one']);
      expect((await img.check(disk)).corruptions).toBe(0);
      await img.resize(disk, 'qcow2', 128 * 1024 * 1024, false);
      const seen: number[] = [];
      const copy = path.join(dir, `${limiter}-copy.qcow2`);
      await img.exportQcow2(disk, 'qcow2', copy, { onProgress: (p) => seen.push(p) });
      expect((await img.info(copy, 'qcow2')).virtualSize).toBe(128 * 1024 * 1024);
      const overlay = path.join(dir, `${limiter}-overlay.qcow2`);
      await img.createOverlay(overlay, copy);
      expect((await img.info(overlay, 'qcow2')).backingFile).toBe(copy);
      await img.snapshot(disk, 'delete', 'one');
      expect(await img.snapshotTags(disk)).toEqual([]);
    });

    it('a memory cap ends qemu-img, and the error names the memory limit', async () => {
      const disk = path.join(dir, `${limiter}-mem.qcow2`);
      await new QemuImg(QEMU_IMG).create(disk, 'qcow2', 1024 * 1024);
      const img = new QemuImg(QEMU_IMG, { inspect: { ...IMAGE_TOOL_LIMITS.inspect, memoryBytes: 16 * 1024 * 1024 }, check: { ...IMAGE_TOOL_LIMITS.check, memoryBytes: 16 * 1024 * 1024 } });
      const err = await rejection(img.info(disk, 'qcow2'));
      expect(err.code).toBe('IMAGE_REJECTED');
      expect(err.message).toMatch(/memory limit \(16 MiB address space\)/);
      const checked = await rejection(img.check(disk));
      expect(checked.message).toMatch(/memory limit/);
    });

    it('a CPU-time cap ends a runaway conversion, removes its output, and the error names the CPU limit', async () => {
      const img = new QemuImg(QEMU_IMG, { bulk: { ...IMAGE_TOOL_LIMITS.bulk, cpuSeconds: 1 } });
      const out = path.join(dir, `${limiter}-compressed.qcow2`);
      const started = Date.now();
      const err = await rejection(img.run(['convert', '-c', '-f', 'raw', '-O', 'qcow2', path.join(dir, 'random.raw'), out], { output: out }));
      expect(err.code).toBe('IMAGE_REJECTED');
      expect(err.message).toMatch(/CPU-time limit \(1 s\)/);
      expect(fs.existsSync(out)).toBe(false);
      expect(Date.now() - started).toBeLessThan(60_000); // the CPU limit ended it (liveness), not a performance claim
    });

    it('the wall-clock deadline ends a call that waits for ever', async () => {
      const img = new QemuImg(QEMU_IMG, { bulk: { ...IMAGE_TOOL_LIMITS.bulk, wallMs: 1500 } });
      // A FIFO nobody writes to: qemu-img blocks opening it (no CPU used, so only the deadline helps).
      const fifo = path.join(dir, `${limiter}.fifo`);
      const { execFileSync } = await import('node:child_process');
      execFileSync('mkfifo', [fifo]);
      const out = path.join(dir, `${limiter}-fifo.qcow2`);
      const started = Date.now();
      const err = await rejection(img.run(['convert', '-f', 'raw', '-O', 'qcow2', fifo, out], { output: out }));
      expect(err.message).toMatch(/stopped after 1.5 s, the time limit/);
      expect(Date.now() - started).toBeLessThan(30_000); // the time limit ended it (liveness), not a performance claim
    });
  });
}
