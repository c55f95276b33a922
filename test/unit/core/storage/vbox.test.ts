/** A VirtualBox 7 machine file read through its media registry. */
import { describe, expect, it } from 'vitest';
import { looksLikeVbox, readVboxFile } from '../../../../src/core/storage/vbox';
import { vboxXml } from '../../../support/foreign-fixtures';

describe('readVboxFile', () => {
  it('reads a VirtualBox 7 machine: SATA disk from the registry, BIOS, e1000 NAT adapter with a forward and its MAC', () => {
    const text = vboxXml({ location: 'Moderator 1.vdi', format: 'VDI' });
    expect(looksLikeVbox(text)).toBe(true);
    const m = readVboxFile(text, 'Moderator 1.vbox');
    expect(m).toMatchObject({ source: 'vbox', name: 'Moderator 1', osType: 'linux-debian', description: 'Moderation desk: keep the forward on 2222.', chains: [] });
    expect(m.disks).toEqual([{ path: 'Moderator 1.vdi', bus: 'sata', format: 'vdi', label: "'SATA' port 0" }]);
    expect(m.hardware).toMatchObject({ firmware: 'bios', machine: 'pc', cpus: 1, memoryMiB: 256, bootOrder: ['disk', 'cdrom'] });
    expect(m.hardware.attachments.map((a) => [a.kind, a.bus])).toEqual([['cdrom', 'ide'], ['disk', 'sata']]);
    expect(m.hardware.nics).toEqual([{ model: 'e1000', mac: '08:00:27:a1:b2:c3', mode: 'nat', forwards: [{ name: 'ssh', protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestAddress: '', guestPort: 22 }] }]);
    expect(m.hardware.dropped).toEqual(['the audio adapter']);
  });

  it('EFI firmware, and a differencing chain reported (the current state stands on the base)', () => {
    const m = readVboxFile(vboxXml({ location: 'base.vdi', format: 'VDI', firmware: 'EFI', child: 'Snapshots/{0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d}.vdi' }), 'x.vbox');
    expect(m.hardware.firmware).toBe('uefi');
    expect(m.chains).toEqual([
      {
        disk: 'Snapshots/{0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d}.vdi',
        parents: ['base.vdi'],
        layers: [
          { uuid: '7d3c1f2e-9a4b-4c6d-8e1f-2a3b4c5d6e7f', location: 'base.vdi', format: 'vdi' },
          { uuid: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', location: 'Snapshots/{0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d}.vdi', format: 'vdi' },
        ],
      },
    ]);
  });

  it('refuses a DOCTYPE, a file with no <Machine>, an unknown medium format and absurd memory', () => {
    expect(() => readVboxFile(vboxXml({ location: 'a.vdi', prolog: '<!DOCTYPE VirtualBox [<!ENTITY x SYSTEM "file:///etc/passwd">]>' }), 'e.vbox')).toThrow(/'e.vbox' is not acceptable XML: it has a DOCTYPE/);
    expect(() => readVboxFile('<VirtualBox><Global/></VirtualBox>', 'VirtualBox.xml')).toThrow(/has no <Machine>/);
    expect(() => readVboxFile(vboxXml({ location: 'a.hdd', format: 'Weird' }), 'w.vbox')).toThrow(/'weird' format/);
    expect(() => readVboxFile(vboxXml({ location: 'a.vdi' }).replace('RAMSize="256"', 'RAMSize="999999999"'), 'm.vbox')).toThrow(/999999999 MiB/);
  });
});
