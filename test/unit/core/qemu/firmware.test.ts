/** Firmware chosen from QEMU's descriptors as libvirt chooses (priority, shadowing, features, machines). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chooseFirmware, machineMatches, parseDescriptor, readDescriptors } from '../../../../src/core/qemu/firmware';

const desc = (code: string, vars: string, features: string[], machines = ['pc-q35-*']) =>
  JSON.stringify({
    description: code,
    'interface-types': ['uefi'],
    mapping: { device: 'flash', executable: { filename: code, format: 'raw' }, 'nvram-template': { filename: vars, format: 'raw' } },
    targets: [{ architecture: 'x86_64', machines }],
    features,
    tags: [],
  });

const dirs: string[] = [];
function dir(files: Record<string, string>): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-fw-'));
  dirs.push(d);
  for (const [n, t] of Object.entries(files)) fs.writeFileSync(path.join(d, n), t);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const all = () => true;

describe('firmware descriptors', () => {
  it("picks Debian 12's images: plain for UEFI, the enrolled-keys one (SMM) for Secure Boot", () => {
    const d = dir({
      '40-edk2-x86_64-secure-enrolled.json': desc('/ovmf/CODE.ms.fd', '/ovmf/VARS.ms.fd', ['acpi-s3', 'enrolled-keys', 'requires-smm', 'secure-boot']),
      '50-edk2-x86_64-secure.json': desc('/ovmf/CODE.secboot.fd', '/ovmf/VARS.fd', ['acpi-s3', 'requires-smm', 'secure-boot']),
      '60-edk2-x86_64.json': desc('/ovmf/CODE.fd', '/ovmf/VARS.fd', ['acpi-s3'], ['pc-i440fx-*', 'pc-q35-*']),
    });
    const c = chooseFirmware(readDescriptors([d]), all);
    expect(c.plain?.code.filename).toBe('/ovmf/CODE.fd');
    expect(c.secure?.code.filename).toBe('/ovmf/CODE.ms.fd');
    expect(c.secure?.varsTemplate.filename).toBe('/ovmf/VARS.ms.fd');
    expect(c.secure?.features).toContain('requires-smm');
  });

  it('lets a higher-priority directory shadow a descriptor by name, and an empty file hide it', () => {
    const sys = dir({
      '40-secure.json': desc('/sys/CODE.ms.fd', '/sys/VARS.ms.fd', ['enrolled-keys', 'requires-smm', 'secure-boot']),
      '60-plain.json': desc('/sys/CODE.fd', '/sys/VARS.fd', []),
    });
    const etc = dir({ '40-secure.json': '', '60-plain.json': desc('/etc/CODE.fd', '/etc/VARS.fd', []) });
    const c = chooseFirmware(readDescriptors([etc, sys]), all);
    expect(c.plain?.code.filename).toBe('/etc/CODE.fd');
    expect(c.secure).toBeNull();
  });

  it('has no Secure Boot firmware when no descriptor has enrolled keys, or its images are missing', () => {
    const d = dir({ '50-secure.json': desc('/x/CODE.secboot.fd', '/x/VARS.fd', ['requires-smm', 'secure-boot']) });
    expect(chooseFirmware(readDescriptors([d]), all).secure).toBeNull();
    const e = dir({ '40-enrolled.json': desc('/missing/CODE.ms.fd', '/missing/VARS.ms.fd', ['enrolled-keys', 'secure-boot']) });
    expect(chooseFirmware(readDescriptors([e])).secure).toBeNull();
  });

  it('skips what is not x86_64 UEFI flash for q35, and malformed JSON', () => {
    expect(parseDescriptor('a.json', '{not json')).toBeNull();
    expect(parseDescriptor('b.json', JSON.stringify({ 'interface-types': ['bios'] }))).toBeNull();
    const arm = JSON.parse(desc('/a/CODE.fd', '/a/VARS.fd', [])) as { targets: { architecture: string }[] };
    arm.targets[0]!.architecture = 'aarch64';
    expect(parseDescriptor('c.json', JSON.stringify(arm))).toBeNull();
    const pcOnly = dir({ '60.json': desc('/p/CODE.fd', '/p/VARS.fd', [], ['pc-i440fx-*']) });
    expect(chooseFirmware(readDescriptors([pcOnly]), all).plain).toBeNull();
  });

  it('matches machine globs', () => {
    expect(machineMatches('pc-q35-*', 'pc-q35-8.2')).toBe(true);
    expect(machineMatches('pc-q35-*', 'pc-i440fx-8.2')).toBe(false);
  });
});
