/**
 * Bounded VM logs. QEMU itself appends a VM's serial log (chardev `logfile`, so nothing is
 * lost while no core runs) and its stderr log; a guest that floods its serial port would
 * otherwise fill the disk that also holds nestbox.db. Each log is kept to a few generations
 * of a few MiB: `serial.log` (newest), `serial.log.1`, ... `serial.log.N` (oldest).
 *
 * QEMU holds its log open with O_APPEND, so rotation is copy-then-truncate: the current file
 * is copied to `.1` (after shifting the older ones) and truncated in place, and QEMU's next
 * write lands at its new end. Bytes QEMU writes between the copy and the truncation (a few
 * microseconds) can be lost. While the core runs, the logs of running VMs are checked every
 * second, and before a VM starts its logs are rotated too. A rotated generation never holds
 * more than the cap, whatever the timing: when a guest wrote more than the cap since the last
 * check (a flood, or a core busy elsewhere), the generation keeps the newest cap's worth from
 * a line start, after a line saying how much older output was dropped.
 */
import fs from 'node:fs';
import { vmFiles } from '../store/paths';

export interface LogLimits {
  /** Size at which the current file is rotated. */
  readonly maxBytes: number;
  /** Rotated files kept besides the current one. */
  readonly generations: number;
}

export const LOG_LIMITS: LogLimits = { maxBytes: 4 * 1024 * 1024, generations: 3 };

/**
 * The limits, with NESTBOX_LOG_MAX_BYTES / NESTBOX_LOG_GENERATIONS overriding them (tests use
 * a small cap so a guest can overflow it quickly).
 */
export function logLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): LogLimits {
  const num = (v: string | undefined, min: number) => {
    const n = v === undefined ? NaN : Number(v);
    return Number.isInteger(n) && n >= min ? n : undefined;
  };
  return {
    maxBytes: num(env['NESTBOX_LOG_MAX_BYTES'], 4096) ?? LOG_LIMITS.maxBytes,
    generations: num(env['NESTBOX_LOG_GENERATIONS'], 1) ?? LOG_LIMITS.generations,
  };
}

/** The serial and QEMU logs of the running VMs (`dirOf` gives a VM's folder). */
export function runningLogs(uuids: readonly string[], dirOf: (uuid: string) => string | undefined): string[] {
  return uuids.flatMap((u) => {
    const dir = dirOf(u);
    if (!dir) return [];
    const f = vmFiles(dir);
    return [f.serialLog, f.qemuLog];
  });
}

/** The files of a log, oldest first (those that exist), the current one last. */
export function logGenerations(file: string, limits: LogLimits = LOG_LIMITS): string[] {
  const out: string[] = [];
  for (let i = limits.generations; i >= 1; i--) if (fs.existsSync(`${file}.${i}`)) out.push(`${file}.${i}`);
  if (fs.existsSync(file)) out.push(file);
  return out;
}

/** Rotates `file` when it has reached the cap; true if it did. Never throws. */
export function rotateIfLarge(file: string, limits: LogLimits = LOG_LIMITS): boolean {
  try {
    const size = fs.statSync(file).size;
    if (size < limits.maxBytes) return false;
    if (limits.generations < 1) {
      fs.truncateSync(file, 0);
      return true;
    }
    fs.rmSync(`${file}.${limits.generations}`, { force: true });
    for (let i = limits.generations - 1; i >= 1; i--) {
      if (fs.existsSync(`${file}.${i}`)) fs.renameSync(`${file}.${i}`, `${file}.${i + 1}`);
    }
    copyThenTruncate(file, `${file}.1`, limits.maxBytes);
    return true;
  } catch {
    return false; // gone meanwhile, or unreadable: the next check tries again
  }
}

/**
 * Copies `file` to `dest` and empties `file` in place, re-reading what was appended during
 * the copy just before truncating, so the window in which a write can be lost is tiny. At most
 * `maxBytes` of the newest output are kept (from a line start), after a note of what was dropped.
 */
function copyThenTruncate(file: string, dest: string, maxBytes: number): void {
  const src = fs.openSync(file, 'r+');
  try {
    const out = fs.openSync(dest, 'w', 0o600);
    try {
      const size = fs.fstatSync(src).size;
      let pos = Math.max(0, size - maxBytes);
      const buf = Buffer.alloc(Math.min(1024 * 1024, Math.max(4096, maxBytes)));
      if (pos > 0) {
        // Start after the next newline (within a short look-ahead) so no line is cut in two.
        const n = fs.readSync(src, buf, 0, Math.min(buf.length, 4096), pos);
        const nl = buf.subarray(0, n).indexOf(0x0a);
        if (nl >= 0) pos += nl + 1;
        fs.writeSync(out, droppedNote(pos));
      }
      // What is appended during the copy is taken too, up to the cap (a guest writing faster
      // than the copy must not keep it going for ever, nor grow the generation past the cap).
      let room = maxBytes;
      while (room > 0) {
        const n = fs.readSync(src, buf, 0, Math.min(buf.length, room), pos);
        if (n === 0) break;
        fs.writeSync(out, buf, 0, n);
        pos += n;
        room -= n;
      }
      fs.ftruncateSync(src, 0);
    } finally {
      fs.closeSync(out);
    }
  } finally {
    fs.closeSync(src);
  }
}

/** The first line of a generation whose older output was dropped to keep it under the cap. */
export function droppedNote(bytes: number): string {
  return `[nestbox: ${bytes} bytes of older output dropped here: the guest wrote faster than the log is rotated]\n`;
}

/** Checks a changing set of logs on a timer and rotates those over the cap. */
export class LogRotator {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly files: () => readonly string[],
    readonly limits: LogLimits = LOG_LIMITS,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  tick(): void {
    let files: readonly string[];
    try {
      files = this.files();
    } catch {
      return; // the inventory is closing
    }
    for (const f of files) rotateIfLarge(f, this.limits);
  }
}
