/**
 * A newc ("SVR4 no CRC") cpio writer, for the one archive Nestbox makes: the preseed that is
 * appended to a copy of Debian's installer initrd. The kernel unpacks concatenated initramfs
 * archives in order, so the appended `/preseed.cfg` lands in the installer's root, where
 * debian-installer reads it before its first question.
 */
import zlib from 'node:zlib';

export interface CpioFile {
  /** A path inside the archive, without a leading slash. */
  readonly name: string;
  readonly data: Buffer;
  readonly mode: number;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(len: number): Buffer {
  return Buffer.alloc((4 - (len % 4)) % 4);
}

function entry(ino: number, name: string, mode: number, data: Buffer): Buffer {
  const nameBuf = Buffer.from(`${name}\0`, 'utf8');
  const fields = [ino, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBuf.length, 0];
  const header = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
  return Buffer.concat([header, nameBuf, pad4(header.length + nameBuf.length), data, pad4(data.length)]);
}

/** A cpio archive of regular files (owned by root, mtime 0), ended by the trailer. */
export function buildCpio(files: readonly CpioFile[]): Buffer {
  const parts = files.map((f, i) => {
    if (!/^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/.test(f.name) || f.name.split('/').some((s) => s === '..')) throw new Error(`'${f.name}' is not a plain relative path`);
    return entry(i + 1, f.name, 0o100000 | (f.mode & 0o7777), f.data);
  });
  return Buffer.concat([...parts, entry(0, 'TRAILER!!!', 0, Buffer.alloc(0))]);
}

/** The same, gzip-compressed, ready to append to a gzip-compressed initrd. */
export function buildGzipCpio(files: readonly CpioFile[]): Buffer {
  return zlib.gzipSync(buildCpio(files), { level: 9 });
}
