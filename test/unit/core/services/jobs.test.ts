import { describe, expect, it } from 'vitest';
import type { JobInfo } from '../../../../src/core/api/contract';
import { NestboxError } from '../../../../src/core/api/errors';
import { EventBus } from '../../../../src/core/services/events';
import { JobService } from '../../../../src/core/services/jobs';
import { nameFromFile } from '../../../../src/core/services/media';

function setup() {
  const bus = new EventBus();
  const seen: JobInfo[] = [];
  bus.on((name, data) => {
    if (name === 'job.progress') seen.push(data as JobInfo);
  });
  return { jobs: new JobService(bus), seen };
}

describe('JobService', () => {
  it('answers at once, reports whole-percent progress to the bus and ends with the result', async () => {
    const { jobs, seen } = setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const job = jobs.start('convert', 'Converting a', '/x/a', async (ctx) => {
      ctx.progress(0.4);
      ctx.progress(1.2);
      ctx.progress(1.9);
      ctx.progress(50);
      await gate;
      return { ok: true };
    });
    expect(job).toMatchObject({ kind: 'convert', state: 'running', percent: 0, target: '/x/a' });
    expect(jobs.list().map((j) => j.id)).toEqual([job.id]);
    release();
    const end = await jobs.wait(job.id);
    expect(end).toMatchObject({ state: 'done', percent: 100, result: { ok: true } });
    expect(end.finishedAt).toBeDefined();
    expect(seen.map((j) => [j.state, j.percent])).toEqual([
      ['running', 0],
      ['running', 1],
      ['running', 50],
      ['done', 100],
    ]);
  });

  it('keeps a failure as the job\'s error, with its code', async () => {
    const { jobs } = setup();
    const job = jobs.start('check', 'Checking', undefined, async () => {
      throw new NestboxError('NO_SPACE', 'disk full');
    });
    expect(await jobs.wait(job.id)).toMatchObject({ state: 'failed', error: { code: 'NO_SPACE', message: 'disk full' } });
  });

  it('cancels through the signal and ends as cancelled whatever the function throws', async () => {
    const { jobs } = setup();
    const job = jobs.start('convert', 'Converting b', undefined, (ctx) =>
      new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('killed by SIGTERM')))),
    );
    await Promise.resolve();
    const end = await jobs.cancel(job.id);
    expect(end).toMatchObject({ state: 'cancelled', error: { code: 'CANCELLED' } });
    // Cancelling a finished job changes nothing.
    expect(await jobs.cancel(job.id)).toEqual(end);
    expect(jobs.running()).toBe(0);
  });

  it('says NOT_FOUND for an unknown job', () => {
    const { jobs } = setup();
    expect(() => jobs.wait('nope')).toThrow(NestboxError);
  });

  it('keeps only the most recent finished jobs', async () => {
    const { jobs } = setup();
    for (let i = 0; i < 60; i++) await jobs.wait(jobs.start('check', `c${i}`, undefined, async () => i).id);
    const list = jobs.list();
    expect(list.length).toBe(50);
    expect(list.at(-1)!.title).toBe('c59');
  });
});

describe('nameFromFile', () => {
  it.each([
    ['/srv/Debian 12.vdi', 'Debian 12'],
    ['/x/ubuntu-22.04.vmdk', 'ubuntu-22.04'],
    ['/x/appliance.OVA', 'appliance'],
    ['/x/...hidden.qcow2', 'hidden'],
    ['/x/wïn$dows?.vhdx', 'w-n-dows-'],
    ['/x/.vdi', 'Imported VM'],
  ])('%s → %s', (file, name) => {
    expect(nameFromFile(file)).toBe(name);
  });
});

