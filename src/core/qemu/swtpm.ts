/**
 * A VM's TPM 2.0: one swtpm per running VM, its state in the VM's folder (`tpm/`), its
 * control socket and pidfile in the VM's runtime directory. Like QEMU it is started detached
 * in its own session, so it outlives the core, and found again by a new core (the pid is
 * trusted only when its command line is this VM's swtpm). `--terminate` ends it when QEMU
 * closes the control channel, so it stops with the VM whoever stops QEMU.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NestboxError } from '../api/errors';
import { ensurePrivateDir } from '../store/paths';
import { prepareRunDir, type QemuUser } from './runas';
import { SWTPM_FILES, tpmSocket } from './argv';
import { logTail, pidAlive, processArgv, readPidfile } from './supervisor';

export interface SwtpmPaths {
  /** The TPM's state directory in the VM's folder. */
  readonly stateDir: string;
  /** The VM's runtime directory (0700): control socket and pidfile. */
  readonly runDir: string;
  readonly logFile: string;
}

/** The folder of a VM's TPM state: it moves, is copied and is deleted with the VM's folder. */
export function tpmStateDir(vmDir: string): string {
  return path.join(vmDir, 'tpm');
}

/** swtpm's argv (without the binary): pure, golden-tested. */
export function buildSwtpmArgv(p: SwtpmPaths): string[] {
  const esc = (v: string) => v.replace(/,/g, ',,');
  return [
    'socket',
    '--tpm2',
    '--tpmstate', `dir=${esc(p.stateDir)},mode=0600`,
    '--ctrl', `type=unixio,path=${esc(tpmSocket(p.runDir))},mode=0600`,
    '--pid', `file=${esc(path.join(p.runDir, SWTPM_FILES.pidfile))}`,
    '--log', `file=${esc(p.logFile)},level=1`,
    // Ends when QEMU closes the control channel: the TPM never outlives its VM.
    '--terminate',
  ];
}

/** swtpm_setup's argv for a first state: an endorsement key, as libvirt makes one. */
export function buildSwtpmSetupArgv(p: SwtpmPaths): string[] {
  return ['--tpm2', '--tpmstate', p.stateDir, '--createek', '--pcr-banks', 'sha256', '--not-overwrite', '--logfile', p.logFile];
}

/** True when swtpm has written state in the folder (its state file is tpm2-00.permall). */
export function hasTpmState(stateDir: string): boolean {
  try {
    return fs.readdirSync(stateDir).some((f) => f.startsWith('tpm2-'));
  } catch {
    return false;
  }
}

/** True when `pid` is a swtpm serving this control socket. */
export function isOurSwtpm(pid: number, runDir: string): boolean {
  const argv = processArgv(pid);
  if (!argv) return false;
  const ctrl = `path=${tpmSocket(runDir).replace(/,/g, ',,')}`;
  return /swtpm/.test(path.basename(argv[0] ?? '')) && argv.some((a) => a.includes(ctrl));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(binary: string, args: readonly string[], timeoutMs: number, user: QemuUser | null): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(binary, [...args], { timeout: timeoutMs, ...(user ? { uid: user.uid, gid: user.gid } : {}) }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, out: `${String(stdout)}${String(stderr)}`.trim() });
    });
  });
}

