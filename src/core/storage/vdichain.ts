/**
 * VirtualBox differencing VDIs (what a VirtualBox snapshot leaves behind) applied onto their
 * base, so an import gets one image of the machine's current state. QEMU cannot open a
 * differencing VDI (its vdi driver reads only normal and fixed images), so the chain is read
 * here, from VirtualBox's published VDI format (header 1.1):
 *
 * - the header at 0 (after a 64-byte text line and the 0xbeda107f signature): image type
 *   (1 normal, 2 fixed, 4 differencing), where the block map and the data start, the disk
 *   size, the block size and its extra bytes, the number of blocks and of allocated blocks,
 *   and four UUIDs: this image's, its last modification's, its parent's (the link) and the
 *   parent's modification. UUIDs are stored as VirtualBox keeps them in memory: the first
 *   three fields little-endian;
 * - the block map: one 32-bit entry per block: an index into the data area, or ~0 (free:
 *   read it from the parent) or ~1 (zero: reads as zeros).
 *
 * Every field is checked before it is used (the images are untrusted): the signature and
 * version, the types, a power-of-two block size between 4 KiB and 64 MiB, the map and every
 * used block inside the file, each layer's link naming its parent's UUID and the same disk
 * size. The base itself is read by qemu-img (it is an ordinary VDI); the layers are written
 * over its raw copy, topmost layer winning.
 */
import fs from 'node:fs';
import { NestboxError } from '../api/errors';

const SIGNATURE = 0xbeda107f;
const HEADER_BYTES = 0x1c8;
const FREE = 0xffffffff;
const ZERO = 0xfffffffe;
const MIN_BLOCK = 4096;
const MAX_BLOCK = 64 * 1024 * 1024;
/** As many blocks as a 64 TiB disk of 1 MiB blocks (the map is read whole: 256 MiB at most). */
const MAX_BLOCKS = 64 * 1024 * 1024;

export interface VdiHeader {
  /** 1 normal (dynamic), 2 fixed, 4 differencing. */
  readonly type: number;
  readonly diskSize: number;
  readonly blockSize: number;
  readonly blockExtra: number;
  readonly blocks: number;
  readonly allocated: number;
  readonly offsetMap: number;
  readonly offsetData: number;
  /** This image's UUID and its parent's (all zeros for a base), lower-case, no braces. */
  readonly uuid: string;
  readonly parentUuid: string;
}

function reject(label: string, why: string): never {
  throw new NestboxError('IMAGE_REJECTED', `the VirtualBox image '${label}' ${why}; nothing was imported`);
}

/** A UUID as VirtualBox stores it (RTUUID: time-low, -mid and -high little-endian). */
export function vdiUuid(b: Buffer): string {
  const hex = (x: Buffer) => x.toString('hex');
  const le = (x: Buffer) => hex(Buffer.from(x).reverse());
  return `${le(b.subarray(0, 4))}-${le(b.subarray(4, 6))}-${le(b.subarray(6, 8))}-${hex(b.subarray(8, 10))}-${hex(b.subarray(10, 16))}`;
}

/** The inverse of vdiUuid (for writing fixtures and headers). */
export function vdiUuidBytes(uuid: string): Buffer {
  const h = uuid.replace(/[{}-]/g, '');
  if (!/^[0-9a-f]{32}$/i.test(h)) throw new Error(`not a UUID: ${uuid}`);
  const b = Buffer.from(h, 'hex');
  return Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)]);
}

