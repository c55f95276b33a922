/**
 * RAM and device state written to a file through QEMU's migration stream. QEMU 7.2 has no
 * `file:` URI and the sandbox forbids `exec:`, so the core listens on a unix socket in the
 * VM's runtime directory and writes what QEMU sends into the file itself.
 *
 * Unlike QMP's snapshot-save (one step inside QEMU's main loop), a migration runs beside
 * the guest: it can be watched (query-migrate), stopped (migrate_cancel, after which QEMU
 * resumes a guest that was running), and paused right before the switch-over
 * (`pause-before-switchover`): at that point the guest is stopped and almost all RAM is
 * written, which is where a snapshot takes its disk snapshots so that disks and RAM are of
 * the same instant.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { NestboxError } from '../api/errors';
import type { QmpClient } from './qmp';
import type { QemuProcess } from './supervisor';

export interface SaveStateOptions {
  /** Bytes per second at most; null writes as fast as QEMU and the disk can. */
  readonly bandwidth: number | null;
  /** Runs with the guest stopped just before the switch-over; a throw cancels the save. */
  readonly beforeSwitchover?: () => Promise<void>;
  /** Aborting it cancels the save (CANCELLED) while it runs. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: { percent: number; bytesDone: number; bytesTotal: number }) => void;
  /** Name of the socket in `runDir`. */
  readonly socketName?: string;
}

interface MigrateInfo {
  status?: string;
  'error-desc'?: string;
  ram?: { transferred?: number; total?: number; remaining?: number; 'dirty-sync-count'?: number };
}

/**
 * After this many passes over RAM the guest dirties memory faster than it can be written:
 * it is stopped so the save ends (VirtualBox pauses for the whole save; QEMU's snapshot-save
 * too). The caller resumes it afterwards.
 */
export const MAX_PASSES = 8;

/** The first bytes of a QEMU migration stream ("QEVM", then version 3). */
const STREAM_MAGIC = Buffer.from([0x51, 0x45, 0x56, 0x4d, 0, 0, 0, 3]);

