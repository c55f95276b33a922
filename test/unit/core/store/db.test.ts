import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EventRepository,
  SCHEMA_VERSION,
  SettingsRepository,
  SnapshotRepository,
  VmRepository,
  migrate,
  openDatabase,
  schemaVersion,
} from '../../../../src/core/store/db';
import type { Db } from '../../../../src/core/store/db';
import { MediaRepository } from '../../../../src/core/store/media';
import { StatsRepository } from '../../../../src/core/store/stats';
import type { MinuteAggregate } from '../../../../src/core/domain/stats';
import { MIGRATIONS } from '../../../../src/core/store/migrations';
import type { Migration } from '../../../../src/core/store/migrations';
import { UUID_A, UUID_B, validConfig } from '../../helpers/config';

let dir: string;
let file: string;
const open: Db[] = [];

function track(db: Db): Db {
  open.push(db);
  return db;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-db-'));
  file = path.join(dir, 'nestbox.db');
});

afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function tables(db: Db): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map(
    (r) => r.name,
  );
}

function columns(db: Db, table: string): string[] {
  return (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
}

describe('migrations', () => {
  // Branches are assigned migration numbers up front and renumbered at merge, so on a branch
  // the numbers may skip the ones other branches hold; they must still only go up.
  it('numbers migrations 1..n without gaps, so SCHEMA_VERSION is the last one', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    for (const m of MIGRATIONS) expect(m.description.length).toBeGreaterThan(0);
  });

  it('creates a fresh database at the newest schema with every table', () => {
    const db = track(openDatabase(file));
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    expect(tables(db)).toEqual(expect.arrayContaining(['events', 'settings', 'vm_runtime', 'vms']));
    expect(columns(db, 'vms')).toEqual(expect.arrayContaining(['uuid', 'name', 'config', 'state', 'dir', 'state_reason', 'created_at', 'updated_at']));
    expect(columns(db, 'events')).toContain('level');
  });

  it('uses WAL, synchronous=FULL and enforces foreign keys', () => {
    const db = track(openDatabase(file));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
  });

  it('reopening an up-to-date database changes nothing', () => {
    const db1 = track(openDatabase(file));
    new SettingsRepository(db1).set('k', 'v');
    db1.close();
    const db2 = track(openDatabase(file));
    expect(schemaVersion(db2)).toBe(SCHEMA_VERSION);
    expect(new SettingsRepository(db2).get('k')).toBe('v');
  });

  it('migrates a schema-1 database forward, keeping its rows', () => {
    const cfg = validConfig();
    const db1 = track(openDatabase(file, MIGRATIONS.slice(0, 1)));
    expect(schemaVersion(db1)).toBe(1);
    expect(tables(db1)).not.toContain('vm_runtime');
    expect(columns(db1, 'vms')).not.toContain('dir');
    db1
      .prepare('INSERT INTO vms (uuid, name, config, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(cfg.uuid, cfg.name, JSON.stringify(cfg), 'saved', '2024-01-02T03:04:05.000Z', '2024-01-02T03:04:06.000Z');
    const ins = db1.prepare('INSERT INTO events (ts, vm_uuid, kind, message) VALUES (?, ?, ?, ?)');
    ins.run('2024-01-02T03:04:05.000Z', cfg.uuid, 'created', "created 'Debian 12'");
    ins.run('2024-01-02T03:04:07.000Z', cfg.uuid, 'saved', "saved 'Debian 12'");
    ins.run('2024-01-02T03:04:08.000Z', null, 'core', 'core started');
    db1.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run('accel', 'tcg');
    db1.close();

    const db2 = track(openDatabase(file));
    expect(schemaVersion(db2)).toBe(SCHEMA_VERSION);
    expect(tables(db2)).toContain('vm_runtime');

    const vms = new VmRepository(db2);
    const row = vms.get(cfg.uuid);
    expect(row).toEqual({
      uuid: cfg.uuid,
      name: 'Debian 12',
      config: cfg,
      state: 'saved',
      stateReason: null,
      dir: '',
      createdAt: '2024-01-02T03:04:05.000Z',
      updatedAt: '2024-01-02T03:04:06.000Z',
      currentSnapshot: null,
      pendingLoadvm: null,
    });
    expect(vms.findByName('debian 12')?.uuid).toBe(cfg.uuid);
    expect(vms.list().map((r) => r.uuid)).toEqual([cfg.uuid]);

    const events = new EventRepository(db2);
    expect(events.recent(cfg.uuid, 10).map((e) => [e.kind, e.level, e.vmUuid])).toEqual([
      ['created', 'info', cfg.uuid],
      ['saved', 'info', cfg.uuid],
    ]);
    expect(events.recent(undefined, 10).map((e) => e.message)).toEqual(["created 'Debian 12'", "saved 'Debian 12'", 'core started']);
    expect(new SettingsRepository(db2).get('accel')).toBe('tcg');

    // The new parts of the schema work on the upgraded database too.
    vms.setRuntime({ vmUuid: cfg.uuid, pid: 4242, runDir: '/run/x', accel: 'tcg', startedAt: 't', logOffset: 0 });
    expect(vms.getRuntime(cfg.uuid)?.pid).toBe(4242);
    vms.delete(cfg.uuid);
    expect(vms.getRuntime(cfg.uuid)).toBeUndefined();
    const next = events.append(null, 'warning', 'k', 'm');
    expect(next.id).toBe(4);
  });

  it('keeps a case-insensitive unique name after migrating', () => {
    const db1 = track(openDatabase(file, MIGRATIONS.slice(0, 1)));
    db1.close();
    const db2 = track(openDatabase(file));
    const vms = new VmRepository(db2);
    vms.insert(validConfig({ name: 'Alpine' }), '/vms/a', 'poweredOff');
    expect(() => vms.insert(validConfig({ uuid: UUID_B, name: 'ALPINE' }), '/vms/b', 'poweredOff')).toThrow(/UNIQUE/);
  });

  it('refuses a database written by a newer Nestbox, with a clear error', () => {
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => openDatabase(file)).toThrow(
      `the database was written by a newer Nestbox (schema ${SCHEMA_VERSION + 1}, this version knows ${SCHEMA_VERSION}); refusing to touch it`,
    );
    // ...and leaves it as it was.
    const check = track(new Database(file, { readonly: true }));
    expect(schemaVersion(check)).toBe(SCHEMA_VERSION + 1);
    expect(tables(check)).toEqual([]);
  });

  it.skipIf(process.platform !== 'linux')('closes the file when it refuses a newer database', () => {
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    const fdsOnFile = (): number =>
      fs.readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
        } catch {
          return false;
        }
      }).length;
    const before = fdsOnFile();
    expect(() => openDatabase(file)).toThrow(/newer Nestbox/);
    expect(fdsOnFile()).toBe(before);
  });

  it('runs each migration atomically with its version bump', () => {
    const broken: Migration[] = [
      MIGRATIONS[0]!,
      { version: 2, description: 'half works', sql: 'CREATE TABLE half (a TEXT); INSERT INTO no_such_table VALUES (1);' },
    ];
    expect(() => openDatabase(file, broken)).toThrow(/no_such_table/);
    const db = track(new Database(file));
    expect(schemaVersion(db)).toBe(1);
    expect(tables(db)).not.toContain('half');
    expect(tables(db)).toContain('vms');
    // The real migration 2 then applies cleanly on top.
    migrate(db);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
  });
});

