/**
 * Starts QEMU in its own session so it outlives the core, and finds it again. A pid is only
 * trusted after /proc (or ps) shows it is the QEMU started for this VM's UUID with this VM's
 * pidfile: a stale pidfile pointing at some unrelated process is never signalled.
 *
 * QEMU removes its pidfile and sockets when it exits normally (guest power-off, `quit`,
 * SIGTERM) and leaves them behind when it crashes or is SIGKILLed, which tells a new core
 * which of the two happened while nobody was watching.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NestboxError } from '../api/errors';
import { ensurePrivateDir } from '../store/paths';
import { RUNTIME_FILES } from './argv';
import { QmpClient } from './qmp';
import { pidAlive, processArgv, readPidfile } from './procs';
import { prepareRunDir, type QemuUser } from './runas';

export { pidAlive, processArgv, readPidfile } from './procs';

export interface ExitInfo {
  /** QEMU exited on its own terms (guest shutdown, quit, SIGTERM) rather than crashing. */
  readonly clean: boolean;
  readonly reason: string;
}

export interface LaunchSpec {
  readonly uuid: string;
  readonly binary: string;
  readonly argv: readonly string[];
  readonly runDir: string;
  readonly logFile: string;
  readonly timeoutMs?: number;
  /** Run QEMU as this user (Nestbox runs as root; see runas.ts). */
  readonly user?: QemuUser | null;
  /**
   * A state file (saved state, a snapshot's RAM) the QEMU, started with `-incoming defer`, is
   * to load: handed to it open, as file descriptor {@link INCOMING_FD} (see there).
   */
  readonly incomingFile?: string;
}

/**
 * The descriptor number under which a QEMU started for an incoming state has that file open
 * (the first after stdin, stdout and stderr). QEMU reads it itself (`migrate-incoming` with
 * `fd:3`), straight from the page cache, instead of the core copying the file into a socket
 * for it: on a 256 MiB guest that copy was most of a restore's time (bench/README.md).
 * Opened by the core, so QEMU needs no permission on the file (it may run as another user);
 * QEMU closes it once the state is loaded. Not on Windows, whose QEMU has no `fd:` migration.
 */
export const INCOMING_FD = 3;

/** Whether this platform hands a state file to QEMU as a descriptor (else through a socket). */
export const PASSES_STATE_FD = process.platform !== 'win32';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True when `pid` is a QEMU started with this VM's UUID and this pidfile. */
export function isOurQemu(pid: number, uuid: string, pidfile: string): boolean {
  const argv = processArgv(pid);
  if (!argv) return false;
  const has = (flag: string, value: string) => argv.some((a, i) => a === flag && argv[i + 1] === value);
  return /qemu-system/.test(path.basename(argv[0] ?? '')) && has('-uuid', uuid) && has('-pidfile', pidfile);
}