describe('VM jobs', () => {
  const web = { uuid: 'vm-web', name: 'web' };

  it('holds the VM: a second long operation is BUSY naming the running job, until the first ends', async () => {
    const { jobs, seen } = setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const snap = jobs.run(web, { kind: 'snapshot', title: "Taking snapshot 'before-upgrade' of 'web'", label: "live snapshot 'before-upgrade'" }, async (job) => {
      job.progress(40, { done: 4096, total: 8192 });
      await gate;
      return 'taken';
    });
    const [listed] = jobs.list();
    expect(listed).toMatchObject({ kind: 'snapshot', state: 'running', vm: 'vm-web', target: 'web' });
    expect(listed!.cancellable).toBeUndefined();
    expect(jobs.current('vm-web')?.id).toBe(listed!.id);
    const busy = (() => {
      try {
        jobs.begin(web, { kind: 'saveState', title: 'x', label: 'save state' });
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(busy).toMatchObject({ code: 'BUSY', message: `vm 'web' is busy: live snapshot 'before-upgrade' (job ${listed!.id}) is running` });
    // Another VM is not held.
    jobs.begin({ uuid: 'vm-db', name: 'db' }, { kind: 'clone', title: 'y', label: 'a clone' }).end();
    release();
    expect(await snap).toBe('taken');
    expect(jobs.list().find((j) => j.id === listed!.id)).toMatchObject({ state: 'done', percent: 100, bytesDone: 4096, bytesTotal: 8192 });
    expect(seen.filter((j) => j.id === listed!.id).map((j) => j.percent)).toEqual([0, 40, 100]);
    jobs.begin(web, { kind: 'saveState', title: 'x', label: 'save state' }).end();
  });

  it('runs an operation started inside the VM’s own job as part of it (a restore restarts the VM)', async () => {
    const { jobs } = setup();
    const inner = await jobs.run(web, { kind: 'restoreSnapshot', title: 'Restoring', label: 'a restore', cancellable: false }, async () =>
      jobs.run(web, { kind: 'loadState', title: 'Loading', label: 'loading', cancellable: false }, async () => {
        jobs.assertIdle(web);
        return jobs.list().length;
      }),
    );
    expect(inner).toBe(1);
    expect(jobs.list()).toEqual([expect.objectContaining({ kind: 'restoreSnapshot', state: 'done' })]);
  });

  it('cancels a VM’s job through vms.cancel or jobs.cancel, and refuses to cancel work that cannot stop midway', async () => {
    const { jobs } = setup();
    const a = jobs.run(web, { kind: 'clone', title: 'Cloning', label: 'a clone' }, (job) =>
      new Promise((_, reject) => job.signal.addEventListener('abort', () => reject(new NestboxError('CANCELLED', 'stopped')))),
    );
    a.catch(() => undefined);
    expect(jobs.cancelVm(web)).toMatchObject({ cancelled: true });
    await expect(a).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(jobs.list()[0]).toMatchObject({ state: 'cancelled', error: { code: 'CANCELLED' } });
    expect(jobs.cancelVm(web)).toEqual({ cancelled: false });

    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = jobs.run(web, { kind: 'restoreSnapshot', title: 'Restoring', label: 'the restore', cancellable: false }, () => gate);
    const listed = jobs.list().find((j) => j.state === 'running')!;
    expect(listed.cancellable).toBe(false);
    expect(jobs.cancelVm(web)).toMatchObject({ cancelled: false });
    await expect(jobs.cancel(listed.id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    release();
    await b;
    expect((await jobs.wait(listed.id)).state).toBe('done');

    const c = jobs.run(web, { kind: 'saveState', title: 'Saving', label: 'save state' }, (job) =>
      new Promise((_, reject) => job.signal.addEventListener('abort', () => reject(new Error('migration cancelled')))),
    );
    c.catch(() => undefined);
    const id = jobs.current('vm-web')!.id;
    expect((await jobs.cancel(id)).state).toBe('cancelled');
  });

  it('keeps the files a job works on from other jobs and from a VM boot', async () => {
    const { jobs } = setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const job = jobs.start('convert', 'Converting a.vdi to qcow2', '/x/a.qcow2', () => gate, { holds: ['/x/a.vdi', '/x/a.qcow2'] });
    expect(() => jobs.start('check', 'Checking', '/x/a.vdi', async () => undefined, { holds: ['/x/a.vdi'] })).toThrow(expect.objectContaining({ code: 'BUSY' }));
    expect(() => jobs.assertIdle(web, ['/x/a.qcow2'])).toThrow(`'/x/a.qcow2' is being worked on by converting a.vdi to qcow2 (job ${job.id}); wait for it or cancel it`);
    release();
    await jobs.wait(job.id);
    jobs.assertIdle(web, ['/x/a.qcow2']);
  });
});