function readExact(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = fs.readSync(fd, b, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return b.subarray(0, got);
}

/** Reads and checks a VDI header. */
export function readVdiHeader(fd: number, label: string): VdiHeader {
  const size = fs.fstatSync(fd).size;
  const h = readExact(fd, 0, HEADER_BYTES);
  if (h.length < HEADER_BYTES) reject(label, 'is shorter than a VDI header');
  if (h.readUInt32LE(0x40) !== SIGNATURE) reject(label, 'has no VDI signature');
  const version = h.readUInt32LE(0x44);
  if (version >>> 16 !== 1) reject(label, `is VDI version ${version >>> 16}.${version & 0xffff}, not 1.x`);
  if (h.readUInt32LE(0x48) < 0x180) reject(label, 'has a VDI header too short for version 1.1');
  const type = h.readUInt32LE(0x4c);
  if (type !== 1 && type !== 2 && type !== 4) reject(label, `has VDI image type ${type} (only normal, fixed and differencing images are read)`);
  const offsetMap = h.readUInt32LE(0x154);
  const offsetData = h.readUInt32LE(0x158);
  const diskSize = h.readBigUInt64LE(0x170);
  const blockSize = h.readUInt32LE(0x178);
  const blockExtra = h.readUInt32LE(0x17c);
  const blocks = h.readUInt32LE(0x180);
  const allocated = h.readUInt32LE(0x184);
  if (blockSize < MIN_BLOCK || blockSize > MAX_BLOCK || (blockSize & (blockSize - 1)) !== 0) reject(label, `has a VDI block size of ${blockSize} bytes`);
  if (blockExtra > MAX_BLOCK || blockExtra % 512 !== 0) reject(label, `has ${blockExtra} extra bytes per VDI block`);
  if (blocks === 0 || blocks > MAX_BLOCKS) reject(label, `declares ${blocks} VDI blocks`);
  if (diskSize === 0n || diskSize > BigInt(blocks) * BigInt(blockSize) || diskSize <= BigInt(blocks - 1) * BigInt(blockSize)) {
    reject(label, `declares a disk of ${diskSize} bytes that its ${blocks} blocks of ${blockSize} bytes do not match`);
  }
  if (allocated > blocks) reject(label, `says ${allocated} of its ${blocks} blocks are allocated`);
  if (offsetMap < HEADER_BYTES || offsetMap + blocks * 4 > size) reject(label, 'has its VDI block map outside the file');
  if (offsetData < offsetMap + blocks * 4) reject(label, 'has its VDI data overlapping its block map');
  return {
    type,
    diskSize: Number(diskSize),
    blockSize,
    blockExtra,
    blocks,
    allocated,
    offsetMap,
    offsetData,
    uuid: vdiUuid(h.subarray(0x188, 0x198)),
    parentUuid: vdiUuid(h.subarray(0x1a8, 0x1b8)),
  };
}

/** The block map, every entry checked against the number of allocated blocks and the file's size. */
export function readVdiMap(fd: number, h: VdiHeader, label: string): Uint32Array {
  const size = fs.fstatSync(fd).size;
  const raw = readExact(fd, h.offsetMap, h.blocks * 4);
  if (raw.length < h.blocks * 4) reject(label, 'has a truncated VDI block map');
  const map = new Uint32Array(h.blocks);
  const stride = h.blockSize + h.blockExtra;
  for (let i = 0; i < h.blocks; i++) {
    const e = raw.readUInt32LE(i * 4);
    map[i] = e;
    if (e === FREE || e === ZERO) continue;
    if (e >= h.allocated) reject(label, `maps block ${i} to data block ${e}, past its ${h.allocated} allocated blocks`);
    if (h.offsetData + (e + 1) * stride > size) reject(label, `maps block ${i} to data past the end of the file`);
  }
  return map;
}

const norm = (uuid: string): string => uuid.replace(/[{}]/g, '').toLowerCase();

export interface VdiLayer {
  readonly path: string;
  readonly label: string;
  /** The UUID the machine file gives this medium, checked against the image's own. */
  readonly uuid: string | null;
}

/**
 * Checks a chain, base first: the base a normal or fixed VDI, every layer above it a
 * differencing VDI whose link is the UUID of the image below and whose disk size is the same,
 * and every image the medium its machine file says it is.
 */
export function checkVdiChain(layers: readonly VdiLayer[]): VdiHeader[] {
  const headers: VdiHeader[] = [];
  for (const [i, l] of layers.entries()) {
    const fd = fs.openSync(l.path, 'r');
    try {
      const h = readVdiHeader(fd, l.label);
      if (i === 0 && h.type === 4) reject(l.label, 'is a differencing image, but the machine file gives it no parent');
      if (i > 0 && h.type !== 4) reject(l.label, `stands on '${layers[i - 1]!.label}' in the machine file but is not a differencing image`);
      if (l.uuid !== null && norm(l.uuid) !== h.uuid) reject(l.label, `is the medium {${h.uuid}}, not the {${norm(l.uuid)}} the machine file names`);
      const below = headers[i - 1];
      if (below) {
        if (h.parentUuid !== below.uuid) reject(l.label, `is a snapshot of the image {${h.parentUuid}}, not of '${layers[i - 1]!.label}' ({${below.uuid}})`);
        if (h.diskSize !== below.diskSize) reject(l.label, `has a disk of ${h.diskSize} bytes on a parent of ${below.diskSize} bytes`);
      }
      headers.push(h);
    } finally {
      fs.closeSync(fd);
    }
  }
  return headers;
}

export interface OverlayControl {
  readonly signal?: AbortSignal;
  /** 0–100 over the blocks of the disk. */
  readonly onProgress?: (percent: number) => void;
}

/**
 * Writes the differencing layers (base excluded, in order from the base up) over `raw`, the
 * base's raw copy of `diskSize` bytes: each block from the topmost layer that has it (data,
 * or zeros); a block no layer has keeps the base's bytes.
 */
export async function overlayVdiLayers(raw: string, layers: readonly VdiLayer[], headers: readonly VdiHeader[], ctl: OverlayControl = {}): Promise<void> {
  if (layers.length === 0) return;
  const fds = layers.map((l) => fs.openSync(l.path, 'r'));
  const out = fs.openSync(raw, 'r+');
  try {
    const maps = layers.map((l, i) => readVdiMap(fds[i]!, headers[i]!, l.label));
    const h0 = headers[0]!;
    const blockSize = h0.blockSize;
    if (headers.some((h) => h.blockSize !== blockSize)) reject(layers[headers.findIndex((h) => h.blockSize !== blockSize)]!.label, 'has a block size other than its parent’s');
    if (fs.fstatSync(out).size !== h0.diskSize) throw new NestboxError('IMAGE_REJECTED', `the base image's raw copy is ${fs.fstatSync(out).size} bytes, not the ${h0.diskSize} its layers declare; nothing was imported`);
    const buf = Buffer.alloc(blockSize);
    const zeros = Buffer.alloc(blockSize);
    let lastTick = Date.now();
    for (let b = 0; b < h0.blocks; b++) {
      let top = -1;
      for (let i = layers.length - 1; i >= 0; i--) {
        if (maps[i]![b] !== FREE) {
          top = i;
          break;
        }
      }
      if (top < 0) continue;
      const at = b * blockSize;
      const len = Math.min(blockSize, h0.diskSize - at);
      const e = maps[top]![b]!;
      if (e === ZERO) {
        fs.writeSync(out, zeros, 0, len, at);
      } else {
        const h = headers[top]!;
        const from = h.offsetData + e * (h.blockSize + h.blockExtra) + h.blockExtra;
        const n = fs.readSync(fds[top]!, buf, 0, len, from);
        if (n !== len) reject(layers[top]!.label, `ends inside block ${b}`);
        fs.writeSync(out, buf, 0, len, at);
      }
      if (Date.now() - lastTick > 200) {
        lastTick = Date.now();
        ctl.onProgress?.((b / h0.blocks) * 100);
        // Let the event loop breathe (progress events, a cancel) on a long chain.
        await new Promise((r) => setImmediate(r));
        if (ctl.signal?.aborted) throw new NestboxError('CANCELLED', 'the import was cancelled');
      }
    }
    fs.fsyncSync(out);
    ctl.onProgress?.(100);
  } finally {
    fs.closeSync(out);
    for (const fd of fds) fs.closeSync(fd);
  }
}
