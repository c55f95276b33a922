/** argv of a VM in the middle of an unattended install: the installer's kernel, booted directly, and the seed CD. */
import { describe, expect, it } from 'vitest';
import { buildQemuArgv } from '../../../../src/core/qemu/argv';
import { rawCdrom, validConfig } from '../../helpers/config';

const HOST = { binary: '/usr/bin/qemu-system-x86_64', accel: 'tcg', ovmfCode: null } as const;
const PATHS = { vmDir: '/data/machines/Deb', runDir: '/run/nb/x', serialLog: '/data/machines/Deb/logs/serial.log', efiVars: '/data/machines/Deb/efivars.qcow2' };

describe('buildQemuArgv with an install under way', () => {
  it('boots the installer kernel with its command line and attaches the seed CD', () => {
    const cfg = validConfig({
      cdroms: [rawCdrom(), rawCdrom({ id: 'seed', iso: '/data/machines/Deb/unattended-seed.iso' })],
      install: { kind: 'ubuntu', seedCdrom: 'seed', files: ['unattended-seed.iso', 'installer-vmlinuz', 'installer-initrd'], kernel: { kernel: 'installer-vmlinuz', initrd: 'installer-initrd', append: 'autoinstall ---' }, booted: false },
    });
    const argv = buildQemuArgv(cfg, HOST, PATHS, { incoming: false });
    const at = argv.indexOf('-kernel');
    expect(argv.slice(at, at + 6)).toEqual(['-kernel', '/data/machines/Deb/installer-vmlinuz', '-initrd', '/data/machines/Deb/installer-initrd', '-append', 'autoinstall ---']);
    expect(argv.join(' ')).toContain('filename=/data/machines/Deb/unattended-seed.iso');
  });

  it('has no -kernel without an install, and the config refuses seed files outside the VM folder', () => {
    expect(buildQemuArgv(validConfig(), HOST, PATHS, { incoming: false })).not.toContain('-kernel');
    expect(() => validConfig({ install: { kind: 'cloud', files: ['../../etc/passwd'], booted: false } })).toThrow(/install.files\[0\]/);
    expect(() => validConfig({ install: { kind: 'cloud', seedCdrom: 'nope', files: [], booted: false } })).toThrow(/no CD drive/);
    expect(() => validConfig({ install: { kind: 'debian', files: [], booted: false, kernel: { kernel: 'k', initrd: 'i', append: 'a; rm -rf /' } } })).toThrow(/install.kernel.append/);
  });
});
