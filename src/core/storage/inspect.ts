/**
 * Our own reading of an image's header. It decides the format; `qemu-img info -f` must then
 * agree (see identify.ts). This is deliberately small: magic numbers, the declared size, and
 * the fields that make an image dangerous (a qcow2 backing file or external data file, VMDK
 * extents in other files, differencing VHDs, features we do not know).
 */
import fs from 'node:fs';
import type { DiskFormat } from '../domain/config';
import { NestboxError } from '../api/errors';

export interface HeaderFacts {
  readonly format: DiskFormat | 'iso';
  /** Size of the file on the host. */
  readonly size: number;
  /** The size the header declares for the guest, when this format's header says it simply. */
  readonly virtualSize: number | null;
  /** Reasons to refuse the image, empty when it is safe to attach. */
  readonly problems: readonly string[];
  /** An ISO 9660 image that is also a bootable disk (an MBR boot signature: "isohybrid"). */
  readonly hybrid?: boolean;
}

/** Identity of the file that was read, to notice an image replaced or changed while read. */
export interface FileStamp {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

/** No disk Nestbox attaches may declare more than this (the same bound as a new disk). */
export const MAX_VIRTUAL_SIZE = 64 * 1024 ** 4;

const QCOW2_INCOMPAT_KNOWN = 0b11111n; // dirty, corrupt, external data, compression type, extended L2

const tooBig = (n: bigint | number): boolean => BigInt(n) > BigInt(MAX_VIRTUAL_SIZE);
const absurd = (n: bigint | number): string =>
  `it declares a virtual size of ${BigInt(n)} bytes, more than the ${MAX_VIRTUAL_SIZE / 1024 ** 4} TiB Nestbox accepts`;

function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  const n = fs.readSync(fd, b, 0, len, pos);
  return b.subarray(0, n);
}

export function stampOf(st: fs.Stats): FileStamp {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/** The current stamp of `file`, following symlinks; throws like inspectImage for non-files. */
export function stampFile(file: string): FileStamp {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new NestboxError(missing ? 'NOT_FOUND' : 'IMAGE_REJECTED', `image '${file}' cannot be read: ${(err as Error).message}`);
  }
  if (!st.isFile()) throw new NestboxError('IMAGE_REJECTED', `'${file}' is not a regular file (${kindOf(st)})`);
  return stampOf(st);
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}

function qcow2Facts(head: Buffer, size: number): HeaderFacts {
  const problems: string[] = [];
  if (head.length < 72) return { format: 'qcow2', size, virtualSize: null, problems: ['its qcow2 header is truncated'] };
  const version = head.readUInt32BE(4);
  if (version !== 2 && version !== 3) problems.push(`QCOW version ${version} is not supported (only qcow2 versions 2 and 3)`);
  const backingOffset = head.readBigUInt64BE(8);
  if (backingOffset !== 0n) problems.push('it names a backing file (another file on the host would be read)');
  const clusterBits = head.readUInt32BE(20);
  if (clusterBits < 9 || clusterBits > 21) problems.push(`its cluster size (2^${clusterBits}) is not valid`);
  const virtual = head.readBigUInt64BE(24);
  if (tooBig(virtual)) problems.push(absurd(virtual));
  if (head.readUInt32BE(32) !== 0) problems.push('it is encrypted (Nestbox cannot give QEMU its key)');
  // Bounds QEMU itself enforces; beyond them a header only serves to make the reader allocate.
  const l1 = head.readUInt32BE(36);
  if (l1 * 8 > 32 * 1024 * 1024) problems.push(`its L1 table (${l1} entries) is absurdly large`);
  const snapshots = head.readUInt32BE(60);
  if (snapshots > 65536) problems.push(`it declares ${snapshots} internal snapshots`);
  if (clusterBits >= 9 && clusterBits <= 21 && head.readUInt32BE(56) * 2 ** clusterBits > 8 * 1024 * 1024) problems.push('its refcount table is absurdly large');
  if (version >= 3) {
    if (head.length < 104) problems.push('its qcow2 header is truncated');
    else {
      const incompat = head.readBigUInt64BE(72);
      if (incompat & 0b100n) problems.push('it uses an external data file');
      if (incompat & ~QCOW2_INCOMPAT_KNOWN) problems.push('it uses qcow2 features this version does not know');
      if (incompat & 0b10n) problems.push('it is marked corrupt');
    }
  }
  return { format: 'qcow2', size, virtualSize: tooBig(virtual) ? null : Number(virtual), problems };
}

