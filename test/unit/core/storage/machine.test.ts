import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest, parseOvf, VMDK_STREAM_OPTIMIZED } from '../../../../src/core/storage/ovf';
import { virtualBoxOvf, vmwareOvf } from '../../../support/foreign-fixtures';
import { looksLike, requirePlausibleRaw } from '../../../../src/core/storage/sniff';


describe('OVA manifests as tools write them', () => {
  const sha256 = 'ab'.repeat(32);
  it.each([
    ['ovftool', `SHA256(a.ovf)= ${sha256}\n`],
    ['VirtualBox', `SHA256 (a.ovf) = ${sha256}\n`],
  ])('reads %s spelling', (_, text) => {
    expect(parseManifest(text).get('a.ovf')).toEqual({ algorithm: 'sha256', digest: sha256 });
  });
  it('reads SHA1 and SHA512 in either spelling, names with spaces and parentheses', () => {
    const m = parseManifest(`SHA1 (Moderator 1 (copy).ovf) = ${'cd'.repeat(20)}\nSHA512(disk.vmdk)= ${'EF'.repeat(64)}\r\n`);
    expect(m.get('Moderator 1 (copy).ovf')).toEqual({ algorithm: 'sha1', digest: 'cd'.repeat(20) });
    expect(m.get('disk.vmdk')).toEqual({ algorithm: 'sha512', digest: 'ef'.repeat(64) });
  });
  it('refuses a digest whose length does not fit its algorithm, a name listed twice, and MD5', () => {
    expect(() => parseManifest(`SHA256 (a.ovf) = ${'ab'.repeat(20)}`)).toThrow(/40 hex digits, not 64/);
    expect(() => parseManifest(`SHA1(a)= ${'ab'.repeat(20)}\nSHA1 (a) = ${'ab'.repeat(20)}`)).toThrow(/twice/);
    expect(() => parseManifest('MD5 (x) = 00')).toThrow(/does not understand/);
  });
});

