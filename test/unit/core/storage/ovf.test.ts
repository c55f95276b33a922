import { describe, expect, it } from 'vitest';
import { attr, child, childrenOf, localName, parseXml } from '../../../../src/core/storage/xml';
import { generateManifest, generateOvf, parseManifest, parseOvf, unitMultiplier, VMDK_STREAM_OPTIMIZED } from '../../../../src/core/storage/ovf';

const exported = generateOvf({
  name: 'Debian & co',
  description: 'made by <tests>',
  osType: 'linux-other',
  osFamily: 'linux',
  memoryMiB: 512,
  cpus: 2,
  firmware: 'uefi',
  machine: 'q35',
  disks: [
    { href: 'Debian_co-disk001.vmdk', size: 1234, capacity: 20 * 1024 ** 3, bus: 'sata', uuid: '11111111-2222-4333-8444-555555555555' },
    { href: 'Debian_co-disk002.vmdk', size: 99, capacity: 1024 ** 3, bus: 'sata', uuid: '66666666-7777-4888-9999-aaaaaaaaaaaa' },
  ],
  cdroms: 0,
  nics: [{ model: 'e1000', mac: '52:54:00:12:34:56', mode: 'nat', forwards: [] }],
  bootOrder: ['disk', 'cdrom'],
  uuid: 'bbbbbbbb-cccc-4ddd-8eee-ffffffffffff',
});

describe('generateOvf', () => {
  it('writes an OVF 1.0 envelope with streamOptimized VMDK disks on SATA, as VirtualBox does', () => {
    expect(exported).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Envelope ovf:version="1.0"/);
    expect(exported).toContain('xmlns="http://schemas.dmtf.org/ovf/envelope/1"');
    expect(exported).toContain(`ovf:format="${VMDK_STREAM_OPTIMIZED}"`);
    expect(exported).toContain('<rasd:ResourceSubType>AHCI</rasd:ResourceSubType>');
    expect(exported).toContain('<rasd:HostResource>/disk/vmdisk2</rasd:HostResource>');
    expect(exported).toContain('<vssd:VirtualSystemType>virtualbox-2.2</vssd:VirtualSystemType>');
    expect(exported).toContain('Debian &amp; co');
  });

  it('keeps each Item\'s rasd elements in alphabetical order (the CIM schema\'s sequence)', () => {
    for (const item of exported.match(/<Item>[\s\S]*?<\/Item>/g)!) {
      const names = [...item.matchAll(/<rasd:(\w+)>/g)].map((m) => m[1]!);
      expect(names).toEqual([...names].sort());
    }
  });

  it('reads back what it writes', () => {
    const d = parseOvf(exported);
    expect(d).toMatchObject({ name: 'Debian & co', memoryMiB: 512, cpus: 2, firmware: 'uefi', osType: 'linux-other' });
    expect(d.files).toEqual([
      { id: 'file1', href: 'Debian_co-disk001.vmdk', size: 1234 },
      { id: 'file2', href: 'Debian_co-disk002.vmdk', size: 99 },
    ]);
    expect(d.disks.map((x) => [x.diskId, x.fileRef, x.capacity])).toEqual([
      ['vmdisk1', 'file1', 20 * 1024 ** 3],
      ['vmdisk2', 'file2', 1024 ** 3],
    ]);
  });
});

