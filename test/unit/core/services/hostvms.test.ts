/**
 * Creating a VM on a libvirt host, the pure half: a create request checked and completed from
 * its OS type's presets (planHostVm), and the domain it becomes (hostDomainSpec) against
 * golden files next to the builder's own (test/unit/core/libvirt/golden/create-*.xml). Run
 * with UPDATE_GOLDENS=1 to rewrite them after an intended change, then review the diff.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CreateVmSpec } from '../../../../src/core/api/contract';
import { buildDomainXml, parseDomainXml } from '../../../../src/core/libvirt/domxml';
import { hostDomainSpec, parseIsoVolume, planHostVm, volumeNameFor } from '../../../../src/core/services/hostvms';

const GOLDEN_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'libvirt', 'golden');
const UPDATE = process.env['UPDATE_GOLDENS'] === '1';

const CASES: readonly { name: string; spec: CreateVmSpec; kvm: boolean }[] = [
  // What the wizard sends for the test guest: TCG, a pool disk, the ISO from a pool, NAT on 'default'.
  {
    name: 'create-tcg-pool-iso-nat',
    spec: { name: 'wiz-1', host: 'lab', osType: 'other', memoryMiB: 256, cpus: 1, firmware: 'bios', diskSize: '64M', isoVolume: 'default/nestbox-test.iso' },
    kvm: false,
  },
  // A Linux installer on a KVM host, its disk in another pool, on a host bridge.
  {
    name: 'create-kvm-debian-bridge',
    spec: { name: 'web', host: 'lab', osType: 'linux-debian', pool: 'fast', isoVolume: 'isos/debian-12.iso', nic: 'bridged', nicBridge: 'br0', description: 'web & <api>' },
    kvm: true,
  },
  // Windows presets (UEFI, SATA, e1000), a named libvirt network, no ISO.
  { name: 'create-windows-uefi-network', spec: { name: 'win11', host: 'lab', osType: 'windows-11', nic: 'nat', nicNetwork: 'lab-nat' }, kvm: true },
  // A live ISO: no disk, no network.
  { name: 'create-live-no-disk-no-nic', spec: { name: 'live', host: 'lab', noDisk: true, nic: 'none', isoVolume: 'default/live.iso' }, kvm: false },
];

describe('a VM on a host: the domain it becomes', () => {
  for (const c of CASES) {
    it(`matches golden/${c.name}.xml`, () => {
      const plan = planHostVm(c.spec, c.kvm);
      const xml = buildDomainXml(hostDomainSpec(plan));
      const file = path.join(GOLDEN_DIR, `${c.name}.xml`);
      if (UPDATE) fs.writeFileSync(file, xml);
      expect(xml).toBe(fs.readFileSync(file, 'utf8'));
      const d = parseDomainXml(xml.replace('<name>', '<uuid>11111111-2222-3333-4444-555555555555</uuid><name>'), 'test');
      expect(d.name).toBe(c.spec.name);
      expect(d.memoryKiB).toBe(plan.memoryMiB * 1024);
      expect(d.disks.filter((x) => x.device === 'disk')).toHaveLength(c.spec.noDisk ? 0 : 1);
      expect(d.disks.filter((x) => x.device === 'cdrom')).toHaveLength(c.spec.isoVolume ? 1 : 0);
    });
  }

  it('fills what is not given from the OS type and keeps what is', () => {
    const p = planHostVm({ name: 'w', host: 'lab', osType: 'windows-11' }, false);
    expect(p).toMatchObject({ memoryMiB: 4096, cpus: 2, firmware: 'uefi', diskBus: 'sata', nicModel: 'e1000e', disk: { pool: 'default', volume: 'w.qcow2', bytes: 64 * 2 ** 30 } });
    expect(p.nic).toEqual({ type: 'network', source: 'default' });
    const q = planHostVm({ name: 'w', host: 'lab', osType: 'windows-11', memoryMiB: 512, cpus: 1, firmware: 'bios', diskSize: '2G', pool: 'p2' }, true);
    expect(q).toMatchObject({ memoryMiB: 512, cpus: 1, firmware: 'bios', disk: { pool: 'p2', bytes: 2 * 2 ** 30 }, kvm: true });
  });

  it('refuses what does not apply on a host, or is wrong, naming it', () => {
    const bad: readonly [CreateVmSpec, RegExp][] = [
      [{ name: 'a;b', host: 'lab' }, /contains ';'/],
      [{ name: '<x>', host: 'lab' }, /contains '<'/],
      [{ name: 'a', host: 'lab', iso: '/srv/x.iso' }, /isoVolume POOL\/VOLUME/],
      [{ name: 'a', host: 'lab', disk: '/srv/x.qcow2' }, /new disk in a storage pool/],
      [{ name: 'a', host: 'lab', nic: 'internal', nicNetwork: 'x' }, /internal networks/],
      [{ name: 'a', host: 'lab', nic: 'bridged' }, /needs nicBridge/],
      [{ name: 'a', host: 'lab', nic: 'bridged', nicBridge: 'br0;x' }, /bridge name/],
      [{ name: 'a', host: 'lab', isoVolume: 'noslash' }, /not POOL\/VOLUME/],
      [{ name: 'a', host: 'lab', isoVolume: 'p/../../etc' }, /not POOL\/VOLUME/],
      [{ name: 'a', host: 'lab', pool: '-x' }, /storage pool name/],
      [{ name: 'a', host: 'lab', diskSize: 'lots' }, /disk size/],
      [{ name: 'a', host: 'lab', memoryMiB: 3.5 }, /memory/],
      [{ name: 'a', host: 'lab', osType: 'plan9' }, /unknown OS type/],
      [{ name: 'a', host: 'lab', group: 'g' }, /no group/],
      [{ name: 'a', host: 'lab', autoSnapshots: 2 }, /automatic snapshots/],
      [{ name: 'a', host: 'lab', firmware: 'uefi', secureBoot: true }, /Secure Boot is set up for VMs on this computer/],
      [{ name: 'a', host: 'lab', tpm: true }, /a TPM is set up for VMs on this computer/],
      [{ name: 'a', host: 'lab', shares: [{ path: '/srv' }] }, /shared folders are folders of this computer/],
      [{ name: 'a', host: 'lab', clipboard: true }, /the clipboard channel is set up for VMs on this computer/],
      [{ name: 'a', host: 'lab', unattended: { user: 'u', password: 'p' } }, /automatic install/],
    ];
    for (const [spec, msg] of bad) expect(() => planHostVm(spec, false), JSON.stringify(spec)).toThrow(msg);
  });

  it('reads POOL/VOLUME and makes volume names from file names', () => {
    expect(parseIsoVolume('default/x.iso')).toEqual({ pool: 'default', volume: 'x.iso' });
    expect(volumeNameFor('/home/me/My Debian (12).iso')).toBe('My_Debian__12_.iso');
    expect(volumeNameFor('/tmp/-rf.iso')).toBe('rf.iso');
  });
});