/** The last meaningful lines QEMU wrote to its log since `offset`: the reason it stopped. */
export function logTail(logFile: string, offset: number, maxLines = 4): string {
  try {
    const fd = fs.openSync(logFile, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      // A log rotated since `offset` was taken (logrotate.ts) starts again from 0.
      const start = Math.max(offset > size ? 0 : offset, size - 16 * 1024);
      const buf = Buffer.alloc(Math.max(0, size - start));
      fs.readSync(fd, buf, 0, buf.length, start);
      return buf
        .toString('utf8')
        .split('\n')
        .map((l) => l.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z?\s*/, '').trim())
        // The command line Nestbox records before each start is not QEMU's reason.
        .filter((l) => l !== '' && !l.startsWith('nestbox: starting '))
        .slice(-maxLines)
        .join('\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

/** A running QEMU this core is connected to, whether it started it or re-attached. */
export class QemuProcess {
  private exitInfo: ExitInfo | null = null;
  private readonly exitListeners = new Set<(info: ExitInfo) => void>();
  private shutdownSeen = false;
  private killedByUs = false;
  private detached = false;

  private constructor(
    readonly uuid: string,
    readonly pid: number,
    readonly runDir: string,
    readonly qmp: QmpClient,
    readonly logFile: string,
    readonly logOffset: number,
    private readonly child: ChildProcess | null,
    /** The descriptor of QEMU's that holds the state file to load ({@link INCOMING_FD}), if it was given one. */
    readonly incomingFd: number | null = null,
  ) {
    qmp.onEvent((ev) => {
      if (ev.event === 'SHUTDOWN') this.shutdownSeen = true;
    });
    if (child) {
      child.on('exit', (code, signal) => {
        const clean = this.killedByUs || (this.shutdownSeen && code === 0) || (code === 0 && signal === null);
        this.finish({ clean, reason: this.describeExit(code, signal) });
      });
    } else {
      qmp.onClose(() => {
        if (!this.detached) void this.watchForeignExit();
      });
    }
  }

  get pidfile(): string {
    return path.join(this.runDir, RUNTIME_FILES.pidfile);
  }

  get exited(): ExitInfo | null {
    return this.exitInfo;
  }

  onExit(cb: (info: ExitInfo) => void): () => void {
    if (this.exitInfo) {
      const info = this.exitInfo;
      queueMicrotask(() => cb(info));
      return () => undefined;
    }
    this.exitListeners.add(cb);
    return () => this.exitListeners.delete(cb);
  }

  /** Resolves when QEMU has exited (or at once if it already has). */
  waitExit(timeoutMs: number, signal?: AbortSignal): Promise<ExitInfo | null> {
    if (signal?.aborted) return Promise.resolve(this.exitInfo);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        off();
        resolve(null);
      }, timeoutMs);
      const off = this.onExit((info) => {
        clearTimeout(t);
        resolve(info);
      });
      // A wait given up on must not keep its timer (and so the process) alive.
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          off();
          resolve(null);
        },
        { once: true },
      );
    });
  }

  /**
   * Ends QEMU: `quit` over QMP, then SIGTERM, then SIGKILL, each with a timeout (as QEMU's
   * python library does). Only ever signals a pid verified to be this VM's QEMU.
   */
  async terminate(graceMs = 5000): Promise<ExitInfo> {
    this.killedByUs = true;
    if (!this.exitInfo && !this.qmp.closed) {
      await this.qmp.execute('quit', undefined, { timeoutMs: graceMs }).catch(() => undefined);
      const info = await this.waitExit(graceMs);
      if (info) return info;
    }
    for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
      if (this.exitInfo) return this.exitInfo;
      if (!pidAlive(this.pid) || !isOurQemu(this.pid, this.uuid, this.pidfile)) break;
      try {
        process.kill(this.pid, sig);
      } catch {
        break;
      }
      const info = await this.waitExit(graceMs);
      if (info) return info;
    }
    if (!this.exitInfo) this.finish({ clean: true, reason: 'stopped by Nestbox' });
    return this.exitInfo!;
  }

  /** Lets go of QEMU without stopping it (the core is shutting down; the VM keeps running). */
  detach(): void {
    this.detached = true;
    this.exitListeners.clear();
    this.child?.removeAllListeners('exit');
    this.qmp.close();
  }

  private describeExit(code: number | null, signal: NodeJS.Signals | null): string {
    const tail = logTail(this.logFile, this.logOffset);
    if (this.killedByUs) return 'powered off';
    if (this.shutdownSeen && code === 0) return 'the guest shut down';
    const how = signal ? `QEMU was killed by ${signal}` : `QEMU exited with code ${code}`;
    return tail ? `${how}: ${tail}` : how;
  }

  private async watchForeignExit(): Promise<void> {
    // Not our child: wait for the pid to disappear (bounded, not a hot loop).
    for (let i = 0; i < 200 && pidAlive(this.pid) && isOurQemu(this.pid, this.uuid, this.pidfile); i++) await sleep(50);
    const pidfileLeft = fs.existsSync(this.pidfile);
    const tail = logTail(this.logFile, this.logOffset);
    const signalled = /terminating on signal (\d+)/.exec(tail);
    if (this.killedByUs) return this.finish({ clean: true, reason: 'powered off' });
    if (this.shutdownSeen) return this.finish({ clean: true, reason: 'the guest shut down' });
    if (pidfileLeft) return this.finish({ clean: false, reason: `QEMU died unexpectedly${tail ? `: ${tail}` : ''}` });
    if (signalled) return this.finish({ clean: false, reason: `QEMU was terminated from outside Nestbox (${tail})` });
    this.finish({ clean: true, reason: 'QEMU exited' });
  }

  private finish(info: ExitInfo): void {
    if (this.exitInfo) return;
    this.exitInfo = info;
    if (!this.qmp.closed) this.qmp.close();
    for (const l of [...this.exitListeners]) l(info);
    this.exitListeners.clear();
  }

  /** Spawns QEMU detached, waits for its QMP socket and returns once connected. */
  static async launch(spec: LaunchSpec): Promise<QemuProcess> {
    if (spec.user) prepareRunDir(spec.runDir, spec.user);
    else ensurePrivateDir(spec.runDir);
    for (const f of Object.values(RUNTIME_FILES)) fs.rmSync(path.join(spec.runDir, f), { force: true });
    fs.mkdirSync(path.dirname(spec.logFile), { recursive: true });
    const logOffset = fs.existsSync(spec.logFile) ? fs.statSync(spec.logFile).size : 0;
    const logFd = fs.openSync(spec.logFile, 'a', 0o600);
    fs.writeSync(logFd, `${new Date().toISOString()} nestbox: starting ${spec.binary} ${spec.argv.join(' ')}\n`);
    let child: ChildProcess;
    let stateFd: number | null = null;
    try {
      // Opened here so a missing or unreadable file fails before QEMU is spawned.
      if (spec.incomingFile && PASSES_STATE_FD) {
        try {
          stateFd = fs.openSync(spec.incomingFile, 'r');
        } catch (err) {
          throw new NestboxError('NOT_FOUND', `the state to resume from could not be opened (${spec.incomingFile}): ${(err as Error).message}`);
        }
      }
      const as = spec.user ? { uid: spec.user.uid, gid: spec.user.gid } : {};
      const stdio: StdioOptions = stateFd === null ? ['ignore', logFd, logFd] : ['ignore', logFd, logFd, stateFd];
      child = spawn(spec.binary, [...spec.argv], { detached: true, stdio, ...as });
    } finally {
      // QEMU has its own copies now.
      fs.closeSync(logFd);
      if (stateFd !== null) fs.closeSync(stateFd);
    }
    child.unref();
    const exited = new Promise<never>((_, reject) => {
      child.once('error', (err) => reject(new NestboxError('QEMU_FAILED', `could not start QEMU: ${err.message}`)));
      child.once('exit', (code, signal) => {
        const tail = logTail(spec.logFile, logOffset);
        reject(
          new NestboxError(
            'QEMU_FAILED',
            `QEMU exited during start (${signal ?? `code ${code}`})${tail ? `: ${tail}` : ''}`,
            `${spec.binary} ${spec.argv.join(' ')}`,
          ),
        );
      });
    });
    exited.catch(() => undefined);
    const qmpPath = path.join(spec.runDir, RUNTIME_FILES.qmp);
    let qmp: QmpClient;
    try {
      qmp = await Promise.race([QmpClient.connect(qmpPath, { retryUntilMs: spec.timeoutMs ?? 20_000, timeoutMs: 10_000 }), exited]);
    } catch (err) {
      // A QEMU that dies during the QMP handshake (a TPM whose state swtpm cannot load) closes
      // the socket before its exit is seen: its exit, with the log's last lines, says why.
      const exit = await Promise.race([exited.catch((e: unknown) => e), new Promise<null>((r) => setTimeout(() => r(null), 2000).unref())]);
      if (exit instanceof Error) throw exit;
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      throw err;
    }
    const pid = readPidfile(path.join(spec.runDir, RUNTIME_FILES.pidfile)) ?? child.pid;
    if (!pid) throw new NestboxError('QEMU_FAILED', 'QEMU started but wrote no pidfile');
    child.removeAllListeners('exit');
    child.removeAllListeners('error');
    return new QemuProcess(spec.uuid, pid, spec.runDir, qmp, spec.logFile, logOffset, child, stateFd === null ? null : INCOMING_FD);
  }

  /**
   * Finds the QEMU of a VM that was running when the previous core went away. Returns the
   * process, or why it cannot be attached: it exited cleanly, it died, or the pidfile points
   * at a process that is not this VM's QEMU.
   */
  static async attach(
    uuid: string,
    runDir: string,
    logFile: string,
    logOffset: number,
  ): Promise<QemuProcess | { gone: 'clean' | 'crashed' | 'foreign'; reason: string }> {
    const pidfile = path.join(runDir, RUNTIME_FILES.pidfile);
    const pid = readPidfile(pidfile);
    const tail = () => logTail(logFile, logOffset);
    if (pid === null) {
      const t = tail();
      const signalled = /terminating on signal/.test(t);
      return signalled
        ? { gone: 'crashed', reason: `QEMU was terminated from outside Nestbox (${t})` }
        : { gone: 'clean', reason: 'QEMU exited while no Nestbox core was running' };
    }
    if (!pidAlive(pid)) {
      const t = tail();
      return { gone: 'crashed', reason: `QEMU died while no Nestbox core was running${t ? `: ${t}` : ''}` };
    }
    if (!isOurQemu(pid, uuid, pidfile)) {
      return { gone: 'foreign', reason: `the pidfile names pid ${pid}, which is not this VM's QEMU; left it alone` };
    }
    const qmp = await QmpClient.connect(path.join(runDir, RUNTIME_FILES.qmp), { timeoutMs: 5000, retryUntilMs: 2000 });
    return new QemuProcess(uuid, pid, runDir, qmp, logFile, logOffset, null);
  }
}
