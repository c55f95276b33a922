/**
 * A shared folder's virtiofsd: one per share of a running VM, started by the core before
 * QEMU (QEMU connects to its vhost-user socket), detached in its own session so it outlives
 * the core like QEMU and swtpm do, found again by a new core (a pid is trusted only when its
 * command line serves this VM's socket), and ending by itself when QEMU closes the socket.
 *
 * Debian's C virtiofsd (QEMU 7.2) needs root: its sandbox puts it in new mount, pid and net
 * namespaces and pivot_roots into the shared folder, so nothing outside the folder exists for
 * it; it switches its file-system uid per request so the guest's files get the guest's owners;
 * and it writes a pidfile under /run/virtiofsd, which only root may. So it does not run as
 * QEMU's unprivileged user (runas.ts) but as root inside that sandbox, as libvirt runs it;
 * where the core is not root, shares use QEMU's 9p instead (services/shares.ts).
 *
 * This virtiofsd has no read-only option. A read-only share is made read-only by the kernel:
 * virtiofsd runs in a mount namespace of its own (`unshare --mount`) in which the folder is
 * first bind-mounted read-only over itself; its sandbox then pivots into that read-only
 * mount, so every write the guest asks for fails with EROFS whatever virtiofsd does.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NestboxError } from '../api/errors';
import type { ShareConfig } from '../domain/config';
import { virtiofsdFiles } from './argv';
import type { QemuUser } from './runas';
import { pidAlive, processArgv, readPidfile } from './procs';
import { logTail } from './supervisor';

/** Where Debian's qemu-system-common puts the C virtiofsd. */
export const VIRTIOFSD_PATHS = ['/usr/lib/qemu/virtiofsd', '/usr/libexec/virtiofsd', '/usr/lib/virtiofsd'] as const;

export function findVirtiofsd(candidates: readonly string[] = VIRTIOFSD_PATHS): string | null {
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return null;
}

/** A value inside virtiofsd's `-o` list (libfuse's option parser): `\` and `,` are escaped with `\`. */
export function fuseOpt(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/,/g, '\\,');
}

/**
 * The shell step that runs in virtiofsd's own mount namespace before it: for a read-only
 * share, the folder bind-mounted read-only over itself ($0 is the folder, "$@" virtiofsd).
 */
const READ_ONLY_STEP = 'mount --bind -o ro "$0" "$0" && exec "$@"';

/** The command that runs a share's virtiofsd (as root, see the top): pure, unit-tested. */
export function buildVirtiofsdCommand(binary: string, share: ShareConfig, runDir: string): { readonly file: string; readonly args: readonly string[] } {
  const daemon = [
    binary,
    `--socket-path=${virtiofsdFiles(runDir, share.tag).socket}`,
    '-o', `source=${fuseOpt(share.path)}`,
    '-o', 'sandbox=namespace',
    '-o', 'cache=auto',
    // Foreground: the core holds the pid (the process stays a waiter for its sandboxed child).
    '-f',
  ];
  if (!share.readOnly) return { file: binary, args: daemon.slice(1) };
  return { file: 'unshare', args: ['--mount', '--propagation', 'private', '--', 'sh', '-c', READ_ONLY_STEP, share.path, ...daemon] };
}

