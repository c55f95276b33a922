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
