/** The hash that names each data directory's runtime folder: the same as node:crypto's SHA-256, so sockets stay where they were. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../../src/core/store/sha256';

const ref = (s: string) => createHash('sha256').update(s).digest('hex');

describe('sha256Hex', () => {
  it('gives the known digests', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('equals node:crypto at every length around the block and padding edges', () => {
    for (let n = 0; n <= 200; n++) expect(sha256Hex('a'.repeat(n)), `length ${n}`).toBe(ref('a'.repeat(n)));
  });

  it('equals node:crypto for random text, multi-byte UTF-8 included', () => {
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < 500; i++) {
      const s = Array.from({ length: Math.floor(rnd() * 300) }, () => String.fromCodePoint(rnd() < 0.7 ? 32 + Math.floor(rnd() * 95) : Math.floor(rnd() * 0xd000))).join('');
      expect(sha256Hex(s)).toBe(ref(s));
    }
    expect(sha256Hex('/home/ünïcødé/Nestbox 😀')).toBe(ref('/home/ünïcødé/Nestbox 😀'));
  });
});
