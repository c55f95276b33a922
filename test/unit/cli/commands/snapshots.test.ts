/** How `nestbox snapshot NAME list` and `take` word whether a live snapshot froze the guest. */
import { describe, expect, it } from 'vitest';
import { freezeText } from '../../../../src/cli/commands/snapshots';

describe('freezeText', () => {
  it('says consistent for a frozen snapshot, why not otherwise, and nothing for one taken while off', () => {
    expect(freezeText({ frozen: true })).toBe(', consistent (file systems frozen)');
    expect(freezeText({ frozen: false, freezeNote: 'the guest agent did not answer within 2 s' })).toBe(
      ', file systems not frozen (the guest agent did not answer within 2 s)',
    );
    expect(freezeText({ frozen: false })).toBe(', file systems not frozen');
    expect(freezeText({})).toBe('');
  });
});