/** Whether a file starts like a migration stream (a saved state, a snapshot's RAM). */
export function looksLikeStateFile(file: string): boolean {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const head = Buffer.alloc(8);
      return fs.readSync(fd, head, 0, 8, 0) === 8 && head.equals(STREAM_MAGIC);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** QEMU refuses a max-bandwidth above this; it means "no limit" in practice. */
const UNLIMITED = 2 ** 40;

const isTerminal = (s: string) => s === 'completed' || s === 'failed' || s === 'cancelled';

/**
 * QEMU may run as another user than the core (Nestbox as root; runas.ts) and needs write
 * access to a socket to connect to it: the socket is given to the owner of the runtime
 * folder, which is QEMU's user (and is the core itself otherwise, when nothing changes).
 */
function giveToFolderOwner(sock: string, runDir: string): void {
  if (typeof process.getuid !== 'function') return;
  const st = fs.statSync(runDir);
  if (st.uid !== process.getuid()) fs.chownSync(sock, st.uid, st.gid);
}

/**
 * Writes the VM's state into `file` (through `file.partial`, fsynced, then renamed). When it
 * returns, QEMU's migration has completed: the guest is stopped (status `postmigrate`) and its
 * disks are inactive until `cont`. On any failure or cancel the partial file is removed and
 * QEMU's migration has ended (a running guest is then running again: QEMU resumes it).
 * Returns the size of the file.
 */
export async function saveStateToFile(qmp: QmpClient, runDir: string, file: string, opts: SaveStateOptions): Promise<number> {
  const partial = `${file}.partial`;
  const sock = path.join(runDir, opts.socketName ?? 'save.sock');
  const pauseFirst = opts.beforeSwitchover !== undefined;
  await qmp.execute('migrate-set-capabilities', {
    capabilities: [
      { capability: 'events', state: true },
      { capability: 'pause-before-switchover', state: pauseFirst },
    ],
  });
  // QEMU's default limit (128 MiB/s) is for networks; a local file takes what it can.
  await qmp.execute('migrate-set-parameters', { 'max-bandwidth': Math.min(UNLIMITED, Math.max(1, Math.round(opts.bandwidth ?? UNLIMITED))) });
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.rmSync(sock, { force: true });
  const server = net.createServer();
  let conn: net.Socket | null = null;
  let writeError: NodeJS.ErrnoException | null = null;
  const received = new Promise<void>((resolve, reject) => {
    server.once('connection', (c) => {
      conn = c;
      server.close();
      const out = fs.createWriteStream(partial, { mode: 0o600 });
      c.pipe(out);
      const fail = (err: NodeJS.ErrnoException) => {
        writeError ??= err;
        // QEMU sees the stream end and fails the migration (resuming the guest).
        c.destroy();
        out.destroy();
        reject(err);
      };
      c.on('error', fail);
      out.on('error', fail);
      out.on('finish', () => resolve());
    });
  });
  received.catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(sock, () => {
      try {
        giveToFolderOwner(sock, runDir);
        resolve();
      } catch (err) {
        reject(err as Error);
      }
    });
  });

  let stopProgress = () => {};
  let cancelRequested = false;
  const onAbort = () => {
    cancelRequested = true;
    qmp.execute('migrate_cancel').catch(() => undefined);
  };
  try {
    const ended = new Promise<string>((resolve, reject) => {
      let switching = false;
      const off = qmp.onEvent((ev) => {
        if (ev.event !== 'MIGRATION') return;
        const status = String(ev.data['status']);
        if (status === 'pre-switchover' && !switching) {
          switching = true;
          void (async () => {
            try {
              if (cancelRequested) throw new NestboxError('CANCELLED', 'cancelled');
              await opts.beforeSwitchover!();
              if (cancelRequested) throw new NestboxError('CANCELLED', 'cancelled');
              await qmp.execute('migrate-continue', { state: 'pre-switchover' });
            } catch (err) {
              if (!(err instanceof NestboxError && err.code === 'CANCELLED')) writeError ??= err as NodeJS.ErrnoException;
              cancelRequested = true;
              await qmp.execute('migrate_cancel').catch(() => undefined);
            }
          })();
        }
        if (isTerminal(status)) {
          off();
          offClose();
          resolve(status);
        }
      });
      const offClose = qmp.onClose((reason) => {
        off();
        reject(reason ?? new NestboxError('QMP_DISCONNECTED', 'QEMU went away while its state was being saved'));
      });
    });
    ended.catch(() => undefined);
    if (opts.signal?.aborted) throw new NestboxError('CANCELLED', 'cancelled');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    await qmp.execute('migrate', { uri: `unix:${sock}` });
    stopProgress = watchMigration(qmp, opts.onProgress);
    const status = await ended;
    stopProgress();
    if (status !== 'completed') {
      if (cancelRequested && !writeError) throw new NestboxError('CANCELLED', 'cancelled');
      if (writeError) throw writeErrorToNestbox(writeError);
      const info = await qmp.execute<MigrateInfo>('query-migrate').catch(() => ({}) as MigrateInfo);
      throw new NestboxError('QEMU_FAILED', `saving the state failed: ${info['error-desc'] ?? status}`);
    }
    await received.catch((err: NodeJS.ErrnoException) => {
      throw writeErrorToNestbox(err);
    });
    const fd = fs.openSync(partial, 'r+');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(partial, file);
    return fs.statSync(file).size;
  } catch (err) {
    stopProgress();
    (conn as net.Socket | null)?.destroy();
    fs.rmSync(partial, { force: true });
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    server.close();
    fs.rmSync(sock, { force: true });
  }
}

/**
 * Loads a state file into a QEMU started with `-incoming defer` and waits until QEMU has
 * loaded it. A QEMU launched with the file open ({@link QemuProcess.incomingFd}) reads it
 * itself; otherwise the core feeds it through a unix socket QEMU listens on. `onProgress` gets
 * the whole percentage of the file read so far.
 */
