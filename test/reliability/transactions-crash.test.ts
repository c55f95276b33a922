/**
 * Changes made of several rows are one SQLite transaction: a core killed (SIGKILL, in a real
 * `nestbox daemon`) between two of their statements leaves all of the change or none of it.
 *  - a linked clone: its base rows, its VM row and its link rows (a clone with no link row
 *    would let its base be freed under it);
 *  - a snapshot: its row and the VM's current-snapshot pointer;
 *  - restoring a snapshot: the VM's config and the current-snapshot pointer;
 *  - deleting a snapshot: its row and the pointer that named it;
 *  - deleting a VM: its base rows and its VM row.
 * The next core opens the same data directory and everything still works from there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcClient } from '../../src/core/api/rpc';
import { connectUnix } from '../../src/core/server/socket';
import type { CrashPoint } from '../../src/core/services/faults';
import { openDatabase } from '../../src/core/store/db';
import { DataLayout } from '../../src/core/store/paths';
import { CLI, cleanupHome, tempHome } from '../integration/helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Daemon {
  child: ChildProcess;
  client: RpcClient;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function daemon(home: string, fault?: CrashPoint): Promise<Daemon> {
  const env = { ...process.env, NESTBOX_HOME: home, ...(fault ? { NESTBOX_FAULT: fault } : {}) };
  const child = spawn(process.execPath, [CLI, 'daemon'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const sock = new DataLayout(home).coreSocket;
  for (let i = 0; i < 300; i++) {
    if (fs.existsSync(sock)) {
      try {
        const client = new RpcClient(await connectUnix(sock));
        await client.call('host.info', {});
        return { child, client, exited };
      } catch {
        /* a socket left by the killed core, or not listening yet */
      }
    }
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  throw new Error(`nestbox daemon did not come up: ${err}`);
}

async function stop(d: Daemon): Promise<void> {
  d.client.close();
  if (d.child.exitCode === null && d.child.signalCode === null) {
    d.child.kill('SIGTERM');
    await d.exited;
  }
}

/** Runs `call` in a core armed with `fault` and checks the core died there (SIGKILL). */
async function killedDuring(home: string, fault: CrashPoint, call: (c: RpcClient) => Promise<unknown>): Promise<void> {
  const d = await daemon(home, fault);
  await expect(call(d.client)).rejects.toThrow();
  expect((await d.exited).signal).toBe('SIGKILL');
  d.client.close();
}

/** Rows of the clone tables, read straight from the database the killed core left. */
function cloneRows(home: string): { bases: number; links: number; vms: string[] } {
  const db = openDatabase(new DataLayout(home).database);
  try {
    return {
      bases: (db.prepare('SELECT COUNT(*) AS n FROM disk_bases').get() as { n: number }).n,
      links: (db.prepare('SELECT COUNT(*) AS n FROM linked_disks').get() as { n: number }).n,
      vms: (db.prepare('SELECT name FROM vms ORDER BY name').all() as { name: string }[]).map((r) => r.name),
    };
  } finally {
    db.close();
  }
}

function snapshotRows(home: string): { ids: string[]; current: string | null } {
  const db = openDatabase(new DataLayout(home).database);
  try {
    const ids = (db.prepare('SELECT id FROM snapshots ORDER BY id').all() as { id: string }[]).map((r) => r.id);
    const current = (db.prepare("SELECT current_snapshot AS c FROM vms WHERE name = 'src'").get() as { c: string | null }).c;
    return { ids, current };
  } finally {
    db.close();
  }
}

const homes: string[] = [];
afterEach(async () => {
  for (const h of homes.splice(0)) await cleanupHome(h);
});

async function freshHome(): Promise<{ home: string; d: Daemon }> {
  const home = tempHome();
  homes.push(home);
  const d = await daemon(home);
  await d.client.call('vms.create', { name: 'src', osType: 'linux-other', memoryMiB: 128, cpus: 1, diskSize: '64M', nic: 'none' });
  return { home, d };
}

describe('a linked clone is all or nothing', () => {
  for (const point of ['clone:base-rows', 'clone:vm-row'] as const) {
    it(`killed at ${point}: no clone row, no base row, no link row; the source can be deleted and cloned again`, async () => {
      const { home, d } = await freshHome();
      const snap = await d.client.call('snapshots.take', { ref: 'src', name: 'base' });
      await stop(d);

      await killedDuring(home, point, (c) => c.call('vms.clone', { ref: 'src', name: 'kid', snapshot: snap.id, linked: true }));
      expect(cloneRows(home)).toEqual({ bases: 0, links: 0, vms: ['src'] });

      const next = await daemon(home);
      try {
        expect((await next.client.call('vms.list', {})).map((v) => v.name)).toEqual(['src']);
        // Cloning again works, and this time the rows are all there.
        await next.client.call('vms.clone', { ref: 'src', name: 'kid2', snapshot: snap.id, linked: true });
        await expect(next.client.call('vms.delete', { ref: 'src', keepFiles: false })).rejects.toMatchObject({ code: 'IN_USE' });
      } finally {
        await stop(next);
      }
      const rows = cloneRows(home);
      expect(rows.vms).toEqual(['kid2', 'src']);
      expect(rows.bases).toBe(1);
      expect(rows.links).toBe(1);
    });
  }
});

