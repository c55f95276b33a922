/**
 * QEMU never runs as root. When Nestbox itself runs as root (CI does; some users will), a
 * guest that escaped QEMU would own the host, so QEMU is spawned as an unprivileged user:
 * NESTBOX_QEMU_USER, else the dedicated system user `nestbox`. If it does not exist the start
 * is refused with the command that creates it. A user that is not root keeps running QEMU as
 * itself, as before.
 *
 * The user is set by the spawn itself (setgid, setgroups to none, setuid before exec), so
 * QEMU never holds root even briefly. QEMU's own `-runas` cannot be used: it drops privileges
 * after its seccomp filter is in place, and `elevateprivileges=deny` kills it ("Bad system
 * call"); relaxing the filter to let it would let a compromised QEMU call setuid too.
 *
 * What QEMU opens by path must be reachable by that user:
 * - its runtime folder (sockets, pidfile, screenshots): one 0700 folder per VM owned by it,
 *   under a root-owned traverse-only base of its own (paths.ts QEMU_RUNTIME_BASE), so root's
 *   private runtime folder (the core's socket) is never opened up;
 * - the VM's folder (disks, UEFI variables, serial log, snapshots): given to it at every
 *   start, which also covers files the core added while the VM was off; the data folder and
 *   `machines/` above it become traverse-only (0711), their own files staying private;
 * - sockets the core listens on for QEMU (RAM state streams): given to the runtime folder's
 *   owner (migration.ts);
 * - images inside the data folder but outside the VM's (the media library, a linked clone's
 *   base): a read-only one is shared with the user's group, a writable one given to it;
 * - disks and ISOs elsewhere are the person's own files and never changed: checked, and the
 *   start (or the CD change) refused naming the file, the folder in the way and the fix.
 * Files the core opens itself (QEMU's log, RAM state files) need nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NestboxError } from '../api/errors';
import { runsQemuAsAnotherUser } from '../store/paths';

export interface QemuUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

export const DEFAULT_QEMU_USER = 'nestbox';

/** The command that creates the default user (Debian, Fedora, Arch: shadow-utils' useradd). */
export const CREATE_USER_COMMAND = `useradd --system --user-group --no-create-home --shell /usr/sbin/nologin ${DEFAULT_QEMU_USER}`;

export function lookupUser(name: string, passwd = '/etc/passwd'): QemuUser | null {
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
      if (f[2] !== '' && f[3] !== '' && Number.isInteger(uid) && Number.isInteger(gid)) return { name, uid, gid };
    }
  }
  return null;
}

/**
 * The user QEMU runs as: null when Nestbox is not root (QEMU runs as the desktop user, as
 * it always did). As root: the user named by NESTBOX_QEMU_USER, else `nestbox`; refused
 * when it does not exist or is root itself.
 */
export function qemuUser(env: NodeJS.ProcessEnv = process.env, asRoot = runsQemuAsAnotherUser(), passwd = '/etc/passwd'): QemuUser | null {
  if (!asRoot) return null;
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

/** A root-owned folder others may traverse but not list (0711); refuses a symlink or another owner. */
function traverseOnlyRootDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o711 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new NestboxError('IO_ERROR', `${dir} is not a directory; refusing to put QEMU's sockets there`);
  if (st.uid !== 0) throw new NestboxError('IO_ERROR', `${dir} belongs to uid ${st.uid}, not root; refusing to put QEMU's sockets there`);
  if ((st.mode & 0o7777) !== 0o711) fs.chmodSync(dir, 0o711);
}

/**
 * The VM's runtime folder, made (0700) and given to the QEMU user, which creates its sockets
 * and pidfile there; the two folders above it are root's, traverse-only.
 */
export function prepareRunDir(runDir: string, user: QemuUser): void {
  traverseOnlyRootDir(path.dirname(path.dirname(runDir)));
  traverseOnlyRootDir(path.dirname(runDir));
  fs.mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(runDir);
  if (!st.isDirectory()) throw new NestboxError('IO_ERROR', `${runDir} is not a directory`);
  if (st.uid !== user.uid || st.gid !== user.gid) fs.chownSync(runDir, user.uid, user.gid);
  if ((st.mode & 0o7777) !== 0o700) fs.chmodSync(runDir, 0o700);
}

/** Gives a folder and everything in it to the user (never following a link out of it). */
function chownTree(p: string, user: QemuUser): void {
  const st = fs.lstatSync(p);
  if (st.isSymbolicLink()) return;
  if (st.uid !== user.uid || st.gid !== user.gid) fs.chownSync(p, user.uid, user.gid);
  if (st.isDirectory()) for (const e of fs.readdirSync(p)) chownTree(path.join(p, e), user);
}

const inside = (p: string, dir: string) => p.startsWith(dir + path.sep);

/**
 * Lets other users traverse (never list) root's folders from `p`'s parent up to and including
 * `top` (Nestbox's data folder). What those folders hold directly (nestbox.db, its lock, the
 * web token) stays private to its owner.
 */