export async function loadStateFromFile(proc: QemuProcess, file: string, onProgress: (percent: number) => void): Promise<void> {
  const sock = path.join(proc.runDir, 'incoming.sock');
  const total = fs.statSync(file).size;
  await proc.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
  const done = proc.qmp.waitEvent('MIGRATION', {
    predicate: (ev) => isTerminal(String(ev.data['status'])),
    timeoutMs: 300_000,
  });
  done.catch(() => undefined);
  let stopProgress = () => {};
  if (proc.incomingFd !== null) {
    await proc.qmp.execute('migrate-incoming', { uri: `fd:${proc.incomingFd}` });
    stopProgress = watchReadPosition(proc.pid, proc.incomingFd, total, onProgress);
  } else {
    fs.rmSync(sock, { force: true });
    await proc.qmp.execute('migrate-incoming', { uri: `unix:${sock}` });
    await feedSocket(sock, file, total, onProgress);
  }
  // A wait given up on must not keep its timer (and the process) alive.
  const giveUp = new AbortController();
  try {
    const ev = await Promise.race([
      done,
      proc.waitExit(300_000, giveUp.signal).then((info) => {
        throw new NestboxError('QEMU_FAILED', `the saved state could not be loaded: ${info?.reason ?? 'timed out'}`);
      }),
    ]);
    if (ev.data['status'] !== 'completed') {
      throw new NestboxError('QEMU_FAILED', `the saved state could not be loaded (${String(ev.data['status'])})`);
    }
  } finally {
    giveUp.abort();
    stopProgress();
  }
  onProgress(100);
  fs.rmSync(sock, { force: true });
}

/** Sends a state file into QEMU's incoming socket (where QEMU cannot be handed the file itself). */
async function feedSocket(sock: string, file: string, total: number, onProgress: (percent: number) => void): Promise<void> {
  let sent = 0;
  await new Promise<void>((resolve, reject) => {
    const conn = net.createConnection(sock);
    conn.once('connect', () => {
      const input = fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 });
      input.on('data', (c) => {
        sent += c.length;
        onProgress(total ? Math.min(100, Math.floor((sent / total) * 100)) : 100);
      });
      input.on('error', reject);
      input.pipe(conn);
      conn.on('finish', () => resolve());
    });
    conn.on('error', reject);
  });
}

/**
 * Progress of a QEMU reading a state file it holds open: the file position of its descriptor
 * (Linux's /proc/PID/fdinfo), four times a second. Where that cannot be read (another
 * system, or QEMU has closed the descriptor) nothing is reported until the end.
 */
function watchReadPosition(pid: number, fd: number, total: number, onProgress: (percent: number) => void): () => void {
  let last = -1;
  const timer = setInterval(() => {
    let pos: number;
    try {
      const m = /^pos:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (!m) return;
      pos = Number(m[1]);
    } catch {
      return;
    }
    const pct = total ? Math.min(99, Math.floor((pos / total) * 100)) : 0;
    if (pct > last) {
      last = pct;
      onProgress(pct);
    }
  }, 250);
  timer.unref();
  return () => clearInterval(timer);
}

function writeErrorToNestbox(err: NodeJS.ErrnoException | Error): NestboxError {
  if (err instanceof NestboxError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOSPC' || e.code === 'EDQUOT') return new NestboxError('NO_SPACE', `there is no space left to write the saved state (${e.message})`);
  return new NestboxError('IO_ERROR', `the saved state could not be written: ${e.message}`);
}

/**
 * Reports a running migration's progress from query-migrate four times a second (QEMU has no
 * progress event), and stops a guest that keeps the save from converging. Returns the
 * function that stops watching.
 */
function watchMigration(qmp: QmpClient, onProgress: SaveStateOptions['onProgress']): () => void {
  let last = -1;
  let stopped = false;
  let forced = false;
  const timer = setInterval(() => {
    qmp
      .execute<MigrateInfo>('query-migrate')
      .then((m) => {
        if (stopped || !m.ram) return;
        if (!forced && m.status === 'active' && (m.ram['dirty-sync-count'] ?? 0) > MAX_PASSES) {
          forced = true;
          qmp.execute('stop').catch(() => undefined);
        }
        if (!onProgress) return;
        const total = m.ram.total ?? 0;
        const remaining = m.ram.remaining ?? total;
        const done = Math.max(0, total - remaining);
        const pct = total ? Math.min(99, Math.floor((done / total) * 100)) : 0;
        if (pct !== last) {
          last = pct;
          onProgress({ percent: pct, bytesDone: done, bytesTotal: total });
        }
      })
      .catch(() => undefined);
  }, 250);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
