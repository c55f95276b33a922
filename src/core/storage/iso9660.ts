/**
 * ISO 9660 (with Joliet) — a writer for the small seed CDs of unattended installs and a
 * bounded reader for installer ISOs.
 *
 * The writer makes a flat image (files in the root only: seeds need no folders) with a
 * primary tree and a Joliet tree, the way `genisoimage -J -V cidata` does, so that Linux
 * (cloud-init, Subiquity) sees the exact lower-case names (`user-data`) and Windows Setup
 * finds `autounattend.xml`. Written here rather than by spawning xorriso: it is pure, needs no
 * host tool on macOS or Windows, and its output is deterministic for tests.
 *
 * The reader trusts nothing in an ISO someone dropped: every extent must lie inside the file,
 * directories and files read are size-capped, walks are depth-capped, and anything out of
 * bounds is refused with IMAGE_REJECTED naming what was wrong. It never follows UDF (Windows
 * ISOs keep their files there; their ISO 9660 side has only a README), which is fine for what
 * it is used for: volume ids and a few small text files.
 */
import fs from 'node:fs';
import { NestboxError } from '../api/errors';

export const SECTOR = 2048;

// ---------------------------------------------------------------- writer

export interface IsoFile {
  /** A plain file name in the root: letters, digits, `.`, `_`, `-`. */
  readonly name: string;
  readonly data: Buffer;
}

export interface IsoOptions {
  /** The volume label (cloud-init looks for `cidata`). */
  readonly volumeId: string;
  /** Timestamps in the image (default: now); fixed in tests for byte-equal output. */
  readonly date?: Date;
}

const FILE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function both16(b: Buffer, off: number, v: number): void {
  b.writeUInt16LE(v, off);
  b.writeUInt16BE(v, off + 2);
}

function both32(b: Buffer, off: number, v: number): void {
  b.writeUInt32LE(v, off);
  b.writeUInt32BE(v, off + 4);
}

function padded(s: string, len: number): Buffer {
  return Buffer.from(s.padEnd(len, ' ').slice(0, len), 'ascii');
}

/** UCS-2 big-endian, as Joliet stores names and labels. */
function ucs2be(s: string): Buffer {
  const le = Buffer.from(s, 'utf16le');
  const be = Buffer.alloc(le.length);
  for (let i = 0; i < le.length; i += 2) {
    be[i] = le[i + 1]!;
    be[i + 1] = le[i]!;
  }
  return be;
}

function ucs2Padded(s: string, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i + 1 < len; i += 2) out.writeUInt16BE(0x20, i);
  ucs2be(s).copy(out, 0, 0, len - (len % 2));
  return out;
}

function recDate(d: Date): Buffer {
  return Buffer.from([d.getUTCFullYear() - 1900, d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0]);
}

function volDate(d: Date): Buffer {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const s = `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}00`;
  return Buffer.concat([Buffer.from(s, 'ascii'), Buffer.from([0])]);
}

function dirRecord(name: Buffer, extent: number, size: number, isDir: boolean, date: Date): Buffer {
  const len = 33 + name.length + (name.length % 2 === 0 ? 1 : 0);
  const r = Buffer.alloc(len);
  r[0] = len;
  both32(r, 2, extent);
  both32(r, 10, size);
  recDate(date).copy(r, 18);
  r[25] = isDir ? 2 : 0;
  both16(r, 28, 1);
  r[32] = name.length;
  name.copy(r, 33);
  return r;
}

/** The primary tree's name for a file: ISO 9660 d-characters, a dot, version 1. */
function primaryName(name: string): string {
  const up = name.toUpperCase().replace(/[^A-Z0-9_.]/g, '_');
  const dot = up.lastIndexOf('.');
  const base = (dot < 0 ? up : up.slice(0, dot)).replace(/\./g, '_').slice(0, 26);
  const ext = dot < 0 ? '' : up.slice(dot + 1).slice(0, 3);
  return `${base}.${ext};1`;
}

function dirExtent(records: readonly Buffer[]): Buffer {
  // Records never straddle a sector boundary.
  const sectors: Buffer[] = [];
  let cur = Buffer.alloc(0);
  for (const r of records) {
    if (cur.length + r.length > SECTOR) {
      sectors.push(Buffer.concat([cur, Buffer.alloc(SECTOR - cur.length)]));
      cur = Buffer.alloc(0);
    }
    cur = Buffer.concat([cur, r]);
  }
  sectors.push(Buffer.concat([cur, Buffer.alloc(SECTOR - cur.length)]));
  return Buffer.concat(sectors);
}

