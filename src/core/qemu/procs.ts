/**
 * Facts about host processes by pid (alive, command line, pidfiles), apart from the QEMU
 * supervisor so that what only needs them (the core's lock, checked by every CLI command)
 * does not load QEMU's argv builder and the VM config schema with it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** True if the process exists and is not a zombie waiting for a parent that never reaps it. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform === 'linux') {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  }
  return true;
}

/** The command line of a process, as argv; null if it is gone or unreadable. */
export function processArgv(pid: number): string[] | null {
  try {
    if (process.platform === 'linux') {
      const raw = fs.readFileSync(`/proc/${pid}/cmdline`);
      if (raw.length === 0) return null; // a zombie
      return raw.toString('utf8').split('\0').filter((s, i, a) => i < a.length - 1 || s !== '');
    }
    const out = execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return out ? out.split(/\s+/) : null;
  } catch {
    return null;
  }
}

/** The pid a pidfile names, or null when it is missing, unreadable or not a pid. */
export function readPidfile(file: string): number | null {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}