function openUpAncestors(p: string, top: string): void {
  for (let dir = path.dirname(p); dir === top || inside(dir, top); dir = path.dirname(dir)) {
    const st = fs.statSync(dir);
    if (st.uid !== 0 || (st.mode & 0o001) !== 0) continue;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!e.isFile()) continue;
      const f = path.join(dir, e.name);
      const m = fs.lstatSync(f).mode & 0o777;
      if ((m & 0o077) !== 0) fs.chmodSync(f, m & 0o700);
    }
    fs.chmodSync(dir, (st.mode & 0o777) | 0o011);
  }
}

/**
 * Why `user` may not open `file` with `access`, by the permission bits of the file and of
 * every folder above it (owner, primary group, others; supplementary groups are dropped when
 * QEMU is spawned, so they do not count); null when it may.
 */
export function accessProblem(user: QemuUser, file: string, access: 'r' | 'rw'): string | null {
  const allows = (st: fs.Stats, want: number): boolean => {
    const shift = st.uid === user.uid ? 6 : st.gid === user.gid ? 3 : 0;
    return (((st.mode >> shift) & 0o7) & want) === want;
  };
  let abs: string;
  try {
    abs = fs.realpathSync(file);
  } catch {
    return `${file} does not exist`;
  }
  const dirs: string[] = [];
  for (let dir = path.dirname(abs); ; dir = path.dirname(dir)) {
    dirs.unshift(dir);
    if (dir === path.dirname(dir)) break;
  }
  for (const dir of dirs) {
    if (!allows(fs.statSync(dir), 0o1)) return `the folder ${dir} is closed to it (chmod o+x "${dir}")`;
  }
  const want = access === 'rw' ? 0o6 : 0o4;
  if (!allows(fs.statSync(abs), want)) return `the file itself is not ${access === 'rw' ? 'readable and writable' : 'readable'} by it (chmod o+${access} "${abs}")`;
  return null;
}

/** Refuses when the QEMU user cannot open a file QEMU opens by path. */
export function requireAccess(user: QemuUser, file: string, access: 'r' | 'rw', what: string): void {
  const problem = accessProblem(user, file, access);
  if (problem === null) return;
  throw new NestboxError(
    'HOST_UNSUPPORTED',
    `Nestbox runs as root, so QEMU runs as the unprivileged user '${user.name}', which cannot ${access === 'rw' ? 'read and write' : 'read'} ${what} ${file}: ${problem}; or keep it where '${user.name}' can reach it (what is in Nestbox's data folder, such as its media/ folder, is shared with it by itself)`,
  );
}

/**
 * A file inside the data folder but outside the VM's (the media library, a linked clone's
 * base) is Nestbox's: a read-only one is shared with the QEMU user's group, a writable one is
 * given to the user. Files elsewhere are left as they are.
 */
function shareInsideDataDir(file: string, dataDir: string, user: QemuUser, access: 'r' | 'rw'): void {
  let abs: string;
  try {
    abs = fs.realpathSync(file);
  } catch {
    return;
  }
  if (!inside(abs, fs.realpathSync(dataDir))) return;
  openUpAncestors(abs, fs.realpathSync(dataDir));
  const st = fs.statSync(abs);
  if (!st.isFile() || accessProblem(user, abs, access) === null) return;
  if (access === 'rw') {
    fs.chownSync(abs, user.uid, user.gid);
  } else {
    fs.chownSync(abs, st.uid, user.gid);
    fs.chmodSync(abs, (st.mode & 0o777) | 0o040);
  }
}

/**
 * Everything a start needs for the QEMU user: null when Nestbox is not root. The VM's folder
 * is given to the user; images elsewhere in the data folder shared; disks and ISOs outside it
 * checked, and the start refused with the file named when the user cannot open them.
 */
export function prepareQemuUser(
  dataDir: string,
  vmDir: string,
  disks: readonly { readonly file: string; readonly readOnly: boolean; readonly backing?: string }[],
  isos: readonly string[],
): QemuUser | null {
  const user = qemuUser();
  if (!user) return null;
  const data = fs.realpathSync(dataDir);
  chownTree(vmDir, user);
  openUpAncestors(fs.realpathSync(vmDir), data);
  for (const d of disks) {
    if (d.backing) {
      shareInsideDataDir(d.backing, data, user, 'r');
      requireAccess(user, d.backing, 'r', 'the base image');
    }
    const access = d.readOnly ? 'r' : 'rw';
    shareInsideDataDir(d.file, data, user, access);
    requireAccess(user, d.file, access, 'the disk');
  }
  for (const iso of isos) {
    shareInsideDataDir(iso, data, user, 'r');
    requireAccess(user, iso, 'r', 'the ISO');
  }
  return user;
}

/** Before a CD change on a running VM: the same sharing and check as at start. */
export function prepareIsoForQemu(dataDir: string, iso: string): void {
  const user = qemuUser();
  if (!user) return;
  shareInsideDataDir(iso, fs.realpathSync(dataDir), user, 'r');
  requireAccess(user, iso, 'r', 'the ISO');
}
