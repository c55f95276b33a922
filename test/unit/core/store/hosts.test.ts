import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, SCHEMA_VERSION, schemaVersion, type Db } from '../../../../src/core/store/db';
import { HostRepository } from '../../../../src/core/store/hosts';
import { MIGRATIONS } from '../../../../src/core/store/migrations';

let dir: string;
let db: Db;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-hosts-'));
});

afterEach(() => {
  if (db?.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const facts = { libvirtVersion: '9.0.0', hypervisorVersion: '7.2.0', hostname: 'h1', cpus: 4, memoryMiB: 8192, cpuModel: 'x86_64' };

describe('hosts store', () => {
  it('migrates a version-8 database forward, keeping its rows', () => {
    const file = path.join(dir, 'old.db');
    const old = openDatabase(file, MIGRATIONS.filter((m) => m.version <= 8));
    old.prepare("INSERT INTO settings (key, value) VALUES ('accel', 'tcg')").run();
    old.close();
    db = openDatabase(file);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    expect(db.prepare("SELECT value FROM settings WHERE key = 'accel'").get()).toEqual({ value: 'tcg' });
    expect(new HostRepository(db).list()).toEqual([]);
  });

  it('keeps hosts, their facts and the VMs last seen; renames carry the VMs, removal drops them', () => {
    db = openDatabase(path.join(dir, 'n.db'));
    const repo = new HostRepository(db);
    repo.insert({ name: 'lab', uri: 'qemu+ssh://me@lab/system', peerUri: 'qemu+tcp://10.0.0.2/system', migrateAddr: '10.0.0.2', createdAt: '2026-01-01T00:00:00.000Z' }, facts);
    expect(repo.get('LAB')).toMatchObject({ name: 'lab', peerUri: 'qemu+tcp://10.0.0.2/system', migrateAddr: '10.0.0.2', facts });
    repo.replaceVms('lab', [
      { uuid: 'u1', name: 'web', state: 'running', memoryKiB: 262144, vcpus: 2, osId: null },
      { uuid: 'u2', name: 'db', state: 'poweredOff', memoryKiB: 131072, vcpus: 1, osId: 'http://debian.org/debian/12' },
    ]);
    expect(repo.vms('lab').map((v) => [v.name, v.state])).toEqual([
      ['db', 'poweredOff'],
      ['web', 'running'],
    ]);
    repo.replaceVms('lab', [{ uuid: 'u1', name: 'web', state: 'paused', memoryKiB: 262144, vcpus: 2, osId: null }]);
    expect(repo.vms('lab').map((v) => [v.name, v.state])).toEqual([['web', 'paused']]);
    repo.update('lab', { name: 'lab2', uri: 'qemu+ssh://me@lab/system', peerUri: null, migrateAddr: null });
    expect(repo.get('lab')).toBeUndefined();
    expect(repo.vms('lab2').map((v) => v.name)).toEqual(['web']);
    repo.delete('lab2');
    expect(repo.list()).toEqual([]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM host_vms').get()).toEqual({ n: 0 });
  });

  it('reads damaged facts and unknown states defensively', () => {
    db = openDatabase(path.join(dir, 'd.db'));
    db.prepare("INSERT INTO hosts (name, uri, created_at, facts) VALUES ('x', 'qemu:///system', 'now', '{not json')").run();
    db.prepare("INSERT INTO host_vms (host, uuid, name, state, memory_kib, vcpus, seen_at) VALUES ('x', 'u', 'v', 'weird', 1, 1, 'now')").run();
    const repo = new HostRepository(db);
    expect(repo.get('x')?.facts).toBeNull();
    expect(repo.vms('x')[0]?.state).toBe('aborted');
  });
});
