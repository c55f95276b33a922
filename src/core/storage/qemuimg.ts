/**
 * qemu-img, always with an explicit format and always under CPU-time, address-space and
 * wall-clock limits (limits.ts): a hostile header must not make it spin or eat the host's memory.
 * Long commands run cancellable (an AbortSignal ends qemu-img: SIGTERM, then SIGKILL) and
 * report their progress from `-p`; whatever they were writing is removed when they fail.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { DiskFormat } from '../domain/config';
import { NestboxError } from '../api/errors';
import { opt } from '../qemu/argv';
import { IMAGE_TOOL_LIMITS, limitFailure, limitedCommand, type ImageToolLimits, type LimitClass } from './limits';
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

interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly cancelled: boolean;
}

/**
 * The one place qemu-img is spawned: under the limits of `cls` (see limits.ts), killed at
 * the deadline, cancellable (SIGTERM, then SIGKILL). `onStdout` receives stdout as it comes
 * (progress); the rest is kept, bounded.
 */
function spawnLimited(
  binary: string,
  args: readonly string[],
  limits: ImageToolLimits,
  opts: { signal?: AbortSignal; onStdout?: (chunk: string) => boolean } = {},
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new NestboxError('CANCELLED', 'cancelled'));
      return;
    }
    const cmd = limitedCommand(binary, args, limits);
    const child = spawn(cmd.command, cmd.args, { stdio: ['ignore', 'pipe', 'pipe'], env: cmd.env });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let cancelled = false;
    let killTimer: NodeJS.Timeout | null = null;
    const deadline = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limits.wallMs);
    deadline.unref();
    const onAbort = () => {
      cancelled = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 3000);
      killTimer.unref();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (opts.onStdout?.(chunk)) return;
      if (stdout.length < 16 * 1024 * 1024) stdout += chunk;
    });
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 64 * 1024) stderr += chunk;
    });
    const cleanup = () => {
      clearTimeout(deadline);
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (e) => {
      cleanup();
      reject(new NestboxError('HOST_UNSUPPORTED', `qemu-img could not be run: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      cleanup();
      resolve({ code, signal, stdout, stderr, timedOut, cancelled: cancelled || !!opts.signal?.aborted });
    });
  });
}

/** The error for a qemu-img that did not succeed: a limit it hit, a full disk, or its own last line. */
function failure(binary: string, args: readonly string[], limits: ImageToolLimits, r: Finished, output?: string): NestboxError {
  if (r.cancelled) return new NestboxError('CANCELLED', 'cancelled');
  const detail = `${binary} ${args.join(' ')}\n${r.stderr}`;
  const limited = limitFailure(limits, r.signal, r.stderr, r.timedOut);
  const last = r.stderr.trim().split('\n').pop() || `it exited with ${r.signal ?? r.code}`;
  if (isNoSpace(r.stderr) || r.signal === 'SIGXFSZ') {
    const where = output ? path.dirname(output) : 'the target';
    return new NestboxError('NO_SPACE', `there is not enough space on the disk holding ${where} (qemu-img: ${last})${output ? '; the partial file was removed' : ''}`, detail);
  }
  if (limited) return new NestboxError('IMAGE_REJECTED', limited, detail);
  return new NestboxError('IO_ERROR', `qemu-img failed: ${last}`, detail);
}

export class QemuImg {
  /** `limits` replaces the caps of some classes (tests use tiny ones to prove they bite). */
  constructor(
    readonly binary: string,
    private readonly limits: Partial<Record<LimitClass, ImageToolLimits>> = {},
  ) {}

  private limitsOf(cls: LimitClass): ImageToolLimits {
    return this.limits[cls] ?? IMAGE_TOOL_LIMITS[cls];
  }

  /** A short command under `cls`'s limits: its stdout, or the error. */
  private async exec(args: readonly string[], cls: LimitClass, output?: string): Promise<string> {
    const limits = this.limitsOf(cls);
    const r = await spawnLimited(this.binary, args, limits);
    if (r.code === 0) return r.stdout;
    if (output) await fs.promises.rm(output, { force: true });
    throw failure(this.binary, args, limits, r, output);
  }

  /**
   * Runs a long qemu-img command. Progress comes from -p on stdout; the command ends early
   * when `signal` aborts (CANCELLED). A full disk is NO_SPACE, with the partial file gone.
   */
  async run(args: readonly string[], ctl: RunControl = {}, cls: LimitClass = 'bulk'): Promise<string> {
    const limits = this.limitsOf(cls);
    const parser = new ProgressParser();
    const r = await spawnLimited(this.binary, args, limits, {
      ...(ctl.signal ? { signal: ctl.signal } : {}),
      onStdout: (chunk) => {
        const pct = parser.feed(chunk);
        if (pct !== null) ctl.onProgress?.(pct);
        return pct !== null;
      },
    });
    if (r.code === 0 && !r.cancelled) return r.stdout;
    if (ctl.output) fs.rmSync(ctl.output, { force: true });
    throw failure(this.binary, args, limits, r, ctl.output);
  }

  async create(file: string, format: 'qcow2' | 'raw', sizeBytes: number, preallocation: Preallocation = 'off', ctl: RunControl = {}): Promise<void> {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    if (format === 'raw' && preallocation === 'metadata') throw new NestboxError('INVALID_ARGUMENT', "preallocation 'metadata' is for qcow2 only");
    await this.run(['create', '-q', '-f', format, '-o', `preallocation=${preallocation}`, file, String(sizeBytes)], { ...ctl, output: file });
  }

  async info(file: string, format: DiskFormat | 'raw'): Promise<ImageInfo> {
    const out = await this.exec(['info', '-f', format, '--force-share', '--output=json', file], 'inspect');
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
    const limits = this.limitsOf('check');
    const run = async (fix: boolean): Promise<{ corruptions: number; leaks: number; leaksFixed: number }> => {
      const args = ['check', ...(fix ? ['-r', 'leaks'] : []), '-f', format, '--output=json', file];
      const r = await spawnLimited(this.binary, args, limits);
      const limited = limitFailure(limits, r.signal, r.stderr, r.timedOut);
      if (limited) throw new NestboxError('IMAGE_REJECTED', limited, `${this.binary} ${args.join(' ')}\n${r.stderr}`);
      // Exit codes 2 (corruptions) and 3 (leaks) still print the JSON report.
      try {
        const j = JSON.parse(r.stdout) as { corruptions?: number; leaks?: number; 'leaks-fixed'?: number; 'check-errors'?: number };
        if ((j['check-errors'] ?? 0) > 0) throw new Error(`${j['check-errors']} check errors`);
        return { corruptions: j.corruptions ?? 0, leaks: j.leaks ?? 0, leaksFixed: j['leaks-fixed'] ?? 0 };
      } catch (e) {
        const why = r.stderr.trim().split('\n').pop() || (e as Error).message || `exit ${r.signal ?? r.code}`;
        throw new NestboxError('IO_ERROR', `qemu-img could not check ${file}: ${why}`);
      }
    };
    const first = await run(false);
    if (!repair || first.corruptions > 0 || first.leaks === 0) return first;
    return run(true);
  }

  /** Tags of the internal snapshots in a qcow2 image (read with --force-share). */
  async snapshotTags(file: string): Promise<string[]> {
    const out = await this.exec(['info', '-f', 'qcow2', '--force-share', '--output=json', file], 'inspect');
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
    await this.exec(['snapshot', '-q', '--image-opts', flag, tag, `driver=qcow2,file.driver=file,file.filename=${opt(file)}`], 'inspect');
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
    const progress = opts.onProgress || opts.signal;
    await this.run([args[0]!, progress ? '-p' : '-q', ...args.slice(1)], {
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      output: dst,
    });
  }

  /** A new qcow2 overlay on a base image Nestbox made, with the base's format written in. */
  async createOverlay(dst: string, base: string): Promise<void> {
    await fs.promises.mkdir(path.dirname(dst), { recursive: true });
    await this.exec(['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, dst], 'inspect', dst);
  }

  /** Internal snapshots of a qcow2 image and the RAM state each holds (read with --force-share). */
  async snapshots(file: string): Promise<{ name: string; vmStateSize: number }[]> {
    const out = await this.exec(['info', '-f', 'qcow2', '--force-share', '--output=json', file], 'inspect');
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
    await this.run(['resize', '-q', '-f', format, ...(shrink ? ['--shrink'] : []), file, String(sizeBytes)], {}, 'inspect');
  }
}
