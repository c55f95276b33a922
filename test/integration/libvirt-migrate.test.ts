/**
 * Peer-to-peer live migration between two real libvirt hosts (each its own network + mount
 * namespace): the guest's counter on its serial port (every 100 ms, into a log file both
 * hosts write to) keeps counting across the switch; cancel and a destination that dies
 * midway leave it running on the source; without shared storage libvirt's refusal comes back.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NestboxError } from '../../src/core/api/errors';
import { LibvirtConnection, buildDomainXml, type DiskSource, type MigrateOptions, type MigrateProgress } from '../../src/core/libvirt';
import { startLibvirtHosts, type LibvirtHosts, type LibvirtTestHost } from '../support/libvirt-hosts';
import { testIso, waitForFile } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

const counts = (log: string) => [...fs.readFileSync(log, 'utf8').matchAll(/CNT (\d+)\r?$/gm)].map((m) => Number(m[1]));

/** Every value from the first to the last, in order, none missing: the guest never stopped or restarted. */
function expectContinuous(log: string): number[] {
  const n = counts(log);
  expect(n.length).toBeGreaterThan(5);
  const gaps = n.flatMap((v, i) => (i > 0 && v !== n[i - 1]! + 1 ? [`${n[i - 1]}→${v}`] : []));
  expect(gaps).toEqual([]);
  expect(fs.readFileSync(log, 'utf8').match(/NESTBOX-GUEST-READY/g)).toHaveLength(1);
  return n;
}

