/** What a dropped file becomes, decided from its name; the VM name and OS type it suggests. */
import { describe, expect, it } from 'vitest';
import { OS_TYPES } from '../../../../src/core/domain/ostypes';
import { classifyDrop, groupDrop, guessOsType, vmNameFromFile, type DropItem, type PickedFile } from '../../../../src/renderer/src/media/dropped';
import { sizeSpec } from '../../../../src/renderer/src/media/mediaFormats';
import { deleteBlocker, usageText } from '../../../../src/renderer/src/media/usage';
import type { MediumInfo } from '../../../../src/core/api/contract';

describe('classifyDrop', () => {
  it('sorts ISOs, disk images and appliances by extension, case-insensitively', () => {
    expect(classifyDrop('debian-12.7.0-amd64-netinst.ISO')).toBe('iso');
    for (const f of ['a.qcow2', 'b.raw', 'c.img', 'd.VDI', 'e.vmdk', 'f.vhd', 'g.VHDX']) expect(classifyDrop(f)).toBe('disk');
    expect(classifyDrop('appliance.ova')).toBe('appliance');
    expect(classifyDrop('appliance.OVF')).toBe('appliance');
  });
  it("sends other managers' machines (.vbox, domain .xml, a .utm bundle) to the import dialog", () => {
    for (const f of ['Moderator 1.vbox', 'debian12.xml', 'Debian.utm', 'Win.UTM']) expect(classifyDrop(f)).toBe('appliance');
  });
  it('calls anything else unknown', () => {
    for (const f of ['notes.txt', 'iso', 'archive.tar.gz', 'disk.qcow2.partial', '']) expect(classifyDrop(f)).toBe('unknown');
  });
});

describe('vmNameFromFile', () => {
  it('drops the extension and keeps a valid VM name', () => {
    expect(vmNameFromFile('debian-12.iso', [])).toBe('debian-12');
    expect(vmNameFromFile('My Disk [old]#2.vdi', [])).toBe('My Disk -old-2');
    expect(vmNameFromFile('--.iso', [])).toBe('Imported VM');
  });
  it('is unique against the names taken, ignoring case', () => {
    expect(vmNameFromFile('guest.iso', ['Guest'])).toBe('guest (2)');
    expect(vmNameFromFile('guest.iso', ['guest', 'guest (2)'])).toBe('guest (3)');
  });
  it('stays within the length limit with room for a suffix', () => {
    const n = vmNameFromFile(`${'x'.repeat(200)}.iso`, [], 64);
    expect(n.length).toBeLessThanOrEqual(64);
    expect(vmNameFromFile(`${'x'.repeat(200)}.iso`, [n], 64).length).toBeLessThanOrEqual(64);
  });
});

describe('guessOsType', () => {
  const id = (name: string) => guessOsType(name, OS_TYPES)?.id;
  it('recognises common install media', () => {
    expect(id('debian-12.7.0-amd64-netinst.iso')).toBe('linux-debian');
    expect(id('ubuntu-24.04-desktop-amd64.iso')).toBe('linux-ubuntu');
    expect(id('Fedora-Workstation-Live-x86_64-40.iso')).toBe('linux-fedora');
    expect(id('alpine-virt-3.20.iso')).toBe('linux-alpine');
    expect(id('archlinux-2024.06.01-x86_64.iso')).toBe('linux-arch');
    expect(id('Win11_23H2_English_x64.iso')).toBe('windows-11');
    expect(id('FreeBSD-14.1-RELEASE-amd64-disc1.iso')).toBe('bsd-freebsd');
    expect(id('linuxmint-21.3-cinnamon.iso')).toBe('linux-other');
  });
  it('guesses nothing from a name that says nothing', () => {
    expect(id('guest.iso')).toBeUndefined();
    expect(id('disk.vdi')).toBeUndefined();
  });
  it('only offers types the host lists', () => {
    expect(guessOsType('debian.iso', OS_TYPES.filter((t) => t.id !== 'linux-debian'))).toBeUndefined();
  });
});

