/**
 * The import of machine files against a real core (real SQLite, temp data directory; no QEMU
 * is started): disks that are device nodes, FIFOs, directories or symlinks to them, a .vbox's
 * differencing chain, an NVRAM that is not a regular file, and UTM bundles whose disks or
 * Data folder lead out of the bundle or whose plist carries a foreign DOCTYPE. Each is decided before anything
 * is made, so a refusal leaves no VM and no folder.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostCapabilities } from '../../../../src/core/qemu/host';
import { Core } from '../../../../src/core/services/core';
import { generateOvf } from '../../../../src/core/storage/ovf';
import { domainXml, utmPlist, vboxXml } from '../../../support/foreign-fixtures';

const HOST: HostCapabilities = { qemu: null, accelerators: [{ name: 'tcg', usable: true }], ovmf: null, memoryMiB: 8192, cpus: 4 };

describe('importing machine files: hostile disks', () => {
  let dir: string;
  let work: string;
  let core: Core;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-foreign-'));
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-foreign-work-'));
    core = await Core.open({ dataDir: dir, host: HOST });
  });
  afterAll(() => {
    core.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  const nothingMade = () => {
    expect(core.vms.list()).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'machines')) ? fs.readdirSync(path.join(dir, 'machines')) : []).toEqual([]);
  };

  it('refuses a domain whose disk is a device node, a FIFO, a directory or a symlink to one', async () => {
    const fifo = path.join(work, 'disk.fifo');
    execFileSync('mkfifo', [fifo]);
    fs.mkdirSync(path.join(work, 'folder'));
    fs.symlinkSync(path.join(work, 'folder'), path.join(work, 'folder.img'));
    const cases: readonly [string, RegExp][] = [
      ['/dev/null', /'\/dev\/null', which is a device node; only regular files/],
      [fifo, /which is a FIFO/],
      [path.join(work, 'folder'), /which is a directory/],
      [path.join(work, 'folder.img'), /which is a symlink to a directory/],
      ['relative.img', /not an absolute path/],
    ];
    for (const [disk, why] of cases) {
      const file = path.join(work, 'vm.xml');
      fs.writeFileSync(file, domainXml({ disk }));
      await expect(core.ova.importPlan({ file })).rejects.toMatchObject({ code: 'IMAGE_REJECTED', message: expect.stringMatching(why) });
      await expect(core.ova.import({ file })).rejects.toMatchObject({ code: 'IMAGE_REJECTED', message: expect.stringMatching(why) });
    }
    nothingMade();
  });

  it('an NVRAM that is not a regular file is named as not carried over, never opened', async () => {
    const fifo = path.join(work, 'vars.fifo');
    execFileSync('mkfifo', [fifo]);
    const disk = path.join(work, 'ok.img');
    fs.writeFileSync(disk, Buffer.alloc(1024 * 1024));
    const file = path.join(work, 'uefi.xml');
    fs.writeFileSync(file, domainXml({ disk, uefi: { nvram: fifo } }));
    const plan = await core.ova.importPlan({ file });
    expect(plan).toMatchObject({ source: 'libvirt', firmware: 'uefi', disks: [{ source: disk, bus: 'sata', format: 'raw', inPlace: false }] });
    expect(plan.notCarried).toEqual([`the UEFI variables in '${fifo}' (it is a FIFO; the VM starts with fresh variables)`]);
    nothingMade();
  });

  it('refuses a .vbox whose disk is a symlink to a device, or a snapshot chain that is not VDI or not a VDI at all, with nothing made', async () => {
    const folder = path.join(work, 'vm');
    fs.mkdirSync(folder);
    fs.symlinkSync('/dev/zero', path.join(folder, 'dev.img'));
    const file = path.join(folder, 'vm.vbox');
    fs.writeFileSync(file, vboxXml({ location: 'dev.img' }));
    await expect(core.ova.import({ file })).rejects.toMatchObject({ message: expect.stringMatching(/a symlink to a file outside the \.vbox file's folder/) });
    fs.writeFileSync(path.join(folder, 'base.vdi'), Buffer.alloc(4096));
    fs.mkdirSync(path.join(folder, 'Snapshots'));
    fs.writeFileSync(path.join(folder, 'Snapshots', 'top.vdi'), Buffer.alloc(4096));
    fs.writeFileSync(file, vboxXml({ location: 'base.vdi', format: 'VDI', child: 'Snapshots/top.vdi' }));
    await expect(core.ova.importPlan({ file })).rejects.toMatchObject({ code: 'IMAGE_REJECTED', message: expect.stringMatching(/the VirtualBox image 'base.vdi' has no VDI signature; nothing was imported/) });
    fs.writeFileSync(file, vboxXml({ location: 'base.vdi', format: 'VDI', chain: [{ location: 'Snapshots/top.vdi', uuid: '{0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d}', format: 'VMDK' }] }));
    await expect(core.ova.import({ file })).rejects.toMatchObject({ code: 'IMAGE_REJECTED', message: expect.stringMatching(/a VirtualBox snapshot chain with 'Snapshots\/top.vdi' in the VMDK format; Nestbox flattens chains of VDI images only/) });
    // A chain image outside the folder is refused like any disk there, unread.
    fs.writeFileSync(file, vboxXml({ location: '../canary.vdi', format: 'VDI', child: 'Snapshots/top.vdi' }));
    await expect(core.ova.import({ file })).rejects.toMatchObject({ code: 'IMAGE_REJECTED', message: expect.stringMatching(/outside the \.vbox file's folder/) });
    nothingMade();
  });

  it('a .vbox is told by its content, whatever its name; --dry-run lists the NAT forward and the IDE CD drive', async () => {
    const folder = path.join(work, 'named');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'd.img'), Buffer.alloc(1024 * 1024));
    const file = path.join(folder, 'machine.xml');
    fs.writeFileSync(file, vboxXml({ location: 'd.img' }));
    const plan = await core.ova.importPlan({ file });
    expect(plan).toMatchObject({ source: 'vbox', name: 'Moderator 1', firmware: 'bios', machine: 'q35', memoryMiB: 256, cdroms: 1, bootOrder: ['disk', 'cdrom'] });
    expect(plan.nics).toEqual([{ model: 'e1000', mac: '08:00:27:a1:b2:c3', mode: 'nat', forwards: 1 }]);
    expect(plan.disks).toEqual([{ source: path.join(folder, 'd.img'), bus: 'sata', format: 'raw', inPlace: false }]);
    nothingMade();
  });

  it('finds a disk whose name the .vbox writes decomposed (as macOS does) but the folder holds composed, and the other way round', async () => {
    const composed = 'Café disk.img'.normalize('NFC');
    const decomposed = composed.normalize('NFD');
    expect(decomposed).not.toBe(composed);
    for (const [written, stored] of [
      [decomposed, composed],
      [composed, decomposed],
    ] as const) {
      const folder = fs.mkdtempSync(path.join(work, 'unicode-'));
      fs.writeFileSync(path.join(folder, stored), Buffer.alloc(1024 * 1024));
      const file = path.join(folder, 'm.vbox');
      fs.writeFileSync(file, vboxXml({ location: written }));
      const plan = await core.ova.importPlan({ file });
      expect(plan.disks).toEqual([{ source: path.join(folder, stored), bus: 'sata', format: 'raw', inPlace: false }]);
    }
    // A name in neither form is still refused, naming it as the file says.
    const folder = fs.mkdtempSync(path.join(work, 'unicode-'));
    const file = path.join(folder, 'm.vbox');
    fs.writeFileSync(file, vboxXml({ location: decomposed }));
    await expect(core.ova.importPlan({ file })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining(`'${decomposed}', which is not in`) });
    nothingMade();
  });

  it('--dry-run of an OVF and of a plain disk says what would be made, and makes nothing', async () => {
    const file = path.join(work, 'appliance.ovf');
    fs.writeFileSync(file, generateOvf({ name: 'appliance', description: '', osType: 'linux-other', osFamily: 'linux', memoryMiB: 512, cpus: 2, firmware: 'uefi', machine: 'q35', disks: [{ href: 'appliance-disk001.vmdk', size: 1024, capacity: 1024 * 1024, bus: 'sata', uuid: '11111111-2222-4333-8444-555555555555' }], cdroms: 0, nics: [{ model: 'e1000', mac: '52:54:00:12:34:56', mode: 'nat', forwards: [] }], bootOrder: ['disk', 'cdrom'], uuid: 'bbbbbbbb-cccc-4ddd-8eee-ffffffffffff' }));
    const plan = await core.ova.importPlan({ file });
    expect(plan).toMatchObject({ source: 'ovf', name: 'appliance', firmware: 'uefi', memoryMiB: 512, cpus: 2 });
    expect(plan.disks.map((d) => d.source)).toEqual(['appliance-disk001.vmdk']);
    expect(plan.nics).toHaveLength(1);
    nothingMade();
  });

  it('a UTM bundle (a folder) is told by its config.plist; --dry-run shows its firmware, buses, CD drive, adapter and boot order', async () => {
    const bundle = path.join(work, 'Debian.utm');
    fs.mkdirSync(path.join(bundle, 'Data'), { recursive: true });
    fs.writeFileSync(path.join(bundle, 'Data', 'disk.img'), Buffer.alloc(1024 * 1024));
    fs.writeFileSync(path.join(bundle, 'config.plist'), utmPlist({ drives: [{ type: 'CD', iface: 'IDE' }, { type: 'Disk', iface: 'VirtIO', image: 'disk.img' }] }));
    const plan = await core.ova.importPlan({ file: bundle });
    expect(plan).toMatchObject({ source: 'utm', name: 'Debian', osType: 'linux-debian', firmware: 'uefi', machine: 'q35', memoryMiB: 256, cpus: 1, cdroms: 1, bootOrder: ['cdrom', 'disk'] });
    expect(plan.disks).toEqual([{ source: path.join(bundle, 'Data', 'disk.img'), bus: 'virtio', format: '?', inPlace: false }]);
    expect(plan.nics).toEqual([{ model: 'virtio-net-pci', mac: '3a:5c:11:7e:20:4b', mode: 'nat', forwards: 0 }]);
    expect(plan.notCarried).toEqual(['the sound card (intel-hda)']);
    // Its UEFI variables are read from Data/efi_vars.fd: here no OVMF to fit them to, so they are named as left behind.
    fs.writeFileSync(path.join(bundle, 'Data', 'efi_vars.fd'), Buffer.alloc(540672));
    expect((await core.ova.importPlan({ file: bundle })).notCarried).toEqual(['the sound card (intel-hda)', "the UEFI variables in 'efi_vars.fd' (this host's UEFI firmware (OVMF) is not installed; the VM starts with fresh variables)"]);
    nothingMade();
  });

  it('refuses a UTM bundle whose disk, Data folder or config.plist leads out of it, whose disk is a FIFO, or whose plist has a foreign DOCTYPE', async () => {
    const outside = path.join(work, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'canary.img'), Buffer.alloc(1024 * 1024));
    const make = (name: string, image: string, setup?: (bundle: string) => void, doctype?: string): string => {
      const bundle = path.join(work, `${name}.utm`);
      fs.mkdirSync(bundle);
      if (setup) setup(bundle);
      else fs.mkdirSync(path.join(bundle, 'Data'));
      fs.writeFileSync(path.join(bundle, 'config.plist'), utmPlist({ drives: [{ type: 'Disk', iface: 'VirtIO', image }], ...(doctype ? { doctype } : {}) }));
      return bundle;
    };
    const cases: readonly [string, RegExp][] = [
      [make('up', '../../outside/canary.img'), /outside the UTM bundle's Data folder/],
      [make('abs', path.join(outside, 'canary.img')), /outside the UTM bundle's Data folder/],
      [make('link', 'canary.img', (b) => {
        fs.mkdirSync(path.join(b, 'Data'));
        fs.symlinkSync(path.join(outside, 'canary.img'), path.join(b, 'Data', 'canary.img'));
      }), /a symlink to a file outside the UTM bundle's Data folder/],
      [make('datalink', 'canary.img', (b) => fs.symlinkSync(outside, path.join(b, 'Data'))), /the Data folder of 'datalink\.utm' is a symlink/],
      [make('fifo', 'disk.fifo', (b) => {
        fs.mkdirSync(path.join(b, 'Data'));
        execFileSync('mkfifo', [path.join(b, 'Data', 'disk.fifo')]);
      }), /which is a FIFO; only regular files/],
      [make('entity', 'disk.img', undefined, '<!DOCTYPE plist [<!ENTITY x SYSTEM "file:///etc/passwd">]>'), /DOCTYPE other than Apple's property list one/],
    ];
    const plistLink = path.join(work, 'plistlink.utm');
    fs.mkdirSync(plistLink);
    fs.writeFileSync(path.join(outside, 'config.plist'), utmPlist({ drives: [] }));
    fs.symlinkSync(path.join(outside, 'config.plist'), path.join(plistLink, 'config.plist'));
    for (const [file, why] of [...cases, [plistLink, /the config\.plist of 'plistlink\.utm' is a symlink/] as const]) {
      await expect(core.ova.importPlan({ file })).rejects.toMatchObject({ code: 'IMAGE_REJECTED', message: expect.stringMatching(why) });
      await expect(core.ova.import({ file })).rejects.toMatchObject({ code: 'IMAGE_REJECTED', message: expect.stringMatching(why) });
    }
    nothingMade();
  });
});
