import { describe, expect, it } from 'vitest';
import { NestboxError } from '../../../../src/core/api/errors';
import { parseVmConfig } from '../../../../src/core/domain/config';
import { configFromDomain, domainSummary, mapDomainState, osTypeOf } from '../../../../src/core/engines/libvirt';
import { pngSize, requireCapability, type VmEngine } from '../../../../src/core/engines/engine';
import type { DomainDescription } from '../../../../src/core/libvirt';

const desc: DomainDescription = {
  uuid: '0b7d1f9e-1a2b-4c3d-8e9f-0a1b2c3d4e5f',
  name: 'web',
  type: 'qemu',
  memoryKiB: 262144,
  vcpus: 2,
  firmware: 'uefi',
  machine: 'pc-q35-7.2',
  arch: 'x86_64',
  disks: [
    { device: 'disk', bus: 'virtio', target: 'vda', source: '/var/lib/libvirt/images/web.qcow2', format: 'qcow2', readOnly: false },
    { device: 'cdrom', bus: 'sata', target: 'sda', source: '/isos/debian.iso', format: 'raw', readOnly: true },
  ],
  nics: [
    { type: 'network', source: 'default', model: 'virtio', mac: '52:54:00:12:34:56' },
    { type: 'bridge', source: 'br0', model: 'e1000e', mac: '52:54:00:12:34:57' },
  ],
  graphics: [{ type: 'vnc', port: null, listen: '127.0.0.1', socket: null }],
  serials: 1,
  osId: 'http://debian.org/debian/12',
  description: 'a web server',
};

describe('libvirt engine mapping', () => {
  it('maps every domain state onto the lifecycle', () => {
    expect(mapDomainState('running', false)).toEqual({ state: 'running' });
    expect(mapDomainState('blocked', false)).toEqual({ state: 'running' });
    expect(mapDomainState('paused', false)).toEqual({ state: 'paused' });
    expect(mapDomainState('pmsuspended', false).state).toBe('paused');
    expect(mapDomainState('shutdown', false)).toEqual({ state: 'stopping' });
    expect(mapDomainState('shutoff', false)).toEqual({ state: 'poweredOff' });
    expect(mapDomainState('shutoff', true)).toEqual({ state: 'saved' });
    expect(mapDomainState('crashed', false).state).toBe('aborted');
    expect(mapDomainState('unknown', false).reason).toMatch(/unknown/);
  });

  it('reads libosinfo ids as OS types', () => {
    expect(osTypeOf('http://debian.org/debian/12')).toBe('linux-debian');
    expect(osTypeOf('http://microsoft.com/win/11')).toBe('windows-11');
    expect(osTypeOf('http://centos.org/centos/9')).toBe('linux-other');
    expect(osTypeOf(null)).toBe('other');
  });

  it('summarises a domain with its host, in MiB', () => {
    const s = domainSummary('lab', { uuid: desc.uuid, name: 'web', state: 'running', persistent: true, memoryKiB: 262144, vcpus: 2, hasManagedSave: false, osId: null });
    expect(s).toEqual({ uuid: desc.uuid, name: 'web', osType: 'other', group: '', state: 'running', memoryMiB: 256, cpus: 2, host: 'lab' });
  });

  it('maps domain XML hardware to a config the config parser accepts', () => {
    const c = configFromDomain(desc);
    expect(c).toMatchObject({ name: 'web', memoryMiB: 256, cpus: 2, firmware: 'uefi', machine: 'q35', osType: 'linux-debian', description: 'a web server' });
    expect(c.disks).toEqual([{ id: 'disk0', file: '/var/lib/libvirt/images/web.qcow2', format: 'qcow2', bus: 'virtio', readOnly: false, owned: false }]);
    expect(c.cdroms).toEqual([{ id: 'cd0', iso: '/isos/debian.iso' }]);
    expect(c.nics.map((n) => [n.mode, n.model, n.mac, n.bridge])).toEqual([
      ['nat', 'virtio-net-pci', '52:54:00:12:34:56', undefined],
      ['bridged', 'e1000e', '52:54:00:12:34:57', 'br0'],
    ]);
    expect(() => parseVmConfig(JSON.parse(JSON.stringify(c)))).not.toThrow();
  });

  it('reads a PNG size, and zeros for anything else', () => {
    const png = Buffer.alloc(24);
    Buffer.from('89504e470d0a1a0a', 'hex').copy(png, 0);
    png.write('IHDR', 12, 'latin1');
    png.writeUInt32BE(640, 16);
    png.writeUInt32BE(480, 20);
    expect(pngSize(png)).toEqual({ width: 640, height: 480 });
    expect(pngSize(Buffer.from('P6\n640 480\n255\n'))).toEqual({ width: 0, height: 0 });
  });

  it('says what an engine cannot do, naming the host and the capability', () => {
    const engine = { name: 'lab', capabilities: () => new Map([['saveState', 'the host has no managed save']]) } as unknown as VmEngine;
    expect(() => requireCapability(engine, 'saveState')).toThrow(NestboxError);
    expect(() => requireCapability(engine, 'saveState')).toThrow("host 'lab' cannot save a VM's state: the host has no managed save");
    expect(() => requireCapability(engine, 'migrate')).toThrow("host 'lab' cannot migrate a VM to another host");
  });
});
