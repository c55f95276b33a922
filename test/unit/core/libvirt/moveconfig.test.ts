/**
 * A VM's config across the line to a libvirt host and back (pure): the domain a moved VM gets
 * (golden file, through the one builder), what is kept (MACs, buses, firmware and its UEFI
 * variables, boot from CD-ROM), and what cannot cross said as a warning or a refusal.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONFIG_VERSION, parseVmConfig, type VmConfig } from '../../../../src/core/domain/config';
import { buildDomainXml, parseDomainXml } from '../../../../src/core/libvirt/domxml';
import { domainSpecFromConfig, localShapeFromDomain } from '../../../../src/core/libvirt/moveconfig';

const GOLDEN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'golden', 'moved-uefi-nvram.xml');
const UPDATE = process.env['UPDATE_GOLDENS'] === '1';

const CONFIG: VmConfig = parseVmConfig({
  version: CONFIG_VERSION,
  uuid: '0b3c9f2e-1111-4222-8333-444455556666',
  name: 'mv1',
  osType: 'other',
  description: 'moved <here> & back',
  group: '',
  memoryMiB: 192,
  cpus: 2,
  firmware: 'uefi',
  machine: 'q35',
  disks: [
    { id: 'disk0', file: 'mv1.qcow2', format: 'qcow2', bus: 'virtio', readOnly: false, owned: true },
    { id: 'disk1', file: 'data.raw', format: 'raw', bus: 'nvme', readOnly: false, owned: true },
  ],
  cdroms: [{ id: 'cd0', iso: '/srv/iso/test.iso' }],
  bootOrder: ['cdrom', 'disk'],
  nics: [
    { id: 'net0', mode: 'nat', model: 'virtio-net-pci', mac: '52:54:00:aa:bb:01', forwards: [] },
    { id: 'net1', mode: 'bridged', model: 'e1000', mac: '52:54:00:aa:bb:02', forwards: [], bridge: 'br0' },
    { id: 'net2', mode: 'none', model: 'rtl8139', mac: '52:54:00:aa:bb:03', forwards: [] },
  ],
  display: { adapter: 'vga' },
  serial: { enabled: true },
});

const VOLS = {
  disks: [
    { source: { pool: 'default', volume: 'mv1-disk0.qcow2' }, format: 'qcow2' as const },
    { source: { pool: 'default', volume: 'mv1-disk1.raw' }, format: 'raw' as const },
  ],
  cdrom: { pool: 'default', volume: 'test.iso' },
  nvram: '/var/lib/libvirt/images/mv1_VARS.fd',
};

describe('domainSpecFromConfig', () => {
  const { spec, warnings } = domainSpecFromConfig(CONFIG, VOLS, { name: 'mv1', domainType: 'qemu', natNetwork: 'default' });

  it('matches golden/moved-uefi-nvram.xml', () => {
    const xml = buildDomainXml(spec);
    if (UPDATE) fs.writeFileSync(GOLDEN, xml);
    expect(xml).toBe(fs.readFileSync(GOLDEN, 'utf8'));
  });

  it('keeps MACs, models, firmware and its variables, and boots from the CD-ROM as before', () => {
    expect(spec.nics).toEqual([
      { type: 'network', source: 'default', model: 'virtio', mac: '52:54:00:aa:bb:01' },
      { type: 'bridge', source: 'br0', model: 'e1000', mac: '52:54:00:aa:bb:02' },
    ]);
    expect(spec.firmware).toBe('uefi');
    expect(spec.nvram).toBe(VOLS.nvram);
    expect(spec.bootCdrom).toBe(true);
    expect(spec.disks.map((d) => d.bus)).toEqual(['virtio', 'sata']);
  });

  it('says what did not cross as it was', () => {
    expect(warnings.join('\n')).toMatch(/disk 2 was on NVMe/);
    expect(warnings.join('\n')).toMatch(/adapter 3 .*not attached/);
  });

  it('warns that a shared folder, a folder of this computer, is not carried over', () => {
    const withShare = parseVmConfig({ ...CONFIG, shares: [{ tag: 'work', path: '/home/ada/work', readOnly: false }] });
    const r = domainSpecFromConfig(withShare, VOLS, { name: 'mv1', domainType: 'qemu', natNetwork: 'default' });
    expect(r.warnings).toContain("shared folder 'work' (/home/ada/work) is not carried over: it is a folder of this computer");
    expect(r.spec).toEqual(spec);
  });

  it('refuses an internal network, which exists only on this computer', () => {
    const internal = parseVmConfig({ ...CONFIG, nics: [{ id: 'net0', mode: 'internal', model: 'e1000', mac: '52:54:00:aa:bb:09', forwards: [], network: 'lab' }] });
    expect(() => domainSpecFromConfig(internal, VOLS, { name: 'mv1', domainType: 'qemu', natNetwork: 'default' })).toThrow(/internal network 'lab'/);
  });
});

describe('localShapeFromDomain', () => {
  it('reads the moved domain back: the same hardware, MACs and disks, the CD-ROM left on the host', () => {
    const { spec } = domainSpecFromConfig(CONFIG, VOLS, { name: 'mv1', domainType: 'qemu', natNetwork: 'default' });
    const xml = buildDomainXml({ ...spec, uuid: CONFIG.uuid });
    const d = parseDomainXml(xml, 'test');
    expect(d.nvram).toBe(VOLS.nvram);
    const shape = localShapeFromDomain(d);
    expect(shape).toMatchObject({ memoryMiB: 192, cpus: 2, firmware: 'uefi', machine: 'q35' });
    expect(shape.disks).toEqual([
      { pool: 'default', volume: 'mv1-disk0.qcow2', path: null, format: 'qcow2', bus: 'virtio' },
      { pool: 'default', volume: 'mv1-disk1.raw', path: null, format: 'raw', bus: 'sata' },
    ]);
    expect(shape.nics).toEqual([
      { mode: 'nat', model: 'virtio-net-pci', mac: '52:54:00:aa:bb:01' },
      { mode: 'bridged', bridge: 'br0', model: 'e1000', mac: '52:54:00:aa:bb:02' },
    ]);
    expect(shape.warnings.join('\n')).toMatch(/CD-ROM image/);
  });

  it('refuses a disk format Nestbox does not bring', () => {
    const xml = `<domain type='qemu'><name>x</name><uuid>11111111-2222-3333-4444-555555555555</uuid><memory>131072</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
      <devices><disk type='file' device='disk'><driver name='qemu' type='vmdk'/><source file='/x.vmdk'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
    expect(() => localShapeFromDomain(parseDomainXml(xml, 'test'))).toThrow(/vmdk/);
  });
});
