import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NestboxError } from '../../../../src/core/api/errors';
import { buildCpio, buildGzipCpio } from '../../../../src/core/storage/cpio';
import { buildIso, IsoReader, SECTOR } from '../../../../src/core/storage/iso9660';
import { readIsoFacts } from '../../../../src/core/storage/isofacts';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-iso-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const DATE = new Date(Date.UTC(2026, 11, 4, 12, 0, 0));
const seedFiles = [
  { name: 'user-data', data: Buffer.from('#cloud-config\nhostname: "h"\n') },
  { name: 'meta-data', data: Buffer.from('instance-id: "i-1"\n') },
  { name: 'autounattend.xml', data: Buffer.from('<unattend/>'.repeat(400)) },
];

function write(name: string, img: Buffer): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, img);
  return f;
}

function xorriso(...args: string[]): string {
  return execFileSync('xorriso', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

describe('buildIso', () => {
  it('makes an image xorriso reads: the label and the files, byte for byte, in the Joliet tree', () => {
    const f = write('seed.iso', buildIso(seedFiles, { volumeId: 'cidata', date: DATE }));
    const pvd = execFileSync('xorriso', ['-indev', f, '-pvd_info'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString() + '';
    expect(pvd).toMatch(/Volume Id\s*:\s*cidata/);
    const ls = xorriso('-indev', f, '-ls', '/');
    expect(ls).toContain("'user-data'");
    expect(ls).toContain("'meta-data'");
    expect(ls).toContain("'autounattend.xml'");
    const out = path.join(dir, 'x');
    fs.mkdirSync(out);
    xorriso('-osirrox', 'on', '-indev', f, '-extract', '/', out);
    for (const s of seedFiles) expect(fs.readFileSync(path.join(out, s.name))).toEqual(s.data);
  });

  it('has a primary tree with ISO 9660 names too (USER_DATA.;1)', () => {
    const f = write('seed2.iso', buildIso(seedFiles, { volumeId: 'cidata', date: DATE }));
    const ls = xorriso('-read_fs', 'ecma119', '-indev', f, '-ls', '/');
    expect(ls).toMatch(/USER_DATA/);
    expect(ls).toMatch(/AUTOUNATTEND\.XML/);
  });

  it('is deterministic for a fixed date and refuses bad names and labels', () => {
    expect(buildIso(seedFiles, { volumeId: 'cidata', date: DATE }).equals(buildIso(seedFiles, { volumeId: 'cidata', date: DATE }))).toBe(true);
    expect(() => buildIso([{ name: '../x', data: Buffer.alloc(1) }], { volumeId: 'cidata' })).toThrow(/plain file name/);
    expect(() => buildIso([], { volumeId: 'ci data' })).toThrow(/volume id/);
    expect(() => buildIso([{ name: 'a-b', data: Buffer.alloc(1) }, { name: 'a_b', data: Buffer.alloc(1) }], { volumeId: 'x' })).toThrow(/same ISO 9660 name/);
  });
});

describe('IsoReader', () => {
  it('reads back what buildIso wrote (label, names, contents)', () => {
    const f = write('rt.iso', buildIso(seedFiles, { volumeId: 'cidata', date: DATE }));
    const r = IsoReader.open(f);
    try {
      expect(r.volumeId).toBe('cidata');
      expect(r.joliet).toBe(true);
      expect(r.list('/').map((e) => e.name).sort()).toEqual(['autounattend.xml', 'meta-data', 'user-data']);
      expect(r.readFile('/user-data')?.toString()).toBe('#cloud-config\nhostname: "h"\n');
      expect(r.readFile('/nope')).toBeNull();
      expect(() => r.readFile('/autounattend.xml', 100)).toThrow(/more than the 100/);
    } finally {
      r.close();
    }
  });

  it('reads an ISO that xorriso made with folders (Rock Ridge and Joliet), as installer ISOs are', () => {
    const src = path.join(dir, 'tree');
    fs.mkdirSync(path.join(src, '.disk'), { recursive: true });
    fs.mkdirSync(path.join(src, 'boot', 'grub'), { recursive: true });
    fs.writeFileSync(path.join(src, '.disk', 'info'), 'Debian GNU/Linux 12.8.0 "Bookworm" - Official amd64 NETINST with firmware 20241109-11:04');
    fs.writeFileSync(path.join(src, 'boot', 'grub', 'grub.cfg'), 'menuentry "Install" {\n  linux /install.amd/vmlinuz vga=788 --- quiet\n  initrd /install.amd/initrd.gz\n}\n');
    for (const [flags, name] of [[['-J', '-r'], 'rrj.iso'], [['-r'], 'rr.iso']] as const) {
      const f = path.join(dir, name);
      execFileSync('xorriso', ['-as', 'mkisofs', ...flags, '-V', 'Debian 12.8.0 amd64 n', '-o', f, src], { stdio: 'pipe' });
      const facts = readIsoFacts(f);
      expect(facts.volumeId).toBe('Debian 12.8.0 amd64 n');
      expect(facts.diskInfo).toMatch(/^Debian GNU\/Linux 12/);
      expect(facts.grubCfg).toContain('/install.amd/vmlinuz');
      expect(facts.idwbinfo).toBeNull();
    }
  });

  it('refuses hostile images clearly instead of reading outside them', () => {
    const good = buildIso(seedFiles, { volumeId: 'cidata', date: DATE });
    const cases: [string, (b: Buffer) => Buffer, RegExp][] = [
      ['too small', (b) => b.subarray(0, 10 * SECTOR), /too small/],
      ['no signature', (b) => { b.write('XXXXX', 16 * SECTOR + 1); return b; }, /no CD001/],
      ['root extent outside', (b) => { b.writeUInt32LE(0x7fffffff, 17 * SECTOR + 156 + 2); return b; }, /outside/],
      ['huge directory', (b) => { b.writeUInt32LE(0x7000000, 17 * SECTOR + 156 + 10); return b; }, /outside|claims/],
      ['file outside', (b) => { const at = 24 * SECTOR + 34 * 2; b.writeUInt32LE(1 << 30, at + 2); return b; }, /outside/],
      ['no terminator', (b) => {
        const big = Buffer.concat([b, Buffer.alloc(40 * SECTOR)]);
        for (let i = 16; i < 16 + 34; i++) { big[i * SECTOR] = 3; big.write('CD001', i * SECTOR + 1); }
        return big;
      }, /terminator/],
    ];
    for (const [label, mutate, msg] of cases) {
      const f = write(`bad-${label.replace(/ /g, '-')}.iso`, mutate(Buffer.from(good)));
      let err: unknown;
      try {
        const r = IsoReader.open(f);
        try {
          r.list('/');
          r.readFile('/user-data');
        } finally {
          r.close();
        }
      } catch (e) {
        err = e;
      }
      expect(err, label).toBeInstanceOf(NestboxError);
      expect((err as NestboxError).code, label).toBe('IMAGE_REJECTED');
      expect((err as Error).message, label).toMatch(msg);
    }
  });
});

describe('buildCpio', () => {
  it('makes a newc archive that cpio(1) lists and unpacks, gzip-wrapped for an initrd', () => {
    const files = [{ name: 'preseed.cfg', data: Buffer.from('d-i passwd/username string alice\n'), mode: 0o644 }];
    const f = path.join(dir, 'p.cpio');
    fs.writeFileSync(f, buildCpio(files));
    expect(execFileSync('cpio', ['-t', '--quiet', '-F', f]).toString().trim()).toBe('preseed.cfg');
    const out = path.join(dir, 'cpio-out');
    fs.mkdirSync(out);
    execFileSync('cpio', ['-i', '--quiet', '-F', f], { cwd: out });
    expect(fs.readFileSync(path.join(out, 'preseed.cfg'), 'utf8')).toBe('d-i passwd/username string alice\n');
    expect(zlib.gunzipSync(buildGzipCpio(files)).equals(buildCpio(files))).toBe(true);
    expect(() => buildCpio([{ name: '../etc/shadow', data: Buffer.alloc(0), mode: 0o600 }])).toThrow(/plain relative/);
  });
});
