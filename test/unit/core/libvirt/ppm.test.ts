/** PPM (what libvirt gives for a QEMU screenshot) to PNG, checked by decoding the PNG again. */
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { pnmToPng, readPnmHeader } from '../../../../src/core/libvirt/ppm';

function decodePng(png: Buffer): { w: number; h: number; rgb: Buffer } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  let p = 8;
  let w = 0;
  let h = 0;
  const idat: Buffer[] = [];
  while (p < png.length) {
    const len = png.readUInt32BE(p);
    const type = png.subarray(p + 4, p + 8).toString('latin1');
    const data = png.subarray(p + 8, p + 8 + len);
    if (type === 'IHDR') {
      w = data.readUInt32BE(0);
      h = data.readUInt32BE(4);
      expect([data[8], data[9]]).toEqual([8, 2]);
    }
    if (type === 'IDAT') idat.push(data);
    p += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const rgb = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    expect(raw[y * (w * 3 + 1)]).toBe(0);
    raw.copy(rgb, y * w * 3, y * (w * 3 + 1) + 1, (y + 1) * (w * 3 + 1));
  }
  return { w, h, rgb };
}

describe('pnmToPng', () => {
  it('keeps every pixel of a P6 (with a comment in the header)', () => {
    const px = Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 1, 2, 3, 250, 251, 252]);
    const ppm = Buffer.concat([Buffer.from('P6\n# made by QEMU\n3 2\n255\n', 'latin1'), px]);
    const { w, h, rgb } = decodePng(pnmToPng(ppm));
    expect([w, h]).toEqual([3, 2]);
    expect(rgb).toEqual(px);
  });
  it('scales 16-bit and grey images to 8-bit RGB', () => {
    const ppm16 = Buffer.concat([Buffer.from('P6 1 1 65535\n', 'latin1'), Buffer.from([0xff, 0xff, 0x80, 0x00, 0x00, 0x00])]);
    expect(decodePng(pnmToPng(ppm16)).rgb).toEqual(Buffer.from([255, 128, 0]));
    const pgm = Buffer.concat([Buffer.from('P5 2 1 255\n', 'latin1'), Buffer.from([7, 200])]);
    expect(decodePng(pnmToPng(pgm)).rgb).toEqual(Buffer.from([7, 7, 7, 200, 200, 200]));
  });
  it.each([
    ['wrong magic', Buffer.from('P3 1 1 255\n1 2 3')],
    ['huge size', Buffer.from('P6 100000 100000 255\n')],
    ['short data', Buffer.concat([Buffer.from('P6 2 2 255\n'), Buffer.alloc(5)])],
    ['zero size', Buffer.from('P6 0 1 255\n')],
    ['truncated header', Buffer.from('P6 1')],
    ['absurd maxval', Buffer.from('P6 1 1 99999999\n...')],
    ['endless comment', Buffer.from('P6\n#' + 'x'.repeat(10000))],
  ])('refuses %s', (_w, buf) => {
    expect(() => pnmToPng(buf)).toThrow(/not a usable PPM/);
  });
  it('reads the header offset exactly', () => {
    expect(readPnmHeader(Buffer.from('P6\n640 480\n255\nX'))).toEqual({ width: 640, height: 480, channels: 3, maxval: 255, offset: 15 });
  });
});