describe('Media Manager helpers', () => {
  const medium = (usedBy: MediumInfo['usedBy']): MediumInfo => ({
    path: '/h/vm/disk.qcow2', name: 'disk.qcow2', kind: 'disk', format: 'qcow2', virtualSize: 1, actualSize: 1, owned: true, missing: false, usedBy, addedAt: '',
  });
  it('sizeSpec reads GiB by default and keeps fractions exact', () => {
    expect(sizeSpec('20')).toBe('20G');
    expect(sizeSpec('512M')).toBe('512M');
    expect(sizeSpec('1.5 GiB')).toBe(`${1.5 * 1024 * 1024}K`);
    expect(sizeSpec('0')).toBeNull();
    expect(sizeSpec('lots')).toBeNull();
  });
  it('names every user that blocks a delete, VMs and snapshots', () => {
    expect(deleteBlocker(medium([]))).toBeNull();
    const used = medium([
      { vm: 'web', uuid: 'u1', device: 'disk0', current: true, snapshots: [] },
      { vm: 'old', uuid: 'u2', device: 'disk0', current: false, snapshots: ['before upgrade'] },
    ]);
    expect(deleteBlocker(used)).toBe('In use by web (disk0); snapshots of old: before upgrade.');
    expect(usageText(used)).toBe('web, old (snapshot only) [snapshot before upgrade]');
  });
});

describe('groupDrop', () => {
  const pick = (...rels: string[]): PickedFile[] => rels.map((rel) => ({ rel, file: new File(['x'], rel.split('/').pop()!) }));
  const shape = (items: DropItem[]) =>
    items.map((i) => (i.kind === 'file' ? { file: i.file.name } : { machine: i.descriptor, files: i.files.map((f) => f.rel).sort(), hasFile: i.descriptorFile !== null }));

  it('a .vbox dropped with its disks is one machine; its snapshot folder keeps its layout', () => {
    expect(shape(groupDrop(pick('Deb.vbox', 'Deb.vdi')))).toEqual([{ machine: 'Deb.vbox', files: ['Deb.vbox', 'Deb.vdi'], hasFile: true }]);
    const folder = pick('Deb/Deb.vbox', 'Deb/Deb.vdi', 'Deb/Snapshots/{1a2b}.vdi', 'Deb/Logs/VBox.log', 'Deb/Deb.vbox-prev', 'Deb/.DS_Store', 'Deb/Snapshots/2024.sav');
    expect(shape(groupDrop(folder))).toEqual([{ machine: 'Deb.vbox', files: ['Deb.vbox', 'Deb.vdi', 'Snapshots/{1a2b}.vdi'], hasFile: true }]);
  });

  it('every file inside a .utm folder is that bundle, under the bundle’s own name; its screenshot stays behind', () => {
    const items = groupDrop(pick('VMs/Debian.utm/config.plist', 'VMs/Debian.utm/Data/disk-0.qcow2', 'VMs/Debian.utm/Data/efi_vars.fd', 'VMs/Debian.utm/screenshot.png'));
    expect(shape(items)).toEqual([{ machine: 'Debian.utm', files: ['Debian.utm/Data/disk-0.qcow2', 'Debian.utm/Data/efi_vars.fd', 'Debian.utm/config.plist'], hasFile: false }]);
  });

  it('a domain XML takes the disks beside it; an ISO dropped beside it stays single, files outside its folder too', () => {
    const items = groupDrop(pick('vm/web.xml', 'vm/web.qcow2', 'debian.iso', 'other/thing.vdi'));
    expect(shape(items)).toEqual([{ machine: 'web.xml', files: ['web.qcow2', 'web.xml'], hasFile: true }, { file: 'debian.iso' }, { file: 'thing.vdi' }]);
    expect(shape(groupDrop(pick('web.xml', 'web.qcow2', 'debian.iso')))).toEqual([{ machine: 'web.xml', files: ['web.qcow2', 'web.xml'], hasFile: true }, { file: 'debian.iso' }]);
  });

  it('files without a machine file are single items, as before', () => {
    expect(shape(groupDrop(pick('a.iso', 'b.qcow2', 'c.ova')))).toEqual([{ file: 'a.iso' }, { file: 'b.qcow2' }, { file: 'c.ova' }]);
  });

  it('two machine folders dropped together are two machines, each with its own files', () => {
    const items = groupDrop(pick('A/A.vbox', 'A/A.vdi', 'B/B.vbox', 'B/B.vdi'));
    expect(shape(items)).toEqual([
      { machine: 'A.vbox', files: ['A.vbox', 'A.vdi'], hasFile: true },
      { machine: 'B.vbox', files: ['B.vbox', 'B.vdi'], hasFile: true },
    ]);
  });
});
