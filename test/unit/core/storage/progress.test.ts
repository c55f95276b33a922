import { describe, expect, it } from 'vitest';
import { isNoSpace, ProgressParser } from '../../../../src/core/storage/progress';

describe('ProgressParser', () => {
  it('reads qemu-img -p records as they come, keeping the newest', () => {
    const p = new ProgressParser();
    expect(p.feed('    (0.00/100%)\r')).toBe(0);
    expect(p.feed('    (1.01/100%)\r    (12.50/100%)\r')).toBe(12.5);
    expect(p.feed('    (100.00/100%)\r\n')).toBe(100);
  });

  it('joins a record split across chunks anywhere', () => {
    const text = '    (3.00/100%)\r    (47.25/100%)\r';
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new ProgressParser();
      const a = p.feed(text.slice(0, cut));
      const b = p.feed(text.slice(cut));
      expect(b ?? a).toBe(47.25);
    }
  });

  it('ignores other output and out-of-range values', () => {
    const p = new ProgressParser();
    expect(p.feed('Formatting foo, fmt=qcow2\n')).toBeNull();
    expect(p.feed('(250.00/100%)')).toBeNull();
    expect(p.feed('(5/100%)')).toBe(5);
  });

  it('does not grow without bound on a stream of parentheses', () => {
    const p = new ProgressParser();
    for (let i = 0; i < 1000; i++) p.feed('((((((((((');
    expect(p.feed('(9.00/100%)')).toBe(9);
  });
});

describe('isNoSpace', () => {
  it.each([
    ['qemu-img: error while writing at byte 1234: No space left on device', true],
    ['qemu-img: out.qcow2: error while converting qcow2: File too large', true],
    ['qemu-img: Could not open foo: Permission denied', false],
  ])('%s → %s', (text, want) => {
    expect(isNoSpace(text)).toBe(want);
  });
});
