/** The Shared folders panel's tag check agrees with the core's rule. */
import { describe, expect, it } from 'vitest';
import { SHARE_TAG_RE } from '../../../../src/core/domain/config';
import { shareTagProblem } from '../../../../src/renderer/src/settings/shares';

describe('shareTagProblem', () => {
  it('accepts what the core accepts, and empty (the folder name), and refuses the rest', () => {
    for (const t of ['work', 'a', 'isos.2024', 'my_share-1', 'x'.repeat(31)]) {
      expect(SHARE_TAG_RE.test(t)).toBe(true);
      expect(shareTagProblem(t)).toBeNull();
    }
    expect(shareTagProblem('')).toBeNull();
    for (const t of ['a b', '-x', '.hidden', 'x'.repeat(32), 'a,b', 'ä']) {
      expect(SHARE_TAG_RE.test(t)).toBe(false);
      expect(shareTagProblem(t)).toMatch(/1 to 31 letters/);
    }
  });
});
