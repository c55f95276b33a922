import { describe, expect, it } from 'vitest';
import { NestboxError } from '../../../../src/core/api/errors';
import { EventBus } from '../../../../src/core/services/events';
import { JobService } from '../../../../src/core/services/jobs';
import { CancellableJobs } from '../../../../src/core/services/vmjobs';

describe('CancellableJobs', () => {
  it('lets one copy per VM run, cancels it by aborting its signal, and forgets it when it ends', () => {
    const jobs = new CancellableJobs();
    const a = jobs.begin('vm-a', 'clone');
    expect(() => jobs.begin('vm-a', 'clone')).toThrow(expect.objectContaining({ code: 'BUSY' }));
    const b = jobs.begin('vm-b', 'clone');
    expect(jobs.cancel('vm-a')).toBe(true);
    expect(a.aborted).toBe(true);
    expect(b.aborted).toBe(false);
    jobs.end('vm-a', a);
    expect(jobs.cancel('vm-a')).toBe(false);
    expect(jobs.begin('vm-a', 'clone').aborted).toBe(false);
  });

  it('does not let a finished job end the one that replaced it', () => {
    const jobs = new CancellableJobs();
    const old = jobs.begin('vm', 'x');
    jobs.end('vm', old);
    const now = jobs.begin('vm', 'x');
    jobs.end('vm', old);
    expect(jobs.cancel('vm')).toBe(true);
    expect(now.aborted).toBe(true);
  });
});

describe('CancellableJobs listed as jobs', () => {
  it('lists a VM operation while it runs, follows its vm.progress, and ends it done, failed or cancelled', async () => {
    const bus = new EventBus();
    const registry = new JobService(bus);
    const jobs = new CancellableJobs(registry, bus);
    const listing = { kind: 'snapshot' as const, title: "Taking snapshot 's' of 'a'", target: 'a' };

    const ok = jobs.begin('vm-a', 'cannot', 'saving', listing);
    const [listed] = registry.list();
    expect(listed).toMatchObject({ kind: 'snapshot', title: "Taking snapshot 's' of 'a'", state: 'running', percent: 0, vm: 'vm-a', target: 'a' });
    bus.emit('vm.progress', { uuid: 'vm-a', operation: 'takeSnapshot', percent: 42, done: false });
    bus.emit('vm.progress', { uuid: 'vm-b', operation: 'takeSnapshot', percent: 99, done: false });
    expect(registry.list()[0]!.percent).toBe(42);
    jobs.end('vm-a', ok);
    expect(registry.list()[0]).toMatchObject({ state: 'done', percent: 100 });

    const bad = jobs.begin('vm-a', 'cannot', 'saving', listing);
    jobs.fail('vm-a', bad, new NestboxError('NO_SPACE', 'disk full'));
    jobs.end('vm-a', bad);
    expect(registry.list().find((j) => j.state === 'failed')).toMatchObject({ error: { code: 'NO_SPACE', message: 'disk full' } });

    // jobs.cancel reaches the operation's signal like vms.cancel does.
    const stopped = jobs.begin('vm-a', 'cannot', 'saving', listing);
    const id = registry.list().find((j) => j.state === 'running')!.id;
    const outcome = registry.cancel(id);
    expect(stopped.aborted).toBe(true);
    jobs.fail('vm-a', stopped, new NestboxError('CANCELLED', 'cancelled'));
    jobs.end('vm-a', stopped);
    expect((await outcome).state).toBe('cancelled');
    expect(jobs.cancel('vm-a')).toBe(false);
  });
});
