import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../../src/core/services/events';
import { JobJournal, sweepInterruptedJobs, undoOnHosts, type HostUndo } from '../../../../src/core/services/jobjournal';
import { JobService } from '../../../../src/core/services/jobs';
import { openDatabase, VmRepository, type Db } from '../../../../src/core/store/db';
import { MediaRepository } from '../../../../src/core/store/media';

let dir: string;
let db: Db;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-journal-'));
  db = openDatabase(path.join(dir, 'nestbox.db'));
});
afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the job journal', () => {
  it('holds a row while a job runs, with what it made, and drops it when the job ends', async () => {
    const journal = new JobJournal(db);
    const jobs = new JobService(new EventBus(), journal);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const job = jobs.start('convert', 'Converting a', '/x/b.qcow2', async (ctx) => {
      ctx.made({ outputs: ['/x/extra'], vmUuid: 'u-1' });
      await gate;
    }, { outputs: ['/x/b.qcow2'], vmName: 'vm' });
    // Written before the job's function runs.
    expect(journal.running().map((r) => r.id)).toEqual([job.id]);
    await Promise.resolve();
    await Promise.resolve();
    expect(journal.running()[0]).toMatchObject({ kind: 'convert', outputs: ['/x/b.qcow2', '/x/extra'], vmUuid: 'u-1', vmName: 'vm', state: 'running' });
    release();
    expect((await jobs.wait(job.id)).state).toBe('done');
    expect(journal.running()).toEqual([]);

    const failing = jobs.start('import', 'Importing', undefined, () => Promise.reject(new Error('boom')));
    expect((await jobs.wait(failing.id)).state).toBe('failed');
    expect(journal.running()).toEqual([]);
  });

  it('lists interrupted jobs, lets them be dismissed, and keeps only the newest 20', async () => {
    const journal = new JobJournal(db);
    for (let i = 0; i < 25; i++) {
      journal.begin({ id: `j${i}`, kind: 'convert', title: `job ${i}`, outputs: [], startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() });
      journal.markInterrupted(`j${i}`, `note ${i}`);
    }
    const jobs = new JobService(new EventBus(), journal);
    const listed = jobs.list();
    expect(listed).toHaveLength(20);
    expect(listed.every((j) => j.state === 'interrupted' && j.error?.code === 'INTERRUPTED')).toBe(true);
    expect((await jobs.wait('j24')).error?.message).toBe('note 24');
    expect((await jobs.cancel('j24')).state).toBe('interrupted');
    expect(jobs.list().map((j) => j.id)).not.toContain('j24');
    expect(journal.running()).toEqual([]);
  });
});

