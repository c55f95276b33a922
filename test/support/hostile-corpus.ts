/**
 * The hostile-image corpus: images built to make an image manager read host files, follow
 * links to devices, allocate absurd amounts of memory or hang. It is generated (never
 * committed as binaries) by `makeHostileCorpus(dir)`; each case says why it must be refused.
 *
 *   npx vite-node test/support/hostile-corpus.ts DIR    # writes the corpus into DIR
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tarHeader, tarPadding, TAR_END } from '../../src/core/storage/tar';

export interface HostileCase {
  readonly name: string;
  readonly file: string;
  /** What the refusal must say (the reason, in words). */
  readonly reason: RegExp;
}

function qemuImg(dir: string, ...args: string[]): void {
  execFileSync('qemu-img', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function patch(file: string, at: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, at);
  } finally {
    fs.closeSync(fd);
  }
}

const be64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const le64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
};
const le32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const be32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** A KDMV (sparse VMDK) header whose embedded descriptor is a monolithicFlat one naming `target`. */
function kdmvEmbedding(target: string): Buffer {
  const header = Buffer.alloc(512);
  header.write('KDMV', 0, 'latin1');
  header.writeUInt32LE(1, 4);
  header.writeUInt32LE(3, 8);
  header.writeBigUInt64LE(0n, 12);
  header.writeBigUInt64LE(128n, 20);
  header.writeBigUInt64LE(1n, 28);
  header.writeBigUInt64LE(1n, 36);
  header.writeUInt32LE(512, 44);
  header.write('\n \r\n', 73, 'latin1');
  const desc = Buffer.alloc(512);
  desc.write(['# Disk DescriptorFile', 'version=1', 'CID=fffffffe', 'parentCID=ffffffff', 'createType="monolithicFlat"', '', `RW 2048 FLAT "${target}" 0`, ''].join('\n'), 0, 'latin1');
  return Buffer.concat([header, desc]);
}

function ova(file: string, entries: readonly { name: string; data: Buffer; typeflag?: string; linkname?: string }[]): void {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const h = tarHeader(e.name.length <= 100 ? e.name : e.name.slice(0, 100), e.data.length);
    if (e.typeflag) {
      h.write(e.typeflag, 156, 1, 'latin1');
      if (e.linkname) h.write(e.linkname, 157, 100, 'latin1');
      // re-checksum
      h.fill(0x20, 148, 156);
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += h[i]!;
      h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
    }
    if (e.name.length > 100) h.write(e.name.slice(0, 100), 0, 100, 'latin1');
    parts.push(h, e.data, tarPadding(e.data.length));
  }
  parts.push(TAR_END);
  fs.writeFileSync(file, Buffer.concat(parts));
}

function ovf(files: readonly string[], extraHead = ''): Buffer {
  return Buffer.from(`<?xml version="1.0"?>${extraHead}
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
  <References>${files.map((f, i) => `<File ovf:id="f${i}" ovf:href="${f}"/>`).join('')}</References>
  <DiskSection><Info>disks</Info>${files.map((_, i) => `<Disk ovf:diskId="d${i}" ovf:fileRef="f${i}" ovf:capacity="1048576" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>`).join('')}</DiskSection>
  <VirtualSystem ovf:id="hostile"><Info>x</Info><Name>hostile</Name>
    <VirtualHardwareSection><Info>hw</Info>
      <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>64</rasd:VirtualQuantity></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`);
}

