import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NestboxError } from '../../../../src/core/api/errors';
import { parseNumber, readTarEntries, TAR_END, tarHeader, tarPadding, type TarEntry } from '../../../../src/core/storage/tar';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-tar-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function entries(file: string): TarEntry[] {
  const fd = fs.openSync(file, 'r');
  try {
    return [...readTarEntries(fd, fs.statSync(file).size)];
  } finally {
    fs.closeSync(fd);
  }
}

function archive(parts: { name: string; data: Buffer }[]): Buffer {
  return Buffer.concat([...parts.flatMap((p) => [tarHeader(p.name, p.data.length), p.data, tarPadding(p.data.length)]), TAR_END]);
}

describe('tar writer', () => {
  it('writes archives GNU tar lists and extracts byte for byte', () => {
    const a = Buffer.from('descriptor\n');
    const b = Buffer.alloc(1000, 7);
    const file = path.join(dir, 'w.tar');
    fs.writeFileSync(file, archive([{ name: 'vm.ovf', data: a }, { name: 'vm-disk1.vmdk', data: b }]));
    expect(execFileSync('tar', ['-tvf', file], { encoding: 'utf8' })).toMatch(/vm\.ovf\n.*vm-disk1\.vmdk\n$/);
    const out = path.join(dir, 'x');
    fs.mkdirSync(out);
    execFileSync('tar', ['-xf', file, '-C', out]);
    expect(fs.readFileSync(path.join(out, 'vm.ovf'))).toEqual(a);
    expect(fs.readFileSync(path.join(out, 'vm-disk1.vmdk'))).toEqual(b);
  });

  it('pads entries to whole blocks', () => {
    expect(tarPadding(0).length).toBe(0);
    expect(tarPadding(1).length).toBe(511);
    expect(tarPadding(512).length).toBe(0);
  });

  it('encodes sizes of 8 GiB and more in base-256 and reads them back', () => {
    const h = tarHeader('big.vmdk', 10 * 1024 ** 3);
    expect(h[124]! & 0x80).toBe(0x80);
    expect(parseNumber(h, 124, 12)).toBe(10 * 1024 ** 3);
  });

  it('refuses names an OVA cannot carry', () => {
    expect(() => tarHeader('x'.repeat(101), 1)).toThrow(NestboxError);
    expect(() => tarHeader('disk\u00e9.vmdk', 1)).toThrow(NestboxError);
  });
});

describe('tar reader', () => {
  it('reads archives written by GNU tar in ustar format, with the entry types', () => {
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'a.ovf'), 'hello');
    fs.symlinkSync('/etc/shadow', path.join(src, 'link.vmdk'));
    const file = path.join(dir, 'gnu.tar');
    execFileSync('tar', ['--format=ustar', '-cf', file, '-C', src, 'a.ovf', 'link.vmdk', 'sub']);
    const e = entries(file);
    expect(e.map((x) => [x.name, x.type, x.size])).toEqual([
      ['a.ovf', 'file', 5],
      ['link.vmdk', 'symlink', 0],
      ['sub/', 'directory', 0],
    ]);
    const b = Buffer.alloc(5);
    fs.readSync(fs.openSync(file, 'r'), b, 0, 5, e[0]!.dataOffset);
    expect(b.toString()).toBe('hello');
  });

  it('takes path and size from a PAX header', () => {
    const file = path.join(dir, 'pax.tar');
    const src = path.join(dir, 'paxsrc');
    fs.mkdirSync(src);
    const long = `${'n'.repeat(120)}.vmdk`;
    fs.writeFileSync(path.join(src, long), 'x');
    execFileSync('tar', ['--format=pax', '-cf', file, '-C', src, long]);
    expect(entries(file).map((x) => [x.name, x.size])).toEqual([[long, 1]]);
  });

  it('refuses a damaged header, a truncated archive and an entry running past the end', () => {
    const good = archive([{ name: 'a.ovf', data: Buffer.from('x'.repeat(600)) }]);
    const damaged = Buffer.from(good);
    damaged[10] = 0x41;
    fs.writeFileSync(path.join(dir, 'damaged.tar'), damaged);
    expect(() => entries(path.join(dir, 'damaged.tar'))).toThrow(/bad checksum/);
    fs.writeFileSync(path.join(dir, 'short.tar'), good.subarray(0, 700));
    expect(() => entries(path.join(dir, 'short.tar'))).toThrow(/truncated/);
    fs.writeFileSync(path.join(dir, 'nohead.tar'), good.subarray(0, 100));
    expect(() => entries(path.join(dir, 'nohead.tar'))).toThrow(/truncated/);
  });

  it('refuses GNU long-name entries', () => {
    const h = tarHeader('././@LongLink', 10);
    h.write('L', 156, 1, 'latin1');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += h[i]!;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
    fs.writeFileSync(path.join(dir, 'gnu-long.tar'), Buffer.concat([h, Buffer.alloc(512), TAR_END]));
    expect(() => entries(path.join(dir, 'gnu-long.tar'))).toThrow(/GNU long names/);
  });
});
