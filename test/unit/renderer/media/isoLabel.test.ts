/** The ISO volume label read from a dropped file, and the OS type it suggests. */
import { describe, expect, it } from 'vitest';
import { OS_TYPES } from '../../../../src/core/domain/ostypes';
import { guessOsType } from '../../../../src/renderer/src/media/dropped';
import { readIsoLabel } from '../../../../src/renderer/src/media/isoLabel';

function iso(label: string, opts: { magic?: string; size?: number } = {}): Blob {
  const buf = new Uint8Array(opts.size ?? 18 * 2048);
  const pvd = 16 * 2048;
  if (buf.length >= pvd + 72) {
    buf[pvd] = 1;
    buf.set(new TextEncoder().encode(opts.magic ?? 'CD001'), pvd + 1);
    buf.set(new TextEncoder().encode(label.padEnd(32, ' ').slice(0, 32)), pvd + 40);
  }
  return new Blob([buf]);
}

describe('readIsoLabel', () => {
  it('reads the primary volume descriptor’s volume identifier, trimmed', async () => {
    expect(await readIsoLabel(iso('NESTBOX_GUEST'))).toBe('NESTBOX_GUEST');
    expect(await readIsoLabel(iso('Ubuntu 24.04 LTS amd64'))).toBe('Ubuntu 24.04 LTS amd64');
  });
  it('gives null for what is not ISO 9660, too short, or unlabelled', async () => {
    expect(await readIsoLabel(iso('X', { magic: 'BEA01' }))).toBeNull();
    expect(await readIsoLabel(iso('X', { size: 4096 }))).toBeNull();
    expect(await readIsoLabel(iso(''))).toBeNull();
  });
  it('labels of common install media name their OS type', () => {
    const id = (l: string) => guessOsType(l, OS_TYPES)?.id;
    expect(id('CCCOMA_X64FRE_EN-US_DV9')).toBe('windows-11');
    expect(id('SSS_X64FREE_EN-US_DV9')).toBe('windows-server-2022');
    expect(id('ARCH_202406')).toBe('linux-arch');
    expect(id('Fedora-WS-Live-40-1-14')).toBe('linux-fedora');
    expect(id('NESTBOX_GUEST')).toBeUndefined();
  });
});
