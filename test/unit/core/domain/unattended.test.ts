import { describe, expect, it } from 'vitest';
import {
  buildAutoinstallUserData, buildAutounattend, buildCloudUserData, buildMetaData, buildPreseed, defaultHostname,
  installerAppend, installerBoot, parseIdentity, seedKindFor, UnattendedError, windowsDiskLayout,
} from '../../../../src/core/domain/unattended';

const HASH = '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKmRLf4Cgm6VslWGWgSCkHcjqnMu0jhH3z2M1KgYlYkc alice@laptop';

function fail(fn: () => unknown): UnattendedError {
  try {
    fn();
  } catch (e) {
    if (e instanceof UnattendedError) return e;
    throw e;
  }
  throw new Error('expected an UnattendedError');
}

describe('parseIdentity', () => {
  it('takes good values and fills the defaults', () => {
    const id = parseIdentity({ user: 'alice', sshKeys: [KEY, ' '] }, 'cloud', 'Web Server 2');
    expect(id).toEqual({ user: 'alice', hostname: 'web-server-2', timezone: 'UTC', locale: 'en_US', sshKeys: [KEY] });
    expect(defaultHostname('123')).toBe('nestbox-vm');
  });

  it('refuses values that would break out of a seed file, naming the field', () => {
    expect(fail(() => parseIdentity({ user: 'al"ice' }, 'cloud', 'x')).field).toBe('user');
    expect(fail(() => parseIdentity({ user: 'root' }, 'cloud', 'x')).message).toMatch(/reserves/);
    expect(fail(() => parseIdentity({ user: 'a', hostname: 'a b' }, 'cloud', 'x')).field).toBe('hostname');
    expect(fail(() => parseIdentity({ user: 'a', timezone: 'Europe/Berlin\nx' }, 'debian', 'x')).field).toBe('timezone');
    expect(fail(() => parseIdentity({ user: 'a', locale: 'en-US' }, 'debian', 'x')).field).toBe('locale');
    expect(fail(() => parseIdentity({ user: 'a', sshKeys: ["ssh-ed25519 AAAA' ; rm -rf /"] }, 'debian', 'x')).field).toBe('sshKeys');
    expect(fail(() => parseIdentity({ user: 'a', productKey: 'ABCDE' }, 'windows', 'x')).field).toBe('productKey');
    expect(fail(() => parseIdentity({ user: 'a', productKey: 'ABCDE-ABCDE-ABCDE-ABCDE-ABCDE' }, 'debian', 'x')).field).toBe('productKey');
    expect(fail(() => parseIdentity({ user: 'a', hostname: 'a-very-long-name-x' }, 'windows', 'x')).message).toMatch(/15/);
    expect(fail(() => parseIdentity({ user: 'a', timezone: 'Asia/Ulaanbaatar' }, 'windows', 'x')).message).toMatch(/Windows' name/);
  });
});

describe('seedKindFor', () => {
  it('picks the seed from the OS type and whether a disk image is set up', () => {
    expect(seedKindFor('windows-11', false)).toBe('windows');
    expect(seedKindFor('linux-debian', false)).toBe('debian');
    expect(seedKindFor('linux-ubuntu', false)).toBe('ubuntu');
    expect(seedKindFor('linux-debian', true)).toBe('cloud');
    expect(() => seedKindFor('bsd-freebsd', false)).toThrow(/cannot install 'bsd-freebsd'/);
    expect(() => seedKindFor('windows-11', true)).toThrow(/cloud image/);
  });
});

describe('buildAutounattend', () => {
  const identity = parseIdentity({ user: 'alice', hostname: 'win11', timezone: 'Europe/Berlin', locale: 'de_DE', productKey: 'vk7jg-nphtm-c97jm-9mpgt-3v66t' }, 'windows', 'x');

  function parse(xml: string): Document {
    // A structural check without a DOM: every element opened is closed, in order.
    const stack: string[] = [];
    for (const m of xml.matchAll(/<(\/?)([A-Za-z][\w:-]*)([^>]*?)(\/?)>/g)) {
      if (m[4] === '/') continue;
      if (m[1] === '/') expect(stack.pop()).toBe(m[2]);
      else stack.push(m[2]!);
    }
    expect(stack).toEqual([]);
    return null as unknown as Document;
  }

  it('lays out the disk for UEFI (GPT: EFI, MSR, Windows on 3) and BIOS (MBR: active system, Windows on 2)', () => {
    const uefi = buildAutounattend({ identity, firmware: 'uefi', passwordValue: 'cABhAHMAcwA=' });
    parse(uefi);
    expect(uefi).toMatch(/<Type>EFI<\/Type>[\s\S]*<Type>MSR<\/Type>[\s\S]*<Type>Primary<\/Type><Extend>true/);
    expect(uefi).toContain('<InstallTo><DiskID>0</DiskID><PartitionID>3</PartitionID></InstallTo>');
    expect(uefi).toContain('<Format>FAT32</Format>');
    const bios = buildAutounattend({ identity, firmware: 'bios', passwordValue: 'cABhAHMAcwA=' });
    parse(bios);
    expect(bios).not.toContain('EFI');
    expect(bios).toContain('<Active>true</Active>');
    expect(bios).toContain('<PartitionID>2</PartitionID></InstallTo>');
    expect(windowsDiskLayout('bios').installPartition).toBe(2);
  });

  it('has the user (hidden password), locale, zone, key and no online-account screens', () => {
    const x = buildAutounattend({ identity, firmware: 'uefi', passwordValue: 'cABhAHMAcwA=' });
    expect(x).toContain('<Name>alice</Name>');
    expect(x).toMatch(/<Password>\s*<Value>cABhAHMAcwA=<\/Value>\s*<PlainText>false<\/PlainText>/);
    expect(x).toContain('<UILanguage>de-DE</UILanguage>');
    expect(x).toContain('<TimeZone>W. Europe Standard Time</TimeZone>');
    expect(x).toContain('<ComputerName>win11</ComputerName>');
    expect(x).toContain('<Key>VK7JG-NPHTM-C97JM-9MPGT-3V66T</Key>');
    expect(x).toContain('<HideOnlineAccountScreens>true</HideOnlineAccountScreens>');
    expect(x).toContain('BypassNRO');
    expect(x).toContain('<AcceptEula>true</AcceptEula>');
    const noKey = buildAutounattend({ identity: { ...identity, productKey: undefined } as never, firmware: 'uefi', passwordValue: 'x' });
    expect(noKey).not.toContain('<ProductKey>');
  });
});

describe('Linux seeds', () => {
  const identity = parseIdentity({ user: 'alice', hostname: 'deb', timezone: 'Europe/Paris', locale: 'fr_FR', sshKeys: [KEY] }, 'debian', 'x');

  it('preseed: hashed password, no root, keys, user, zone, power off at the end', () => {
    const p = buildPreseed({ identity, passwordHash: HASH });
    const answers = new Map(p.split('\n').filter((l) => l.startsWith('d-i ')).map((l) => { const [, q, , ...v] = l.split(' '); return [q!, v.join(' ')]; }));
    expect(answers.get('passwd/username')).toBe('alice');
    expect(answers.get('passwd/user-password-crypted')).toBe(HASH);
    expect(answers.get('passwd/root-login')).toBe('false');
    expect(answers.get('netcfg/get_hostname')).toBe('deb');
    expect(answers.get('time/zone')).toBe('Europe/Paris');
    expect(answers.get('debian-installer/locale')).toBe('fr_FR.UTF-8');
    expect(answers.get('keyboard-configuration/xkb-keymap')).toBe('fr');
    expect(answers.get('debian-installer/exit/poweroff')).toBe('true');
    expect(answers.get('preseed/late_command')).toContain(`'${KEY}'`);
    expect(() => buildPreseed({ identity, passwordHash: 'plain' })).toThrow(/SHA-512/);
  });

  it('cloud user-data and meta-data: JSON-quoted YAML values, the user, hash, key and host name', () => {
    const u = buildCloudUserData({ identity, passwordHash: HASH });
    expect(u.startsWith('#cloud-config\n')).toBe(true);
    expect(u).toContain('hostname: "deb"\n');
    expect(u).toContain('  - name: "alice"\n');
    expect(u).toContain(`    passwd: ${JSON.stringify(HASH)}\n`);
    expect(u).toContain('    lock_passwd: false\n');
    expect(u).toContain(`    ssh_authorized_keys:\n      - ${JSON.stringify(KEY)}\n`);
    expect(buildMetaData('nestbox-1', 'deb')).toBe('instance-id: "nestbox-1"\nlocal-hostname: "deb"\n');
  });

  it('Ubuntu autoinstall: identity with the hash, ssh keys, power off', () => {
    const u = buildAutoinstallUserData({ identity, passwordHash: HASH });
    expect(u).toMatch(/^#cloud-config\n(#.*\n)?autoinstall:\n {2}version: 1\n/);
    expect(u).toContain(`    password: ${JSON.stringify(HASH)}\n`);
    expect(u).toContain('    username: "alice"\n');
    expect(u).toContain(`        - ${JSON.stringify(KEY)}\n`);
    expect(u).toContain('  shutdown: poweroff\n');
  });
});

describe('installer boot', () => {
  const debianGrub = `if [ x$feature_default_font_path = xy ] ; then
menuentry --hotkey=g 'Graphical install' {
    set background_color=black
    linux    /install.amd/vmlinuz vga=788 --- quiet
    initrd   /install.amd/gtk/initrd.gz
}
menuentry --hotkey=i 'Install' {
    set background_color=black
    linux    /install.amd/vmlinuz vga=788 --- quiet
    initrd   /install.amd/initrd.gz
}`;
  it("reads the kernel, initrd and arguments from the ISO's grub.cfg, skipping the graphical installer", () => {
    const b = installerBoot('debian', debianGrub);
    expect(b).toEqual({ kernel: '/install.amd/vmlinuz', initrd: '/install.amd/initrd.gz', args: ['vga=788'], tail: ['quiet'] });
  });
  it('falls back to the known paths and builds the command line', () => {
    const id = parseIdentity({ user: 'a', hostname: 'h', locale: 'de_DE' }, 'debian', 'x');
    const b = installerBoot('ubuntu', 'menuentry "Try or Install Ubuntu Server" {\n linux /casper/vmlinuz  ---\n initrd /casper/initrd\n}');
    expect(b).toEqual({ kernel: '/casper/vmlinuz', initrd: '/casper/initrd', args: [], tail: [] });
    expect(installerAppend('ubuntu', b, id)).toBe('autoinstall ---');
    expect(installerAppend('debian', installerBoot('debian', null), id)).toBe('auto=true priority=critical locale=de_DE.UTF-8 keymap=de hostname=h domain= --- quiet');
  });
});