describe('snapshot rows and the current-snapshot pointer change together', () => {
  it('killed between the snapshot row and the pointer: neither is there, and a new snapshot works', async () => {
    const { home, d } = await freshHome();
    await stop(d);
    await killedDuring(home, 'snapshot:row', (c) => c.call('snapshots.take', { ref: 'src', name: 'lost' }));
    const next = await daemon(home);
    try {
      const list = await next.client.call('snapshots.list', { ref: 'src' });
      expect(list.snapshots).toEqual([]);
      expect(list.current).toBeNull();
      const s = await next.client.call('snapshots.take', { ref: 'src', name: 'kept' });
      expect((await next.client.call('snapshots.list', { ref: 'src' })).current).toBe(s.id);
    } finally {
      await stop(next);
    }
  });

  it('killed between restoring the config and the pointer: the config and the pointer both stay as they were', async () => {
    const { home, d } = await freshHome();
    const a = await d.client.call('snapshots.take', { ref: 'src', name: 'a' });
    await d.client.call('vms.modify', { ref: 'src', changes: { memoryMiB: 256 } });
    const b = await d.client.call('snapshots.take', { ref: 'src', name: 'b' });
    await stop(d);
    await killedDuring(home, 'snapshot-restore:config', (c) => c.call('snapshots.restore', { ref: 'src', id: a.id }));
    const next = await daemon(home);
    try {
      expect((await next.client.call('snapshots.list', { ref: 'src' })).current).toBe(b.id);
      expect((await next.client.call('vms.info', { ref: 'src' })).config.memoryMiB).toBe(256);
      await next.client.call('snapshots.restore', { ref: 'src', id: a.id });
      expect((await next.client.call('snapshots.list', { ref: 'src' })).current).toBe(a.id);
      expect((await next.client.call('vms.info', { ref: 'src' })).config.memoryMiB).toBe(128);
    } finally {
      await stop(next);
    }
  });

  it('killed between removing a snapshot row and moving the pointer off it: the row and the pointer stay', async () => {
    const { home, d } = await freshHome();
    const a = await d.client.call('snapshots.take', { ref: 'src', name: 'a' });
    const b = await d.client.call('snapshots.take', { ref: 'src', name: 'b' });
    await stop(d);
    await killedDuring(home, 'snapshot-delete:row', (c) => c.call('snapshots.delete', { ref: 'src', id: b.id }));
    // The transaction did not commit: the row and the pointer to it are both still there.
    expect(snapshotRows(home)).toEqual({ ids: [a.id, b.id].sort(), current: b.id });
    const next = await daemon(home);
    try {
      // Its disk snapshot was already gone, so the next core finishes the delete: the row and
      // the pointer go together, never a pointer to a row that is gone.
      const list = await next.client.call('snapshots.list', { ref: 'src' });
      expect(list.snapshots.map((s) => s.name)).toEqual(['a']);
      expect(list.current).toBe(a.id);
      await next.client.call('snapshots.take', { ref: 'src', name: 'c' });
      expect((await next.client.call('snapshots.list', { ref: 'src' })).snapshots.map((s) => s.name)).toEqual(['a', 'c']);
    } finally {
      await stop(next);
    }
  });
});

describe("a VM's base rows go with its row", () => {
  it('killed between removing its base rows and its row: the next core finishes the delete, leaving no base row', async () => {
    const { home, d } = await freshHome();
    const snap = await d.client.call('snapshots.take', { ref: 'src', name: 'base' });
    await d.client.call('vms.clone', { ref: 'src', name: 'kid', snapshot: snap.id, linked: true });
    // Its files kept, the clone's base stays (the kept overlay needs it), with no dependent.
    await d.client.call('vms.delete', { ref: 'kid', keepFiles: true });
    await stop(d);
    expect(cloneRows(home)).toEqual({ bases: 1, links: 0, vms: ['src'] });
    await killedDuring(home, 'delete:base-rows', (c) => c.call('vms.delete', { ref: 'src', keepFiles: false }));
    // The transaction did not commit: the VM and its base row are both still there.
    expect(cloneRows(home)).toEqual({ bases: 1, links: 0, vms: ['src'] });
    const next = await daemon(home);
    try {
      expect((await next.client.call('vms.list', {})).map((v) => v.name)).toEqual([]);
    } finally {
      await stop(next);
    }
    expect(cloneRows(home)).toEqual({ bases: 0, links: 0, vms: [] });
  });
});
