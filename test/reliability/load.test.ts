/**
 * Load: 20 VMs created, started, snapshotted (live, with RAM), powered off and deleted, all
 * in parallel, for two rounds, through one `nestbox daemon`. Afterwards nothing may be left:
 * no QEMU process, no runtime socket or directory, no file descriptor the core did not have
 * before, no row in the inventory, no VM folder.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcClient } from '../../src/core/api/rpc';
import { connectUnix } from '../../src/core/server/socket';
import { DataLayout } from '../../src/core/store/paths';
import { CLI, cleanupHome, tempHome, testIso } from '../integration/helpers';

const VMS = 20;
const ROUNDS = 2;

function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

function qemuChildrenOf(home: string): number[] {
  // As root the VMs' runtime folders are apart from the core's (paths.ts vmRunRoot).
  const runRoot = new DataLayout(home).vmRunRoot;
  const pids: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes('qemu-system') && cmd.includes(runRoot)) pids.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return pids;
}

describe('20 VMs in parallel cycles', () => {
  let home: string;
  let daemon: ReturnType<typeof spawn>;
  let client: RpcClient;

  beforeAll(async () => {
    home = tempHome();
    daemon = spawn(process.execPath, [CLI, 'daemon'], { env: { ...process.env, NESTBOX_HOME: home }, stdio: ['ignore', 'ignore', 'inherit'] });
    const sock = new DataLayout(home).coreSocket;
    for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
    client = new RpcClient(await connectUnix(sock));
  });
  afterAll(async () => {
    client.close();
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    await cleanupHome(home);
  });

  it('create, start, snapshot, power off and delete leave no process, socket, descriptor or row behind', async () => {
    const layout = new DataLayout(home);
    // Warm up once so lazily opened things (the host probe, prepared statements) are counted.
    await client.call('vms.list', {});
    const fdsBefore = fdCount(daemon.pid!);
    const iso = testIso();
    for (let round = 0; round < ROUNDS; round++) {
      const results = await Promise.allSettled(
        Array.from({ length: VMS }, async (_, i) => {
          const name = `load-${round}-${i}`;
          await client.call('vms.create', { name, osType: 'linux-other', memoryMiB: 128, cpus: 1, diskSize: '64M', nic: i % 2 ? 'nat' : 'none', iso });
          await client.call('vms.start', { ref: name });
          const snap = await client.call('snapshots.take', { ref: name, name: `during-${round}` });
          expect(snap.withRam).toBe(true);
          await client.call('vms.powerOff', { ref: name });
          await client.call('vms.delete', { ref: name });
        }),
      );
      const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`load-${round}-${i}: ${String((r.reason as Error).message ?? r.reason)}`] : []));
      expect(failures).toEqual([]);
    }
    // Nothing left running or lying around.
    expect(await client.call('vms.list', {})).toEqual([]);
    expect(qemuChildrenOf(home)).toEqual([]);
    const runEntries = fs.readdirSync(layout.runtimeRoot).filter((e) => e !== 'core.sock');
    expect(runEntries).toEqual([]);
    if (layout.vmRunRoot !== layout.runtimeRoot && fs.existsSync(layout.vmRunRoot)) expect(fs.readdirSync(layout.vmRunRoot)).toEqual([]);
    expect(fs.readdirSync(layout.machinesDir)).toEqual([]);
    // Descriptors: QMP, serial and VNC connections closed with their VMs.
    await new Promise((r) => setTimeout(r, 500));
    expect(fdCount(daemon.pid!)).toBeLessThanOrEqual(fdsBefore);
    // Rows: read the database itself (read-only; WAL lets a reader in beside the core).
    const db = new Database(layout.database, { readonly: true, fileMustExist: true });
    try {
      for (const table of ['vms', 'snapshots', 'vm_runtime']) {
        const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
        if (exists) expect((db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n, table).toBe(0);
      }
    } finally {
      db.close();
    }
    expect(path.basename(layout.database)).toBe('nestbox.db');
  });
});
