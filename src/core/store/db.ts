/**
 * SQLite with WAL and synchronous=FULL: a power cut never loses a committed change. The
 * database is opened by exactly one core at a time (the data-directory lock enforces it).
 */
import Database from 'better-sqlite3';
import type { VmConfig } from '../domain/config';
import { parseVmConfig } from '../domain/config';
import type { VmState } from '../domain/lifecycle';
import { VM_STATES } from '../domain/lifecycle';
import { MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations';

export type Db = Database.Database;

export function openDatabase(file: string, migrations: readonly Migration[] = MIGRATIONS): Db {
  // Inside Electron from a checkout, better-sqlite3 in node_modules is built for Node; the
  // desktop app passes the Electron build (scripts/electron-native.mjs) here.
  const binding = process.versions['electron'] ? process.env['NESTBOX_SQLITE_BINDING'] : undefined;
  const db = new Database(file, binding ? { nativeBinding: binding } : {});
  try {
    const newest = migrations[migrations.length - 1]?.version ?? 0;
    if (schemaVersion(db) > newest) {
      throw new Error(
        `the database was written by a newer Nestbox (schema ${schemaVersion(db)}, this version knows ${newest}); refusing to touch it`,
      );
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, migrations);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): void {
  const current = schemaVersion(db);
  const newest = migrations[migrations.length - 1]?.version ?? 0;
  if (current > newest) {
    throw new Error(
      `the database was written by a newer Nestbox (schema ${current}, this version knows ${newest}); refusing to touch it`,
    );
  }
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}

export { SCHEMA_VERSION };

export interface VmRow {
  readonly uuid: string;
  readonly name: string;
  readonly config: VmConfig;
  readonly state: VmState;
  readonly stateReason: string | null;
  readonly dir: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** The snapshot "Current state" hangs under. */
  readonly currentSnapshot: string | null;
  /** A snapshot tag to resume from (-loadvm) on the next start. */
  readonly pendingLoadvm: string | null;
}

export interface RuntimeRow {
  readonly vmUuid: string;
  readonly pid: number;
  readonly runDir: string;
  readonly accel: string;
  readonly startedAt: string;
  /** Size of qemu.log when this run started: what follows is this run's output. */
  readonly logOffset: number;
}

interface RawVmRow {
  uuid: string;
  name: string;
  config: string;
  state: string;
  state_reason: string | null;
  dir: string;
  created_at: string;
  updated_at: string;
  current_snapshot: string | null;
  pending_loadvm: string | null;
}

/**
 * Parsed configs by VM, kept while the stored JSON is unchanged: listing 1,000 VMs would
 * otherwise parse and validate 1,000 configs on every request. Configs are immutable values
 * (readonly all the way down), so sharing one between callers is safe.
 */
const parsedConfigs = new WeakMap<Db, Map<string, { raw: string; config: VmConfig }>>();

function parseStoredConfig(db: Db, uuid: string, raw: string): VmConfig {
  let cache = parsedConfigs.get(db);
  if (!cache) parsedConfigs.set(db, (cache = new Map()));
  const hit = cache.get(uuid);
  if (hit && hit.raw === raw) return hit.config;
  const config = parseVmConfig(JSON.parse(raw));
  cache.set(uuid, { raw, config });
  return config;
}

function toVmRow(r: RawVmRow, db: Db): VmRow {
  const state = (VM_STATES as readonly string[]).includes(r.state) ? (r.state as VmState) : 'aborted';
  return {
    uuid: r.uuid,
    name: r.name,
    config: parseStoredConfig(db, r.uuid, r.config),
    state,
    stateReason: r.state_reason,
    dir: r.dir,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    currentSnapshot: r.current_snapshot ?? null,
    pendingLoadvm: r.pending_loadvm ?? null,
  };
}

const now = (): string => new Date().toISOString();

/** The inventory: VMs and their runtime records. */
export class VmRepository {
  constructor(private readonly db: Db) {}

  list(): VmRow[] {
    return (this.db.prepare('SELECT * FROM vms ORDER BY name COLLATE NOCASE').all() as RawVmRow[]).map((r) => toVmRow(r, this.db));
  }

  get(uuid: string): VmRow | undefined {
    const r = this.db.prepare('SELECT * FROM vms WHERE uuid = ?').get(uuid) as RawVmRow | undefined;
    return r && toVmRow(r, this.db);
  }

  findByName(name: string): VmRow | undefined {
    const r = this.db.prepare('SELECT * FROM vms WHERE name = ? COLLATE NOCASE').get(name) as RawVmRow | undefined;
    return r && toVmRow(r, this.db);
  }

  insert(config: VmConfig, dir: string, state: VmState): void {
    const t = now();
    this.db
      .prepare('INSERT INTO vms (uuid, name, config, state, dir, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(config.uuid, config.name, JSON.stringify(config), state, dir, t, t);
  }

  updateConfig(config: VmConfig): void {
    this.db
      .prepare('UPDATE vms SET name = ?, config = ?, updated_at = ? WHERE uuid = ?')
      .run(config.name, JSON.stringify(config), now(), config.uuid);
  }

  setState(uuid: string, state: VmState, reason: string | null): void {
    this.db.prepare('UPDATE vms SET state = ?, state_reason = ?, updated_at = ? WHERE uuid = ?').run(state, reason, now(), uuid);
  }

  delete(uuid: string): void {
    this.db.prepare('DELETE FROM vms WHERE uuid = ?').run(uuid);
    parsedConfigs.get(this.db)?.delete(uuid);
  }

  /**
   * Runs `fn` as one SQLite transaction on the connection every repository of this core
   * shares: a change made of several statements (a clone's VM row and its links, a snapshot
   * row and the current-snapshot pointer) is all there or not there after a crash. Nests as
   * a savepoint inside another transaction. `fn` must be synchronous.
   */
  atomically<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  setCurrentSnapshot(uuid: string, snapshotId: string | null): void {
    this.db.prepare('UPDATE vms SET current_snapshot = ? WHERE uuid = ?').run(snapshotId, uuid);
  }

  /** Whether the VM's snapshot with this tag keeps its RAM in a state file of its own. */
  snapshotRamInFile(uuid: string, tag: string): boolean {
    const r = this.db.prepare('SELECT ram_file FROM snapshots WHERE vm_uuid = ? AND tag = ?').get(uuid, tag) as { ram_file: number } | undefined;
    return r?.ram_file === 1;
  }

  setPendingLoadvm(uuid: string, tag: string | null): void {
    this.db.prepare('UPDATE vms SET pending_loadvm = ? WHERE uuid = ?').run(tag, uuid);
  }

  getRuntime(uuid: string): RuntimeRow | undefined {
    const r = this.db.prepare('SELECT * FROM vm_runtime WHERE vm_uuid = ?').get(uuid) as
      | { vm_uuid: string; pid: number; run_dir: string; accel: string; started_at: string; log_offset: number }
      | undefined;
    return r && { vmUuid: r.vm_uuid, pid: r.pid, runDir: r.run_dir, accel: r.accel, startedAt: r.started_at, logOffset: r.log_offset };
  }

  setRuntime(rt: RuntimeRow): void {
    this.db
      .prepare('INSERT OR REPLACE INTO vm_runtime (vm_uuid, pid, run_dir, accel, started_at, log_offset) VALUES (?, ?, ?, ?, ?, ?)')
      .run(rt.vmUuid, rt.pid, rt.runDir, rt.accel, rt.startedAt, rt.logOffset);
  }

  clearRuntime(uuid: string): void {
    this.db.prepare('DELETE FROM vm_runtime WHERE vm_uuid = ?').run(uuid);
  }
}

export interface SnapshotRow {
  readonly id: string;
  readonly vmUuid: string;
  readonly parentId: string | null;
  readonly name: string;
  readonly description: string;
  readonly createdAt: string;
  readonly withRam: boolean;
  /** The internal snapshot's name inside each qcow2 image. */
  readonly tag: string;
  readonly config: VmConfig;
  readonly hasThumbnail: boolean;
  /** Taken by Nestbox before a start ("undo this session"); pruned by the retention count. */
  readonly auto: boolean;
  /**
   * The RAM state is in its own file (snapshotStateFile) rather than inside the first qcow2
   * disk: live snapshots of running VMs, saved through a migration stream that can be
   * watched and cancelled. Restoring one starts a fresh QEMU from that file.
   */
  readonly ramFile: boolean;
  /**
   * The guest's file systems were frozen through its agent when the disks were snapshotted
   * (services/quiesce.ts); null when that does not apply (taken while off) or was not recorded.
   */
  readonly frozen: boolean | null;
  /** Why they were not frozen (the agent did not answer, the VM was paused, ...). */
  readonly freezeNote: string | null;
}

interface RawSnapshotRow {
  id: string;
  vm_uuid: string;
  parent_id: string | null;
  name: string;
  description: string;
  created_at: string;
  with_ram: number;
  tag: string;
  config: string;
  has_thumb: number;
  auto: number;
  ram_file: number;
  frozen: number | null;
  freeze_note: string | null;
}

export class SnapshotRepository {
  constructor(private readonly db: Db) {}

  private static readonly COLS =
    'id, vm_uuid, parent_id, name, description, created_at, with_ram, tag, config, thumbnail IS NOT NULL AS has_thumb, auto, ram_file, frozen, freeze_note';

  private static toRow(r: RawSnapshotRow): SnapshotRow {
    return {
      id: r.id,
      vmUuid: r.vm_uuid,
      parentId: r.parent_id,
      name: r.name,
      description: r.description,
      createdAt: r.created_at,
      withRam: r.with_ram === 1,
      tag: r.tag,
      config: parseVmConfig(JSON.parse(r.config)),
      hasThumbnail: r.has_thumb === 1,
      auto: r.auto === 1,
      ramFile: r.ram_file === 1,
      frozen: r.frozen === null ? null : r.frozen === 1,
      freezeNote: r.freeze_note,
    };
  }

  list(vmUuid: string): SnapshotRow[] {
    return (this.db.prepare(`SELECT ${SnapshotRepository.COLS} FROM snapshots WHERE vm_uuid = ? ORDER BY created_at, rowid`).all(vmUuid) as RawSnapshotRow[]).map(
      SnapshotRepository.toRow,
    );
  }

  /** Every VM's snapshots in one query (in each VM's order), for scans over the whole inventory. */
  listAll(): SnapshotRow[] {
    return (this.db.prepare(`SELECT ${SnapshotRepository.COLS} FROM snapshots ORDER BY vm_uuid, created_at, rowid`).all() as RawSnapshotRow[]).map(SnapshotRepository.toRow);
  }

  get(id: string): SnapshotRow | undefined {
    const r = this.db.prepare(`SELECT ${SnapshotRepository.COLS} FROM snapshots WHERE id = ?`).get(id) as RawSnapshotRow | undefined;
    return r && SnapshotRepository.toRow(r);
  }

  insert(
    s: Omit<SnapshotRow, 'hasThumbnail' | 'auto' | 'ramFile' | 'frozen' | 'freezeNote'> & {
      readonly auto?: boolean;
      readonly ramFile?: boolean;
      readonly frozen?: boolean | null;
      readonly freezeNote?: string | null;
    },
    thumbnail: Buffer | null,
  ): void {
    const frozen = s.frozen === undefined || s.frozen === null ? null : s.frozen ? 1 : 0;
    this.db
      .prepare(
        'INSERT INTO snapshots (id, vm_uuid, parent_id, name, description, created_at, with_ram, tag, config, thumbnail, auto, ram_file, frozen, freeze_note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(s.id, s.vmUuid, s.parentId, s.name, s.description, s.createdAt, s.withRam ? 1 : 0, s.tag, JSON.stringify(s.config), thumbnail, s.auto ? 1 : 0, s.ramFile ? 1 : 0, frozen, s.freezeNote ?? null);
  }

  thumbnail(id: string): Buffer | null {
    const r = this.db.prepare('SELECT thumbnail FROM snapshots WHERE id = ?').get(id) as { thumbnail: Buffer | null } | undefined;
    return r?.thumbnail ?? null;
  }

  /** Removes one snapshot, re-parenting its children, in one transaction. */
  remove(id: string, reparent: readonly { id: string; parentId: string | null }[]): void {
    this.db.transaction(() => {
      for (const u of reparent) this.db.prepare('UPDATE snapshots SET parent_id = ? WHERE id = ?').run(u.parentId, u.id);
      this.db.prepare('DELETE FROM snapshots WHERE id = ?').run(id);
    })();
  }

  rename(id: string, name: string, description: string): void {
    this.db.prepare('UPDATE snapshots SET name = ?, description = ? WHERE id = ?').run(name, description, id);
  }
}

/** A read-only qcow2 image Nestbox exported from a VM's disk for linked clones to stand on. */
export interface DiskBaseRow {
  readonly id: string;
  /** The VM it was made from; it cannot be deleted while clones depend on the base. */
  readonly ownerUuid: string;
  readonly snapshotId: string | null;
  readonly diskId: string;
  readonly file: string;
  readonly createdAt: string;
}

/** Base images and the linked clones' disks that stand on them. */
export class CloneRepository {
  constructor(private readonly db: Db) {}

  private static toBase(r: { id: string; owner_uuid: string; snapshot_id: string | null; disk_id: string; file: string; created_at: string }): DiskBaseRow {
    return { id: r.id, ownerUuid: r.owner_uuid, snapshotId: r.snapshot_id, diskId: r.disk_id, file: r.file, createdAt: r.created_at };
  }

  basesOf(ownerUuid: string): DiskBaseRow[] {
    return (this.db.prepare('SELECT * FROM disk_bases WHERE owner_uuid = ? ORDER BY created_at').all(ownerUuid) as never[]).map(CloneRepository.toBase);
  }

  findBase(ownerUuid: string, snapshotId: string, diskId: string): DiskBaseRow | undefined {
    const r = this.db.prepare('SELECT * FROM disk_bases WHERE owner_uuid = ? AND snapshot_id = ? AND disk_id = ?').get(ownerUuid, snapshotId, diskId) as never;
    return r ? CloneRepository.toBase(r) : undefined;
  }

  getBase(id: string): DiskBaseRow | undefined {
    const r = this.db.prepare('SELECT * FROM disk_bases WHERE id = ?').get(id) as never;
    return r ? CloneRepository.toBase(r) : undefined;
  }

  insertBase(b: DiskBaseRow): void {
    this.db
      .prepare('INSERT INTO disk_bases (id, owner_uuid, snapshot_id, disk_id, file, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(b.id, b.ownerUuid, b.snapshotId, b.diskId, b.file, b.createdAt);
  }

  removeBase(id: string): void {
    this.db.prepare('DELETE FROM disk_bases WHERE id = ?').run(id);
  }

  link(vmUuid: string, diskId: string, baseId: string): void {
    this.db.prepare('INSERT INTO linked_disks (vm_uuid, disk_id, base_id) VALUES (?, ?, ?)').run(vmUuid, diskId, baseId);
  }

  /** The VMs (uuids) whose disks stand on a base made from `ownerUuid`. */
  dependentsOf(ownerUuid: string): string[] {
    return (
      this.db
        .prepare('SELECT DISTINCT l.vm_uuid AS u FROM linked_disks l JOIN disk_bases b ON b.id = l.base_id WHERE b.owner_uuid = ?')
        .all(ownerUuid) as { u: string }[]
    ).map((r) => r.u);
  }

  /** The VMs (uuids) whose linked disks stand on bases made from other VMs: `vmUuid`'s parents. */
  parentsOf(vmUuid: string): string[] {
    return (
      this.db
        .prepare('SELECT DISTINCT b.owner_uuid AS u FROM linked_disks l JOIN disk_bases b ON b.id = l.base_id WHERE l.vm_uuid = ?')
        .all(vmUuid) as { u: string }[]
    ).map((r) => r.u);
  }

  /** The bases `vmUuid`'s disks stand on. */
  basesUnder(vmUuid: string): DiskBaseRow[] {
    return (
      this.db.prepare('SELECT DISTINCT b.* FROM disk_bases b JOIN linked_disks l ON l.base_id = b.id WHERE l.vm_uuid = ?').all(vmUuid) as never[]
    ).map(CloneRepository.toBase);
  }

  /** Whether any disk still stands on the base. */
  inUse(baseId: string): boolean {
    return this.db.prepare('SELECT 1 FROM linked_disks WHERE base_id = ? LIMIT 1').get(baseId) !== undefined;
  }
}

export interface EventRow {
  readonly id: number;
  readonly ts: string;
  readonly vmUuid: string | null;
  readonly level: 'info' | 'warning' | 'error';
  readonly kind: string;
  readonly message: string;
}

export class EventRepository {
  constructor(private readonly db: Db) {}

  append(vmUuid: string | null, level: EventRow['level'], kind: string, message: string): EventRow {
    const ts = now();
    const info = this.db
      .prepare('INSERT INTO events (ts, vm_uuid, level, kind, message) VALUES (?, ?, ?, ?, ?)')
      .run(ts, vmUuid, level, kind, message);
    return { id: Number(info.lastInsertRowid), ts, vmUuid, level, kind, message };
  }

  recent(vmUuid: string | undefined, limit: number): EventRow[] {
    const rows = (
      vmUuid
        ? this.db.prepare('SELECT * FROM events WHERE vm_uuid = ? ORDER BY id DESC LIMIT ?').all(vmUuid, limit)
        : this.db.prepare('SELECT * FROM events ORDER BY id DESC LIMIT ?').all(limit)
    ) as { id: number; ts: string; vm_uuid: string | null; level: EventRow['level']; kind: string; message: string }[];
    return rows.reverse().map((r) => ({ id: r.id, ts: r.ts, vmUuid: r.vm_uuid, level: r.level, kind: r.kind, message: r.message }));
  }
}

export class SettingsRepository {
  constructor(private readonly db: Db) {}

  get(key: string): string | undefined {
    const r = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    return r?.value;
  }

  delete(key: string): void {
    this.db.prepare('DELETE FROM settings WHERE key = ?').run(key);
  }

  set(key: string, value: string): void {
    this.db.prepare('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)').run(key, value);
  }
}
