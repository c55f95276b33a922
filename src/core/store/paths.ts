/**
 * Where things live. The data directory (NESTBOX_HOME, else the platform's app-data folder)
 * holds the database and one folder per VM. Sockets live in a short runtime directory, since
 * a unix socket path must stay under ~104 bytes, keyed by the data directory so two data
 * directories on one host never meet.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NestboxError } from '../api/errors';
import { runtimeBase } from './runtimebase';
import { sha256Hex } from './sha256';

export function defaultDataDir(): string {
  const env = process.env['NESTBOX_HOME'];
  if (env) return path.resolve(env);
  const home = os.homedir();
  switch (process.platform) {
    case 'darwin':
      return path.join(home, 'Library', 'Application Support', 'Nestbox');
    case 'win32':
      return path.join(process.env['APPDATA'] ?? path.join(home, 'AppData', 'Roaming'), 'Nestbox');
    default:
      return path.join(process.env['XDG_DATA_HOME'] ?? path.join(home, '.local', 'share'), 'nestbox');
  }
}

/** Creates `dir` with mode 0700 (or checks an existing one is ours and private). */
/** True when Nestbox runs as root, so QEMU runs as an unprivileged user instead (qemu/runas.ts). */
export function runsQemuAsAnotherUser(): boolean {
  return process.platform !== 'win32' && typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * The base of the VMs' runtime folders when QEMU runs as another user than Nestbox (root):
 * root-owned, traverse-only (0711), never listable, with one 0700 folder per VM owned by
 * QEMU's user. /run is root's own (no other user can put anything there first).
 */
export const QEMU_RUNTIME_BASE = process.platform === 'linux' && fs.existsSync('/run') ? '/run/nestbox-qemu' : path.join(os.tmpdir(), 'nestbox-qemu');

export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new NestboxError('IO_ERROR', `${dir} is not a directory`);
  if (process.platform !== 'win32') {
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
      throw new NestboxError('IO_ERROR', `${dir} belongs to another user; refusing to put sockets there`);
    }
    if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
  }
}

export class DataLayout {
  readonly dataDir: string;
  readonly runtimeRoot: string;
  /**
   * Where the VMs' runtime folders are. Beside the core's socket, except when Nestbox runs as
   * root: QEMU then runs as another user (qemu/runas.ts), which must reach its folder without
   * root's private runtime folder being opened up; those live under QEMU_RUNTIME_BASE.
   */
  readonly vmRunRoot: string;

  constructor(dataDir: string) {
    this.dataDir = path.resolve(dataDir);
    const key = sha256Hex(this.dataDir).slice(0, 10);
    this.runtimeRoot = path.join(runtimeBase(), key);
    this.vmRunRoot = runsQemuAsAnotherUser() ? path.join(QEMU_RUNTIME_BASE, key) : this.runtimeRoot;
  }

  get database(): string {
    return path.join(this.dataDir, 'nestbox.db');
  }

  get machinesDir(): string {
    return path.join(this.dataDir, 'machines');
  }

  /** ISOs and images uploaded in web mode or dropped into the library. */
  get mediaDir(): string {
    return path.join(this.dataDir, 'media');
  }

  /** VM folders being deleted: moved here first, so a delete cut short is finished later. */
  get trashDir(): string {
    return path.join(this.dataDir, 'trash');
  }

  get lockFile(): string {
    return path.join(this.dataDir, 'core.lock');
  }

  get coreSocket(): string {
    return path.join(this.runtimeRoot, 'core.sock');
  }

  /** Wrappers and control sockets that share one SSH connection per qemu+ssh host (libvirt/sshmux.ts). */
  get sshMuxDir(): string {
    return path.join(this.runtimeRoot, 'ssh');
  }

  vmRunDir(uuid: string): string {
    return path.join(this.vmRunRoot, uuid.slice(0, 8));
  }

  /** A folder name for a new VM: its name, made unique if a folder is already there. */
  newVmDir(name: string): string {
    let dir = path.join(this.machinesDir, name);
    for (let i = 2; fs.existsSync(dir); i++) dir = path.join(this.machinesDir, `${name} (${i})`);
    return dir;
  }

  prepare(): void {
    fs.mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(this.machinesDir, { recursive: true, mode: 0o700 });
    ensurePrivateDir(path.dirname(this.runtimeRoot));
    ensurePrivateDir(this.runtimeRoot);
  }
}

export function vmFiles(vmDir: string) {
  return {
    logsDir: path.join(vmDir, 'logs'),
    qemuLog: path.join(vmDir, 'logs', 'qemu.log'),
    serialLog: path.join(vmDir, 'logs', 'serial.log'),
    swtpmLog: path.join(vmDir, 'logs', 'swtpm.log'),
    savedState: path.join(vmDir, 'saved.state'),
    efiVars: path.join(vmDir, 'efivars.qcow2'),
    snapshotsDir: path.join(vmDir, 'snapshots'),
  } as const;
}

/** Where a live snapshot's RAM and device state is kept (its disks keep the rest). */
export function snapshotStateFile(vmDir: string, tag: string): string {
  return path.join(vmDir, 'snapshots', `${tag}.vmstate`);
}

/** A powered-off snapshot's copy of the VM's TPM state (a running VM's is in its state stream). */
export function snapshotTpmDir(vmDir: string, tag: string): string {
  return path.join(vmDir, 'snapshots', `${tag}.tpm`);
}
