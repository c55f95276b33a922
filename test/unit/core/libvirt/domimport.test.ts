/** A domain XML file read as a machine to import: the mapping, what is named as left behind, and hostile files. */
import { describe, expect, it } from 'vitest';
import { looksLikeDomainXml, readDomainFile } from '../../../../src/core/libvirt/domimport';
import { domainXml } from '../../../support/foreign-fixtures';

const noBridges = () => false;

describe('readDomainFile', () => {
  it('reads a virsh dumpxml domain with an OVMF loader and NVRAM', () => {
    const m = readDomainFile(domainXml({ disk: '/var/lib/libvirt/images/debian12.qcow2', diskFormat: 'qcow2', uefi: { nvram: '/var/lib/libvirt/qemu/nvram/debian12_VARS.fd' }, mac: '52:54:00:AA:bb:01' }), 'debian12.xml', noBridges);
    expect(m).toMatchObject({ source: 'libvirt', name: 'debian12', osType: 'linux-debian', nvram: '/var/lib/libvirt/qemu/nvram/debian12_VARS.fd' });
    expect(m.hardware).toMatchObject({ firmware: 'uefi', machine: 'q35', cpus: 1, memoryMiB: 256, bootOrder: ['disk', 'cdrom'] });
    expect(m.disks).toEqual([{ path: '/var/lib/libvirt/images/debian12.qcow2', bus: 'sata', format: 'qcow2', label: 'sda' }]);
    expect(m.hardware.attachments.map((a) => [a.kind, a.bus])).toEqual([['disk', 'sata'], ['cdrom', 'sata']]);
    expect(m.hardware.nics).toEqual([{ model: 'e1000e', mac: '52:54:00:aa:bb:01', mode: 'nat', forwards: [] }]);
    expect(m.hardware.dropped).toEqual([]);
    expect(looksLikeDomainXml(domainXml({ disk: '/x' }))).toBe(true);
  });

  it('a BIOS domain keeps no NVRAM; per-device <boot order> wins over <os><boot>', () => {
    const xml = domainXml({ disk: '/d.img', bus: 'virtio' }).replace("<target dev='vda' bus='virtio'/>", "<target dev='vda' bus='virtio'/>\n      <boot order='2'/>").replace("<model type='e1000e'/>", "<model type='e1000e'/>\n      <boot order='1'/>");
    const m = readDomainFile(xml, 'vm.xml', noBridges);
    expect(m.hardware.firmware).toBe('bios');
    expect(m.nvram).toBeNull();
    expect(m.hardware.bootOrder).toEqual(['network', 'disk']);
    expect(m.disks[0]!.bus).toBe('virtio');
  });

  it('names everything it cannot carry over: block, network and pool disks, host devices, shared folders, a missing bridge', () => {
    const extra = `    <disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='sdc' bus='sata'/></disk>
    <disk type='network' device='disk'><source protocol='rbd' name='pool/img'/><target dev='vdb' bus='virtio'/></disk>
    <disk type='volume' device='disk'><source pool='default' volume='data.qcow2'/><target dev='vdc' bus='virtio'/></disk>
    <hostdev mode='subsystem' type='usb' managed='yes'><source><vendor id='0x046d'/><product id='0xc52b'/></source></hostdev>
    <filesystem type='mount' accessmode='passthrough'><source dir='/srv/share'/><target dir='share'/></filesystem>
    <interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br-lab'/><model type='virtio'/></interface>
    <interface type='bridge'><mac address='52:54:00:00:00:03'/><source bridge='br0'/><model type='rtl8139'/></interface>
    <tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>
`;
    const m = readDomainFile(domainXml({ disk: '/d.img', extraDevices: extra }), 'vm.xml', (b) => b === 'br0');
    expect(m.disks.map((d) => d.path)).toEqual(['/d.img']);
    expect(m.hardware.dropped).toEqual([
      'the disk sdc (the block device /dev/sdb; only file-backed disks are imported)',
      'the disk vdb (a network disk (rbd pool/img); only file-backed disks are imported)',
      'the disk vdc (the storage pool volume default/data.qcow2; only file-backed disks are imported)',
      "adapter 2 bridged to 'br-lab', a bridge that does not exist here (imported as NAT)",
      'the host usb device 0x046d:0xc52b',
      "the shared folder 'share'",
      'the TPM and its state (turn a TPM on with nestbox modify if the guest needs one)',
    ]);
    expect(m.hardware.nics!.map((n) => [n.model, n.mode, n.bridge ?? null])).toEqual([['e1000e', 'nat', null], ['virtio-net-pci', 'nat', null], ['rtl8139', 'bridged', 'br0']]);
  });

  it('refuses a DOCTYPE/entity, absurd memory and CPU counts, and a foreign architecture, naming the file', () => {
    const bomb = '<?xml version="1.0"?>\n<!DOCTYPE domain [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n';
    expect(() => readDomainFile(domainXml({ disk: '/d.img', prolog: bomb }), 'bomb.xml', noBridges)).toThrow(/the domain XML 'bomb.xml' is not acceptable XML: it has a DOCTYPE/);
    expect(() => readDomainFile(domainXml({ disk: '/d.img', memoryKiB: 2 ** 33 }), 'big.xml', noBridges)).toThrow(/'big.xml' gives the machine 8388608 MiB of memory; Nestbox accepts 16–4194304 MiB/);
    expect(() => readDomainFile(domainXml({ disk: '/d.img', memoryKiB: 999999999999999 }), 'huge.xml', noBridges)).toThrow(/the domain XML 'huge.xml' is not acceptable: memory .* is absurd/);
    expect(() => readDomainFile(domainXml({ disk: '/d.img', vcpus: 4096 }), 'cpus.xml', noBridges)).toThrow(/4096 virtual CPUs; Nestbox accepts at most 255/);
    expect(() => readDomainFile(domainXml({ disk: '/d.img' }).replace("arch='x86_64'", "arch='aarch64'"), 'arm.xml', noBridges)).toThrow(/aarch64 machine/);
    expect(() => readDomainFile('<pool type="dir"><name>x</name></pool>', 'pool.xml', noBridges)).toThrow(/not a libvirt domain XML/);
  });
});
