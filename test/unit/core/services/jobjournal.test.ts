import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../../src/core/services/events';
import { JobJournal } from '../../../../src/core/services/jobjournal';
import { JobService } from '../../../../src/core/services/jobs';
import { openDatabase, type Db } from '../../../../src/core/store/db';

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
