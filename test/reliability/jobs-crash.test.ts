/**
 * The core killed (SIGKILL) in the middle of a storage job: a conversion, a disk-image
 * import and an OVA import, each stopped while qemu-img is really writing (the crash point
 * fires at the job's first progress report). The next core must leave a consistent
 * inventory: no half-made VM, no partial file, no qemu-img still writing, and the job
 * reported as interrupted (jobs.list and the event log).
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobInfo } from '../../src/core/api/contract';
import { RpcClient } from '../../src/core/api/rpc';
import { DataLayout } from '../../src/core/store/paths';
import { JobJournal } from '../../src/core/services/jobjournal';
import { openDatabase } from '../../src/core/store/db';
import { cleanupHome, tempHome } from '../integration/helpers';
import { daemon, type Daemon, stopDaemon } from '../support/daemon';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** qemu-img processes naming `p` (or a file under it) on their command line. */
function qemuImgWriters(p: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('qemu-img') && argv.some((a) => a === p || a.startsWith(`${p}/`))) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** A raw image of random data (does not compress, so qemu-img takes a while). */
function randomImage(file: string, mib: number): void {
  const fd = fs.openSync(file, 'w');
  const chunk = 1024 * 1024;
  for (let i = 0; i < mib; i++) fs.writeSync(fd, crypto.randomBytes(chunk));
  fs.closeSync(fd);
}

const homes: string[] = [];
const works: string[] = [];
const daemons: Daemon[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await stopDaemon(d).catch(() => undefined);
  for (const h of homes.splice(0)) await cleanupHome(h);
  for (const w of works.splice(0)) fs.rmSync(w, { recursive: true, force: true });
});

function setup(): { home: string; work: string; machines: string } {
  const home = tempHome();
  homes.push(home);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nbt-jobcrash-'));
  works.push(work);
  return { home, work, machines: new DataLayout(home).machinesDir };
}

/** Starts a job on a core that kills itself at its first progress report. */
async function killedDuring(home: string, point: string, start: (c: RpcClient) => Promise<JobInfo>): Promise<JobInfo> {
  const d = await daemon(home, { NESTBOX_FAULT: point });
  daemons.push(d);
  const job = await start(d.client);
  expect(job.state).toBe('running');
  expect((await d.exited).signal).toBe('SIGKILL');
  d.client.close();
  return job;
}

/** The next core: what it reports about the interrupted job. */
async function reportedInterrupted(home: string, job: JobInfo): Promise<{ client: RpcClient; listed: JobInfo; log: string }> {
  const d = await daemon(home);
  daemons.push(d);
  const jobs = await d.client.call('jobs.list', {});
  const listed = jobs.find((j) => j.id === job.id);
  expect(listed, 'the interrupted job is in jobs.list').toBeDefined();
  expect(listed!.state).toBe('interrupted');
  expect(listed!.error?.code).toBe('INTERRUPTED');
  expect(await d.client.call('jobs.wait', { id: job.id })).toMatchObject({ state: 'interrupted' });
  const events = await d.client.call('events.recent', { limit: 50 });
  const log = events.map((e) => e.message).join('\n');
  expect(log).toMatch(/was interrupted when the core stopped/);
  return { client: d.client, listed: listed!, log };
}

