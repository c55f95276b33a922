/**
 * qemu-img, always with an explicit format and, for images from outside, under CPU-time and
 * address-space limits (a hostile header must not make it spin or eat the host's memory).
 * Long commands run cancellable (an AbortSignal ends qemu-img: SIGTERM, then SIGKILL) and
 * report their progress from `-p`; whatever they were writing is removed when they fail.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { DiskFormat } from '../domain/config';
import { NestboxError } from '../api/errors';
import { opt } from '../qemu/argv';
import { isNoSpace, ProgressParser } from './progress';

export interface ImageInfo {
  readonly format: string;
  readonly virtualSize: number;
  readonly actualSize: number;
  readonly backingFile: string | null;
  readonly dataFile: string | null;
  /** Internal snapshots (qcow2). */
  readonly snapshots: number;
}

export interface RunControl {
  readonly signal?: AbortSignal;
  /** 0–100, from qemu-img's -p output. */
  readonly onProgress?: (percent: number) => void;
  /** The file being written: removed if the command fails or is cancelled. */
  readonly output?: string;
}

export type Preallocation = 'off' | 'metadata' | 'falloc' | 'full';

const PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit'].find((p) => fs.existsSync(p));
const LIMITS = ['--cpu=30', `--as=${2 * 1024 * 1024 * 1024}`];

function exec(binary: string, args: readonly string[], opts: { limited?: boolean; timeoutMs?: number } = {}): Promise<string> {
  const [cmd, argv] = opts.limited && PRLIMIT ? [PRLIMIT, [...LIMITS, '--', binary, ...args]] : [binary, [...args]];
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { timeout: opts.timeoutMs ?? 120_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const msg = String(stderr).trim().split('\n').pop() || (err.killed ? 'it was stopped after its time limit' : err.message);
        reject(new NestboxError(isNoSpace(String(stderr)) ? 'NO_SPACE' : 'IO_ERROR', `qemu-img failed: ${msg}`, `${binary} ${args.join(' ')}\n${String(stderr)}`));
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

  /**
   * Runs a long qemu-img command. Progress comes from -p on stdout; the command ends early
   * when `signal` aborts (CANCELLED). A full disk is NO_SPACE, with the partial file gone.
   */
  run(args: readonly string[], ctl: RunControl = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      if (ctl.signal?.aborted) {
        reject(new NestboxError('CANCELLED', 'cancelled'));
        return;
      }
      const child = spawn(this.binary, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      const parser = new ProgressParser();
      let stdout = '';
      let stderr = '';
      let killTimer: NodeJS.Timeout | null = null;
      const onAbort = () => {
        child.kill('SIGTERM');
        killTimer = setTimeout(() => child.kill('SIGKILL'), 3000);
        killTimer.unref();
      };
      ctl.signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.setEncoding('utf8');
      child.stderr.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        const pct = parser.feed(chunk);
        if (pct !== null) ctl.onProgress?.(pct);
        else if (stdout.length < 1024 * 1024) stdout += chunk;
      });
      child.stderr.on('data', (chunk: string) => {
        if (stderr.length < 64 * 1024) stderr += chunk;
      });
      const finish = (err: NestboxError | null) => {
        ctl.signal?.removeEventListener('abort', onAbort);
        if (killTimer) clearTimeout(killTimer);
        if (!err) {
          resolve(stdout);
          return;
        }
        if (ctl.output) fs.rmSync(ctl.output, { force: true });
        reject(err);
      };
      child.on('error', (e) => finish(new NestboxError('HOST_UNSUPPORTED', `qemu-img could not be run: ${e.message}`)));
      child.on('close', (code, sig) => {
        if (ctl.signal?.aborted) return finish(new NestboxError('CANCELLED', 'cancelled'));
        if (code === 0) return finish(null);
        const last = stderr.trim().split('\n').pop() || `it exited with ${sig ?? code}`;
        const detail = `${this.binary} ${args.join(' ')}\n${stderr}`;
        if (isNoSpace(stderr) || sig === 'SIGXFSZ') {
          const where = ctl.output ? path.dirname(ctl.output) : 'the target';
          return finish(new NestboxError('NO_SPACE', `there is not enough space on the disk holding ${where} (qemu-img: ${last}); the partial file was removed`, detail));
        }
        finish(new NestboxError('IO_ERROR', `qemu-img failed: ${last}`, detail));
      });
    });
  }

  async create(file: string, format: 'qcow2' | 'raw', sizeBytes: number, preallocation: Preallocation = 'off', ctl: RunControl = {}): Promise<void> {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    if (format === 'raw' && preallocation === 'metadata') throw new NestboxError('INVALID_ARGUMENT', "preallocation 'metadata' is for qcow2 only");
    await this.run(['create', '-q', '-f', format, '-o', `preallocation=${preallocation}`, file, String(sizeBytes)], { ...ctl, output: file });
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
      snapshots: Array.isArray(j['snapshots']) ? (j['snapshots'] as unknown[]).length : 0,
    };
  }

  /**
   * Checks an image read-only; only when the sole problem is leaked clusters (harmless,
   * left by a crash) does it repair them (`-r leaks`). Corruption is reported, never
   * "repaired" behind the user's back.
   */
  async check(file: string, format: 'qcow2' | 'vdi' | 'vhdx' = 'qcow2', repair = true): Promise<{ corruptions: number; leaksFixed: number; leaks: number }> {
    const run = (fix: boolean) =>
      new Promise<{ corruptions: number; leaks: number; leaksFixed: number }>((resolve, reject) => {
        const args = ['check', ...(fix ? ['-r', 'leaks'] : []), '-f', format, '--output=json', file];
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
    if (!repair || first.corruptions > 0 || first.leaks === 0) return first;
    return run(true);
  }

  /** Tags of the internal snapshots in a qcow2 image (read with --force-share). */
  async snapshotTags(file: string): Promise<string[]> {
    const out = await exec(this.binary, ['info', '-f', 'qcow2', '--force-share', '--output=json', file], { limited: true, timeoutMs: 30_000 });
    try {
      const j = JSON.parse(out) as { snapshots?: { name?: unknown }[] };
      return (j.snapshots ?? []).map((s) => String(s.name));
    } catch {
      throw new NestboxError('IMAGE_REJECTED', `qemu-img info printed something that is not JSON for '${file}'`);
    }
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
    await this.convert(src, srcFormat, dst, 'qcow2');
  }

  /** Converts `src` (read as `srcFormat`, never probed) into a new file `dst`, with progress. */
  async convert(
    src: string,
    srcFormat: DiskFormat,
    dst: string,
    dstFormat: DiskFormat,
    opts: { subformat?: 'monolithicSparse' | 'streamOptimized'; ctl?: RunControl } = {},
  ): Promise<void> {
    const o = dstFormat === 'vmdk' && opts.subformat ? ['-o', `subformat=${opts.subformat}`] : [];
    // -S 4k keeps zeroes sparse; --force-share is not used: the source must not be in use.
    await this.run(['convert', '-p', '-f', srcFormat, '-O', dstFormat, ...o, '-S', '4k', src, dst], { ...opts.ctl, output: dst });
  }

  async resize(file: string, format: DiskFormat, sizeBytes: number, shrink: boolean): Promise<void> {
    await this.run(['resize', '-q', '-f', format, ...(shrink ? ['--shrink'] : []), file, String(sizeBytes)]);
  }
}