describe('generateOvf: the shape VirtualBox writes, and back', () => {
  const uuids = ['0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', '7d3c1f2e-9a4b-4c6d-8e1f-2a3b4c5d6e7f'];
  const text = generateOvf({
    name: 'desk',
    description: 'the front desk',
    osType: 'linux-debian',
    osFamily: 'linux',
    memoryMiB: 1024,
    cpus: 2,
    firmware: 'bios',
    machine: 'pc',
    disks: [
      { href: 'desk-disk001.vmdk', size: 10, capacity: 1024 ** 3, bus: 'virtio', uuid: uuids[0]! },
      { href: 'desk-disk002.vmdk', size: 10, capacity: 1024 ** 3, bus: 'ide', uuid: uuids[1]! },
    ],
    cdroms: 1,
    nics: [
      { model: 'e1000e', mac: '52:54:00:aa:bb:01', mode: 'nat', forwards: [{ name: 'ssh', protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestAddress: '', guestPort: 22 }] },
      { model: 'virtio-net-pci', mac: '52:54:00:aa:bb:02', mode: 'internal', network: 'lab', forwards: [] },
    ],
    bootOrder: ['cdrom', 'disk'],
    uuid: 'bbbbbbbb-cccc-4ddd-8eee-ffffffffffff',
  });

  it('has an Envelope with References, DiskSection (vbox:uuid), NetworkSection and one VirtualSystem ending in vbox:Machine', () => {
    const root = parseXml(text);
    expect(root.name).toBe('Envelope');
    expect(root.attrs).toMatchObject({ 'ovf:version': '1.0', 'xmlns:vbox': 'http://www.virtualbox.org/ovf/machine', xmlns: 'http://schemas.dmtf.org/ovf/envelope/1' });
    expect(root.children.map((c) => c.name)).toEqual(['References', 'DiskSection', 'NetworkSection', 'VirtualSystem']);
    expect(childrenOf(child(root, 'DiskSection')!, 'Disk').map((d) => attr(d, 'uuid'))).toEqual(uuids);
    expect(childrenOf(child(root, 'NetworkSection')!, 'Network').map((n) => attr(n, 'name'))).toEqual(['NAT', 'Internal']);
    const vs = child(root, 'VirtualSystem')!;
    expect(vs.children.map((c) => c.name)).toEqual(['Info', 'AnnotationSection', 'OperatingSystemSection', 'VirtualHardwareSection', 'vbox:Machine']);
    const os = child(vs, 'OperatingSystemSection')!;
    expect([attr(os, 'id'), child(os, 'Description')!.text, child(os, 'OSType')!.text]).toEqual(['96', 'Debian_64', 'Debian_64']);
    const items = childrenOf(child(vs, 'VirtualHardwareSection')!, 'Item').map((it) => Object.fromEntries(it.children.map((c) => [localName(c.name), c.text])));
    // CPU, memory, the controllers (AHCI for the virtio disk, both IDE channels), adapters, disks, the CD drive.
    expect(items.map((it) => [it['ResourceType'], it['ResourceSubType'] ?? it['Caption']])).toEqual([
      ['3', '2 virtual CPU'],
      ['4', '1024 MB of memory'],
      ['20', 'AHCI'],
      ['5', 'PIIX4'],
      ['5', 'PIIX4'],
      ['10', 'E1000'],
      ['10', 'virtio'],
      ['17', 'disk1'],
      ['17', 'disk2'],
      ['15', 'cdrom1'],
    ]);
    const byId = new Map(items.map((it) => [it['InstanceID'], it]));
    expect([items[7]!, items[8]!, items[9]!].map((it) => [byId.get(it['Parent'])!['Caption'], it['AddressOnParent']])).toEqual([
      ['sataController0', '0'],
      ['ideController0', '0'],
      ['ideController0', '1'],
    ]);
    const m = child(vs, 'Machine')!;
    expect(m.attrs).toMatchObject({ 'ovf:required': 'false', version: '1.19-linux', uuid: '{bbbbbbbb-cccc-4ddd-8eee-ffffffffffff}', name: 'desk', OSType: 'Debian_64' });
    expect(m.children.map((c) => c.name)).toEqual(['ovf:Info', 'Description', 'ExtraData', 'Hardware']);
    const hw = child(m, 'Hardware')!;
    expect(hw.children.map((c) => c.name)).toEqual(['CPU', 'Memory', 'Boot', 'Display', 'Network', 'StorageControllers']);
    const adapters = childrenOf(child(hw, 'Network')!, 'Adapter');
    expect(adapters.map((a) => [attr(a, 'slot'), attr(a, 'MACAddress'), attr(a, 'type'), a.children[0]!.name])).toEqual([
      ['0', '525400AABB01', '82545EM', 'NAT'],
      ['1', '525400AABB02', 'virtio', 'InternalNetwork'],
    ]);
    const ctls = childrenOf(child(hw, 'StorageControllers')!, 'StorageController');
    expect(ctls.map((c) => [attr(c, 'type'), childrenOf(c, 'AttachedDevice').map((d) => `${attr(d, 'type')}@${attr(d, 'port')}:${attr(d, 'device')}`)])).toEqual([
      ['AHCI', ['HardDisk@0:0']],
      ['PIIX4', ['HardDisk@0:0', 'DVD@0:1']],
    ]);
  });

  it('reads back with the same firmware, machine, buses, adapter models, MACs, forwards, CD drive and boot order', () => {
    const d = parseOvf(text);
    expect(d).toMatchObject({ name: 'desk', osType: 'linux-debian', description: 'the front desk', firmware: 'bios', memoryMiB: 1024, cpus: 2, dialect: 'virtualbox' });
    expect(d.disks.map((x) => x.vboxUuid)).toEqual(uuids);
    expect(d.diskBuses).toEqual(['virtio', 'ide']);
    expect(d.hardware).toMatchObject({ firmware: 'bios', machine: 'pc', bootOrder: ['cdrom', 'disk'], dropped: [] });
    expect(d.hardware.attachments.map((a) => [a.kind, a.bus])).toEqual([['disk', 'virtio'], ['disk', 'ide'], ['cdrom', 'ide']]);
    expect(d.hardware.nics).toEqual([
      { model: 'e1000e', mac: '52:54:00:aa:bb:01', mode: 'nat', forwards: [{ name: 'ssh', protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestAddress: '', guestPort: 22 }] },
      { model: 'virtio-net-pci', mac: '52:54:00:aa:bb:02', mode: 'internal', network: 'lab', forwards: [] },
    ]);
  });
});

