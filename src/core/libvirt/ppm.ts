/**
 * libvirt hands out QEMU screenshots as PPM (netpbm); browsers and files want PNG. A pure
 * converter with Node's zlib: a hostile header (huge sizes, short data) is refused.
 */
import { crc32, deflateSync } from 'node:zlib';
import { NestboxError } from '../api/errors';

const MAX_PIXELS = 64 * 1024 * 1024;

const fail = (msg: string): never => {
  throw new NestboxError('PROTOCOL_ERROR', `the screenshot is not a usable PPM image: ${msg}`);
};

interface Pnm {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly maxval: number;
  readonly offset: number;
}

/** Reads a binary PGM (P5) or PPM (P6) header, comments allowed. */
export function readPnmHeader(buf: Buffer): Pnm {
  const magic = buf.subarray(0, 2).toString('latin1');
  if (magic !== 'P6' && magic !== 'P5') fail(`unknown magic '${magic.replace(/[^\x20-\x7e]/g, '?')}' (P6 or P5 expected)`);
  let i = 2;
  const fields: number[] = [];
  while (fields.length < 3) {
    if (i >= buf.length || i > 4096) fail('the header is truncated');
    const c = buf[i]!;
    if (c === 0x23) {
      while (i < buf.length && buf[i] !== 0x0a) i++;
      continue;
    }
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
      i++;
      continue;
    }
    const start = i;
    while (i < buf.length && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
    if (i === start || i - start > 9) fail('a header number is missing or too long');
    fields.push(Number(buf.subarray(start, i).toString('latin1')));
  }
  // Exactly one whitespace byte separates the header from the pixels.
  if (i >= buf.length || !(buf[i] === 0x20 || buf[i] === 0x0a || buf[i] === 0x0d || buf[i] === 0x09)) fail('no whitespace after the header');
  const [width, height, maxval] = fields as [number, number, number];
  if (width < 1 || height < 1 || width * height > MAX_PIXELS) fail(`${width}x${height} is not a plausible screen size`);
  if (maxval < 1 || maxval > 65535) fail(`maxval ${maxval} is out of range`);
  return { width, height, channels: magic === 'P6' ? 3 : 1, maxval, offset: i + 1 };
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** PPM/PGM (binary, any maxval) to an 8-bit RGB PNG. */
export function pnmToPng(buf: Buffer): Buffer {
  const h = readPnmHeader(buf);
  const bps = h.maxval > 255 ? 2 : 1;
  const need = h.width * h.height * h.channels * bps;
  if (buf.length - h.offset < need) fail(`the pixel data is ${buf.length - h.offset} bytes, ${need} expected`);
  const stride = h.width * 3 + 1;
  const raw = Buffer.alloc(stride * h.height);
  let p = h.offset;
  const sample = (): number => {
    const v = bps === 2 ? buf.readUInt16BE(p) : buf[p]!;
    p += bps;
    return h.maxval === 255 ? v : Math.round((Math.min(v, h.maxval) * 255) / h.maxval);
  };
  for (let y = 0; y < h.height; y++) {
    let o = y * stride;
    raw[o++] = 0; // filter: none
    for (let x = 0; x < h.width; x++) {
      if (h.channels === 3) {
        raw[o++] = sample();
        raw[o++] = sample();
        raw[o++] = sample();
      } else {
        const g = sample();
        raw[o++] = g;
        raw[o++] = g;
        raw[o++] = g;
      }
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(h.width, 0);
  ihdr.writeUInt32BE(h.height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
