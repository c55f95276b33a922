import { describe, expect, it } from 'vitest';
import { generateManifest, generateOvf, parseManifest, parseOvf, unitMultiplier, VMDK_STREAM_OPTIMIZED } from '../../../../src/core/storage/ovf';

const exported = generateOvf({
  name: 'Debian & co',
  description: 'made by <tests>',
  osFamily: 'linux',
  memoryMiB: 512,
  cpus: 2,
  firmware: 'uefi',
  disks: [
    { href: 'Debian_co-disk001.vmdk', size: 1234, capacity: 20 * 1024 ** 3 },
    { href: 'Debian_co-disk002.vmdk', size: 99, capacity: 1024 ** 3 },
  ],
  nics: 1,
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
  it('writes SHA256 lines and reads SHA1/SHA256 lines back', () => {
    const text = generateManifest([{ name: 'a.ovf', sha256: 'ab'.repeat(32) }]);
    expect(text).toBe(`SHA256(a.ovf)= ${'ab'.repeat(32)}\n`);
    const m = parseManifest(`${text}SHA1(b.vmdk)= ${'CD'.repeat(20)}\r\n`);
    expect(m.get('a.ovf')).toEqual({ algorithm: 'sha256', digest: 'ab'.repeat(32) });
    expect(m.get('b.vmdk')).toEqual({ algorithm: 'sha1', digest: 'cd'.repeat(20) });
    expect(() => parseManifest('MD5(x)= 00')).toThrow(/does not understand/);
  });
});