/** A VM's running swtpm, started here or found again. */
export class SwtpmProcess {
  private exitReason: string | null = null;
  private readonly listeners = new Set<(reason: string) => void>();
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    readonly pid: number,
    readonly runDir: string,
    private readonly logFile: string,
    private readonly logOffset: number,
    child: ChildProcess | null,
  ) {
    if (child) {
      child.on('exit', (code, signal) => this.finish(signal ? `swtpm was killed by ${signal}` : `swtpm exited with code ${code}`));
    } else {
      // Not our child: watch the pid (a cheap check once a second).
      this.timer = setInterval(() => {
        if (!pidAlive(this.pid) || !isOurSwtpm(this.pid, this.runDir)) this.finish('swtpm exited');
      }, 1000);
      this.timer.unref();
    }
  }

  get exited(): string | null {
    return this.exitReason;
  }

  /** Called once when swtpm exits unless it was stopped or let go of by the core. */
  onExit(cb: (reason: string) => void): void {
    this.listeners.add(cb);
  }

  private finish(how: string): void {
    if (this.exitReason !== null) return;
    if (this.timer) clearInterval(this.timer);
    const tail = logTail(this.logFile, this.logOffset, 3);
    this.exitReason = tail ? `${how}: ${tail}` : how;
    if (this.stopped) return;
    for (const l of [...this.listeners]) l(this.exitReason);
    this.listeners.clear();
  }

  /** Lets go without stopping it (the core is shutting down; the VM keeps its TPM). */
  detach(): void {
    this.stopped = true;
    this.listeners.clear();
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Ends swtpm once QEMU is gone (it normally ends itself when QEMU closes the channel):
   * SIGTERM, then SIGKILL, only to a pid verified to be this VM's swtpm.
   */
  async stop(graceMs = 2000): Promise<void> {
    this.stopped = true;
    for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
      if (!pidAlive(this.pid) || !isOurSwtpm(this.pid, this.runDir)) break;
      try {
        process.kill(this.pid, sig);
      } catch {
        break;
      }
      for (let i = 0; i < graceMs / 50 && pidAlive(this.pid); i++) await sleep(50);
    }
    if (this.timer) clearInterval(this.timer);
    fs.rmSync(tpmSocket(this.runDir), { force: true });
    fs.rmSync(path.join(this.runDir, SWTPM_FILES.pidfile), { force: true });
  }

  /**
   * Makes the TPM's first state (swtpm_setup) when the folder has none, then starts swtpm
   * and waits for its control socket. A swtpm of this VM left from a QEMU that died is ended
   * first, so the state is never served twice.
   */
  static async launch(binaries: { swtpm: string; setup: string | null }, p: SwtpmPaths, user: QemuUser | null = null, timeoutMs = 10_000): Promise<SwtpmProcess> {
    // As root, swtpm runs as QEMU's unprivileged user (see runas.ts): QEMU must reach its
    // control socket, and a TPM emulator is no more trusted with root than QEMU is.
    if (user) prepareRunDir(p.runDir, user);
    else ensurePrivateDir(p.runDir);
    fs.mkdirSync(p.stateDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(path.dirname(p.logFile), { recursive: true, mode: 0o700 });
    if (user) {
      fs.chownSync(p.stateDir, user.uid, user.gid);
      for (const f of fs.readdirSync(p.stateDir)) fs.lchownSync(path.join(p.stateDir, f), user.uid, user.gid);
    }
    const old = readPidfile(path.join(p.runDir, SWTPM_FILES.pidfile));
    if (old !== null && pidAlive(old) && isOurSwtpm(old, p.runDir)) {
      try {
        process.kill(old, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      for (let i = 0; i < 40 && pidAlive(old); i++) await sleep(50);
    }
    for (const f of Object.values(SWTPM_FILES)) fs.rmSync(path.join(p.runDir, f), { force: true });
    const logOffset = fs.existsSync(p.logFile) ? fs.statSync(p.logFile).size : 0;
    if (!hasTpmState(p.stateDir) && binaries.setup) {
      const r = await run(binaries.setup, buildSwtpmSetupArgv(p), 60_000, user);
      if (r.code !== 0) {
        throw new NestboxError('TPM_FAILED', `swtpm_setup could not create the TPM's first state${r.out ? `: ${r.out.split('\n').slice(-2).join(' ')}` : ''}`, logTail(p.logFile, logOffset, 6));
      }
    }
    const argv = buildSwtpmArgv(p);
    const child = spawn(binaries.swtpm, argv, { detached: true, stdio: 'ignore', ...(user ? { uid: user.uid, gid: user.gid } : {}) });
    child.unref();
    const exited = new Promise<string>((resolve) => {
      child.once('error', (err) => resolve(`could not run ${binaries.swtpm}: ${err.message}`));
      child.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exited with code ${code}`));
    });
    const sock = tpmSocket(p.runDir);
    const pidfile = path.join(p.runDir, SWTPM_FILES.pidfile);
    const deadline = Date.now() + timeoutMs;
    let early: string | null = null;
    void exited.then((why) => (early = why));
    while (!(fs.existsSync(sock) && readPidfile(pidfile) !== null)) {
      if (early !== null || Date.now() > deadline) {
        if (early === null && child.pid) process.kill(child.pid, 'SIGKILL');
        const tail = logTail(p.logFile, logOffset, 4);
        throw new NestboxError(
          'TPM_FAILED',
          `the TPM emulator (swtpm) did not start (${early ?? 'no control socket in time'})${tail ? `: ${tail}` : ''}. If its state is damaged, reset the TPM (nestbox modify NAME --reset-tpm); that erases what the guest kept in it`,
          `${binaries.swtpm} ${argv.join(' ')}`,
        );
      }
      await sleep(20);
    }
    return new SwtpmProcess(child.pid ?? readPidfile(pidfile)!, p.runDir, p.logFile, logOffset, child);
  }

  /** Finds the swtpm a previous core started for this VM, or says why there is none. */
  static attach(p: SwtpmPaths): SwtpmProcess | { gone: string } {
    const pid = readPidfile(path.join(p.runDir, SWTPM_FILES.pidfile));
    if (pid === null) return { gone: 'the TPM emulator (swtpm) is not running (no pidfile)' };
    if (!pidAlive(pid)) return { gone: 'the TPM emulator (swtpm) died while no Nestbox core was running' };
    if (!isOurSwtpm(pid, p.runDir)) return { gone: `the swtpm pidfile names pid ${pid}, which is not this VM's swtpm` };
    const offset = fs.existsSync(p.logFile) ? fs.statSync(p.logFile).size : 0;
    return new SwtpmProcess(pid, p.runDir, p.logFile, offset, null);
  }
}
