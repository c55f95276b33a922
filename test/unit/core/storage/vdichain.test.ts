/**
 * VirtualBox snapshot chains: differencing VDIs (written from the published format by
 * test/support/vdi.ts) over a base VDI made by the real qemu-img, checked and written over the
 * base's raw copy; the result compared byte for byte with what the chain means. Hostile chains
 * (a wrong link, a medium that is not the one the .vbox names, a map pointing past the data,
 * an absurd block size) are refused, naming the image.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkVdiChain, overlayVdiLayers, vdiUuid, vdiUuidBytes, type VdiLayer } from '../../../../src/core/storage/vdichain';
import { uuidOfVdi, writeDiffVdi } from '../../../support/vdi';

const MiB = 1024 * 1024;
const SIZE = 5 * MiB + 512 * 1024; // six blocks, the last one half used
const L1 = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const L2 = '1b2c3d4e-5f60-4b7c-9d8e-0f1a2b3c4d5e';

const fill = (byte: number, len = MiB) => Buffer.alloc(len, byte);

describe('VirtualBox differencing VDI chains', () => {
  let dir: string;
  let base: string;
  let baseUuid: string;
  let baseBytes: Buffer;
  const layer = (file: string, uuid: string | null): VdiLayer => ({ path: path.join(dir, file), label: file, uuid });

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-vdichain-'));
    baseBytes = crypto.randomBytes(SIZE);
    fs.writeFileSync(path.join(dir, 'base.raw'), baseBytes);
    base = path.join(dir, 'base.vdi');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vdi', path.join(dir, 'base.raw'), base]);
    baseUuid = uuidOfVdi(base);
    // The first snapshot: block 1 rewritten, block 3 zeroed, the half-used last block rewritten.
    writeDiffVdi(path.join(dir, 's1.vdi'), { uuid: L1, parentUuid: baseUuid, diskSize: SIZE, blocks: new Map<number, Buffer | 'zero'>([[1, fill(0xa1)], [3, 'zero'], [5, fill(0xb5)]]) });
    // The current state on top of it: block 1 again, and block 2.
    writeDiffVdi(path.join(dir, 's2.vdi'), { uuid: L2, parentUuid: L1, diskSize: SIZE, blocks: new Map<number, Buffer | 'zero'>([[1, fill(0xc1)], [2, fill(0xd2)]]) });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads UUIDs the way VirtualBox stores them', () => {
    expect(vdiUuid(vdiUuidBytes(L1))).toBe(L1);
    expect(vdiUuidBytes(L1).subarray(0, 4).toString('hex')).toBe('3d2c1b0a');
  });

  it('checks the chain against the machine file and writes it over the base, topmost layer winning', async () => {
    const chain = [layer('base.vdi', baseUuid), layer('s1.vdi', `{${L1.toUpperCase()}}`), layer('s2.vdi', L2)];
    const headers = checkVdiChain(chain);
    expect(headers.map((h) => [h.type, h.diskSize, h.uuid, h.parentUuid])).toEqual([
      [1, SIZE, baseUuid, '00000000-0000-0000-0000-000000000000'],
      [4, SIZE, L1, baseUuid],
      [4, SIZE, L2, L1],
    ]);
    const raw = path.join(dir, 'flat.raw');
    execFileSync('qemu-img', ['convert', '-f', 'vdi', '-O', 'raw', base, raw]);
    const seen: number[] = [];
    await overlayVdiLayers(raw, chain.slice(1), headers.slice(1), { onProgress: (p) => seen.push(p) });
    const want = Buffer.from(baseBytes);
    fill(0xc1).copy(want, 1 * MiB);
    fill(0xd2).copy(want, 2 * MiB);
    fill(0, MiB).copy(want, 3 * MiB);
    fill(0xb5, 512 * 1024).copy(want, 5 * MiB);
    const got = fs.readFileSync(raw);
    expect(got.length).toBe(SIZE);
    expect(got.equals(want)).toBe(true);
    expect(seen.at(-1)).toBe(100);
  });

  it('refuses a layer linked to another parent, a medium the machine file does not name, and a chain whose base is a snapshot', () => {
    writeDiffVdi(path.join(dir, 'stray.vdi'), { uuid: L2, parentUuid: '99999999-9999-4999-8999-999999999999', diskSize: SIZE, blocks: new Map() });
    expect(() => checkVdiChain([layer('base.vdi', baseUuid), layer('stray.vdi', L2)])).toThrow(/'stray.vdi' is a snapshot of the image \{99999999-.*\}, not of 'base.vdi'/);
    expect(() => checkVdiChain([layer('base.vdi', baseUuid), layer('s1.vdi', L2)])).toThrow(/'s1.vdi' is the medium \{0a1b2c3d-.*\}, not the \{1b2c3d4e-.*\} the machine file names/);
    expect(() => checkVdiChain([layer('s1.vdi', L1), layer('s2.vdi', L2)])).toThrow(/'s1.vdi' is a differencing image, but the machine file gives it no parent/);
    expect(() => checkVdiChain([layer('base.vdi', baseUuid), layer('base.vdi', baseUuid)])).toThrow(/stands on 'base.vdi' in the machine file but is not a differencing image/);
    writeDiffVdi(path.join(dir, 'bigger.vdi'), { uuid: L1, parentUuid: baseUuid, diskSize: SIZE + MiB, blocks: new Map() });
    expect(() => checkVdiChain([layer('base.vdi', baseUuid), layer('bigger.vdi', L1)])).toThrow(/has a disk of \d+ bytes on a parent of \d+ bytes/);
  });

  it('refuses a hostile header or map before reading any data: past the end, past the allocated blocks, absurd sizes, no signature', async () => {
    const hostile = (name: string, edit: (b: Buffer) => void): VdiLayer => {
      const b = fs.readFileSync(path.join(dir, 's1.vdi'));
      edit(b);
      fs.writeFileSync(path.join(dir, name), b);
      return layer(name, L1);
    };
    const ok = layer('base.vdi', baseUuid);
    const cases: [VdiLayer, RegExp][] = [
      [hostile('nosig.vdi', (b) => b.writeUInt32LE(0x12345678, 0x40)), /has no VDI signature/],
      [hostile('block.vdi', (b) => b.writeUInt32LE(3000, 0x178)), /has a VDI block size of 3000 bytes/],
      [hostile('huge.vdi', (b) => b.writeUInt32LE(0xffffffff, 0x180)), /declares 4294967295 VDI blocks/],
      [hostile('size.vdi', (b) => b.writeBigUInt64LE(1n << 60n, 0x170)), /declares a disk of \d+ bytes that its 6 blocks/],
      [hostile('map.vdi', (b) => b.writeUInt32LE(0x7fffffff, 0x154)), /block map outside the file/],
      [hostile('type.vdi', (b) => b.writeUInt32LE(3, 0x4c)), /has VDI image type 3/],
    ];
    for (const [l, why] of cases) expect(() => checkVdiChain([ok, l]), l.label).toThrow(why);
    // A map entry past the allocated blocks passes the header check and is refused when the map is read, before any block is copied.
    const evil = hostile('evil-map.vdi', (b) => b.writeUInt32LE(7, 0x200 + 5 * 4));
    const headers = checkVdiChain([ok, evil]);
    const raw = path.join(dir, 'evil.raw');
    execFileSync('qemu-img', ['convert', '-f', 'vdi', '-O', 'raw', base, raw]);
    await expect(overlayVdiLayers(raw, [evil], headers.slice(1))).rejects.toThrow(/'evil-map.vdi' maps block 5 to data block 7, past its 2 allocated blocks/);
    expect(fs.readFileSync(raw).equals(baseBytes)).toBe(true);
  });
});