/**
 * A sparse VMDK may embed a text descriptor. For monolithicSparse and streamOptimized QEMU
 * reads the data from this file; any other createType makes it follow the extent lines,
 * which can name any file on the host. Only self-contained kinds are accepted.
 */
function vmdkSparseFacts(fd: number, head: Buffer, size: number): HeaderFacts {
  if (head.length < 77) return { format: 'vmdk', size, virtualSize: null, problems: ['its VMDK header is truncated'] };
  const capacity = head.readBigUInt64LE(12);
  const descOffset = head.readBigUInt64LE(28);
  const descSize = head.readBigUInt64LE(36);
  const problems: string[] = [];
  if (capacity === 0n) problems.push('its VMDK header declares no capacity');
  if (tooBig(capacity * 512n)) problems.push(absurd(capacity * 512n));
  const virtualSize = capacity === 0n || tooBig(capacity * 512n) ? null : Number(capacity * 512n);
  if (descOffset === 0n) return { format: 'vmdk', size, virtualSize, problems };
  if (descOffset > BigInt(size) || descSize > 1n << 20n) {
    return { format: 'vmdk', size, virtualSize, problems: [...problems, 'its embedded VMDK descriptor lies outside the file'] };
  }
  const start = Number(descOffset) * 512;
  const len = Math.min(Number(descSize) * 512, 64 * 1024);
  if (start >= size || len <= 0) return { format: 'vmdk', size, virtualSize, problems: [...problems, 'its embedded VMDK descriptor lies outside the file'] };
  const text = readAt(fd, start, len).toString('latin1').replace(/\0[\s\S]*$/, '');
  const type = /createType\s*=\s*"([^"]*)"/.exec(text)?.[1];
  if (type !== 'monolithicSparse' && type !== 'streamOptimized') {
    problems.push(`its embedded VMDK descriptor has createType '${type ?? 'none'}', whose extents are other files`);
  }
  if (/^\s*parentFileNameHint\s*=/m.test(text) || /^\s*parentCID\s*=\s*(?!ffffffff)[0-9a-f]+/im.test(text)) {
    problems.push('its VMDK descriptor names a parent image (another file on the host would be read)');
  }
  return { format: 'vmdk', size, virtualSize, problems };
}

function vdiFacts(head: Buffer, size: number): HeaderFacts {
  if (head.length < 0x190) return { format: 'vdi', size, virtualSize: null, problems: ['its VDI header is truncated'] };
  const problems: string[] = [];
  const type = head.readUInt32LE(0x4c);
  // 1 dynamic, 2 fixed; 4 (differencing) needs a parent image.
  if (type !== 1 && type !== 2) problems.push(type === 4 ? 'it is a differencing VDI (it needs a parent image)' : `its VDI image type ${type} is not supported`);
  const virtual = head.readBigUInt64LE(0x170);
  if (tooBig(virtual)) problems.push(absurd(virtual));
  return { format: 'vdi', size, virtualSize: tooBig(virtual) ? null : Number(virtual), problems };
}

/** The 512-byte VHD footer (at the end; dynamic disks also keep a copy at the start). */
function vpcFacts(footer: Buffer, size: number): HeaderFacts {
  const problems: string[] = [];
  const type = footer.readUInt32BE(60);
  if (type === 4) problems.push('it is a differencing VHD (it reads a parent image elsewhere on the host)');
  else if (type !== 2 && type !== 3) problems.push(`its VHD disk type ${type} is not supported`);
  const virtual = footer.readBigUInt64BE(48);
  if (tooBig(virtual)) problems.push(absurd(virtual));
  return { format: 'vpc', size, virtualSize: tooBig(virtual) ? null : Number(virtual), problems };
}