/** A flat ISO 9660 + Joliet image holding `files` in its root. */
export function buildIso(files: readonly IsoFile[], opts: IsoOptions): Buffer {
  if (!/^[A-Za-z0-9_]{1,16}$/.test(opts.volumeId)) throw new Error('a volume id has 1 to 16 letters, digits or _');
  const names = new Set<string>();
  for (const f of files) {
    if (!FILE_NAME_RE.test(f.name)) throw new Error(`'${f.name}' is not a plain file name`);
    const p = primaryName(f.name);
    if (names.has(p)) throw new Error(`two files map to the same ISO 9660 name ${p}`);
    names.add(p);
  }
  if (files.length > 40) throw new Error('a seed ISO holds at most 40 files');
  const date = opts.date ?? new Date();
  // Sectors: 16 PVD, 17 Joliet SVD, 18 terminator, 19–22 path tables, 23 root, 24 Joliet root, then files.
  const rootP = 23;
  const rootJ = 24;
  let next = 25;
  const placed = files.map((f) => {
    const at = next;
    next += Math.max(1, Math.ceil(f.data.length / SECTOR));
    return { f, at };
  });
  const total = next;
  const sorted = [...placed].sort((a, b) => (primaryName(a.f.name) < primaryName(b.f.name) ? -1 : 1));
  const sortedJ = [...placed].sort((a, b) => (a.f.name < b.f.name ? -1 : 1));
  const rootP0 = dirRecord(Buffer.from([0]), rootP, SECTOR, true, date);
  const rootJ0 = dirRecord(Buffer.from([0]), rootJ, SECTOR, true, date);
  const dirP = dirExtent([rootP0, dirRecord(Buffer.from([1]), rootP, SECTOR, true, date), ...sorted.map((p) => dirRecord(Buffer.from(primaryName(p.f.name), 'ascii'), p.at, p.f.data.length, false, date))]);
  const dirJ = dirExtent([rootJ0, dirRecord(Buffer.from([1]), rootJ, SECTOR, true, date), ...sortedJ.map((p) => dirRecord(ucs2be(`${p.f.name};1`), p.at, p.f.data.length, false, date))]);
  if (dirP.length > SECTOR || dirJ.length > SECTOR) throw new Error('too many files for a one-sector root directory');

  const img = Buffer.alloc(total * SECTOR);
  const descriptor = (sector: number, type: number, joliet: boolean): void => {
    const d = img.subarray(sector * SECTOR, (sector + 1) * SECTOR);
    d[0] = type;
    d.write('CD001', 1, 'ascii');
    d[6] = 1;
    if (joliet) {
      ucs2Padded('', 32).copy(d, 8);
      ucs2Padded(opts.volumeId, 32).copy(d, 40);
      d.write('%/E', 88, 'ascii');
    } else {
      padded('', 32).copy(d, 8);
      padded(opts.volumeId, 32).copy(d, 40);
    }
    both32(d, 80, total);
    both16(d, 120, 1);
    both16(d, 124, 1);
    both16(d, 128, SECTOR);
    both32(d, 132, 10);
    d.writeUInt32LE(joliet ? 21 : 19, 140);
    d.writeUInt32BE(joliet ? 22 : 20, 148);
    (joliet ? rootJ0 : rootP0).copy(d, 156);
    for (const [off, len] of [[190, 128], [318, 128], [446, 128], [702, 37], [739, 37], [776, 37]] as const) {
      (joliet ? ucs2Padded('', len) : padded('', len)).copy(d, off);
    }
    (joliet ? ucs2Padded('NESTBOX', 128) : padded('NESTBOX', 128)).copy(d, 574);
    volDate(date).copy(d, 813);
    volDate(date).copy(d, 830);
    Buffer.from('0000000000000000\0', 'ascii').copy(d, 847);
    Buffer.from('0000000000000000\0', 'ascii').copy(d, 864);
    d[881] = 1;
  };
  descriptor(16, 1, false);
  descriptor(17, 2, true);
  const term = img.subarray(18 * SECTOR);
  term[0] = 255;
  term.write('CD001', 1, 'ascii');
  term[6] = 1;
  const pathTable = (sector: number, root: number, le: boolean): void => {
    const t = img.subarray(sector * SECTOR);
    t[0] = 1;
    if (le) t.writeUInt32LE(root, 2);
    else t.writeUInt32BE(root, 2);
    if (le) t.writeUInt16LE(1, 6);
    else t.writeUInt16BE(1, 6);
  };
  pathTable(19, rootP, true);
  pathTable(20, rootP, false);
  pathTable(21, rootJ, true);
  pathTable(22, rootJ, false);
  dirP.copy(img, rootP * SECTOR);
  dirJ.copy(img, rootJ * SECTOR);
  for (const p of placed) p.f.data.copy(img, p.at * SECTOR);
  return img;
}