export function makeHostileCorpus(dir: string): HostileCase[] {
  fs.mkdirSync(dir, { recursive: true });
  const p = (n: string) => path.join(dir, n);
  const cases: HostileCase[] = [];
  const add = (name: string, file: string, reason: RegExp) => cases.push({ name, file, reason });

  qemuImg(dir, 'create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/passwd', '-F', 'raw', 'backing-passwd.qcow2', '1M');
  add('qcow2 with backing file /etc/passwd', p('backing-passwd.qcow2'), /backing file/);

  qemuImg(dir, 'create', '-q', '-f', 'qcow2', '-o', `data_file=${p('external-data.raw')}`, 'datafile.qcow2', '1M');
  add('qcow2 with an external data file', p('datafile.qcow2'), /external data file/);

  fs.writeFileSync(p('descriptor-shadow.vmdk'), ['# Disk DescriptorFile', 'version=1', 'CID=fffffffe', 'parentCID=ffffffff', 'createType="monolithicFlat"', '', 'RW 2048 FLAT "/etc/shadow" 0', ''].join('\n'));
  add('VMDK descriptor with an extent naming /etc/shadow', p('descriptor-shadow.vmdk'), /VMDK descriptor/);

  fs.writeFileSync(p('sneaky-descriptor.img'), ['version=1', 'createType="vmfs"', 'RW 4096 VMFS "/etc/shadow"', ''].join('\n'));
  add('VMDK descriptor without its comment line', p('sneaky-descriptor.img'), /VMDK descriptor/);

  fs.writeFileSync(p('embedded-shadow.vmdk'), kdmvEmbedding('/etc/shadow'));
  add('sparse VMDK whose embedded descriptor names /etc/shadow', p('embedded-shadow.vmdk'), /extents are other files|no capacity/);

  qemuImg(dir, 'create', '-q', '-f', 'vmdk', 'parent-hint.vmdk', '1M');
  {
    // A parent in the embedded descriptor: a delta disk whose parent is a host file.
    const b = fs.readFileSync(p('parent-hint.vmdk'));
    const start = Number(b.readBigUInt64LE(28)) * 512;
    const text = b.subarray(start, start + 1024).toString('latin1');
    const changed = text.replace('parentCID=ffffffff', 'parentCID=12345678\nparentFileNameHint="/etc/passwd"').slice(0, 1024);
    b.write(changed, start, 'latin1');
    fs.writeFileSync(p('parent-hint.vmdk'), b);
  }
  add('sparse VMDK with a parent file hint', p('parent-hint.vmdk'), /parent/);

  qemuImg(dir, 'create', '-q', '-f', 'qcow2', 'huge.qcow2', '1M');
  patch(p('huge.qcow2'), 24, be64(1n << 62n));
  add('qcow2 declaring 4 EiB', p('huge.qcow2'), /virtual size of \d+ bytes/);

  qemuImg(dir, 'create', '-q', '-f', 'vmdk', 'huge.vmdk', '1M');
  patch(p('huge.vmdk'), 12, le64(1n << 50n));
  add('VMDK declaring 2^59 bytes', p('huge.vmdk'), /virtual size of \d+ bytes/);

  qemuImg(dir, 'create', '-q', '-f', 'vdi', 'huge.vdi', '1M');
  patch(p('huge.vdi'), 0x170, le64(1n << 60n));
  add('VDI declaring 1 EiB', p('huge.vdi'), /virtual size of \d+ bytes/);

  qemuImg(dir, 'create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', 'huge.vhd', '1M');
  {
    const size = fs.statSync(p('huge.vhd')).size;
    patch(p('huge.vhd'), size - 512 + 48, be64(1n << 58n));
  }
  add('VHD declaring 256 PiB', p('huge.vhd'), /virtual size of \d+ bytes/);

  qemuImg(dir, 'create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', 'differencing.vhd', '1M');
  patch(p('differencing.vhd'), fs.statSync(p('differencing.vhd')).size - 512 + 60, be32(4));
  add('differencing VHD', p('differencing.vhd'), /differencing VHD/);

  qemuImg(dir, 'create', '-q', '-f', 'vdi', 'differencing.vdi', '1M');
  patch(p('differencing.vdi'), 0x4c, le32(4));
  add('differencing VDI', p('differencing.vdi'), /differencing VDI/);

  qemuImg(dir, 'create', '-q', '-f', 'qcow2', 'future.qcow2', '1M');
  patch(p('future.qcow2'), 72, be64(1n << 40n));
  add('qcow2 with unknown incompatible features', p('future.qcow2'), /features this version does not know/);

  qemuImg(dir, 'create', '-q', '-f', 'qcow2', 'corrupt.qcow2', '1M');
  patch(p('corrupt.qcow2'), 72, be64(2n));
  add('qcow2 marked corrupt', p('corrupt.qcow2'), /marked corrupt/);

  qemuImg(dir, 'create', '-q', '-f', 'qcow2', 'badcluster.qcow2', '1M');
  patch(p('badcluster.qcow2'), 20, be32(40));
  add('qcow2 with an impossible cluster size', p('badcluster.qcow2'), /cluster size/);

  qemuImg(dir, 'create', '-q', '-f', 'qcow2', 'huge-l1.qcow2', '1M');
  patch(p('huge-l1.qcow2'), 36, be32(0x40000000));
  add('qcow2 with a 1G-entry L1 table', p('huge-l1.qcow2'), /L1 table/);

  qemuImg(dir, 'create', '-q', '-f', 'qcow2', 'many-snapshots.qcow2', '1M');
  patch(p('many-snapshots.qcow2'), 60, be32(0xffffffff));
  add('qcow2 declaring 4 billion snapshots', p('many-snapshots.qcow2'), /internal snapshots/);

  qemuImg(dir, 'create', '-q', '-f', 'qcow2', 'huge-refcount.qcow2', '1M');
  patch(p('huge-refcount.qcow2'), 56, be32(0x100000));
  add('qcow2 with a 64 GiB refcount table', p('huge-refcount.qcow2'), /refcount table/);

  // crypt_method 1 (AES): what an encrypted image's header says. (Making a LUKS one needs a
  // PBKDF benchmark that fails on a loaded machine.)
  qemuImg(dir, 'create', '-q', '-f', 'qcow2', 'encrypted.qcow2', '1M');
  patch(p('encrypted.qcow2'), 32, be32(1));
  add('encrypted qcow2', p('encrypted.qcow2'), /encrypted/);

  qemuImg(dir, 'create', '-q', '-f', 'qcow', 'v1.qcow', '1M');
  add('QCOW version 1', p('v1.qcow'), /QCOW version 1/);

  fs.writeFileSync(p('truncated.qcow2'), Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0]));
  add('truncated qcow2 header', p('truncated.qcow2'), /truncated/);

  {
    const b = Buffer.alloc(100);
    b.writeUInt32LE(0xbeda107f, 64);
    fs.writeFileSync(p('truncated.vdi'), b);
  }
  add('truncated VDI header', p('truncated.vdi'), /truncated/);

  {
    const b = Buffer.alloc(4096);
    b.write('vhdxfile', 0, 'latin1');
    fs.writeFileSync(p('truncated.vhdx'), b);
  }
  add('truncated VHDX header section', p('truncated.vhdx'), /truncated/);

  fs.writeFileSync(p('truncated.vmdk'), Buffer.from('KDMV\x01\x00\x00\x00', 'latin1'));
  add('truncated VMDK header', p('truncated.vmdk'), /truncated/);

  fs.writeFileSync(p('cowd.vmdk'), Buffer.concat([Buffer.from('COWD', 'latin1'), Buffer.alloc(2044)]));
  add('VMDK version 3 (COWD)', p('cowd.vmdk'), /COWD/);

  execFileSync('mkfifo', [p('fifo.img')]);
  add('FIFO', p('fifo.img'), /not a regular file \(a FIFO\)/);

  fs.symlinkSync('/dev/zero', p('link-to-zero.img'));
  add('symlink to /dev/zero', p('link-to-zero.img'), /not a regular file \(a character device\)/);

  fs.symlinkSync(p('fifo.img'), p('link-to-fifo.qcow2'));
  add('symlink to a FIFO', p('link-to-fifo.qcow2'), /not a regular file \(a FIFO\)/);

  fs.mkdirSync(p('directory.vdi'));
  add('directory', p('directory.vdi'), /not a regular file \(a directory\)/);

  fs.symlinkSync(p('directory.vdi'), p('link-to-dir.vmdk'));
  add('symlink to a directory', p('link-to-dir.vmdk'), /not a regular file \(a directory\)/);

  fs.symlinkSync(p('loop-b.img'), p('loop-a.img'));
  fs.symlinkSync(p('loop-a.img'), p('loop-b.img'));
  add('symlink loop', p('loop-a.img'), /cannot be read/);

  // OVAs
  const vmdk = p('ova-disk.vmdk');
  qemuImg(dir, 'create', '-q', '-f', 'vmdk', '-o', 'subformat=streamOptimized', 'ova-disk.vmdk', '1M');
  const disk = fs.readFileSync(vmdk);
  fs.rmSync(vmdk);

  ova(p('xxe.ova'), [{ name: 'x.ovf', data: ovf(['d.vmdk'], '<!DOCTYPE Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>') }, { name: 'd.vmdk', data: disk }]);
  add('OVA whose OVF declares an external entity', p('xxe.ova'), /DOCTYPE/);

  ova(p('laughs.ova'), [{ name: 'x.ovf', data: ovf(['d.vmdk'], '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>') }, { name: 'd.vmdk', data: disk }]);
  add('OVA with an entity expansion bomb', p('laughs.ova'), /DOCTYPE/);

  ova(p('traversal.ova'), [{ name: 'x.ovf', data: ovf(['../../escape.vmdk']) }, { name: '../../escape.vmdk', data: disk }]);
  add('OVA naming a file outside the package', p('traversal.ova'), /not a plain name/);

  ova(p('absolute.ova'), [{ name: 'x.ovf', data: ovf(['d.vmdk']) }, { name: '/tmp/d.vmdk', data: disk }]);
  add('OVA with an absolute entry name', p('absolute.ova'), /lies in a folder|does not name/);

  ova(p('symlink.ova'), [{ name: 'x.ovf', data: ovf(['d.vmdk']) }, { name: 'd.vmdk', data: Buffer.alloc(0), typeflag: '2', linkname: '/etc/shadow' }]);
  add('OVA whose disk is a symlink to /etc/shadow', p('symlink.ova'), /symlink, not a regular file/);

  ova(p('device.ova'), [{ name: 'x.ovf', data: ovf(['d.vmdk']) }, { name: 'd.vmdk', data: Buffer.alloc(0), typeflag: '3' }]);
  add('OVA whose disk is a device node', p('device.ova'), /device, not a regular file/);

  ova(p('extra.ova'), [{ name: 'x.ovf', data: ovf(['d.vmdk']) }, { name: 'd.vmdk', data: disk }, { name: 'payload.sh', data: Buffer.from('#!/bin/sh\n') }]);
  add('OVA with a file its OVF does not name', p('extra.ova'), /does not name/);

  ova(p('extent.ova'), [{ name: 'x.ovf', data: ovf(['d.vmdk']) }, { name: 'd.vmdk', data: fs.readFileSync(p('descriptor-shadow.vmdk')) }]);
  add('OVA whose disk is a VMDK descriptor naming /etc/shadow', p('extent.ova'), /VMDK descriptor/);

  ova(p('badsum.ova'), [{ name: 'x.ovf', data: ovf(['d.vmdk']) }, { name: 'd.vmdk', data: disk }, { name: 'x.mf', data: Buffer.from(`SHA256(d.vmdk)= ${'0'.repeat(64)}\n`) }]);
  add('OVA whose manifest does not match', p('badsum.ova'), /does not match/);

  {
    ova(p('truncated.ova'), [{ name: 'x.ovf', data: ovf(['d.vmdk']) }, { name: 'd.vmdk', data: disk }]);
    const b = fs.readFileSync(p('truncated.ova'));
    fs.writeFileSync(p('truncated.ova'), b.subarray(0, b.length - 1024 - 512 * 2));
  }
  add('truncated OVA', p('truncated.ova'), /truncated|ends/);

  ova(p('no-ovf.ova'), [{ name: 'd.vmdk', data: disk }]);
  add('OVA without an OVF first', p('no-ovf.ova'), /first entry must be the \.ovf/);

  return cases;
}

if (process.argv[1] && /hostile-corpus\.ts$/.test(process.argv[1]) && process.argv[2]) {
  for (const c of makeHostileCorpus(path.resolve(process.argv[2]))) process.stdout.write(`${c.file}\t${c.name}\n`);
}