describe('media registry (migration 4)', () => {
  it('fills the registry from the disks and ISOs of existing VMs when migrating', () => {
    const cfg = validConfig({
      disks: [
        { id: 'disk0', file: 'disk0.qcow2', format: 'qcow2', bus: 'virtio', readOnly: false, owned: true },
        { id: 'disk1', file: '/srv/images/data.vdi', format: 'vdi', bus: 'sata', readOnly: false, owned: false },
      ],
    });
    const db1 = track(openDatabase(file, MIGRATIONS.slice(0, 3)));
    db1
      .prepare('INSERT INTO vms (uuid, name, config, state, dir, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(cfg.uuid, cfg.name, JSON.stringify(cfg), 'poweredOff', '/data/machines/Debian 12', 't', 't');
    db1.close();
    const db2 = track(openDatabase(file));
    const rows = new MediaRepository(db2).list().map((m) => [m.path, m.kind, m.format, m.owned]);
    expect(rows).toEqual([
      ['/data/machines/Debian 12/disk0.qcow2', 'disk', 'qcow2', true],
      ['/srv/images/data.vdi', 'disk', 'vdi', false],
      ['/srv/isos/debian-12.iso', 'iso', 'iso', false],
    ]);
  });

  it('upserts entries and never turns ownership off', () => {
    const db = track(openDatabase(file));
    const repo = new MediaRepository(db);
    repo.upsert({ path: '/x/a.qcow2', kind: 'disk', format: 'qcow2', virtualSize: 10, actualSize: 5, owned: true, problem: null });
    repo.upsert({ path: '/x/a.qcow2', kind: 'disk', format: 'qcow2', virtualSize: 20, actualSize: 6, owned: false, problem: null });
    expect(repo.get('/x/a.qcow2')).toMatchObject({ virtualSize: 20, actualSize: 6, owned: true });
    repo.delete('/x/a.qcow2');
    expect(repo.get('/x/a.qcow2')).toBeUndefined();
  });
});

describe('VmRepository', () => {
  let db: Db;
  let vms: VmRepository;

  beforeEach(() => {
    db = track(openDatabase(file));
    vms = new VmRepository(db);
  });

  it('inserts and gets a VM with its parsed config', () => {
    const cfg = validConfig();
    vms.insert(cfg, '/vms/Debian 12', 'poweredOff');
    const row = vms.get(UUID_A);
    expect(row?.config).toEqual(cfg);
    expect(row?.name).toBe('Debian 12');
    expect(row?.dir).toBe('/vms/Debian 12');
    expect(row?.state).toBe('poweredOff');
    expect(row?.stateReason).toBeNull();
    expect(row?.createdAt).toBe(row?.updatedAt);
    expect(Number.isNaN(Date.parse(row?.createdAt ?? ''))).toBe(false);
  });

  it('returns undefined for an unknown uuid or name', () => {
    expect(vms.get(UUID_B)).toBeUndefined();
    expect(vms.findByName('nope')).toBeUndefined();
    expect(vms.getRuntime(UUID_B)).toBeUndefined();
  });

  it('finds a VM by name regardless of case', () => {
    vms.insert(validConfig({ name: 'Debian 12' }), '/vms/a', 'poweredOff');
    expect(vms.findByName('Debian 12')?.uuid).toBe(UUID_A);
    expect(vms.findByName('DEBIAN 12')?.uuid).toBe(UUID_A);
    expect(vms.findByName('debian 12')?.uuid).toBe(UUID_A);
    expect(vms.findByName('debian')).toBeUndefined();
  });

  it('refuses a second VM whose name differs only in case', () => {
    vms.insert(validConfig({ name: 'Debian 12' }), '/vms/a', 'poweredOff');
    expect(() => vms.insert(validConfig({ uuid: UUID_B, name: 'debian 12' }), '/vms/b', 'poweredOff')).toThrow(/UNIQUE constraint failed: vms.name/);
    expect(vms.list()).toHaveLength(1);
  });

  it('refuses a second VM with the same uuid', () => {
    vms.insert(validConfig({ name: 'One' }), '/vms/a', 'poweredOff');
    expect(() => vms.insert(validConfig({ name: 'Two' }), '/vms/b', 'poweredOff')).toThrow(/UNIQUE constraint failed: vms.uuid/);
  });

  it('lists VMs ordered by name, ignoring case', () => {
    vms.insert(validConfig({ name: 'beta' }), '/vms/b', 'poweredOff');
    vms.insert(validConfig({ uuid: UUID_B, name: 'Alpha' }), '/vms/a', 'running');
    expect(vms.list().map((r) => r.name)).toEqual(['Alpha', 'beta']);
  });

  it('updates the config and the name column together', async () => {
    vms.insert(validConfig(), '/vms/a', 'poweredOff');
    const before = vms.get(UUID_A)!;
    await new Promise((r) => setTimeout(r, 5));
    const next = validConfig({ name: 'Renamed', memoryMiB: 4096 });
    vms.updateConfig(next);
    const row = vms.get(UUID_A)!;
    expect(row.config).toEqual(next);
    expect(row.name).toBe('Renamed');
    expect(vms.findByName('renamed')?.uuid).toBe(UUID_A);
    expect(vms.findByName('Debian 12')).toBeUndefined();
    expect(row.createdAt).toBe(before.createdAt);
    expect(row.updatedAt > before.updatedAt).toBe(true);
  });

  it('refuses a rename onto another VM name (any case)', () => {
    vms.insert(validConfig({ name: 'One' }), '/vms/a', 'poweredOff');
    vms.insert(validConfig({ uuid: UUID_B, name: 'Two' }), '/vms/b', 'poweredOff');
    expect(() => vms.updateConfig(validConfig({ uuid: UUID_B, name: 'ONE' }))).toThrow(/UNIQUE/);
    expect(vms.get(UUID_B)?.name).toBe('Two');
  });

  it('sets the state and its reason', () => {
    vms.insert(validConfig(), '/vms/a', 'poweredOff');
    vms.setState(UUID_A, 'aborted', 'QEMU exited with signal 9');
    expect(vms.get(UUID_A)?.state).toBe('aborted');
    expect(vms.get(UUID_A)?.stateReason).toBe('QEMU exited with signal 9');
    vms.setState(UUID_A, 'poweredOff', null);
    expect(vms.get(UUID_A)?.stateReason).toBeNull();
  });

  it('reads an unknown stored state as aborted rather than trusting it', () => {
    vms.insert(validConfig(), '/vms/a', 'poweredOff');
    db.prepare('UPDATE vms SET state = ? WHERE uuid = ?').run('hibernating', UUID_A);
    expect(vms.get(UUID_A)?.state).toBe('aborted');
  });

  it('validates the stored config when reading it', () => {
    vms.insert(validConfig(), '/vms/a', 'poweredOff');
    db.prepare('UPDATE vms SET config = ? WHERE uuid = ?').run(JSON.stringify({ ...validConfig(), sneaky: true }), UUID_A);
    expect(() => vms.get(UUID_A)).toThrow("unknown key 'sneaky'");
  });

  it('deletes a VM', () => {
    vms.insert(validConfig(), '/vms/a', 'poweredOff');
    vms.delete(UUID_A);
    expect(vms.get(UUID_A)).toBeUndefined();
    expect(vms.list()).toEqual([]);
    // A new VM may then take the name.
    vms.insert(validConfig({ uuid: UUID_B }), '/vms/b', 'poweredOff');
    expect(vms.findByName('Debian 12')?.uuid).toBe(UUID_B);
  });

  it('stores, replaces and clears runtime records', () => {
    vms.insert(validConfig(), '/vms/a', 'running');
    const rt = { vmUuid: UUID_A, pid: 1234, runDir: '/run/nestbox/x', accel: 'kvm', startedAt: '2024-05-06T07:08:09.000Z', logOffset: 77 };
    vms.setRuntime(rt);
    expect(vms.getRuntime(UUID_A)).toEqual(rt);
    vms.setRuntime({ ...rt, pid: 5678, logOffset: 0 });
    expect(vms.getRuntime(UUID_A)?.pid).toBe(5678);
    vms.clearRuntime(UUID_A);
    expect(vms.getRuntime(UUID_A)).toBeUndefined();
  });

  it('deletes runtime records together with their VM', () => {
    vms.insert(validConfig(), '/vms/a', 'running');
    vms.setRuntime({ vmUuid: UUID_A, pid: 1, runDir: '/r', accel: 'tcg', startedAt: 't', logOffset: 0 });
    vms.delete(UUID_A);
    expect(db.prepare('SELECT COUNT(*) AS n FROM vm_runtime').get()).toEqual({ n: 0 });
  });

  it('refuses a runtime record for a VM that does not exist', () => {
    expect(() => vms.setRuntime({ vmUuid: UUID_B, pid: 1, runDir: '/r', accel: 'tcg', startedAt: 't', logOffset: 0 })).toThrow(/FOREIGN KEY/);
  });

  it('keeps data across a reopen', () => {
    vms.insert(validConfig(), '/vms/a', 'saved');
    db.close();
    const db2 = track(openDatabase(file));
    expect(new VmRepository(db2).get(UUID_A)?.state).toBe('saved');
  });
});

describe('EventRepository', () => {
  it('appends events and returns the most recent ones oldest first', () => {
    const db = track(openDatabase(file));
    const vms = new VmRepository(db);
    vms.insert(validConfig(), '/vms/a', 'poweredOff');
    const events = new EventRepository(db);
    const first = events.append(UUID_A, 'info', 'created', 'one');
    events.append(null, 'warning', 'host', 'two');
    events.append(UUID_A, 'error', 'crashed', 'three');
    expect(first).toMatchObject({ id: 1, vmUuid: UUID_A, level: 'info', kind: 'created', message: 'one' });
    expect(events.recent(undefined, 10).map((e) => e.message)).toEqual(['one', 'two', 'three']);
    expect(events.recent(undefined, 2).map((e) => e.message)).toEqual(['two', 'three']);
    expect(events.recent(UUID_A, 10).map((e) => [e.message, e.level])).toEqual([
      ['one', 'info'],
      ['three', 'error'],
    ]);
    expect(events.recent(UUID_B, 10)).toEqual([]);
  });
});

describe('SettingsRepository', () => {
  it('gets, sets and overwrites a value', () => {
    const settings = new SettingsRepository(track(openDatabase(file)));
    expect(settings.get('accel')).toBeUndefined();
    settings.set('accel', 'kvm');
    settings.set('accel', 'tcg');
    expect(settings.get('accel')).toBe('tcg');
  });
});

describe('StatsRepository (per-minute history)', () => {
  const minute = (t: number, over: Partial<MinuteAggregate> = {}): MinuteAggregate => ({
    minute: t, samples: 10, cpuAvg: 10, cpuMax: 20, rssAvg: 1000, rssMax: 2000, balloonLast: null, guestUsedAvg: null,
    diskRdBytes: 1, diskWrBytes: 2, diskRdOps: 3, diskWrOps: 4, netRxBytes: null, netTxBytes: null, netRxPackets: null, netTxPackets: null, ...over,
  });

  it('stores minutes, merges a second write of the same minute, and prunes after a week', () => {
    const db = track(openDatabase(file));
    new VmRepository(db).insert(validConfig(), '/vms/a', 'running');
    const repo = new StatsRepository(db);
    const now = Date.UTC(2026, 0, 10);
    repo.insert(UUID_A, minute(now - 8 * 86_400_000));
    repo.insert(UUID_A, minute(now - 60_000, { netRxBytes: 5 }));
    repo.insert(UUID_A, minute(now - 60_000, { samples: 30, cpuAvg: 30, cpuMax: 90, netRxBytes: null }));
    const rows = repo.since(UUID_A, now - 3600_000);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ samples: 40, cpuAvg: 25, cpuMax: 90, diskWrBytes: 4, netRxBytes: 5 });
    expect(repo.prune(now)).toBe(1);
    expect(repo.since(UUID_A, 0)).toHaveLength(1);
    // Deleting the VM deletes its history.
    new VmRepository(db).delete(UUID_A);
    expect(repo.since(UUID_A, 0)).toHaveLength(0);
  });
});