describe('what a job made on a libvirt host', () => {
  /** A host's pool and domains as the undo sees them: what is there, and what it was asked to remove. */
  function hostState(volumes: string[], domains: string[]) {
    const removed: string[] = [];
    const undo: HostUndo = {
      async undefine(uuid) {
        removed.push(`domain ${uuid}`);
        domains.splice(domains.indexOf(uuid), 1);
      },
      async deleteVolume(pool, volume) {
        if (!volumes.includes(`${pool}/${volume}`)) return;
        removed.push(`${pool}/${volume}`);
        volumes.splice(volumes.indexOf(`${pool}/${volume}`), 1);
      },
    };
    return { undo, removed, volumes, domains };
  }

  it('is journaled as it is made; a core killed midway has the next one remove it once the host is reached', async () => {
    const journal = new JobJournal(db);
    const jobs = new JobService(new EventBus(), journal);
    let made!: () => void;
    const madeAll = new Promise<void>((r) => (made = r));
    // The job never ends: the core is "killed" with it under way.
    jobs.start('move', "Moving 'vm' to lab", 'vm', async (ctx) => {
      ctx.made({ onHost: { kind: 'volume', host: 'lab', pool: 'default', volume: 'vm-disk0.qcow2' } });
      ctx.made({ onHost: { kind: 'volume', host: 'lab', pool: 'default', volume: 'vm-disk0.qcow2' } });
      ctx.made({ onHost: { kind: 'volume', host: 'lab', pool: 'default', volume: 'vm_VARS.fd' } });
      ctx.made({ onHost: { kind: 'domain', host: 'lab', uuid: '0b7f1a52-5a3c-4d1e-9a51-0c4f3e2f9d10' } });
      made();
      await new Promise(() => undefined);
    }, { outputs: ['/x/.move-disk0.qcow2'] });
    await madeAll;
    expect(journal.running()[0]).toMatchObject({
      outputs: ['/x/.move-disk0.qcow2'],
      onHosts: [
        { kind: 'volume', host: 'lab', pool: 'default', volume: 'vm-disk0.qcow2' },
        { kind: 'volume', host: 'lab', pool: 'default', volume: 'vm_VARS.fd' },
        { kind: 'domain', host: 'lab', uuid: '0b7f1a52-5a3c-4d1e-9a51-0c4f3e2f9d10' },
      ],
    });

    // The next core: the sweep runs before any host is connected, so it only says what will go.
    const next = new JobJournal(db);
    const logged: string[] = [];
    await sweepInterruptedJobs({ journal: next, vmRepo: new VmRepository(db), media: new MediaRepository(db), deleteVm: async () => undefined, log: (_u, m) => logged.push(m) });
    expect(logged[0]).toMatch(/removed once the host is reached/);
    expect(logged[0]).toMatch(/volume 'default\/vm-disk0\.qcow2'/);

    // The host unreachable on this start: nothing removed, nothing forgotten.
    await undoOnHosts({ journal: next, reach: async () => null, log: (m) => logged.push(m) });
    expect(next.interruptedOnHosts()).toHaveLength(1);
    expect(logged.at(-1)).toMatch(/on a later start/);

    // Reached: the definition first, then the volumes; the journal forgets them and the job's note says so.
    const lab = hostState(['default/vm-disk0.qcow2', 'default/vm_VARS.fd', 'default/other.qcow2'], ['0b7f1a52-5a3c-4d1e-9a51-0c4f3e2f9d10']);
    await undoOnHosts({ journal: next, reach: async (h) => (h === 'lab' ? lab.undo : null), log: (m) => logged.push(m) });
    expect(lab.removed).toEqual(['domain 0b7f1a52-5a3c-4d1e-9a51-0c4f3e2f9d10', 'default/vm-disk0.qcow2', 'default/vm_VARS.fd']);
    expect(lab.volumes).toEqual(['default/other.qcow2']);
    expect(next.interruptedOnHosts()).toEqual([]);
    expect(next.interrupted()[0]!.error?.message).toMatch(/removed from host 'lab': domain .*, volume 'default\/vm-disk0\.qcow2', volume 'default\/vm_VARS\.fd'/);
  });

  it('a definition that cannot go keeps its volumes, and stays to be tried again', async () => {
    const journal = new JobJournal(db);
    journal.begin({ id: 'm1', kind: 'move', title: 'Moving', outputs: [], startedAt: new Date().toISOString() });
    journal.note('m1', { onHost: { kind: 'domain', host: 'lab', uuid: 'u1' } });
    journal.note('m1', { onHost: { kind: 'volume', host: 'lab', pool: 'default', volume: 'v.qcow2' } });
    journal.markInterrupted('m1', 'interrupted');
    const removed: string[] = [];
    const undo: HostUndo = {
      undefine: () => Promise.reject(new Error('it is running; left as it is')),
      deleteVolume: async (p, v) => void removed.push(`${p}/${v}`),
    };
    await undoOnHosts({ journal, reach: async () => undo, log: () => undefined });
    expect(removed).toEqual([]);
    expect(journal.interruptedOnHosts()[0]!.onHosts).toHaveLength(2);
    expect(journal.interrupted()[0]!.error?.message).toMatch(/could not remove from host 'lab': domain u1: it is running; left as it is; volume 'default\/v\.qcow2': kept with the domain/);
  });

  it('once the job says what it made is complete (keepOnHosts), a kill leaves it on the host', async () => {
    const journal = new JobJournal(db);
    const jobs = new JobService(new EventBus(), journal);
    let kept!: () => void;
    const done = new Promise<void>((r) => (kept = r));
    jobs.start('move', 'Moving', 'vm', async (ctx) => {
      ctx.made({ onHost: { kind: 'volume', host: 'lab', pool: 'default', volume: 'vm-disk0.qcow2' } });
      ctx.made({ outputs: ['/x/tmp'] });
      ctx.keepOnHosts();
      kept();
      await new Promise(() => undefined);
    });
    await done;
    expect(journal.running()[0]).toMatchObject({ outputs: ['/x/tmp'], onHosts: [] });
    const next = new JobJournal(db);
    await sweepInterruptedJobs({ journal: next, vmRepo: new VmRepository(db), media: new MediaRepository(db), deleteVm: async () => undefined, log: () => undefined });
    expect(next.interruptedOnHosts()).toEqual([]);
  });
});