describe('the core is killed in the middle of a storage job', () => {
  it('a conversion: the partial target is removed, qemu-img stopped, the source untouched, the job reported', async () => {
    const { home, work } = setup();
    const src = path.join(work, 'source.img');
    randomImage(src, 384);
    const dst = path.join(work, 'converted.qcow2');
    const job = await killedDuring(home, 'job:convert:progress', (c) => c.call('media.convert', { source: src, target: dst, format: 'qcow2' }));
    // The killed core's qemu-img may still be writing, and its partial file is there.
    const leftFile = fs.existsSync(dst);

    const { client, listed } = await reportedInterrupted(home, job);
    expect(fs.existsSync(dst)).toBe(false);
    expect(qemuImgWriters(dst)).toEqual([]);
    expect(fs.statSync(src).size).toBe(384 * 1024 * 1024);
    expect((await client.call('media.list', {})).map((m) => m.path)).not.toContain(dst);
    if (leftFile) expect(listed.error!.message).toContain(`removed the unfinished file '${dst}'`);
    // Nothing is left behind in the folder besides the source.
    expect(fs.readdirSync(work)).toEqual(['source.img']);
    // The user can dismiss the report.
    await client.call('jobs.cancel', { id: job.id });
    expect((await client.call('jobs.list', {})).find((j) => j.id === job.id)).toBeUndefined();
    // And the conversion can simply be run again.
    const again = await client.call('media.convert', { source: src, target: dst, format: 'qcow2' });
    expect((await client.call('jobs.wait', { id: again.id })).state).toBe('done');
    expect(fs.existsSync(dst)).toBe(true);
  });

  it('a disk-image import: the half-made VM and its folder are removed, the job reported', async () => {
    const { home, work, machines } = setup();
    const src = path.join(work, 'disk.img');
    randomImage(src, 384);
    const job = await killedDuring(home, 'job:import:progress', (c) => c.call('vms.import', { file: src, name: 'half-imported' }));
    // The killed core had made the VM and was filling its disk.
    expect(fs.existsSync(path.join(machines, 'half-imported'))).toBe(true);

    const { client, listed } = await reportedInterrupted(home, job);
    expect((await client.call('vms.list', {})).map((v) => v.name)).toEqual([]);
    expect(fs.existsSync(path.join(machines, 'half-imported'))).toBe(false);
    expect(fs.readdirSync(new DataLayout(home).trashDir).length).toBe(0);
    expect(qemuImgWriters(machines)).toEqual([]);
    expect(listed.error!.message).toContain("removed the half-made VM 'half-imported'");
    expect(fs.statSync(src).size).toBe(384 * 1024 * 1024);
    // The name is free again: the import can be run again.
    const again = await client.call('vms.import', { file: src, name: 'half-imported' });
    expect((await client.call('jobs.wait', { id: again.id })).state).toBe('done');
    expect((await client.call('vms.list', {})).map((v) => v.name)).toEqual(['half-imported']);
  });

  it('an OVA import: the half-made VM, its extracted and converted files are removed, the job reported', async () => {
    const { home, work, machines } = setup();
    const src = path.join(work, 'disk.img');
    randomImage(src, 256);
    const ova = path.join(work, 'appliance.ova');
    {
      const d = await daemon(home);
      daemons.push(d);
      const imp = await d.client.call('vms.import', { file: src, name: 'appliance' });
      expect((await d.client.call('jobs.wait', { id: imp.id })).state).toBe('done');
      const exp = await d.client.call('vms.export', { ref: 'appliance', file: ova });
      expect((await d.client.call('jobs.wait', { id: exp.id })).state).toBe('done');
      await d.client.call('vms.delete', { ref: 'appliance', keepFiles: false });
      await stopDaemon(d);
      daemons.splice(daemons.indexOf(d), 1);
    }
    const job = await killedDuring(home, 'job:import:progress', (c) => c.call('vms.import', { file: ova, name: 'from-ova' }));
    expect(fs.existsSync(path.join(machines, 'from-ova'))).toBe(true);

    const { client, listed } = await reportedInterrupted(home, job);
    expect((await client.call('vms.list', {})).map((v) => v.name)).toEqual([]);
    expect(fs.readdirSync(machines)).toEqual([]);
    expect(qemuImgWriters(machines)).toEqual([]);
    expect(listed.error!.message).toContain("removed the half-made VM 'from-ova'");
    expect(fs.readdirSync(work).sort()).toEqual(['appliance.ova', 'disk.img']);
  });

  it('a qemu-img the killed core left writing is stopped before its output is removed', async () => {
    // Deterministic stand-in for "the core died while qemu-img ran": a journal row as the
    // core writes it, and a rate-limited qemu-img (1 MiB/s) still writing the output.
    const { home, work } = setup();
    const src = path.join(work, 'slow.img');
    randomImage(src, 64);
    const dst = path.join(work, 'slow.qcow2');
    const layout = new DataLayout(home);
    layout.prepare();
    const db = openDatabase(layout.database);
    new JobJournal(db).begin({ id: 'left-over', kind: 'convert', title: 'Converting slow.img to qcow2', target: dst, outputs: [dst], startedAt: new Date().toISOString() });
    db.close();
    const writer = spawn('qemu-img', ['convert', '-r', '1M', '-f', 'raw', '-O', 'qcow2', src, dst], { stdio: 'ignore' });
    const writerExit = new Promise<NodeJS.Signals | null>((r) => writer.once('exit', (_c, sig) => r(sig)));
    for (let i = 0; i < 100 && !fs.existsSync(dst); i++) await sleep(100);
    expect(fs.existsSync(dst)).toBe(true);
    expect(qemuImgWriters(dst)).toEqual([writer.pid]);

    const { listed } = await reportedInterrupted(home, { id: 'left-over' } as JobInfo);
    expect(await writerExit).toBe('SIGKILL');
    expect(fs.existsSync(dst)).toBe(false);
    expect(listed.error!.message).toContain(`stopped the qemu-img process (${writer.pid})`);
    expect(listed.error!.message).toContain(`removed the unfinished file '${dst}'`);
  });
});
