import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectImage } from '../../../../src/core/storage/inspect';
import { NestboxError } from '../../../../src/core/api/errors';

let dir: string;

const hasXorriso = spawnSync('xorriso', ['-version'], { stdio: 'ignore' }).status === 0;

function qemuImg(...args: string[]): void {
  execFileSync('qemu-img', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function p(name: string): string {
  return path.join(dir, name);
}

function rejected(file: string): NestboxError {
  try {
    inspectImage(file);
  } catch (err) {
    expect(err).toBeInstanceOf(NestboxError);
    return err as NestboxError;
  }
  throw new Error(`inspectImage accepted ${file}`);
}

/** Sets bits in a qcow2 v3 header's incompatible-features field (offset 72). */
function setIncompatBits(file: string, bits: bigint): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(8);
    fs.readSync(fd, b, 0, 8, 72);
    b.writeBigUInt64BE(b.readBigUInt64BE(0) | bits);
    fs.writeSync(fd, b, 0, 8, 72);
  } finally {
    fs.closeSync(fd);
  }
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-inspect-'));
  qemuImg('create', '-q', '-f', 'qcow2', 'plain.qcow2', '64M');
  qemuImg('create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', 'v2.qcow2', '64M');
  qemuImg('create', '-q', '-f', 'qcow2', 'base.qcow2', '64M');
  qemuImg('create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', 'top.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', '-o', 'data_file=external.raw', 'datafile.qcow2', '64M');
  qemuImg('create', '-q', '-f', 'vdi', 'disk.vdi', '64M');
  qemuImg('create', '-q', '-f', 'vmdk', 'disk.vmdk', '64M');
  qemuImg('create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', 'flat.vmdk', '1M');
  qemuImg('create', '-q', '-f', 'vhdx', 'disk.vhdx', '64M');
  qemuImg('create', '-q', '-f', 'vpc', 'dynamic.vhd', '64M');
  qemuImg('create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', 'fixed.vhd', '1M');
  qemuImg('create', '-q', '-f', 'raw', 'disk.raw', '1M');
  fs.copyFileSync(p('plain.qcow2'), p('corrupt.qcow2'));
  setIncompatBits(p('corrupt.qcow2'), 0b10n);
  fs.copyFileSync(p('plain.qcow2'), p('future.qcow2'));
  setIncompatBits(p('future.qcow2'), 1n << 40n);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('inspectImage: images made by qemu-img', () => {
  it('reads a plain qcow2 as safe', () => {
    const facts = inspectImage(p('plain.qcow2'));
    expect(facts.format).toBe('qcow2');
    expect(facts.problems).toEqual([]);
    expect(facts.size).toBe(fs.statSync(p('plain.qcow2')).size);
  });

  it('reads a version 2 qcow2 as safe', () => {
    expect(inspectImage(p('v2.qcow2'))).toMatchObject({ format: 'qcow2', problems: [] });
  });

  it('flags a qcow2 with a backing file', () => {
    const facts = inspectImage(p('top.qcow2'));
    expect(facts.format).toBe('qcow2');
    expect(facts.problems).toHaveLength(1);
    expect(facts.problems[0]).toMatch(/backing file/);
  });

  it('flags a qcow2 with an external data file', () => {
    const facts = inspectImage(p('datafile.qcow2'));
    expect(facts.format).toBe('qcow2');
    expect(facts.problems.some((x) => /external data file/.test(x))).toBe(true);
  });

  it('flags a qcow2 marked corrupt', () => {
    const facts = inspectImage(p('corrupt.qcow2'));
    expect(facts.problems).toEqual(['it is marked corrupt']);
  });

  it('flags a qcow2 with incompatible features it does not know', () => {
    const facts = inspectImage(p('future.qcow2'));
    expect(facts.problems).toEqual(['it uses qcow2 features this version does not know']);
  });

  it.each([
    ['disk.vdi', 'vdi'],
    ['disk.vmdk', 'vmdk'],
    ['disk.vhdx', 'vhdx'],
    ['dynamic.vhd', 'vpc'],
    ['fixed.vhd', 'vpc'],
  ])('recognises %s as %s with no problems', (file, format) => {
    expect(inspectImage(p(file))).toMatchObject({ format, size: fs.statSync(p(file)).size, problems: [] });
  });

  it('flags a VMDK descriptor made by qemu-img (its extent is another file)', () => {
    const facts = inspectImage(p('flat.vmdk'));
    expect(facts.format).toBe('vmdk');
    expect(facts.problems).toEqual(['it is a VMDK descriptor whose extents live in other files']);
  });

  it('reads a raw image made by qemu-img as raw', () => {
    expect(inspectImage(p('disk.raw'))).toMatchObject({ format: 'raw', size: 1024 * 1024, problems: [] });
  });
});

describe('inspectImage: files written by hand', () => {
  it('flags a hand-written VMDK descriptor pointing at a host file', () => {
    const file = p('handmade.vmdk');
    fs.writeFileSync(
      file,
      [
        '# Disk DescriptorFile',
        'version=1',
        'CID=fffffffe',
        'parentCID=ffffffff',
        'createType="monolithicFlat"',
        '',
        'RW 2048 FLAT "/etc/shadow" 0',
        '',
      ].join('\n'),
    );
    const facts = inspectImage(file);
    expect(facts.format).toBe('vmdk');
    expect(facts.problems).toHaveLength(1);
    expect(facts.problems[0]).toMatch(/VMDK descriptor/);
  });

  it.runIf(hasXorriso)('recognises an ISO made by xorriso', () => {
    const src = p('isosrc');
    fs.mkdirSync(src, { recursive: true });
    fs.writeFileSync(path.join(src, 'hello.txt'), 'hello\n');
    execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-o', p('x.iso'), src], { stdio: 'ignore' });
    expect(inspectImage(p('x.iso'))).toMatchObject({ format: 'iso', problems: [] });
  });

  it('recognises an ISO 9660 volume descriptor at 0x8001', () => {
    const b = Buffer.alloc(0x8000 + 2048);
    b[0x8000] = 1;
    b.write('CD001', 0x8001, 'latin1');
    fs.writeFileSync(p('synthetic.iso'), b);
    expect(inspectImage(p('synthetic.iso'))).toMatchObject({ format: 'iso', size: b.length, problems: [] });
  });

  it('reads a zero-filled file as raw', () => {
    fs.writeFileSync(p('zeros.img'), Buffer.alloc(1024 * 1024));
    expect(inspectImage(p('zeros.img'))).toMatchObject({ format: 'raw', size: 1024 * 1024, problems: [] });
  });

  it.each([0, 1, 71, 511])('reads a %d-byte file without crashing (raw)', (n) => {
    const file = p(`tiny-${n}.img`);
    fs.writeFileSync(file, Buffer.alloc(n, 0x41));
    expect(inspectImage(file)).toMatchObject({ format: 'raw', size: n, problems: [] });
  });

  it('does not mistake a truncated qcow2 header for a safe qcow2 (or for raw)', () => {
    const file = p('truncated.qcow2');
    fs.writeFileSync(file, fs.readFileSync(p('plain.qcow2')).subarray(0, 16));
    expect(inspectImage(file)).toMatchObject({ format: 'qcow2', problems: ['its qcow2 header is truncated'] });
  });

  it('reads the declared virtual size of each format made by qemu-img', () => {
    for (const f of ['plain.qcow2', 'disk.vdi', 'disk.vmdk']) {
      expect(inspectImage(p(f)).virtualSize, f).toBe(64 * 1024 * 1024);
    }
    expect(inspectImage(p('disk.vhdx')).virtualSize).toBeNull();
  });

  it('flags a qcow2 declaring an absurd size', () => {
    const b = fs.readFileSync(p('plain.qcow2'));
    b.writeBigUInt64BE(1n << 62n, 24);
    fs.writeFileSync(p('huge.qcow2'), b);
    expect(inspectImage(p('huge.qcow2')).problems.join()).toMatch(/virtual size of \d+ bytes, more than the 64 TiB/);
  });

  it('flags a differencing VHD', () => {
    const b = fs.readFileSync(p('fixed.vhd'));
    b.writeUInt32BE(4, b.length - 512 + 60);
    fs.writeFileSync(p('diff.vhd'), b);
    expect(inspectImage(p('diff.vhd')).problems.join()).toMatch(/differencing VHD/);
  });

  it('flags a text VMDK descriptor even without its usual first line', () => {
    fs.writeFileSync(p('sneaky.vmdk'), 'version=1\ncreateType="monolithicFlat"\nRW 2048 FLAT "/etc/shadow" 0\n');
    expect(inspectImage(p('sneaky.vmdk'))).toMatchObject({ format: 'vmdk', problems: ['it is a VMDK descriptor whose extents live in other files'] });
  });

  it('reports a random-looking raw image as raw', () => {
    const b = Buffer.alloc(64 * 1024);
    for (let i = 0; i < b.length; i++) b[i] = (i * 2654435761) >>> 24;
    b.writeUInt32BE(0, 0); // make sure no magic happens to appear
    fs.writeFileSync(p('noise.img'), b);
    expect(inspectImage(p('noise.img')).format).toBe('raw');
  });
});

/**
 * A monolithicSparse-looking VMDK ("KDMV") whose header says capacity 0 and points at an
 * embedded descriptor: QEMU then parses that descriptor like a descriptor file, extents and all.
 */
function kdmvWithEmbeddedDescriptor(extentTarget: string): Buffer {
  const header = Buffer.alloc(512);
  header.write('KDMV', 0, 'latin1');
  header.writeUInt32LE(1, 4); // version
  header.writeUInt32LE(3, 8); // flags
  header.writeBigUInt64LE(0n, 12); // capacity 0: "the descriptor says"
  header.writeBigUInt64LE(128n, 20); // grain size
  header.writeBigUInt64LE(1n, 28); // descriptor at sector 1
  header.writeBigUInt64LE(1n, 36); // one sector long
  header.writeUInt32LE(512, 44);
  header.write('\n \r\n', 73, 'latin1');
  const desc = Buffer.alloc(512);
  desc.write(
    ['# Disk DescriptorFile', 'version=1', 'CID=fffffffe', 'parentCID=ffffffff', 'createType="monolithicFlat"', '', `RW 2048 FLAT "${extentTarget}" 0`, ''].join('\n'),
    0,
    'latin1',
  );
  return Buffer.concat([header, desc]);
}

describe('inspectImage: hostile images', () => {
  it('(premise) QEMU follows the extents of a VMDK descriptor embedded in a KDMV file', () => {
    const secret = p('secret.bin');
    fs.writeFileSync(secret, Buffer.alloc(1024 * 1024, 0x5a));
    fs.writeFileSync(p('embedded.vmdk'), kdmvWithEmbeddedDescriptor(secret));
    const out = execFileSync('qemu-img', ['info', '-f', 'vmdk', '--force-share', '--output=json', p('embedded.vmdk')], { encoding: 'utf8' });
    const info = JSON.parse(out) as { 'format-specific'?: { data?: { extents?: { filename: string }[] } } };
    expect(info['format-specific']?.data?.extents?.map((e) => e.filename)).toContain(secret);
  });

  it('flags a KDMV file that carries an embedded descriptor with foreign extents', () => {
    fs.writeFileSync(p('embedded2.vmdk'), kdmvWithEmbeddedDescriptor('/etc/passwd'));
    const facts = inspectImage(p('embedded2.vmdk'));
    expect(facts.format).toBe('vmdk');
    expect(facts.problems.length).toBeGreaterThan(0);
  });

  it('does not report a QCOW version 1 image as a safe qcow2', () => {
    qemuImg('create', '-q', '-f', 'qcow', 'v1.qcow', '1M');
    const facts = inspectImage(p('v1.qcow'));
    expect(facts.format === 'qcow2' && facts.problems.length === 0).toBe(false);
  });
});

describe('inspectImage: refusals', () => {
  it('refuses a directory', () => {
    const err = rejected(dir);
    expect(err.code).toBe('IMAGE_REJECTED');
    expect(err.message).toContain('not a regular file');
  });

  it.runIf(process.platform !== 'win32')('refuses a FIFO without blocking on it', () => {
    const fifo = p('pipe');
    execFileSync('mkfifo', [fifo]);
    const err = rejected(fifo);
    expect(err.code).toBe('IMAGE_REJECTED');
  });

  it.runIf(fs.existsSync('/dev/null'))('refuses a character device', () => {
    expect(rejected('/dev/null').code).toBe('IMAGE_REJECTED');
  });

  it('reports a missing file as NOT_FOUND', () => {
    const err = rejected(p('does-not-exist.qcow2'));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain('does-not-exist.qcow2');
  });

  it('follows a symlink to a regular image and inspects the target', () => {
    const link = p('link.qcow2');
    fs.symlinkSync(p('top.qcow2'), link);
    expect(inspectImage(link).problems[0]).toMatch(/backing file/);
  });
});
