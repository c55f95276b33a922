/**
 * The seeds Nestbox writes for each supported OS, checked as files (volume label, names,
 * contents), and the config an install leaves behind when it ends.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planSeed, withoutInstall } from '../../../../src/core/services/installs';
import { IsoReader } from '../../../../src/core/storage/iso9660';
import { rawCdrom, validConfig } from '../../helpers/config';

const PW = 'S3cret-Pässword';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKmRLf4Cgm6VslWGWgSCkHcjqnMu0jhH3z2M1KgYlYkc alice@laptop';
const UUID = '0b3c9f2e-5d4a-4e8b-9c1d-2f3a4b5c6d7e';
let dir: string;
let debianIso: string;
let ubuntuIso: string;
const INITRD = zlib.gzipSync(Buffer.from('070701 pretend initrd'));

/** An installer-shaped ISO made by xorriso (Rock Ridge + Joliet, folders), as the real ones are. */
function installerIso(name: string, files: Record<string, string | Buffer>, volid: string): string {
  const src = path.join(dir, `${name}-tree`);
  for (const [p, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(src, p)), { recursive: true });
    fs.writeFileSync(path.join(src, p), data);
  }
  const iso = path.join(dir, `${name}.iso`);
  execFileSync('xorriso', ['-as', 'mkisofs', '-J', '-r', '-V', volid, '-o', iso, src], { stdio: 'pipe' });
  return iso;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-seeds-'));
  debianIso = installerIso('debian', {
    'install.amd/vmlinuz': 'KERNEL', 'install.amd/initrd.gz': INITRD, '.disk/info': 'Debian GNU/Linux 12.8.0',
    'boot/grub/grub.cfg': "menuentry 'Install' {\n    linux    /install.amd/vmlinuz vga=788 --- quiet\n    initrd   /install.amd/initrd.gz\n}\n",
  }, 'Debian 12.8.0 amd64 n');
  ubuntuIso = installerIso('ubuntu', {
    'casper/vmlinuz': 'KERNEL', 'casper/initrd': 'INITRD',
    'boot/grub/grub.cfg': 'menuentry "Try or Install Ubuntu Server" {\n\tlinux\t/casper/vmlinuz  ---\n\tinitrd\t/casper/initrd\n}\n',
  }, 'Ubuntu-Server 24.04.1 LTS amd64');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function vmDir(name: string): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d);
  return d;
}

function allBytes(d: string): Buffer {
  return Buffer.concat(fs.readdirSync(d).map((f) => fs.readFileSync(path.join(d, f))));
}

function seedFiles(iso: string): Record<string, string> {
  const r = IsoReader.open(iso);
  try {
    return Object.fromEntries(r.list('/').map((e) => [e.name, r.readFile(`/${e.name}`)!.toString()]));
  } finally {
    r.close();
  }
}

