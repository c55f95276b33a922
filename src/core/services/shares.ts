/**
 * Shared folders: a host folder the guest mounts by its tag (virtiofs, or 9p where virtiofsd
 * is missing). Kept in the VM's config; added and removed at any time, applied at the next
 * start (a share is a device of the machine, and QEMU 7.2 cannot hot-plug virtiofs usefully).
 *
 * The folder is checked when it is added and again at every start: it must exist and be a
 * directory, and it is stored by its real path, so a symlink the user pointed at is resolved
 * once, in front of them ("stored as ..."), and a folder later replaced by a symlink to
 * somewhere else is refused rather than followed. The guest gets that folder and nothing
 * above it (virtiofsd's sandbox pivots into it; 9p's fsdev is rooted at it).
 *
 * RAM snapshots, Save state and migration of a VM running with a share are refused, naming
 * the shares: QEMU 7.2 blocks migration of vhost-user-fs ("State blocked by non-migratable
 * device"), and 9p while mounted. Unplugging the device around them is no way out: the guest
 * has it mounted, so a PCI unplug would tear the mount away under the guest's programs (or
 * wait forever for the guest to let go). The refusal comes before anything is written, so
 * there is never a half-saved state; a powered-off VM's snapshots are not affected.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { OpResult, ShareSpec } from '../api/contract';
import { NestboxError } from '../api/errors';
import { ConfigError, LIMITS, parseVmConfig, SHARE_TAG_RE, type ShareConfig, type VmConfig } from '../domain/config';
import { isActive } from '../domain/lifecycle';
import type { ShareTransport } from '../qemu/argv';
import type { HostCapabilities } from '../qemu/host';
import { prepareRunDir, requireAccess, type QemuUser } from '../qemu/runas';
import { VirtiofsdProcess } from '../qemu/virtiofsd';
import type { VmRepository, VmRow } from '../store/db';
import { ensurePrivateDir, vmFiles } from '../store/paths';
import type { EventBus } from './events';
import type { VmRegistry } from './vmregistry';

/** A share's virtiofsd log, beside QEMU's in the VM's folder. */
export function virtiofsdLog(vmDir: string, tag: string): string {
  return path.join(vmFiles(vmDir).logsDir, `virtiofsd-${tag}.log`);
}

/**
 * How this host serves shares: virtiofs where virtiofsd is installed and the core runs as
 * root (Debian's C virtiofsd needs root, qemu/virtiofsd.ts), else QEMU's own 9p.
 */
export function shareTransport(host: Pick<HostCapabilities, 'virtiofsd'>, asRoot = isRoot()): ShareTransport {
  return host.virtiofsd && asRoot ? 'virtiofs' : '9p';
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * The real path of a folder to share, or a clear refusal: it must exist and be a directory
 * (after symlinks). `note` says when the real path differs from what was given.
 */
export function checkShareFolder(given: string): { readonly path: string; readonly note?: string } {
  if (!path.isAbsolute(given)) throw new NestboxError('INVALID_ARGUMENT', `the folder to share must be an absolute path (got '${given}')`);
  let real: string;
  try {
    real = fs.realpathSync(given);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NestboxError('NOT_FOUND', `the folder to share does not exist: ${given}`);
    throw new NestboxError('INVALID_ARGUMENT', `the folder to share cannot be read: ${given} (${code ?? (err as Error).message})`);
  }
  if (!fs.statSync(real).isDirectory()) {
    throw new NestboxError('INVALID_ARGUMENT', `only a folder can be shared, and ${given}${real !== given ? ` (${real})` : ''} is not one`);
  }
  if (real === '/') throw new NestboxError('INVALID_ARGUMENT', "the host's root folder cannot be shared: share the folder the guest needs");
  const norm = path.resolve(given);
  return real === norm ? { path: real } : { path: real, note: `${given} leads to ${real} (through a symlink): the share is stored as ${real}, so the guest sees that folder even if the link changes` };
}

/**
 * The check at start: the stored folder must still be a folder at that very path. One that
 * became a symlink (to anywhere) is refused, never followed: it is not what the user shared.
 */
export function checkShareAtStart(vmName: string, s: ShareConfig): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(s.path);
  } catch {
    throw new NestboxError('NOT_FOUND', `the shared folder '${s.tag}' of '${vmName}' is missing: ${s.path}; put it back or remove the share (nestbox share '${vmName}' remove ${s.tag})`);
  }
  if (st.isSymbolicLink()) {
    let to = '?';
    try {
      to = fs.realpathSync(s.path);
    } catch {
      // a dangling link
    }
    throw new NestboxError(
      'INVALID_CONFIG',
      `the shared folder '${s.tag}' of '${vmName}' (${s.path}) has been replaced by a symlink to ${to}; Nestbox shares only the folder that was added, never where a link leads. Remove the share and add the folder you mean`,
    );
  }
  if (!st.isDirectory()) throw new NestboxError('INVALID_CONFIG', `the shared folder '${s.tag}' of '${vmName}' (${s.path}) is no longer a folder; remove the share or put the folder back`);
  // A folder above it replaced by a link moves the share too: the real path must be the stored one.
  if (fs.realpathSync(s.path) !== s.path) {
    throw new NestboxError('INVALID_CONFIG', `the shared folder '${s.tag}' of '${vmName}' (${s.path}) now leads to ${fs.realpathSync(s.path)} through a symlink above it; remove the share and add the folder you mean`);
  }
}