describe('live migration between two libvirt hosts', () => {
  let lv: LibvirtHosts;
  let A: LibvirtTestHost;
  let B: LibvirtTestHost;
  let a: LibvirtConnection;
  let b: LibvirtConnection;
  beforeAll(async () => {
    lv = await startLibvirtHosts({ count: 2, sshHost: -1 });
    [A, B] = [lv.hosts[0]!, lv.hosts[1]!];
    a = new LibvirtConnection(A.socketUri);
    b = new LibvirtConnection(B.socketUri);
  });
  afterAll(async () => {
    a?.close();
    b?.close();
    await lv?.stop();
  });

  const opts = (o: Partial<MigrateOptions> = {}): MigrateOptions => ({
    live: true,
    copyStorage: false,
    persistent: true,
    undefineSource: true,
    migrateUri: `tcp://${B.migrateAddr}`,
    destClientUri: B.socketUri,
    ...o,
  });

  /** Boots a guest on A with one disk, starts its counter and waits until it counts. */
  async function counterGuest(name: string, disk: DiskSource): Promise<string> {
    const log = path.join(lv.sharedDir, `${name}-serial.log`);
    await a.define(
      buildDomainXml({
        name,
        memoryMiB: 128,
        cpus: 1,
        firmware: 'bios',
        machine: 'pc',
        domainType: 'qemu',
        disks: [{ source: disk, bus: 'virtio', format: 'qcow2' }],
        cdrom: { path: testIso() },
        bootCdrom: true,
        nics: [],
        graphics: 'none',
        serialLog: log,
      }),
    );
    await a.start(name);
    await waitForFile(log, /NESTBOX-GUEST-READY/, 120_000);
    const serial = await a.openSerial(name);
    await sleep(500);
    serial.write(Buffer.from('(i=0; while true; do echo CNT $i; i=$((i+1)); usleep 100000; done) &\r'));
    await waitForFile(log, /^CNT 5\r?$/m, 30_000);
    serial.close();
    return log;
  }

  const names = async (c: LibvirtConnection) => (await c.listDomains()).map((d) => `${d.name}:${d.state}`);

  let sharedLog = '';

  it('cancel midway: the VM keeps running on the source, nothing is left on the destination', async () => {
    const disk = path.join(lv.sharedDir, 'c1.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
    sharedLog = await counterGuest('c1', { path: disk });
    const ac = new AbortController();
    const progress: MigrateProgress[] = [];
    const p = a.migrate('c1', B.peerUri, opts({ unsafe: true, bandwidthMiBps: 1 }), (x) => {
      // Cancelled once RAM is being sent (the first reports can be the setup phase, all zero).
      if (x.dataProcessed > 0 && progress.length === 0) {
        progress.push(x);
        ac.abort();
      }
    }, ac.signal);
    const t = Date.now();
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NestboxError);
    expect((err as NestboxError).code).toBe('CANCELLED');
    expect((err as Error).message).toMatch(/keeps running on/);
    expect(Date.now() - t).toBeLessThan(90_000); // a liveness bound: the cancel ended the migration, not a performance claim
    expect(progress[0]!.dataTotal).toBeGreaterThan(100 * 1024 * 1024);
    expect(progress[0]!.dataRemaining).toBeGreaterThan(0);
    expect(await names(a)).toEqual(['c1:running']);
    expect(await names(b)).toEqual([]);
    const before = counts(sharedLog).pop()!;
    await until('the counter to go on on the source', 20_000, () => counts(sharedLog).pop()! > before + 5);
    expectContinuous(sharedLog);
  });

  it('the destination daemon dies midway: the VM keeps running on the source', async () => {
    const ac = new AbortController();
    let killed = false;
    const p = a.migrate('c1', B.peerUri, opts({ unsafe: true, bandwidthMiBps: 1 }), () => {
      if (!killed) {
        killed = true;
        void B.killDaemon();
      }
    }, ac.signal);
    const t = Date.now();
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(killed).toBe(true);
    expect(err).toBeInstanceOf(NestboxError);
    console.log(`destination killed: ${(err as NestboxError).code}: ${(err as Error).message} after ${Date.now() - t} ms`);
    expect(Date.now() - t).toBeLessThan(120_000); // a liveness bound: a dead destination must not hang the call
    expect(await names(a)).toEqual(['c1:running']);
    const before = counts(sharedLog).pop()!;
    await until('the counter to go on on the source', 20_000, () => counts(sharedLog).pop()! > before + 5);
    await B.startDaemon();
    // Whatever the dead daemon's incoming QEMU left is not running the guest.
    await until('the destination to have no running copy', 30_000, async () => !(await names(b)).includes('c1:running'));
    for (const d of await b.listDomains()) {
      if (d.state !== 'shutoff') await b.destroy(d.uuid);
      if (d.persistent) await b.undefine(d.uuid, { removeStorage: false });
    }
    expectContinuous(sharedLog);
  });

  it('shared storage: live, the counter keeps counting across the switch, downtime is libvirt’s', async () => {
    const progress: MigrateProgress[] = [];
    const r = await a.migrate('c1', B.peerUri, opts({ unsafe: true, maxDowntimeMs: 500 }), (x) => progress.push(x), new AbortController().signal);
    expect(r.elapsedMs).toBeGreaterThan(0);
    expect(r.downtimeMs).not.toBeNull();
    expect(r.downtimeMs!).toBeGreaterThanOrEqual(0);
    expect(r.dataBytes).toBeGreaterThan(0);
    console.log(`shared-storage migration: ${JSON.stringify(r)}, ${progress.length} progress reports`);
    expect(await names(a)).toEqual([]);
    expect(await names(b)).toEqual(['c1:running']);
    const at = counts(sharedLog).pop()!;
    await until('the counter to go on on the destination', 20_000, () => counts(sharedLog).pop()! > at + 10);
    expectContinuous(sharedLog);
    await b.destroy('c1');
    await b.undefine('c1', { removeStorage: false });
  });

  it('storage not shared: refused with libvirt’s reason; with copy-storage it moves, disk and all', async () => {
    const path0 = await a.createVolume('default', 'c2.qcow2', 64 * 1024 * 1024, 'qcow2');
    expect(path0).toBe(`${A.hostImagesDir}/c2.qcow2`);
    const log = await counterGuest('c2', { pool: 'default', volume: 'c2.qcow2' });
    const refused = await a.migrate('c2', B.peerUri, opts(), () => undefined, new AbortController().signal).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(NestboxError);
    expect((refused as NestboxError).code).toBe('FAILED');
    expect((refused as Error).message).toMatch(/Migration without shared storage is unsafe/);
    expect(await names(a)).toEqual(['c2:running']);
    expect(await names(b)).toEqual([]);

    // The destination needs the pool; libvirt creates the volume itself.
    expect(fs.existsSync(path.join(B.imagesDir, 'c2.qcow2'))).toBe(false);
    const r = await a.migrate('c2', B.peerUri, opts({ copyStorage: true }), () => undefined, new AbortController().signal);
    console.log(`copy-storage migration: ${JSON.stringify(r)}`);
    expect(r.downtimeMs).not.toBeNull();
    expect(await names(a)).toEqual([]);
    expect(await names(b)).toEqual(['c2:running']);
    expect(fs.existsSync(path.join(B.imagesDir, 'c2.qcow2'))).toBe(true);
    expect((await b.describe('c2')).disks.find((d) => d.device === 'disk')).toMatchObject({ pool: 'default', volume: 'c2.qcow2' });
    const at = counts(log).pop()!;
    await until('the counter to go on on the destination', 20_000, () => counts(log).pop()! > at + 10);
    expectContinuous(log);
  });

  it('refuses bad migration options before anything starts', async () => {
    const ac = new AbortController();
    await expect(a.migrate('x;y', B.peerUri, opts(), () => undefined, ac.signal)).rejects.toThrow(/';'/);
    await expect(a.migrate('c2', 'not a uri', opts(), () => undefined, ac.signal)).rejects.toThrow(/URI/);
    await expect(a.migrate('c2', B.peerUri, opts({ migrateUri: 'tcp://x;rm' }), () => undefined, ac.signal)).rejects.toThrow(/migration URI/);
    await expect(a.migrate('c2', B.peerUri, opts({ maxDowntimeMs: -1 }), () => undefined, ac.signal)).rejects.toThrow(/downtime/);
  });
});
