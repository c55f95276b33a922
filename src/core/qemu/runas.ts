/**
 * QEMU never runs as root. When Nestbox itself runs as root (CI does; some users will), a
 * guest that escaped QEMU would own the host, so QEMU is spawned as an unprivileged user:
 * NESTBOX_QEMU_USER, else the dedicated system user `nestbox`. If neither exists the start
 * is refused with the command that creates it.
 *
 * The user is set by the spawn itself (setgid, setgroups, setuid before exec), so QEMU never
 * holds root even briefly. QEMU's own `-runas` cannot be used: it drops privileges after the
 * seccomp filter is in place, and `elevateprivileges=deny` kills it ("Bad system call").
 *
 * What QEMU opens by path must then be reachable by that user: its runtime directory (owned
 * by it), the VM's folder (given to it), the folders above both (traversable, not listable:
 * 0711), and disks or ISOs elsewhere (checked; never changed, they are the user's files).
 * Files the core opens itself (QEMU's log, RAM state files through the migration socket)
 * need nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NestboxError } from '../api/errors';

export interface QemuUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

export const DEFAULT_QEMU_USER = 'nestbox';

/** The command that creates the default user (Debian, Fedora, Arch: shadow-utils' useradd). */
export const CREATE_USER_COMMAND = `useradd --system --user-group --no-create-home --shell /usr/sbin/nologin ${DEFAULT_QEMU_USER}`;

function lookupUser(name: string, passwd = '/etc/passwd'): QemuUser | null {
  let text: string;
  try {
    text = fs.readFileSync(passwd, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 4) {
      const uid = Number(f[2]);
      const gid = Number(f[3]);
      if (Number.isInteger(uid) && Number.isInteger(gid)) return { name, uid, gid };
    }
  }
  return null;
}

/**
 * The user QEMU runs as: null when Nestbox is not root (QEMU runs as the desktop user, as
 * it always did). As root: the user named by NESTBOX_QEMU_USER, else `nestbox`; refused
 * when it does not exist or is root itself.
 */
export function qemuUser(env: NodeJS.ProcessEnv = process.env, uid: number | null = typeof process.getuid === 'function' ? process.getuid() : null, passwd = '/etc/passwd'): QemuUser | null {
  if (uid !== 0) return null;
  const named = env['NESTBOX_QEMU_USER'];
  const name = named && named !== '' ? named : DEFAULT_QEMU_USER;
  const user = lookupUser(name, passwd);
  if (!user) {
    throw new NestboxError(
      'HOST_UNSUPPORTED',
      named
        ? `Nestbox runs as root and starts QEMU as the user NESTBOX_QEMU_USER names, '${named}', which does not exist; create it or name another unprivileged user`
        : `Nestbox runs as root, and QEMU must not: create an unprivileged user for it (${CREATE_USER_COMMAND}), or name an existing one in NESTBOX_QEMU_USER`,
    );
  }
  if (user.uid === 0 || user.gid === 0) {
    throw new NestboxError('HOST_UNSUPPORTED', `NESTBOX_QEMU_USER names '${name}', which is root (uid ${user.uid}, gid ${user.gid}); QEMU must run as an unprivileged user`);
  }
  return user;
}

/**
 * The runtime directory, made (0700) and given to the QEMU user, which creates its sockets
 * and pidfile there. Refuses a symlink or a non-directory in its place.
 */
export function prepareRunDir(runDir: string, user: QemuUser): void {
  fs.mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(runDir);
  if (!st.isDirectory()) throw new NestboxError('IO_ERROR', `${runDir} is not a directory`);
  fs.chownSync(runDir, user.uid, user.gid);
  fs.chmodSync(runDir, 0o700);
  // The runtime root and its base (`nestbox-0/<key>/`) are Nestbox's own.
  openUpAncestors(runDir, path.dirname(path.dirname(path.dirname(runDir))));
}

/**
 * Gives a VM's folder (disks, UEFI variables, logs, snapshots) to the QEMU user, and lets it
 * traverse the folders above. Files the core adds later (a new disk) are given at the next
 * start, which calls this again.
 */
export function prepareVmDir(vmDir: string, dataDir: string, user: QemuUser): void {
  chownTree(vmDir, user);
  openUpAncestors(vmDir, path.dirname(dataDir));
}