describe('SnapshotRepository: whether a live snapshot froze the guest (migration 10)', () => {
  it('reads rows from before migration 10 as "not recorded" and keeps what new rows say', () => {
    const cfg = validConfig();
    const before = MIGRATIONS.filter((m) => m.version < 10);
    const db1 = track(openDatabase(file, before));
    expect(columns(db1, 'snapshots')).not.toContain('frozen');
    db1
      .prepare('INSERT INTO vms (uuid, name, config, state, dir, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(cfg.uuid, cfg.name, JSON.stringify(cfg), 'running', '/vms/x', 't', 't');
    db1
      .prepare('INSERT INTO snapshots (id, vm_uuid, parent_id, name, description, created_at, with_ram, tag, config, ram_file) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run('old', cfg.uuid, null, 'old one', '', '2026-01-01T00:00:00.000Z', 1, 'nb-old', JSON.stringify(cfg), 1);
    db1.close();

    const db2 = track(openDatabase(file));
    expect(columns(db2, 'snapshots')).toEqual(expect.arrayContaining(['frozen', 'freeze_note']));
    const repo = new SnapshotRepository(db2);
    expect(repo.get('old')).toMatchObject({ withRam: true, ramFile: true, frozen: null, freezeNote: null });
    const base = { vmUuid: cfg.uuid, parentId: 'old', description: '', withRam: true, config: cfg, ramFile: true };
    repo.insert({ ...base, id: 'f', name: 'frozen', createdAt: '2026-01-02T00:00:00.000Z', tag: 'nb-f', frozen: true, freezeNote: null }, null);
    repo.insert({ ...base, id: 'n', name: 'not', createdAt: '2026-01-03T00:00:00.000Z', tag: 'nb-n', frozen: false, freezeNote: 'the guest agent did not answer within 2 s' }, null);
    repo.insert({ ...base, id: 'o', name: 'off', createdAt: '2026-01-04T00:00:00.000Z', tag: 'nb-o', withRam: false, ramFile: false }, null);
    expect(repo.list(cfg.uuid).map((s) => [s.name, s.frozen, s.freezeNote])).toEqual([
      ['old one', null, null],
      ['frozen', true, null],
      ['not', false, 'the guest agent did not answer within 2 s'],
      ['off', null, null],
    ]);
  });
});