// ---------------------------------------------------------------- reader

export const ISO_READ_LIMITS = {
  /** A directory larger than this is refused (real ones are a few KiB). */
  maxDirBytes: 1024 * 1024,
  maxEntries: 10_000,
  maxDepth: 8,
  /** Descriptors read before giving up on finding the terminator. */
  maxDescriptors: 32,
} as const;

export interface IsoEntry {
  readonly name: string;
  readonly isDir: boolean;
  readonly extent: number;
  readonly size: number;
}

function rejected(file: string, why: string): NestboxError {
  return new NestboxError('IMAGE_REJECTED', `'${file}' is not a usable ISO 9660 image: ${why}`);
}

/** Reads an ISO's volume descriptors and directories within fixed bounds; close() when done. */
export class IsoReader {
  readonly volumeId: string;
  readonly joliet: boolean;
  private readonly root: IsoEntry;
  private readonly fileSize: number;

  private constructor(
    private readonly file: string,
    private readonly fd: number,
  ) {
    this.fileSize = fs.fstatSync(fd).size;
    if (this.fileSize < 17 * SECTOR) throw rejected(file, 'it is too small to hold a volume descriptor');
    let primary: Buffer | null = null;
    let jol: Buffer | null = null;
    for (let i = 0; i < ISO_READ_LIMITS.maxDescriptors; i++) {
      const d = this.read((16 + i) * SECTOR, SECTOR);
      if (d.toString('ascii', 1, 6) !== 'CD001') throw rejected(file, `volume descriptor ${16 + i} has no CD001 signature`);
      if (d[0] === 255) break;
      if (d[0] === 1 && !primary) primary = d;
      if (d[0] === 2 && !jol && d[88] === 0x25 && d[89] === 0x2f && [0x40, 0x43, 0x45].includes(d[90]!)) jol = d;
      if (i === ISO_READ_LIMITS.maxDescriptors - 1) throw rejected(file, 'no volume descriptor set terminator');
    }
    if (!primary) throw rejected(file, 'no primary volume descriptor');
    this.volumeId = primary.toString('ascii', 40, 72).replace(/[\0 ]+$/, '');
    this.joliet = jol !== null;
    const rootRec = this.parseRecord((jol ?? primary).subarray(156, 190), this.joliet, true);
    if (!rootRec) throw rejected(file, 'the root directory record is damaged');
    this.root = rootRec;
  }

  static open(file: string): IsoReader {
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
    } catch (err) {
      throw new NestboxError('NOT_FOUND', `cannot open '${file}': ${(err as Error).message}`);
    }
    try {
      return new IsoReader(file, fd);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  private read(offset: number, len: number): Buffer {
    if (offset < 0 || len < 0 || offset + len > this.fileSize) throw rejected(this.file, `an extent (${offset}+${len}) lies outside the file (${this.fileSize} bytes)`);
    const b = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const n = fs.readSync(this.fd, b, got, len - got, offset + got);
      if (n === 0) throw rejected(this.file, 'the file ended early');
      got += n;
    }
    return b;
  }

  private parseRecord(r: Buffer, joliet: boolean, isRoot = false): IsoEntry | null {
    const len = r[0]!;
    if (len < 34 || len > r.length) return null;
    const extent = r.readUInt32LE(2);
    const size = r.readUInt32LE(10);
    const flags = r[25]!;
    const nameLen = r[32]!;
    if (33 + nameLen > len) return null;
    const raw = r.subarray(33, 33 + nameLen);
    let name: string;
    if (isRoot || (nameLen === 1 && raw[0]! <= 1)) name = nameLen === 1 && raw[0] === 1 ? '..' : '.';
    else if (joliet) name = stripVersion(ucs2beDecode(raw));
    else name = rockRidgeName(r.subarray(33 + nameLen + (nameLen % 2 === 0 ? 1 : 0), len)) ?? stripVersion(raw.toString('latin1')).toLowerCase();
    const entry: IsoEntry = { name, isDir: (flags & 2) !== 0, extent, size };
    if (extent * SECTOR + size > this.fileSize) throw rejected(this.file, `'${name}' points outside the image`);
    return entry;
  }