describe('the hardware of an OVF', () => {
  it("takes VirtualBox's vbox:Machine section: firmware, chipset, SATA disk, IDE DVD, NICs with MACs and forwards, boot order", () => {
    const d = parseOvf(virtualBoxOvf({ firmware: 'BIOS', mac: '080027C0FFEE' }));
    expect(d.dialect).toBe('virtualbox');
    expect(d).toMatchObject({ name: 'Moderator 1', firmware: 'bios', memoryMiB: 256, cpus: 1, description: 'moderates things', osType: 'linux-debian' });
    expect(d.diskBuses).toEqual(['sata']);
    expect(d.hardware.machine).toBe('pc');
    expect(d.hardware.attachments).toEqual([
      { bus: 'ide', kind: 'cdrom', image: null },
      { bus: 'sata', kind: 'disk', image: '3f6e0a4c-7d2b-4a6e-9d7e-0c1a2b3c4d5e' },
    ]);
    expect(d.hardware.bootOrder).toEqual(['disk', 'cdrom']);
    expect(d.hardware.nics).toEqual([
      { model: 'virtio-net-pci', mac: '08:00:27:c0:ff:ee', mode: 'nat', forwards: [{ name: 'ssh', protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestAddress: '', guestPort: 22 }] },
      { model: 'e1000', mac: '08:00:27:11:22:33', mode: 'nat', forwards: [] },
    ]);
    expect(d.hardware.dropped).toEqual([
      "adapter 2 on the host-only network 'vboxnet0' (imported as NAT)",
      "the shared folder 'home'",
      "the USB filter 'Stick'",
      '3D acceleration',
      'the audio adapter',
    ]);
    expect(parseOvf(virtualBoxOvf({ firmware: 'EFI', mac: '080027C0FFEE' })).firmware).toBe('uefi');
  });

  it("takes VMware's extensions: EFI firmware, the LSI Logic SCSI disk, vmxnet3 with its MAC", () => {
    const d = parseOvf(vmwareOvf({ mac: '00:50:56:aa:bb:cc' }));
    expect(d.dialect).toBe('vmware');
    expect(d).toMatchObject({ name: 'efi-vm', firmware: 'uefi', memoryMiB: 256, cpus: 2 });
    expect(d.diskBuses).toEqual(['scsi']);
    expect(d.hardware.nics).toEqual([{ model: 'vmxnet3', mac: '00:50:56:aa:bb:cc', mode: 'nat', forwards: [] }]);
    expect(d.hardware.attachments.filter((a) => a.kind === 'cdrom')).toHaveLength(1);
    expect(d.hardware.dropped).toEqual(["the USB controller 'USB Controller (EHCI)'"]);
  });

  it('reads an OVF 2.0 envelope (StorageItem, EthernetPortItem)', () => {
    const text = `<?xml version="1.0"?><Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/2" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/2" xmlns:rasd="urn:rasd" xmlns:sasd="urn:sasd" xmlns:epasd="urn:epasd">
<References><File ovf:id="f1" ovf:href="a.vmdk"/></References><DiskSection><Info/><Disk ovf:diskId="d1" ovf:fileRef="f1" ovf:capacity="1" ovf:capacityAllocationUnits="byte * 2^30" ovf:format="${VMDK_STREAM_OPTIMIZED}"/></DiskSection>
<VirtualSystem ovf:id="two"><Info/><VirtualHardwareSection><Info/>
<Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>6</rasd:ResourceType><rasd:ResourceSubType>VirtualSCSI</rasd:ResourceSubType></Item>
<StorageItem><sasd:HostResource>ovf:/disk/d1</sasd:HostResource><sasd:InstanceID>2</sasd:InstanceID><sasd:Parent>1</sasd:Parent><sasd:ResourceType>17</sasd:ResourceType></StorageItem>
<EthernetPortItem><epasd:Address>00:50:56:01:02:03</epasd:Address><epasd:InstanceID>3</epasd:InstanceID><epasd:ResourceSubType>E1000e</epasd:ResourceSubType><epasd:ResourceType>10</epasd:ResourceType></EthernetPortItem>
</VirtualHardwareSection></VirtualSystem></Envelope>`;
    const d = parseOvf(text);
    expect(d.diskBuses).toEqual(['scsi']);
    expect(d.hardware.nics).toEqual([{ model: 'e1000e', mac: '00:50:56:01:02:03', mode: 'nat', forwards: [] }]);
  });
});

describe('files that cannot be raw disks', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbt-sniff-'));
  it.each([
    ['notes.txt', Buffer.from('hello\n'), /looks like a text file/],
    ['Moderator 1.vbox', Buffer.from('<?xml version="1.0"?>\n<VirtualBox xmlns="http://www.virtualbox.org/" version="1.19-linux">'.padEnd(1024, ' ')), /VirtualBox machine file.*nestbox import FILE\.vbox/],
    ['vm.xml', Buffer.from("<domain type='kvm'>\n  <name>vm</name>".padEnd(512, ' ')), /libvirt domain XML.*nestbox import FILE\.xml/],
    ['x.json', Buffer.from('{"a": 1}'.padEnd(512, ' ')), /JSON text/],
    ['x.zip', Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(508)]), /zip archive/],
    ['x.pdf', Buffer.concat([Buffer.from('%PDF-1.7', 'latin1'), Buffer.alloc(504)]), /PDF document/],
    ['odd.img', Buffer.alloc(1000), /whole 512-byte sectors, and it is 1000 bytes/],
  ])('refuses %s, saying what it looks like', (name, data, why) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, data);
    expect(() => requirePlausibleRaw(f)).toThrow(why);
  });
  it('accepts sectors of zeros and a boot sector', () => {
    const f = path.join(dir, 'disk.img');
    const b = Buffer.alloc(4096);
    b[510] = 0x55;
    b[511] = 0xaa;
    fs.writeFileSync(f, b);
    expect(() => requirePlausibleRaw(f)).not.toThrow();
    expect(looksLike(Buffer.alloc(512))).toBeNull();
  });
});
