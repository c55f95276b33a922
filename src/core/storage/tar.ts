/**
 * Just enough tar for OVA files (POSIX ustar, as OVF 1.0/2.0 require): reading entry headers
 * one at a time from a file descriptor, so an OVA is streamed and never loaded whole, and
 * writing headers for export. Entry data is read by the caller from `dataOffset`.
 */
import fs from 'node:fs';
import { NestboxError } from '../api/errors';

export const BLOCK = 512;

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'device' | 'fifo' | 'other';

export interface TarEntry {
  readonly name: string;
  readonly type: TarEntryType;
  readonly typeflag: string;
  readonly size: number;
  /** Where the entry's data starts in the archive. */
  readonly dataOffset: number;
}

function cstr(b: Buffer, start: number, len: number): string {
  const s = b.subarray(start, start + len);
  const end = s.indexOf(0);
  return s.subarray(0, end < 0 ? s.length : end).toString('utf8');
}

/** A numeric field: octal text, or base-256 (high bit of the first byte set) for big sizes. */
export function parseNumber(b: Buffer, start: number, len: number): number {
  const f = b.subarray(start, start + len);
  if (f[0]! & 0x80) {
    let n = BigInt(f[0]! & 0x7f);
    for (let i = 1; i < f.length; i++) n = (n << 8n) | BigInt(f[i]!);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new NestboxError('IMAGE_REJECTED', 'a tar entry declares an impossible size');
    return Number(n);
  }
  const text = f.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new NestboxError('IMAGE_REJECTED', `a tar header has a malformed number '${text}'`);
  return parseInt(text, 8);
}

function checksumOk(h: Buffer): boolean {
  const stored = parseNumber(h, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return stored === sum;
}

function typeOf(flag: string): TarEntryType {
  switch (flag) {
    case '0':
    case '\0':
    case '':
    case '7':
      return 'file';
    case '5':
      return 'directory';
    case '2':
      return 'symlink';
    case '1':
      return 'hardlink';
    case '3':
    case '4':
      return 'device';
    case '6':
      return 'fifo';
    default:
      return 'other';
  }
}

/** PAX extended header records ("len key=value\n"); only path and size matter here. */
function parsePax(text: string): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let i = 0;
  while (i < text.length) {
    const sp = text.indexOf(' ', i);
    if (sp < 0) break;
    const len = Number(text.slice(i, sp));
    if (!Number.isInteger(len) || len <= 0 || i + len > text.length) throw new NestboxError('IMAGE_REJECTED', 'a tar PAX header is malformed');
    const rec = text.slice(sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    const key = rec.slice(0, eq);
    const value = rec.slice(eq + 1);
    if (key === 'path') out.path = value;
    if (key === 'size') {
      if (!/^\d+$/.test(value)) throw new NestboxError('IMAGE_REJECTED', 'a tar PAX size is malformed');
      out.size = Number(value);
    }
    i += len;
  }
  return out;
}

/**
 * Reads the entries of the tar archive open on `fd` (of `fileSize` bytes), one header at a
 * time. Every entry is checked to lie inside the file; a checksum mismatch is an error.
 */
export function* readTarEntries(fd: number, fileSize: number): Generator<TarEntry> {
  let pos = 0;
  let pax: { path?: string; size?: number } = {};
  const header = Buffer.alloc(BLOCK);
  for (;;) {
    if (pos + BLOCK > fileSize) throw new NestboxError('IMAGE_REJECTED', 'the archive ends in the middle of a tar header (truncated)');
    if (fs.readSync(fd, header, 0, BLOCK, pos) !== BLOCK) throw new NestboxError('IMAGE_REJECTED', 'the archive could not be read');
    if (header.every((x) => x === 0)) return;
    if (!checksumOk(header)) throw new NestboxError('IMAGE_REJECTED', `the tar header at byte ${pos} is damaged (bad checksum)`);
    const typeflag = String.fromCharCode(header[156]!);
    let size = parseNumber(header, 124, 12);
    const magic = header.subarray(257, 262).toString('latin1');
    let name = cstr(header, 0, 100);
    if (magic === 'ustar') {
      const prefix = cstr(header, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const dataOffset = pos + BLOCK;
    if (typeflag === 'x' || typeflag === 'g') {
      if (size > 64 * 1024) throw new NestboxError('IMAGE_REJECTED', 'a tar PAX header is too large');
      const b = Buffer.alloc(size);
      fs.readSync(fd, b, 0, size, dataOffset);
      if (typeflag === 'x') pax = parsePax(b.toString('utf8'));
      pos = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
      continue;
    }
    if (typeflag === 'L' || typeflag === 'K') throw new NestboxError('IMAGE_REJECTED', 'the archive uses GNU long names, which an OVA may not');
    if (pax.path !== undefined) name = pax.path;
    if (pax.size !== undefined) size = pax.size;
    pax = {};
    if (dataOffset + size > fileSize) throw new NestboxError('IMAGE_REJECTED', `the entry '${name}' runs past the end of the archive (truncated)`);
    yield { name, type: typeOf(typeflag), typeflag, size, dataOffset };
    pos = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
  }
}

function writeOctal(b: Buffer, value: number, start: number, len: number): void {
  b.write(value.toString(8).padStart(len - 1, '0') + '\0', start, len, 'latin1');
}

/** A ustar header for a regular file. Names must be plain ASCII and fit in 100 bytes. */
export function tarHeader(name: string, size: number, mtime: Date = new Date(), mode = 0o644): Buffer {
  if (!/^[\x20-\x7e]{1,100}$/.test(name)) throw new NestboxError('INVALID_ARGUMENT', `'${name}' cannot be a name in an OVA (ASCII, at most 100 characters)`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'latin1');
  writeOctal(h, mode, 100, 8);
  writeOctal(h, 0, 108, 8);
  writeOctal(h, 0, 116, 8);
  if (size < 8 ** 11) writeOctal(h, size, 124, 12);
  else {
    // base-256 for entries of 8 GiB and more
    let n = BigInt(size);
    for (let i = 135; i > 124; i--) {
      h[i] = Number(n & 0xffn);
      n >>= 8n;
    }
    h[124] = 0x80;
  }
  writeOctal(h, Math.floor(mtime.getTime() / 1000), 136, 12);
  h.write('0', 156, 1, 'latin1');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  h.write('root', 265, 32, 'latin1');
  h.write('root', 297, 32, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return h;
}

/** Zero bytes that pad an entry of `size` bytes to a whole block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The end-of-archive marker: two zero blocks. */
export const TAR_END = Buffer.alloc(2 * BLOCK);