function chownTree(p: string, user: QemuUser): void {
  const st = fs.lstatSync(p);
  if (st.isSymbolicLink()) return; // never follow a link out of the folder
  if (st.uid !== user.uid || st.gid !== user.gid) fs.chownSync(p, user.uid, user.gid);
  if (st.isDirectory()) for (const e of fs.readdirSync(p)) chownTree(path.join(p, e), user);
}

/**
 * Lets other users traverse (never list) root's private folders above `p` and below `stop`:
 * the data and runtime folders Nestbox made, never anything above them (a data folder under
 * /root stays unreachable, and the start is refused saying so). Folders of other owners are
 * left alone.
 */
function openUpAncestors(p: string, stop: string): void {
  for (let dir = path.dirname(p); dir !== stop && dir.startsWith(stop + path.sep); dir = path.dirname(dir)) {
    const st = fs.statSync(dir);
    if ((st.mode & 0o001) !== 0) continue;
    if (st.uid !== 0) continue;
    fs.chmodSync(dir, (st.mode & 0o777) | 0o011);
    // What the folder kept private (nestbox.db, its lock) stays private to its owner.
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!e.isFile()) continue;
      const f = path.join(dir, e.name);
      const m = fs.lstatSync(f).mode & 0o777;
      if ((m & 0o077) !== 0) fs.chmodSync(f, m & 0o700);
    }
  }
}

/**
 * True when `user` may open `file` with `access` ('r' or 'rw'), by the permission bits of the
 * file and of every folder above it (owner, primary group, others; supplementary groups are
 * dropped when QEMU is spawned, so they do not count).
 */
export function userCan(user: QemuUser, file: string, access: 'r' | 'rw'): boolean {
  const bit = (st: fs.Stats, r: number, w: number, x: number, want: 'r' | 'rw' | 'x'): boolean => {
    const shift = st.uid === user.uid ? 6 : st.gid === user.gid ? 3 : 0;
    const m = (st.mode >> shift) & 0o7;
    switch (want) {
      case 'r':
        return (m & r) !== 0;
      case 'rw':
        return (m & r) !== 0 && (m & w) !== 0;
      case 'x':
        return (m & x) !== 0;
      default: {
        const never: never = want;
        throw new Error(`unknown access ${String(never)}`);
      }
    }
  };
  try {
    const abs = fs.realpathSync(file);
    for (let dir = path.dirname(abs); ; dir = path.dirname(dir)) {
      if (!bit(fs.statSync(dir), 4, 2, 1, 'x')) return false;
      if (dir === path.dirname(dir)) break;
    }
    return bit(fs.statSync(abs), 4, 2, 1, access);
  } catch {
    return false;
  }
}

/** Refuses the start when the QEMU user cannot open a file QEMU opens by path. */
export function requireAccess(user: QemuUser, file: string, access: 'r' | 'rw', what: string): void {
  if (userCan(user, file, access)) return;
  throw new NestboxError(
    'HOST_UNSUPPORTED',
    `QEMU runs as '${user.name}' (Nestbox runs as root), which cannot ${access === 'rw' ? 'read and write' : 'read'} ${what} ${file}: give it access (for example chmod o+${access === 'rw' ? 'rw' : 'r'} on the file and o+x on its folders), or move it into the VM's folder`,
  );
}

/**
 * Everything a start needs for the QEMU user: null when Nestbox is not root. The VM's folder
 * is given to the user; disks and ISOs elsewhere are checked, and the start refused with the
 * file named when the user cannot open them.
 */
export function prepareQemuUser(
  dataDir: string,
  vmDir: string,
  disks: readonly { readonly file: string; readonly readOnly: boolean; readonly backing?: string }[],
  isos: readonly string[],
): QemuUser | null {
  const user = qemuUser();
  if (!user) return null;
  prepareVmDir(vmDir, dataDir, user);
  for (const d of disks) {
    // A linked clone's base sits in its source VM's folder (read-only, 0444).
    if (d.backing) {
      openUpAncestors(d.backing, path.dirname(dataDir));
      requireAccess(user, d.backing, 'r', 'the base image');
    }
    requireAccess(user, d.file, d.readOnly ? 'r' : 'rw', 'the disk');
  }
  for (const iso of isos) requireAccess(user, iso, 'r', 'the ISO');
  return user;
}
