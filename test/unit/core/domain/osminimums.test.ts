import { describe, expect, it } from 'vitest';
import { checkMinimums, OS_MINIMUMS } from '../../../../src/core/domain/osminimums';
import { OS_TYPES } from '../../../../src/core/domain/ostypes';

describe('OS minimums', () => {
  it('every preset meets its own OS minimums (the defaults never warn)', () => {
    for (const t of OS_TYPES) {
      expect(checkMinimums(t.id, { memoryMiB: t.preset.memoryMiB, cpus: t.preset.cpus, diskBytes: t.preset.diskGiB * 1024 ** 3 }), t.id).toEqual([]);
    }
  });

  it('names each shortfall with its source; a disk image (no new disk) is not measured; unknown types have none', () => {
    const s = checkMinimums('linux-ubuntu', { memoryMiB: 512, cpus: 1, diskBytes: 1024 ** 3 });
    expect(s.map((x) => x.field)).toEqual(['memoryMiB', 'diskGiB']);
    expect(s[0]!.message).toContain(OS_MINIMUMS['linux-ubuntu']!.source);
    expect(checkMinimums('linux-ubuntu', { memoryMiB: 4096, cpus: 1, diskBytes: null })).toEqual([]);
    expect(checkMinimums('other', { memoryMiB: 16, cpus: 1, diskBytes: 1 })).toEqual([]);
  });
});