describe('planSeed', () => {
  it('Windows: autounattend.xml on a small second CD, the password hidden as Windows defines', () => {
    const d = vmDir('win');
    const plan = planSeed('windows', { user: 'alice', password: PW, hostname: 'win11', timezone: 'Europe/Berlin', locale: 'de_DE' }, { name: 'Win', uuid: UUID, dir: d, firmware: 'uefi', iso: '/x.iso' });
    plan.write();
    expect(plan.install).toEqual({ kind: 'windows', seedCdrom: 'seed', files: ['unattended-seed.iso'], booted: false });
    const files = seedFiles(plan.cdrom!.iso!);
    expect(Object.keys(files)).toEqual(['autounattend.xml']);
    expect(files['autounattend.xml']).toContain(`<Value>${Buffer.from(`${PW}Password`, 'utf16le').toString('base64')}</Value>`);
    expect(files['autounattend.xml']).toContain('<PartitionID>3</PartitionID></InstallTo>');
    expect(allBytes(d).includes(Buffer.from(PW))).toBe(false);
  });

  it('cloud image: a cidata CD with user-data (hash, key, host) and meta-data', () => {
    const d = vmDir('cloud');
    const plan = planSeed('cloud', { user: 'alice', password: PW, hostname: 'cloudy', sshKeys: [KEY] }, { name: 'C', uuid: UUID, dir: d, firmware: 'bios', iso: null });
    plan.write();
    const r = IsoReader.open(plan.cdrom!.iso!);
    expect(r.volumeId).toBe('cidata');
    r.close();
    const files = seedFiles(plan.cdrom!.iso!);
    expect(Object.keys(files).sort()).toEqual(['meta-data', 'user-data']);
    expect(files['user-data']).toMatch(/^ {4}passwd: "\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}"$/m);
    expect(files['user-data']).toContain(JSON.stringify(KEY));
    expect(files['meta-data']).toBe(`instance-id: "nestbox-${UUID}"\nlocal-hostname: "cloudy"\n`);
    expect(allBytes(d).includes(Buffer.from(PW))).toBe(false);
  });

  it('Debian: the kernel and initrd taken from the ISO, the preseed appended to the initrd as /preseed.cfg, no second CD', () => {
    const d = vmDir('deb');
    const plan = planSeed('debian', { user: 'alice', password: PW, hostname: 'deb', sshKeys: [KEY] }, { name: 'D', uuid: UUID, dir: d, firmware: 'bios', iso: debianIso });
    plan.write();
    expect(plan.cdrom).toBeNull();
    expect(plan.install.kernel).toEqual({ kernel: 'installer-vmlinuz', initrd: 'installer-initrd', append: 'vga=788 auto=true priority=critical locale=en_US.UTF-8 keymap=us hostname=deb domain= --- quiet' });
    expect(fs.readFileSync(path.join(d, 'installer-vmlinuz'), 'utf8')).toBe('KERNEL');
    const initrd = fs.readFileSync(path.join(d, 'installer-initrd'));
    expect(initrd.subarray(0, INITRD.length).equals(INITRD)).toBe(true);
    const appended = path.join(dir, 'appended.cpio');
    fs.writeFileSync(appended, zlib.gunzipSync(initrd.subarray(INITRD.length)));
    expect(execFileSync('cpio', ['-t', '--quiet', '-F', appended]).toString().trim()).toBe('preseed.cfg');
    const preseed = execFileSync('cpio', ['-i', '--quiet', '--to-stdout', '-F', appended]).toString();
    expect(preseed).toMatch(/^d-i passwd\/user-password-crypted password \$6\$/m);
    expect(preseed).toContain('d-i debian-installer/exit/poweroff boolean true');
    expect(allBytes(d).includes(Buffer.from(PW))).toBe(false);
  });

  it('Ubuntu: autoinstall user-data on a cidata CD, the kernel booted with autoinstall', () => {
    const d = vmDir('ubu');
    const plan = planSeed('ubuntu', { user: 'alice', password: PW }, { name: 'U', uuid: UUID, dir: d, firmware: 'uefi', iso: ubuntuIso });
    plan.write();
    expect(plan.install.kernel?.append).toBe('autoinstall ---');
    const files = seedFiles(plan.cdrom!.iso!);
    expect(files['user-data']).toMatch(/^autoinstall:\n {2}version: 1$/m);
    expect(files['user-data']).toContain('  shutdown: poweroff\n');
    expect([...plan.install.files].sort()).toEqual(['installer-initrd', 'installer-vmlinuz', 'unattended-seed.iso']);
  });

  it('refuses bad input before writing anything, and an ISO without an installer', () => {
    const d = vmDir('bad');
    expect(() => planSeed('cloud', { user: 'Alice Smith', password: PW }, { name: 'C', uuid: UUID, dir: d, firmware: 'bios', iso: null })).toThrow(/unattended install: 'Alice Smith' is not a valid user name/);
    expect(() => planSeed('cloud', { user: 'alice', password: 'a\nb' }, { name: 'C', uuid: UUID, dir: d, firmware: 'bios', iso: null })).toThrow(/control characters/);
    expect(() => planSeed('debian', { user: 'alice', password: PW }, { name: 'D', uuid: UUID, dir: d, firmware: 'bios', iso: ubuntuIso })).toThrow(/OS type is Debian, but .* looks like linux-ubuntu/);
    const empty = installerIso('empty', { 'README.TXT': 'x' }, 'SOMETHING');
    expect(() => planSeed('debian', { user: 'alice', password: PW }, { name: 'D', uuid: UUID, dir: d, firmware: 'bios', iso: empty })).toThrow(/no installer kernel/);
    expect(fs.readdirSync(d)).toEqual([]);
  });
});

describe('withoutInstall', () => {
  it('drops the seed CD and the install, and boots from the disk first', () => {
    const cfg = validConfig({
      cdroms: [rawCdrom(), rawCdrom({ id: 'seed', iso: '/m/unattended-seed.iso' })],
      bootOrder: ['cdrom', 'disk'],
      install: { kind: 'windows', seedCdrom: 'seed', files: ['unattended-seed.iso'], booted: true },
    });
    const out = withoutInstall(cfg);
    expect(out.install).toBeUndefined();
    expect(out.cdroms.map((c) => c.id)).toEqual(['cd0']);
    expect(out.bootOrder).toEqual(['disk', 'cdrom']);
    expect(validConfig(out as never)).toEqual(out);
  });
});