/**
 * Refuses an operation that saves the VM's memory while it runs with shares (see the top),
 * or with shares added since it started: its saved memory would be of a machine without
 * them, which the next start (with them) could not load.
 */
export function refuseWhileShared(reg: Pick<VmRegistry, 'running'>, row: Pick<VmRow, 'uuid' | 'name' | 'config'>, what: string, op: 'save' | 'load' = 'save'): void {
  const tags = [...new Set([...(reg.running.get(row.uuid)?.shareTags ?? []), ...(row.config.shares ?? []).map((s) => s.tag)])];
  if (tags.length === 0) return;
  const names = tags.map((t) => `'${t}'`).join(', ');
  const why =
    op === 'save'
      ? 'QEMU cannot save the memory of a VM with a shared folder attached, and unplugging it would pull the folder from under the guest'
      : 'QEMU cannot load saved memory into a VM with a shared folder attached, and the guest would come back with the folder gone from under it';
  throw new NestboxError(
    'INVALID_STATE',
    `cannot ${what} '${row.name}' while it runs with shared folder${tags.length > 1 ? 's' : ''} ${names}: ${why}. Shut the VM down first (snapshots of a powered-off VM work), or remove the share (nestbox share '${row.name}' remove ${tags[0]}) and restart the VM. ${op === 'save' ? 'Nothing was saved' : 'Nothing was changed'}`,
  );
}

/**
 * Starts a virtiofsd per share of a VM about to start (after checking every folder again);
 * with 9p there is nothing to start. Ends what it started if one of them fails.
 */
export async function launchShares(host: HostCapabilities, row: VmRow, runDir: string, user: QemuUser | null): Promise<VirtiofsdProcess[]> {
  const shares = row.config.shares ?? [];
  for (const s of shares) checkShareAtStart(row.name, s);
  if (shares.length === 0) return [];
  if (shareTransport(host) !== 'virtiofs' || !host.virtiofsd) {
    // 9p: QEMU itself opens the folder, as its unprivileged user when the core runs as root.
    if (user) for (const s of shares) requireAccess(user, s.path, s.readOnly ? 'r' : 'rw', `shared folder '${s.tag}'`);
    return [];
  }
  // The runtime folder before QEMU makes it: virtiofsd's sockets go there first.
  if (user) prepareRunDir(runDir, user);
  else ensurePrivateDir(runDir);
  const started: VirtiofsdProcess[] = [];
  try {
    for (const s of shares) started.push(await VirtiofsdProcess.launch(host.virtiofsd, s, runDir, virtiofsdLog(row.dir, s.tag), user));
  } catch (err) {
    await Promise.all(started.map((p) => p.stop().catch(() => undefined)));
    throw err;
  }
  return started;
}

/** Finds the virtiofsd processes of a running VM again after a core restart; `gone` lists those that died. */
export function attachShares(row: VmRow, runDir: string, tags: readonly string[]): { procs: VirtiofsdProcess[]; gone: string[] } {
  const procs: VirtiofsdProcess[] = [];
  const gone: string[] = [];
  for (const tag of tags) {
    const p = VirtiofsdProcess.attach(tag, runDir, virtiofsdLog(row.dir, tag));
    if (p instanceof VirtiofsdProcess) procs.push(p);
    else gone.push(p.gone);
  }
  return { procs, gone };
}

