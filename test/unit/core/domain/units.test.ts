import { describe, expect, it } from 'vitest';
import { formatBytes, parseSize } from '../../../../src/core/domain/units';

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

describe('parseSize', () => {
  it.each<[string, number]>([
    ['1073741824', GiB],
    ['1', 1],
    ['512', 512],
    ['4K', 4 * KiB],
    ['512M', 512 * MiB],
    ['20G', 20 * GiB],
    ['1T', TiB],
    ['1.5T', 1.5 * TiB],
    ['0.5G', 512 * MiB],
    ['20g', 20 * GiB],
    ['20GB', 20 * GiB],
    ['20GiB', 20 * GiB],
    ['20gib', 20 * GiB],
    ['512MiB', 512 * MiB],
    ['  20G  ', 20 * GiB],
    ['20 G', 20 * GiB],
    ['100B', 100],
  ])('%j is %d bytes', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  it('uses binary units, never decimal', () => {
    expect(parseSize('1G')).toBe(1_073_741_824);
    expect(parseSize('1GB')).not.toBe(1_000_000_000);
  });

  it('rounds fractional byte counts to whole bytes', () => {
    expect(parseSize('1.3K')).toBe(Math.round(1.3 * 1024));
    expect(Number.isInteger(parseSize('0.1M'))).toBe(true);
  });

  it.each(['', ' ', 'G', '20X', '20 GG', '-1G', '+1G', '1e3', '1,5G', '1.5.1G', '0x10', 'twenty', '20G extra', '1P'])(
    'rejects %j as not a size',
    (input) => {
      expect(() => parseSize(input)).toThrow(`'${input}' is not a size`);
    },
  );

  it.each(['0', '0G', '0.0M', '0.1'])('rejects %j as not usable (zero bytes)', (input) => {
    expect(() => parseSize(input)).toThrow('is not a usable size');
  });

  it('rejects sizes beyond what a number holds exactly', () => {
    expect(() => parseSize('99999999T')).toThrow('is not a usable size');
    expect(() => parseSize('9007199254740993')).toThrow('is not a usable size');
  });

  it('accepts the largest exact size', () => {
    expect(parseSize(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('formatBytes', () => {
  it.each<[number, string]>([
    [0, '0 B'],
    [1, '1 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [10 * KiB, '10 KiB'],
    [512 * MiB, '512 MiB'],
    [1.5 * GiB, '1.5 GiB'],
    [20 * GiB, '20 GiB'],
    [TiB, '1.0 TiB'],
    [2048 * TiB, '2048 TiB'],
  ])('%d → %j', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it('rounds to a whole number from 10 units up, one decimal below', () => {
    expect(formatBytes(15.7 * MiB)).toBe('16 MiB');
    expect(formatBytes(9.94 * MiB)).toBe('9.9 MiB');
  });

  it('round-trips with parseSize for whole units', () => {
    for (const s of ['16M', '20G', '512K', '3T']) {
      const bytes = parseSize(s);
      const text = formatBytes(bytes);
      expect(parseSize(text.replace(' ', ''))).toBe(bytes);
    }
  });
});