/** A text VMDK descriptor, even one that does not start with the usual comment. */
function looksLikeVmdkDescriptor(head: Buffer): boolean {
  const text = head.toString('latin1');
  if (text.startsWith('# Di')) return true;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0e-\x1f]/.test(text.replace(/\0+$/, ''))) return false;
  return /^\s*createType\s*=/m.test(text) && /^\s*(RW|RDONLY|NOACCESS)\s+\d+/m.test(text);
}

/**
 * Inspects a regular file; refuses anything else (FIFOs, devices, directories, symlinks to
 * those). The file is opened non-blocking and checked again through the descriptor, so a
 * file swapped for a FIFO between the check and the open cannot make the read hang.
 */
export function inspectImage(file: string): HeaderFacts & { readonly stamp: FileStamp } {
  const before = stampFile(file);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOCTTY ?? 0));
  } catch (err) {
    throw new NestboxError('IO_ERROR', `image '${file}' cannot be opened: ${(err as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new NestboxError('IMAGE_REJECTED', `'${file}' is not a regular file (${kindOf(st)})`);
    const stamp = stampOf(st);
    if (!sameStamp(before, stamp)) throw new NestboxError('IMAGE_REJECTED', `'${file}' changed while it was being read`);
    const facts = inspectFd(fd, st.size);
    const after = stampOf(fs.fstatSync(fd));
    if (!sameStamp(stamp, after)) throw new NestboxError('IMAGE_REJECTED', `'${file}' changed while it was being read`);
    return { ...facts, stamp };
  } finally {
    fs.closeSync(fd);
  }
}

function inspectFd(fd: number, size: number): HeaderFacts {
  const head = readAt(fd, 0, 512);
  const magic4 = head.subarray(0, 4).toString('latin1');
  if (head.length >= 4 && head.readUInt32BE(0) === 0x514649fb) return qcow2Facts(head, size);
  if (magic4 === 'KDMV') return vmdkSparseFacts(fd, head, size);
  if (magic4 === 'COWD') return { format: 'vmdk', size, virtualSize: null, problems: ['it is a VMDK version 3 (COWD) image, which Nestbox does not accept'] };
  if (looksLikeVmdkDescriptor(head)) {
    return { format: 'vmdk', size, virtualSize: null, problems: ['it is a VMDK descriptor whose extents live in other files'] };
  }
  if (head.length >= 68 && head.readUInt32LE(64) === 0xbeda107f) return vdiFacts(head, size);
  if (head.subarray(0, 8).toString('latin1') === 'vhdxfile') {
    // The header section (file identifier, two headers, two region tables) is 1 MiB.
    if (size < 1024 * 1024) return { format: 'vhdx', size, virtualSize: null, problems: ['its VHDX header section is truncated'] };
    return { format: 'vhdx', size, virtualSize: null, problems: [] };
  }
  if (head.subarray(0, 8).toString('latin1') === 'conectix') {
    if (head.length < 512) return { format: 'vpc', size, virtualSize: null, problems: ['its VHD footer is truncated'] };
    return vpcFacts(head, size);
  }
  if (size >= 512) {
    const footer = readAt(fd, size - 512, 512);
    if (footer.subarray(0, 8).toString('latin1') === 'conectix') return vpcFacts(footer, size);
  }
  const pvd = readAt(fd, 0x8001, 5);
  if (pvd.toString('latin1') === 'CD001') {
    const hybrid = head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa;
    return { format: 'iso', size, virtualSize: size, problems: [], ...(hybrid ? { hybrid } : {}) };
  }
  return { format: 'raw', size, virtualSize: size, problems: [] };
}