/** The tags a running QEMU was started with, from the pidfiles its virtiofsd processes left (virtiofs) or the config (9p). */
export function runningShareTags(row: VmRow, runDir: string, host: HostCapabilities): string[] {
  if (shareTransport(host) !== 'virtiofs') return (row.config.shares ?? []).map((s) => s.tag);
  let found: string[];
  try {
    found = fs.readdirSync(runDir).flatMap((f) => /^vfs-(.+)\.pid$/.exec(f)?.[1] ?? []);
  } catch {
    return [];
  }
  // In the config's order (as the VM was started with them, unless changed since).
  const order = (row.config.shares ?? []).map((s) => s.tag);
  const rank = (t: string) => (order.includes(t) ? order.indexOf(t) : order.length);
  return found.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export interface ShareServiceDeps {
  readonly reg: VmRegistry;
  readonly vms: VmRepository;
  readonly bus: EventBus;
}

/**
 * One more share for the VM named `vm` beside `shares`: the folder checked and stored by its
 * real path, the tag given or made from the folder's name, and no tag or folder twice.
 * Used when a share is added and when a VM is created with shares.
 */
export function planShare(vm: string, shares: readonly ShareConfig[], spec: ShareSpec): { share: ShareConfig; note?: string } {
  const { path: real, note } = checkShareFolder(spec.path);
  if (shares.length >= LIMITS.maxShares) throw new NestboxError('INVALID_ARGUMENT', `'${vm}' already has ${LIMITS.maxShares} shared folders, the most a VM can have`);
  const tag = spec.tag ?? freeTag(path.basename(real), shares);
  if (!SHARE_TAG_RE.test(tag)) throw new NestboxError('INVALID_ARGUMENT', `'${tag}' is not a valid tag (1 to 31 letters, digits, '.', '_' or '-', starting with a letter or digit)`);
  if (shares.some((s) => s.tag === tag)) throw new NestboxError('ALREADY_EXISTS', `'${vm}' already has a shared folder tagged '${tag}'`);
  const dup = shares.find((s) => s.path === real);
  if (dup) throw new NestboxError('ALREADY_EXISTS', `${real} is already shared with '${vm}' as '${dup.tag}'`);
  return { share: { tag, path: real, readOnly: spec.readOnly === true }, ...(note ? { note } : {}) };
}

function freeTag(base: string, shares: readonly ShareConfig[]): string {
  const clean = base.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._-]+/, '').slice(0, 24) || 'share';
  const taken = new Set(shares.map((s) => s.tag));
  if (!taken.has(clean)) return clean;
  for (let i = 2; ; i++) if (!taken.has(`${clean}${i}`)) return `${clean}${i}`;
}

/** The API's side: add, list and remove a VM's shares. */
export class ShareService {
  constructor(private readonly d: ShareServiceDeps) {}

  list(ref: string): readonly ShareConfig[] {
    return this.d.reg.resolve(ref).config.shares ?? [];
  }

  add(ref: string, spec: ShareSpec): OpResult {
    const row = this.d.reg.resolve(ref);
    this.editable(row);
    const shares = row.config.shares ?? [];
    const { share, note } = planShare(row.name, shares, spec);
    this.save(row, [...shares, share]);
    this.d.reg.log(row.uuid, 'info', 'share', `shared ${share.path} with '${row.name}' as '${share.tag}'${share.readOnly ? ' (read-only)' : ''}`);
    return this.d.reg.result(row.uuid, [...(note ? [note] : []), ...this.pending(row)]);
  }

  remove(ref: string, tag: string): OpResult {
    const row = this.d.reg.resolve(ref);
    this.editable(row);
    const shares = row.config.shares ?? [];
    if (!shares.some((s) => s.tag === tag)) throw new NestboxError('NOT_FOUND', `'${row.name}' has no shared folder tagged '${tag}'`);
    this.save(row, shares.filter((s) => s.tag !== tag));
    this.d.reg.log(row.uuid, 'info', 'share', `removed shared folder '${tag}' from '${row.name}'`);
    return this.d.reg.result(row.uuid, this.pending(row));
  }

  /** A running VM keeps the shares it started with: the change is for its next start. */
  private pending(row: VmRow): string[] {
    return isActive(row.state) ? [`'${row.name}' is running: the change applies at its next start`] : [];
  }

  private editable(row: VmRow): void {
    if (row.state === 'starting' || row.state === 'saving') throw new NestboxError('INVALID_STATE', `cannot change the shared folders of '${row.name}' while it is ${row.state}`);
    if (row.state === 'saved') {
      // A saved state resumes the machine it was saved from (always without shares): a new device would not match it.
      throw new NestboxError('INVALID_STATE', `'${row.name}' has a saved state, which resumes the machine exactly as it was; discard the saved state, or start it and shut it down, to change its shared folders`);
    }
  }

  private save(row: VmRow, shares: readonly ShareConfig[]): void {
    let next: VmConfig;
    try {
      next = parseVmConfig({ ...row.config, shares });
    } catch (err) {
      if (err instanceof ConfigError) throw new NestboxError('INVALID_ARGUMENT', err.message);
      throw err;
    }
    this.d.vms.updateConfig(next);
    this.d.bus.emit('vm.changed', { uuid: row.uuid });
  }
}
