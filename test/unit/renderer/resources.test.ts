import { describe, expect, it } from 'vitest';
import { resourceChangesOf, resourceDraftOf, resourceProblem } from '../../../src/renderer/src/settings/resources';

describe('Settings → Resources draft', () => {
  it('sends nothing when nothing changed', () => {
    const cur = { cpuShares: 200, pinCpus: [0, 1], balloon: true };
    expect(resourceChangesOf(cur, resourceDraftOf(cur))).toBeUndefined();
    expect(resourceChangesOf(undefined, resourceDraftOf(undefined))).toBeUndefined();
  });

  it('sends what changed, and null for a cleared setting', () => {
    const cur = { cpuShares: 200, cpuLimitPct: 50, pinCpus: [1] };
    const d = { ...resourceDraftOf(cur), cpuShares: '400', cpuLimitPct: '', pinCpus: [1, 0], memMerge: 'off' as const };
    expect(resourceChangesOf(cur, d)).toEqual({ cpuShares: 400, cpuLimitPct: null, pinCpus: [0, 1], memMerge: false });
    expect(resourceChangesOf(cur, { ...resourceDraftOf(cur), pinCpus: [] })).toEqual({ pinCpus: null });
  });

  it('names the first problem', () => {
    const ok = resourceDraftOf(undefined);
    expect(resourceProblem(ok, 2, 512)).toBeNull();
    expect(resourceProblem({ ...ok, cpuLimitPct: '150' }, 2, 512)).toMatch(/1 to 100 percent/);
    expect(resourceProblem({ ...ok, memoryMaxMiB: '256' }, 2, 512)).toMatch(/at least the VM's memory \(512 MiB\)/);
    expect(resourceProblem({ ...ok, sockets: '2', cores: '2' }, 2, 512)).toMatch(/is 4, but the VM has 2 CPUs/);
  });
});
