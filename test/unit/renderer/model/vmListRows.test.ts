import { describe, expect, it } from 'vitest';
import type { VmSummary } from '../../../../src/core/api/contract';
import { buildRows, firstInListOrder } from '../../../../src/renderer/src/model/vmListRows';

/** A small deterministic generator, so a failure names its seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function inventory(seed: number): VmSummary[] {
  const r = rng(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const n = 1 + Math.floor(r() * 40);
  return Array.from({ length: n }, (_, i) => {
    const host = r() < 0.3 ? pick(['lab', 'LAB', 'Lab2', 'lab10', 'beta']) : undefined;
    return {
      uuid: `u${i}`,
      name: pick(['web', 'Web', 'db', 'vm-2', 'vm-10', 'vm-1', 'alpha', 'Zeta', 'é']) + (r() < 0.5 ? `-${Math.floor(r() * 20)}` : ''),
      osType: 'linux-other',
      group: pick(['', '', 'prod', 'Prod', 'test', 'group 2', 'group 10']),
      state: 'poweredOff',
      memoryMiB: 128,
      cpus: 1,
      ...(host !== undefined ? { host } : {}),
    } satisfies VmSummary;
  });
}

describe('firstInListOrder', () => {
  it('is the first VM row buildRows shows, for 2,000 generated inventories (hosts, groups, natural names, ties)', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const vms = inventory(seed);
      const first = buildRows(vms, '', undefined).find((r) => r.kind === 'vm');
      expect(firstInListOrder(vms)?.uuid, `seed ${seed}`).toBe(first?.kind === 'vm' ? first.vm.uuid : undefined);
    }
  });

  it('is null for an empty inventory', () => {
    expect(firstInListOrder([])).toBeNull();
  });
});
