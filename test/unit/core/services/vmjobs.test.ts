import { describe, expect, it } from 'vitest';
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
