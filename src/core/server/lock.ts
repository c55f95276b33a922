/**
 * One core per data directory. The lock file holds the owner's pid; a lock whose pid is gone
 * (or is no longer a Node/Electron process) is stale and taken over.
 */
import fs from 'node:fs';
import { NestboxError } from '../api/errors';
import { pidAlive, processArgv } from '../qemu/procs';

export interface Lock {
  release(): void;
}

function ownerLooksAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  if (!pidAlive(pid)) return false;
  const argv = processArgv(pid);
  if (!argv) return process.platform !== 'linux';
  return argv.some((a) => /node|electron|nestbox/i.test(a));
}

/** The pid of the live process holding the lock, or null when nobody (alive) does. */
export function lockHolder(file: string): number | null {
  let pid = Number.NaN;
  try {
    pid = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
  } catch {
    return null;
  }
  return Number.isInteger(pid) && pid > 0 && ownerLooksAlive(pid) ? pid : null;
}

/** Takes the lock, or returns the pid that holds it. */
export function acquireLock(file: string): Lock | { heldBy: number } {
  for (let attempt = 0; attempt < 3; attempt++) {
    // Write the pid to a private file, then hard-link it into place: the lock appears with
    // its content in one step, so nobody ever sees an empty lock and mistakes it for stale.
    const tmp = `${file}.${process.pid}.${attempt}.tmp`;
    try {
      fs.writeFileSync(tmp, `${process.pid}\n`, { mode: 0o600 });
      fs.linkSync(tmp, file);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          try {
            if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(file);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new NestboxError('IO_ERROR', `cannot create the lock file ${file}: ${(err as Error).message}`);
      }
      let pid = Number.NaN;
      try {
        pid = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
      } catch {
        continue; // it vanished between link and read: try again
      }
      if (Number.isInteger(pid) && pid > 0 && ownerLooksAlive(pid)) return { heldBy: pid };
      // Stale: the core that held it died without cleaning up.
      fs.rmSync(file, { force: true });
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  throw new NestboxError('LOCKED', `could not take the lock ${file}`);
}
