/**
 * qemu-img, always with an explicit format and, for images from outside, under CPU-time and
 * address-space limits (a hostile header must not make it spin or eat the host's memory).
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { DiskFormat } from '../domain/config';
import { NestboxError } from '../api/errors';
import { opt } from '../qemu/argv';

export interface ImageInfo {
  readonly format: string;
  readonly virtualSize: number;
  readonly actualSize: number;
  readonly backingFile: string | null;
  readonly dataFile: string | null;
}

const PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit'].find((p) => fs.existsSync(p));

function exec(binary: string, args: readonly string[], opts: { limited?: boolean; timeoutMs?: number } = {}): Promise<string> {
  const [cmd, argv] =
    opts.limited && PRLIMIT ? [PRLIMIT, ['--cpu=30', `--as=${2 * 1024 * 1024 * 1024}`, '--', binary, ...args]] : [binary, [...args]];
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const msg = String(stderr).trim().split('\n').pop() || err.message;
        reject(new NestboxError('IO_ERROR', `qemu-img failed: ${msg}`, `${binary} ${args.join(' ')}\n${String(stderr)}`));
      } else resolve(String(stdout));
    });
  });
}

/**
 * Runs qemu-img with `-p` and reports its percentage; an aborted signal ends it (SIGTERM)
 * and rejects with CANCELLED.
 */
function execProgress(binary: string, args: readonly string[], onProgress: (pct: number) => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new NestboxError('CANCELLED', 'cancelled'));
      return;
    }
    const child = spawn(binary, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let cancelled = false;
    const onAbort = () => {
      cancelled = true;
      child.kill('SIGTERM');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const all = [...chunk.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)];
      const last = all.at(-1);
      if (last) onProgress(Number(last[1]));
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new NestboxError('IO_ERROR', `qemu-img failed: ${err.message}`));
    });
    child.on('close', (code) => {
      signal?.removeEventListener('abort', onAbort);
      if (cancelled) reject(new NestboxError('CANCELLED', 'cancelled'));
      else if (code === 0) resolve();
      else reject(new NestboxError('IO_ERROR', `qemu-img failed: ${stderr.trim().split('\n').pop() ?? `exit ${code}`}`, `${binary} ${args.join(' ')}\n${stderr}`));
    });
  });
}

export class QemuImg {
  constructor(readonly binary: string) {}

  async create(file: string, format: 'qcow2' | 'raw', sizeBytes: number): Promise<void> {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const opts = format === 'qcow2' ? ['-o', 'preallocation=off'] : [];
    try {
      await exec(this.binary, ['create', '-q', '-f', format, ...opts, file, String(sizeBytes)]);
    } catch (err) {
      await fs.promises.rm(file, { force: true });
      throw err;
    }
  }

