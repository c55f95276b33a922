/**
 * Our own reading of an image's header. It decides the format; `qemu-img info -f` must then
 * agree (see qemuimg.ts). This is deliberately small: magic numbers and the fields that make
 * an image dangerous (a qcow2 backing file or external data file).
 */
import fs from 'node:fs';
import type { DiskFormat } from '../domain/config';
import { NestboxError } from '../api/errors';

export interface HeaderFacts {
  readonly format: DiskFormat | 'iso';
  readonly size: number;
  /** Reasons to refuse the image, empty when it is safe to attach. */
  readonly problems: readonly string[];
}

const QCOW2_INCOMPAT_KNOWN = 0b11111n; // dirty, corrupt, external data, compression type, extended L2

function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  const n = fs.readSync(fd, b, 0, len, pos);
  return b.subarray(0, n);
}

/**
 * A sparse VMDK may embed a text descriptor. For monolithicSparse and streamOptimized QEMU
 * reads the data from this file; any other createType makes it follow the extent lines,
 * which can name any file on the host. Only self-contained kinds are accepted.
 */
function vmdkSparseProblems(fd: number, head: Buffer, fileSize: number): string[] {
  if (head.length < 44) return ['its VMDK header is truncated'];
  const capacity = head.readBigUInt64LE(12);
  const descOffset = head.readBigUInt64LE(28);
  const descSize = head.readBigUInt64LE(36);
  const problems: string[] = [];
  if (capacity === 0n) problems.push('its VMDK header declares no capacity');
  if (descOffset === 0n) return problems;
  const start = Number(descOffset) * 512;
  const len = Math.min(Number(descSize) * 512, 64 * 1024);
  if (start >= fileSize || len <= 0) return [...problems, 'its embedded VMDK descriptor lies outside the file'];
  const text = readAt(fd, start, len).toString('latin1').replace(/\0[\s\S]*$/, '');
  const type = /createType\s*=\s*"([^"]*)"/.exec(text)?.[1];
  if (type !== 'monolithicSparse' && type !== 'streamOptimized') {
    problems.push(`its embedded VMDK descriptor has createType '${type ?? 'none'}', whose extents are other files`);
  }
  return problems;
}

/** Inspects a regular file; refuses anything else (FIFOs, devices, directories). */
export function inspectImage(file: string): HeaderFacts {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new NestboxError('NOT_FOUND', `image '${file}' cannot be read: ${(err as Error).message}`);
  }
  if (!st.isFile()) throw new NestboxError('IMAGE_REJECTED', `'${file}' is not a regular file`);
  const fd = fs.openSync(file, 'r');
  try {
    const head = readAt(fd, 0, 512);
    const problems: string[] = [];
    if (head.length >= 72 && head.readUInt32BE(0) === 0x514649fb) {
      const version = head.readUInt32BE(4);
      if (version !== 2 && version !== 3) problems.push(`QCOW version ${version} is not supported (only qcow2 versions 2 and 3)`);
      const backingOffset = head.readBigUInt64BE(8);
      if (backingOffset !== 0n) problems.push('it names a backing file (another file on the host would be read)');
      if (version >= 3 && head.length >= 104) {
        const incompat = head.readBigUInt64BE(72);
        if (incompat & 0b100n) problems.push('it uses an external data file');
        if (incompat & ~QCOW2_INCOMPAT_KNOWN) problems.push('it uses qcow2 features this version does not know');
        if (incompat & 0b10n) problems.push('it is marked corrupt');
      }
      return { format: 'qcow2', size: st.size, problems };
    }
    if (head.subarray(0, 4).toString('latin1') === 'KDMV') {
      problems.push(...vmdkSparseProblems(fd, head, st.size));
      return { format: 'vmdk', size: st.size, problems };
    }
    if (head.subarray(0, 4).toString('latin1') === '# Di') {
      problems.push('it is a VMDK descriptor whose extents live in other files');
      return { format: 'vmdk', size: st.size, problems };
    }
    if (head.length >= 68 && head.readUInt32LE(64) === 0xbeda107f) return { format: 'vdi', size: st.size, problems };
    if (head.subarray(0, 8).toString('latin1') === 'vhdxfile') return { format: 'vhdx', size: st.size, problems };
    if (head.subarray(0, 8).toString('latin1') === 'conectix') return { format: 'vpc', size: st.size, problems };
    if (st.size >= 512) {
      const footer = readAt(fd, st.size - 512, 512);
      if (footer.subarray(0, 8).toString('latin1') === 'conectix') return { format: 'vpc', size: st.size, problems };
    }
    const pvd = readAt(fd, 0x8001, 5);
    if (pvd.toString('latin1') === 'CD001') return { format: 'iso', size: st.size, problems };
    return { format: 'raw', size: st.size, problems };
  } finally {
    fs.closeSync(fd);
  }
}
