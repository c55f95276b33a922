/**
 * VirtualBox differencing VDIs written from VirtualBox's published format (VDI header 1.1),
 * the way VirtualBox lays them out: the 64-byte text line, signature 0xbeda107f, version 1.1,
 * header size 0x180, image type 4 (differencing), the block map at 0x200, the data after it
 * on a 1 MiB boundary, blocks of 1 MiB with no extra bytes, and the UUIDs stored with their
 * first three fields little-endian. Written here independently of src/core/storage/vdichain.ts,
 * so the tests check the reader against the format, not against itself.
 */
import fs from 'node:fs';

const MiB = 1024 * 1024;

/** A UUID string as the 16 bytes VirtualBox writes. */
export function uuidOnDisk(uuid: string): Buffer {
  const h = uuid.replace(/[{}-]/g, '');
  const b = Buffer.from(h, 'hex');
  const swap = (x: Buffer) => Buffer.from(x).reverse();
  return Buffer.concat([swap(b.subarray(0, 4)), swap(b.subarray(4, 6)), swap(b.subarray(6, 8)), b.subarray(8, 16)]);
}

/** The UUID a VDI file says it is (its creation UUID at 0x188). */
export function uuidOfVdi(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(16);
    fs.readSync(fd, b, 0, 16, 0x188);
    const swap = (x: Buffer) => Buffer.from(x).reverse().toString('hex');
    const hex = b.toString('hex');
    return `${swap(b.subarray(0, 4))}-${swap(b.subarray(4, 6))}-${swap(b.subarray(6, 8))}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  } finally {
    fs.closeSync(fd);
  }
}

export interface DiffVdi {
  readonly uuid: string;
  readonly parentUuid: string;
  readonly diskSize: number;
  /** Block index → its 1 MiB of data (shorter is zero-padded), or 'zero' (VirtualBox's zero block). */
  readonly blocks: ReadonlyMap<number, Buffer | 'zero'>;
}

export function writeDiffVdi(file: string, d: DiffVdi): void {
  const count = Math.ceil(d.diskSize / MiB);
  const header = Buffer.alloc(0x200);
  header.write('<<< Oracle VM VirtualBox Disk Image >>>\n', 0, 'latin1');
  header.writeUInt32LE(0xbeda107f, 0x40);
  header.writeUInt32LE(0x00010001, 0x44);
  header.writeUInt32LE(0x180, 0x48);
  header.writeUInt32LE(4, 0x4c); // differencing
  header.writeUInt32LE(0, 0x50);
  const mapAt = 0x200;
  const dataAt = Math.ceil((mapAt + count * 4) / MiB) * MiB;
  header.writeUInt32LE(mapAt, 0x154);
  header.writeUInt32LE(dataAt, 0x158);
  header.writeUInt32LE(512, 0x168); // sector size (legacy geometry)
  header.writeBigUInt64LE(BigInt(d.diskSize), 0x170);
  header.writeUInt32LE(MiB, 0x178);
  header.writeUInt32LE(0, 0x17c);
  header.writeUInt32LE(count, 0x180);
  const data = [...d.blocks.entries()].filter(([, v]) => v !== 'zero').sort((a, b) => a[0] - b[0]);
  header.writeUInt32LE(data.length, 0x184);
  uuidOnDisk(d.uuid).copy(header, 0x188);
  uuidOnDisk(d.uuid).copy(header, 0x198);
  uuidOnDisk(d.parentUuid).copy(header, 0x1a8);
  uuidOnDisk(d.parentUuid).copy(header, 0x1b8);
  const map = Buffer.alloc(count * 4, 0xff); // every block free: read from the parent
  for (const [i, v] of d.blocks) if (v === 'zero') map.writeUInt32LE(0xfffffffe, i * 4);
  data.forEach(([i], k) => map.writeUInt32LE(k, i * 4));
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, header, 0, header.length, 0);
    fs.writeSync(fd, map, 0, map.length, mapAt);
    data.forEach(([, v], k) => {
      const block = Buffer.alloc(MiB);
      (v as Buffer).copy(block);
      fs.writeSync(fd, block, 0, MiB, dataAt + k * MiB);
    });
    fs.ftruncateSync(fd, dataAt + data.length * MiB);
  } finally {
    fs.closeSync(fd);
  }
}