  async info(file: string, format: DiskFormat | 'raw'): Promise<ImageInfo> {
    const out = await exec(this.binary, ['info', '-f', format, '--force-share', '--output=json', file], { limited: true, timeoutMs: 30_000 });
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(out) as Record<string, unknown>;
    } catch {
      throw new NestboxError('IMAGE_REJECTED', `qemu-img info printed something that is not JSON for '${file}'`);
    }
    const spec = j['format-specific'] as { data?: { 'data-file'?: string; extents?: { filename?: string }[] } } | undefined;
    const foreign = (spec?.data?.extents ?? []).map((e) => e.filename).filter((f) => f !== undefined && path.resolve(f) !== path.resolve(file));
    if (foreign.length) throw new NestboxError('IMAGE_REJECTED', `refusing '${file}': its extents are other files (${foreign.join(', ')})`);
    return {
      format: String(j['format']),
      virtualSize: Number(j['virtual-size']),
      actualSize: Number(j['actual-size'] ?? 0),
      backingFile: typeof j['backing-filename'] === 'string' ? (j['backing-filename'] as string) : null,
      dataFile: spec?.data?.['data-file'] ?? null,
    };
  }

  /**
   * Checks a qcow2 image read-only; only when the sole problem is leaked clusters (harmless,
   * left by a crash) does it repair them (`-r leaks`). Corruption is reported, never
   * "repaired" behind the user's back.
   */
  async check(file: string): Promise<{ corruptions: number; leaksFixed: number; leaks: number }> {
    const run = (repair: boolean) =>
      new Promise<{ corruptions: number; leaks: number; leaksFixed: number }>((resolve, reject) => {
        const args = ['check', ...(repair ? ['-r', 'leaks'] : []), '-f', 'qcow2', '--output=json', file];
        execFile(this.binary, args, { timeout: 600_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
          // Exit codes 2 (corruptions) and 3 (leaks) still print the JSON report.
          try {
            const j = JSON.parse(String(stdout)) as { corruptions?: number; leaks?: number; 'leaks-fixed'?: number; 'check-errors'?: number };
            if ((j['check-errors'] ?? 0) > 0) throw new Error(`${j['check-errors']} check errors`);
            resolve({ corruptions: j.corruptions ?? 0, leaks: j.leaks ?? 0, leaksFixed: j['leaks-fixed'] ?? 0 });
          } catch (e) {
            const why = String(stderr).trim().split('\n').pop() || (e as Error).message || err?.message;
            reject(new NestboxError('IO_ERROR', `qemu-img could not check ${file}: ${why}`));
          }
        });
      });
    const first = await run(false);
    if (first.corruptions > 0 || first.leaks === 0) return first;
    return run(true);
  }

  /** Internal snapshots of a qcow2 image that no QEMU has open: create, apply, delete. */
  async snapshot(file: string, action: 'create' | 'apply' | 'delete', tag: string): Promise<void> {
    const flag = action === 'create' ? '-c' : action === 'apply' ? '-a' : '-d';
    // `qemu-img snapshot` has no -f: name the driver through --image-opts so nothing is probed.
    await exec(this.binary, ['snapshot', '-q', '--image-opts', flag, tag, `driver=qcow2,file.driver=file,file.filename=${opt(file)}`]);
  }

  /**
   * Copies an image, or one internal snapshot of a qcow2 image (`snapshot`: its tag), into a
   * new, independent qcow2 (reading through any backing image). `shared`: the image is open
   * in a running QEMU; only ever used to read a snapshot, whose clusters QEMU never rewrites.
   */
  async exportQcow2(
    src: string,
    srcFormat: DiskFormat,
    dst: string,
    opts: { snapshot?: string; shared?: boolean; signal?: AbortSignal; onProgress?: (pct: number) => void } = {},
  ): Promise<void> {
    await fs.promises.mkdir(path.dirname(dst), { recursive: true });
    const args = ['convert', '-f', srcFormat, ...(opts.shared ? ['-U'] : []), ...(opts.snapshot ? ['-l', `snapshot.name=${opt(opts.snapshot)}`] : []), '-O', 'qcow2', src, dst];
    try {
      if (opts.onProgress || opts.signal) await execProgress(this.binary, [args[0]!, '-p', ...args.slice(1)], opts.onProgress ?? (() => undefined), opts.signal);
      else await exec(this.binary, [args[0]!, '-q', ...args.slice(1)], { timeoutMs: 12 * 3600_000 });
    } catch (err) {
      await fs.promises.rm(dst, { force: true });
      throw err;
    }
  }

  /** A new qcow2 overlay on a base image Nestbox made, with the base's format written in. */
  async createOverlay(dst: string, base: string): Promise<void> {
    await fs.promises.mkdir(path.dirname(dst), { recursive: true });
    try {
      await exec(this.binary, ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, dst]);
    } catch (err) {
      await fs.promises.rm(dst, { force: true });
      throw err;
    }
  }

  /** Internal snapshots of a qcow2 image and the RAM state each holds (read with --force-share). */
  async snapshots(file: string): Promise<{ name: string; vmStateSize: number }[]> {
    const out = await exec(this.binary, ['info', '-f', 'qcow2', '--force-share', '--output=json', file], { timeoutMs: 30_000 });
    const j = JSON.parse(out) as { snapshots?: { name?: string; 'vm-state-size'?: number }[] };
    return (j.snapshots ?? []).map((x) => ({ name: String(x.name ?? ''), vmStateSize: Number(x['vm-state-size'] ?? 0) }));
  }

  /** Copies a raw image into a new qcow2 (the UEFI variable store, so it can be snapshotted). */
  async convertToQcow2(src: string, srcFormat: DiskFormat, dst: string): Promise<void> {
    try {
      await exec(this.binary, ['convert', '-q', '-f', srcFormat, '-O', 'qcow2', src, dst]);
    } catch (err) {
      await fs.promises.rm(dst, { force: true });
      throw err;
    }
  }
}
