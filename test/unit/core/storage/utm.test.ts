/** A UTM 4 bundle's config.plist read as a machine: firmware, buses, adapters, what stays behind. */
import { describe, expect, it } from 'vitest';
import { readUtmConfig } from '../../../../src/core/storage/utm';
import { utmPlist } from '../../../support/foreign-fixtures';

const noBridges = () => false;

describe('readUtmConfig', () => {
  it('reads an x86_64 QEMU machine: UEFI, q35, a removable CD on IDE (AHCI on q35) then a VirtIO disk, its adapter and MAC', () => {
    const m = readUtmConfig(utmPlist({ drives: [{ type: 'CD', iface: 'IDE' }, { type: 'Disk', iface: 'VirtIO', image: 'A3F0C1D2.qcow2' }], notes: 'UTM guest' }), 'Debian.utm/config.plist', noBridges);
    expect(m).toMatchObject({ source: 'utm', name: 'Debian', description: 'UTM guest', osType: 'linux-debian', nvram: 'efi_vars.fd' });
    expect(m.disks).toEqual([{ path: 'A3F0C1D2.qcow2', bus: 'virtio', format: null, label: "drive 2 ('A3F0C1D2.qcow2')" }]);
    expect(m.hardware).toMatchObject({ firmware: 'uefi', machine: 'q35', cpus: 1, memoryMiB: 256, bootOrder: ['cdrom', 'disk'], display: 'virtio' });
    expect(m.hardware.attachments.map((a) => [a.kind, a.bus])).toEqual([['cdrom', 'sata'], ['disk', 'virtio']]);
    expect(m.hardware.nics).toEqual([{ model: 'virtio-net-pci', mac: '3a:5c:11:7e:20:4b', mode: 'nat', forwards: [] }]);
    expect(m.hardware.dropped).toEqual(['the sound card (intel-hda)']);
  });

  it('BIOS on a pc machine: IDE is IDE, e1000, a standard VGA; USB disks, kernels, floppies, host-only and bridged adapters are named', () => {
    const m = readUtmConfig(
      utmPlist({ uefi: false, target: 'pc-i440fx-7.2', display: 'VGA', nicHardware: 'e1000', mode: 'Host', drives: [{ type: 'Disk', iface: 'IDE', image: 'd.img' }, { type: 'Disk', iface: 'USB', image: 'u.qcow2' }, { type: 'LinuxKernel', iface: 'None' as 'IDE', image: 'vmlinuz' }, { type: 'Disk', iface: 'Floppy', image: 'f.img' }] }),
      'x.utm',
      noBridges,
    );
    expect(m.nvram).toBeNull();
    expect(m.hardware).toMatchObject({ firmware: 'bios', machine: 'pc', display: 'vga', bootOrder: ['disk'] });
    expect(m.disks.map((d) => [d.path, d.bus])).toEqual([['d.img', 'ide'], ['u.qcow2', 'ide']]);
    expect(m.hardware.nics).toEqual([{ model: 'e1000', mac: '3a:5c:11:7e:20:4b', mode: 'nat', forwards: [] }]);
    expect(m.hardware.dropped).toEqual([
      "drive 2 ('u.qcow2') on USB (attached to IDE here)",
      "drive 3 ('vmlinuz'), UTM's LinuxKernel image (direct kernel boot is not carried over)",
      "drive 4 ('f.img') on UTM's 'Floppy' interface, which Nestbox does not emulate",
      'adapter 1 on a host-only network (imported as NAT)',
      'the sound card (intel-hda)',
    ]);
    const b = readUtmConfig(utmPlist({ mode: 'Bridged', drives: [] }).replace('<key>Mode</key>', '<key>BridgeInterface</key>\n\t\t\t<string>en0</string>\n\t\t\t<key>Mode</key>'), 'b.utm', noBridges);
    expect(b.hardware.dropped).toContain("adapter 1 bridged to 'en0', a bridge that does not exist here (imported as NAT)");
  });

  it('refuses another architecture, an Apple Virtualization machine, a UTM 3 configuration, and a foreign DOCTYPE', () => {
    expect(() => readUtmConfig(utmPlist({ arch: 'aarch64', drives: [] }), 'arm.utm', noBridges)).toThrow(/'arm\.utm' is a aarch64 machine; Nestbox runs x86_64 guests/);
    expect(() => readUtmConfig(utmPlist({ backend: 'Apple', drives: [] }), 'mac.utm', noBridges)).toThrow(/Apple's Virtualization framework; Nestbox imports UTM's QEMU machines/);
    expect(() => readUtmConfig(utmPlist({ drives: [] }).replace('<key>Backend</key>\n\t<string>QEMU</string>\n', ''), 'old.utm', noBridges)).toThrow(/UTM 3 or older/);
    expect(() => readUtmConfig(utmPlist({ drives: [], doctype: '<!DOCTYPE plist [<!ENTITY x SYSTEM "file:///etc/passwd">]>' }), 'e.utm', noBridges)).toThrow(/DOCTYPE other than Apple's/);
    expect(() => readUtmConfig(utmPlist({ drives: [], memoryMiB: 99_999_999 }), 'm.utm', noBridges)).toThrow(/99999999 MiB/);
  });
});
