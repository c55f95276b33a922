/**
 * Resource limits for qemu-img. Every image qemu-img opens may come from outside (a
 * download, a USB stick, an OVA), and a hostile header can make it spin or allocate without
 * end. So every qemu-img process runs with a CPU-time cap and an address-space cap set by
 * the kernel before qemu-img starts, plus a wall-clock deadline Nestbox enforces itself.
 *
 * The kernel limits are applied by `prlimit` (util-linux) where it is on PATH, else by a
 * two-line `/bin/sh` wrapper (`ulimit -t`, `ulimit -v`, then `exec`). Where neither exists
 * (Windows) the call is refused with what to install: running it unlimited would make the
 * guarantee silently disappear.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NestboxError } from '../api/errors';

export interface ImageToolLimits {
  /** CPU time (user + system) before the kernel stops the process (SIGXCPU / SIGKILL). */
  readonly cpuSeconds: number;
  /** Address space (RLIMIT_AS): allocations beyond it fail. */
  readonly memoryBytes: number;
  /** Wall-clock time before Nestbox kills it (SIGKILL). */
  readonly wallMs: number;
}

const GiB = 1024 * 1024 * 1024;

/**
 * Reading headers and metadata (info, snapshot lists, measure, internal snapshot changes):
 * quick on any honest image. `check` walks every cluster's metadata and gets more time.
 * Copying whole images (convert, create, resize) is bounded by the image's size, so its caps
 * are far larger; the address-space cap still stops a runaway allocation.
 */
export const IMAGE_TOOL_LIMITS = {
  inspect: { cpuSeconds: 30, memoryBytes: 2 * GiB, wallMs: 60_000 },
  check: { cpuSeconds: 300, memoryBytes: 2 * GiB, wallMs: 600_000 },
  bulk: { cpuSeconds: 12 * 3600, memoryBytes: 4 * GiB, wallMs: 24 * 3600_000 },
} as const satisfies Record<string, ImageToolLimits>;

export type LimitClass = keyof typeof IMAGE_TOOL_LIMITS;

/** How the kernel limits get applied. */
export type Limiter = { readonly kind: 'prlimit'; readonly path: string } | { readonly kind: 'sh'; readonly path: string };

function onPath(name: string, env: NodeJS.ProcessEnv): string | null {
  const dirs = [...(env['PATH'] ?? '').split(path.delimiter).filter(Boolean), '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      /* not here */
    }
  }
  return null;
}

/**
 * The limiter this host offers: `prlimit` found on PATH, else `/bin/sh`, else null.
 * NESTBOX_IMAGE_LIMITER=prlimit|sh forces one (tests exercise both).
 */
export function findLimiter(env: NodeJS.ProcessEnv = process.env): Limiter | null {
  const forced = env['NESTBOX_IMAGE_LIMITER'];
  const prlimit = forced === 'sh' ? null : onPath('prlimit', env);
  if (prlimit) return { kind: 'prlimit', path: prlimit };
  if (forced === 'prlimit') return null;
  if (process.platform === 'win32') return null;
  return fs.existsSync('/bin/sh') ? { kind: 'sh', path: '/bin/sh' } : null;
}

export interface LimitedCommand {
  readonly command: string;
  readonly args: string[];
  readonly env: NodeJS.ProcessEnv;
}

/**
 * The command line that runs `binary args` under `limits`. Throws HOST_UNSUPPORTED, saying
 * what to install, when the host offers no way to apply them.
 */
export function limitedCommand(binary: string, args: readonly string[], limits: ImageToolLimits, limiter: Limiter | null = findLimiter()): LimitedCommand {
  // glibc makes up to 8 malloc arenas per core, each reserving 64 MiB of address space:
  // without this a many-core host would trip the address-space cap with no real use.
  const env = { ...process.env, MALLOC_ARENA_MAX: '2' };
  const cpu = Math.max(1, Math.ceil(limits.cpuSeconds));
  const kib = Math.max(1, Math.floor(limits.memoryBytes / 1024));
  if (!limiter) {
    throw new NestboxError(
      'HOST_UNSUPPORTED',
      'Nestbox runs qemu-img only under CPU and memory limits (images can come from anywhere), and this host has neither prlimit nor /bin/sh to set them: install util-linux (for prlimit) or make /bin/sh available',
    );
  }
  switch (limiter.kind) {
    case 'prlimit':
      return { command: limiter.path, args: [`--cpu=${cpu}`, `--as=${kib * 1024}`, '--', binary, ...args], env };
    case 'sh':
      // `ulimit` without -S/-H sets both soft and hard limits; `exec` keeps the pid, so a
      // kill (cancel, deadline) reaches qemu-img itself.
      return { command: limiter.path, args: ['-c', `ulimit -t ${cpu} && ulimit -v ${kib} && exec "$0" "$@"`, binary, ...args], env };
    default: {
      const never: never = limiter;
      throw new Error(`unknown limiter ${String(never)}`);
    }
  }
}

/**
 * Why a limited qemu-img ended, when a limit ended it: the CPU cap (SIGXCPU, or SIGKILL at
 * the hard cap), the memory cap (allocation failures end in messages or SIGABRT from
 * g_malloc), or Nestbox's own deadline. Null when it failed for another reason.
 */
export function limitFailure(limits: ImageToolLimits, signal: NodeJS.Signals | null, stderr: string, timedOut: boolean): string | null {
  if (timedOut) return `qemu-img was stopped after ${formatMs(limits.wallMs)}, the time limit Nestbox sets on it`;
  if (signal === 'SIGXCPU' || signal === 'SIGKILL') return `qemu-img was stopped by its CPU-time limit (${limits.cpuSeconds} s): the image makes it work far longer than any honest image would`;
  const memory = /cannot allocate memory|failed to allocate|out of memory|failed to map segment|memory exhausted|qemu_thread_create|ENOMEM/i;
  if (signal === 'SIGABRT' || signal === 'SIGSEGV' || memory.test(stderr)) {
    return `qemu-img ran out of its memory limit (${Math.round(limits.memoryBytes / (1024 * 1024))} MiB address space): the image asks for far more memory than any honest image would`;
  }
  return null;
}

function formatMs(ms: number): string {
  return ms >= 3600_000 ? `${ms / 3600_000} h` : ms >= 60_000 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}