  private entries(dir: IsoEntry): IsoEntry[] {
    if (!dir.isDir) throw rejected(this.file, `'${dir.name}' is not a directory`);
    if (dir.size > ISO_READ_LIMITS.maxDirBytes) throw rejected(this.file, `directory '${dir.name}' claims ${dir.size} bytes (more than ${ISO_READ_LIMITS.maxDirBytes})`);
    const data = this.read(dir.extent * SECTOR, dir.size);
    const out: IsoEntry[] = [];
    let off = 0;
    while (off < data.length) {
      const len = data[off]!;
      if (len === 0) {
        off = (Math.floor(off / SECTOR) + 1) * SECTOR;
        continue;
      }
      const e = this.parseRecord(data.subarray(off, off + len), this.joliet);
      if (!e) throw rejected(this.file, `a damaged record in directory '${dir.name}'`);
      if (e.name !== '.' && e.name !== '..') out.push(e);
      if (out.length > ISO_READ_LIMITS.maxEntries) throw rejected(this.file, `directory '${dir.name}' has more than ${ISO_READ_LIMITS.maxEntries} entries`);
      off += len;
    }
    return out;
  }

  /** The entry at `p` (`/boot/grub/grub.cfg`, case-insensitive), or null. */
  find(p: string): IsoEntry | null {
    const parts = p.split('/').filter((x) => x !== '');
    if (parts.length > ISO_READ_LIMITS.maxDepth) return null;
    let cur = this.root;
    for (const part of parts) {
      if (!cur.isDir) return null;
      const hit = this.entries(cur).find((e) => e.name.toLowerCase() === part.toLowerCase());
      if (!hit) return null;
      cur = hit;
    }
    return cur;
  }

  list(p: string): IsoEntry[] {
    const d = this.find(p);
    return d && d.isDir ? this.entries(d) : [];
  }

  /** A small file's bytes, or null when absent; a file above `maxBytes` is refused. */
  readFile(p: string, maxBytes = 256 * 1024): Buffer | null {
    const e = this.find(p);
    if (!e || e.isDir) return null;
    if (e.size > maxBytes) throw rejected(this.file, `'${p}' is ${e.size} bytes, more than the ${maxBytes} expected`);
    return this.read(e.extent * SECTOR, e.size);
  }

  /** Copies a file out (the installer's kernel and initrd), refusing one above `maxBytes`. */
  extract(p: string, dest: string, maxBytes: number): number {
    const e = this.find(p);
    if (!e || e.isDir) throw new NestboxError('NOT_FOUND', `'${this.file}' has no file ${p}`);
    if (e.size > maxBytes) throw rejected(this.file, `'${p}' is ${e.size} bytes, more than the ${maxBytes} allowed`);
    const out = fs.openSync(dest, 'wx', 0o600);
    try {
      const chunk = 4 * 1024 * 1024;
      for (let off = 0; off < e.size; off += chunk) {
        const b = this.read(e.extent * SECTOR + off, Math.min(chunk, e.size - off));
        fs.writeSync(out, b);
      }
    } finally {
      fs.closeSync(out);
    }
    return e.size;
  }
}

function ucs2beDecode(b: Buffer): string {
  const le = Buffer.alloc(b.length - (b.length % 2));
  for (let i = 0; i + 1 < b.length; i += 2) {
    le[i] = b[i + 1]!;
    le[i + 1] = b[i]!;
  }
  return le.toString('utf16le');
}

function stripVersion(n: string): string {
  return n.replace(/;\d+$/, '').replace(/\.$/, '');
}

/** The Rock Ridge `NM` name in a record's system use area, if there is one (no continuation areas). */
function rockRidgeName(su: Buffer): string | null {
  let off = 0;
  let name = '';
  let found = false;
  while (off + 4 <= su.length) {
    const sig = su.toString('ascii', off, off + 2);
    const len = su[off + 2]!;
    if (len < 4 || off + len > su.length) break;
    if (sig === 'NM') {
      const flags = su[off + 4]!;
      if (flags & 0x06) return null; // "." or ".."
      name += su.toString('utf8', off + 5, off + len);
      found = true;
      if (!(flags & 1)) break;
    }
    off += len;
  }
  return found && name ? name : null;
}