/** True when `pid` is a virtiofsd serving this socket (its argv after unshare and sh exec'd it). */
export function isOurVirtiofsd(pid: number, socket: string): boolean {
  const argv = processArgv(pid);
  if (!argv) return false;
  return /virtiofsd/.test(path.basename(argv[0] ?? '')) && argv.includes(`--socket-path=${socket}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A share's running virtiofsd, started here or found again. */
export class VirtiofsdProcess {
  private exitReason: string | null = null;
  private readonly listeners = new Set<(reason: string) => void>();
  private stopped = false;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    readonly tag: string,
    readonly pid: number,
    private readonly socket: string,
    private readonly pidfile: string,
    private readonly logFile: string,
    private readonly logOffset: number,
  ) {
    // Watched by pid for both a child and one found again: a cheap check once a second.
    this.timer = setInterval(() => {
      if (!pidAlive(this.pid) || !isOurVirtiofsd(this.pid, this.socket)) this.finish('virtiofsd exited');
    }, 1000);
    this.timer.unref();
  }

  get exited(): string | null {
    return this.exitReason;
  }

  /** Called once when virtiofsd exits unless it was stopped or let go of by the core. */
  onExit(cb: (reason: string) => void): void {
    this.listeners.add(cb);
  }

  private finish(how: string): void {
    if (this.exitReason !== null) return;
    clearInterval(this.timer);
    const tail = logTail(this.logFile, this.logOffset, 3);
    this.exitReason = tail ? `${how}: ${tail}` : how;
    if (this.stopped) return;
    for (const l of [...this.listeners]) l(this.exitReason);
    this.listeners.clear();
  }

  /** Lets go without stopping it (the core is shutting down; the VM keeps its share). */
  detach(): void {
    this.stopped = true;
    this.listeners.clear();
    clearInterval(this.timer);
  }

  /** Ends virtiofsd (it normally ends itself when QEMU goes): SIGTERM, then SIGKILL, only to this share's. */
  async stop(graceMs = 2000): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
      if (!pidAlive(this.pid) || !isOurVirtiofsd(this.pid, this.socket)) break;
      try {
        process.kill(this.pid, sig);
      } catch {
        break;
      }
      for (let i = 0; i < graceMs / 50 && pidAlive(this.pid); i++) await sleep(50);
    }
    fs.rmSync(this.socket, { force: true });
    fs.rmSync(this.pidfile, { force: true });
  }

  /**
   * Starts the share's virtiofsd and waits for its socket, which is then given to QEMU's
   * user (`user`, when the core runs as root). A virtiofsd of this share left from a QEMU
   * that died is ended first, so the folder is never served twice.
   */
  static async launch(binary: string, share: ShareConfig, runDir: string, logFile: string, user: QemuUser | null, timeoutMs = 10_000): Promise<VirtiofsdProcess> {
    const { socket, pidfile } = virtiofsdFiles(runDir, share.tag);
    const old = readPidfile(pidfile);
    if (old !== null && pidAlive(old) && isOurVirtiofsd(old, socket)) {
      try {
        process.kill(old, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      for (let i = 0; i < 40 && pidAlive(old); i++) await sleep(50);
    }
    fs.rmSync(socket, { force: true });
    fs.rmSync(pidfile, { force: true });
    fs.mkdirSync(path.dirname(logFile), { recursive: true, mode: 0o700 });
    const logOffset = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
    const log = fs.openSync(logFile, 'a', 0o600);
    const cmd = buildVirtiofsdCommand(binary, share, runDir);
    let child;
    try {
      child = spawn(cmd.file, [...cmd.args], { detached: true, stdio: ['ignore', log, log] });
    } finally {
      fs.closeSync(log);
    }
    child.unref();
    let early: string | null = null;
    child.once('error', (err) => (early = `could not run ${cmd.file}: ${err.message}`));
    child.once('exit', (code, signal) => (early = signal ? `killed by ${signal}` : `exited with code ${code}`));
    const deadline = Date.now() + timeoutMs;
    while (!fs.existsSync(socket)) {
      if (early !== null || Date.now() > deadline) {
        if (early === null && child.pid) process.kill(child.pid, 'SIGKILL');
        const tail = logTail(logFile, logOffset, 4);
        throw new NestboxError(
          'QEMU_FAILED',
          `the shared folder '${share.tag}' (${share.path}) could not be served: virtiofsd did not start (${early ?? 'no socket in time'})${tail ? `: ${tail}` : ''}`,
          `${cmd.file} ${cmd.args.join(' ')}`,
        );
      }
      await sleep(20);
    }
    // virtiofsd makes its socket 0700 for itself; QEMU's user must connect to it.
    if (user) fs.chownSync(socket, user.uid, user.gid);
    fs.writeFileSync(pidfile, `${child.pid}\n`, { mode: 0o600 });
    return new VirtiofsdProcess(share.tag, child.pid!, socket, pidfile, logFile, logOffset);
  }

  /** Finds the virtiofsd a previous core started for this share, or says why there is none. */
  static attach(tag: string, runDir: string, logFile: string): VirtiofsdProcess | { gone: string } {
    const { socket, pidfile } = virtiofsdFiles(runDir, tag);
    const pid = readPidfile(pidfile);
    if (pid === null) return { gone: `virtiofsd of shared folder '${tag}' is not running (no pidfile)` };
    if (!pidAlive(pid) || !isOurVirtiofsd(pid, socket)) return { gone: `virtiofsd of shared folder '${tag}' died while no Nestbox core was running` };
    const offset = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
    return new VirtiofsdProcess(tag, pid, socket, pidfile, logFile, offset);
  }
}