function envelope(refs: string, disks: string, hw = ''): string {
  return `<?xml version="1.0"?><Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="urn:rasd">
<References>${refs}</References><DiskSection><Info/>${disks}</DiskSection>
<VirtualSystem ovf:id="vm1"><Info/><OperatingSystemSection ovf:id="94"><Info/><Description>Ubuntu 64-bit</Description></OperatingSystemSection>
<VirtualHardwareSection><Info/>${hw}</VirtualHardwareSection></VirtualSystem></Envelope>`;
}
const disk = (id: string, file: string, extra = '') => `<Disk ovf:diskId="${id}" ovf:fileRef="${file}" ovf:capacity="16" ovf:capacityAllocationUnits="byte * 2^30" ovf:format="${VMDK_STREAM_OPTIMIZED}"${extra}/>`;

describe('parseOvf', () => {
  it('reads capacity units, memory units, the boot order of disks and the OS', () => {
    const d = parseOvf(
      envelope(
        '<File ovf:id="f1" ovf:href="a.vmdk"/><File ovf:id="f2" ovf:href="b.vmdk"/>',
        disk('d1', 'f1') + disk('d2', 'f2'),
        `<Item><rasd:ResourceType>4</rasd:ResourceType><rasd:AllocationUnits>byte * 2^30</rasd:AllocationUnits><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
         <Item><rasd:ResourceType>17</rasd:ResourceType><rasd:HostResource>ovf:/disk/d2</rasd:HostResource></Item>
         <Item><rasd:ResourceType>17</rasd:ResourceType><rasd:HostResource>ovf:/disk/d1</rasd:HostResource></Item>`,
      ),
    );
    expect(d.name).toBe('vm1');
    expect(d.memoryMiB).toBe(2048);
    expect(d.cpus).toBeNull();
    expect(d.osType).toBe('linux-ubuntu');
    expect(d.disks.map((x) => x.diskId)).toEqual(['d2', 'd1']);
    expect(d.disks[0]!.capacity).toBe(16 * 1024 ** 3);
  });

  it.each([
    ['a path outside the package', '<File ovf:id="f1" ovf:href="../../etc/passwd"/>', disk('d1', 'f1'), /not a plain name/],
    ['an absolute path', '<File ovf:id="f1" ovf:href="/etc/shadow"/>', disk('d1', 'f1'), /not a plain name/],
    ['a URL', '<File ovf:id="f1" ovf:href="http://example.invalid/d.vmdk"/>', disk('d1', 'f1'), /not a plain name/],
    ['a compressed file', '<File ovf:id="f1" ovf:href="a.vmdk" ovf:compression="gzip"/>', disk('d1', 'f1'), /compressed/],
    ['a file named twice', '<File ovf:id="f1" ovf:href="a.vmdk"/><File ovf:id="f2" ovf:href="A.vmdk"/>', disk('d1', 'f1'), /named twice/],
    ['a disk with an unknown file', '<File ovf:id="f1" ovf:href="a.vmdk"/>', disk('d1', 'nope'), /does not list/],
    ['a non-VMDK disk', '<File ovf:id="f1" ovf:href="a.vmdk"/>', disk('d1', 'f1').replace(VMDK_STREAM_OPTIMIZED, 'http://example/raw'), /Nestbox imports VMDK/],
    ['an absurd capacity', '<File ovf:id="f1" ovf:href="a.vmdk"/>', disk('d1', 'f1').replace('ovf:capacity="16"', 'ovf:capacity="99999999999"'), /absurd capacity/],
    ['no disks', '', '', /no disks/],
  ])('refuses %s', (_, refs, disks, why) => {
    expect(() => parseOvf(envelope(refs, disks))).toThrow(why);
  });

  it('refuses a DOCTYPE before reading anything', () => {
    expect(() => parseOvf(`<!DOCTYPE Envelope SYSTEM "file:///etc/passwd">${envelope('', '')}`)).toThrow(/DOCTYPE/);
  });

  it('understands DMTF programmatic units', () => {
    expect(unitMultiplier('byte * 2^20')).toBe(1024 ** 2);
    expect(unitMultiplier('byte*2^30')).toBe(1024 ** 3);
    expect(unitMultiplier('MegaBytes')).toBe(1024 ** 2);
    expect(() => unitMultiplier('furlongs')).toThrow(/not understood/);
  });
});

describe('manifest', () => {
  it('writes SHA256 lines as VirtualBox spells them and reads SHA1/SHA256 lines in both spellings back', () => {
    const text = generateManifest([{ name: 'a.ovf', sha256: 'ab'.repeat(32) }]);
    expect(text).toBe(`SHA256 (a.ovf) = ${'ab'.repeat(32)}\n`);
    const m = parseManifest(`${text}SHA1(b.vmdk)= ${'CD'.repeat(20)}\r\n`);
    expect(m.get('a.ovf')).toEqual({ algorithm: 'sha256', digest: 'ab'.repeat(32) });
    expect(m.get('b.vmdk')).toEqual({ algorithm: 'sha1', digest: 'cd'.repeat(20) });
    expect(() => parseManifest('MD5(x)= 00')).toThrow(/does not understand/);
  });
});
