/**
 * Machine files from other managers imported through the CLI against real qemu-img and QEMU:
 * a domain XML as `virsh dumpxml` writes it (UEFI with its NVRAM, SATA, e1000e), OVAs as
 * VMware's ovftool (EFI, LSI Logic SCSI, vmxnet3) and VirtualBox 7 (vbox:Machine, BIOS, SATA) write them, a
 * VirtualBox 7 `.vbox` (BIOS, SATA on AHCI, an e1000 NAT adapter with a forward) and a UTM 4
 * bundle (BIOS, an empty CD drive first, a VirtIO qcow2 disk, e1000e), each around a disk
 * made from the test guest ISO. The new VMs keep the source's hardware and all boot from their
 * disks to the guest's ready marker, one at a time (the UEFI ones with 512 MiB: under OVMF the guest's GRUB 2.06 fails `linux` with "out of memory" at 256 MiB, the
 * Debian kernel asking for 64 MiB of contiguous init_size; it boots at 384 MiB and up), and
 * hostile files are refused with nothing made.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../src/core/api/contract';
import { domainXml, makeOva, utmPlist, vboxXml, virtualBoxOvf, vmwareOvf } from '../support/foreign-fixtures';
import { uuidOfVdi, writeDiffVdi } from '../support/vdi';
import { cleanupHome, cli, tempHome, testIso, waitForFile } from './helpers';

async function info(home: string, name: string): Promise<VmInfo> {
  const r = await cli(home, ['info', name, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as VmInfo;
}

describe('importing a domain XML, a .vbox and a UTM bundle', () => {
  let home: string;
  let work: string;
  let raw: string;

  beforeAll(() => {
    home = tempHome();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'nbt-foreign-'));
    raw = path.join(work, 'guest.img');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', testIso(), raw]);
  });
  afterAll(async () => {
    for (const name of ['debian12', 'Moderator 1', 'Debian UTM', 'efi-vm', 'Moderator OVA']) await cli(home, ['poweroff', name]).catch(() => undefined);
    await cleanupHome(home);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('imports a domain XML with its UEFI variables, SATA disk, e1000e and MAC (--dry-run creates nothing) and boots it under UEFI', async () => {
    const nvram = path.join(work, 'debian12_VARS.fd');
    fs.copyFileSync('/usr/share/OVMF/OVMF_VARS_4M.fd', nvram);
    const xml = path.join(work, 'debian12.xml');
    fs.writeFileSync(xml, domainXml({ disk: raw, memoryKiB: 512 * 1024, uefi: { nvram }, extraDevices: "    <hostdev mode='subsystem' type='pci' managed='yes'>\n      <source>\n        <address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>\n      </source>\n    </hostdev>\n" }));
    const dry = await cli(home, ['import', xml, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/firmware: +UEFI/);
    expect(dry.stdout).toMatch(/disk0: .*guest\.img \(raw, sata, converted to qcow2\)/);
    expect(dry.stdout).toMatch(/adapter 1: +e1000e, MAC 52:54:00:3a:7c:11, nat/);
    expect(dry.stdout).toMatch(/the host pci device at 0x0000:0x03:0x00:0x0/);
    expect(dry.stdout).toMatch(/nothing was created/);
    expect(JSON.parse((await cli(home, ['list', '--json'])).stdout || '[]')).toEqual([]);

    const r = await cli(home, ['import', xml]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Imported 'debian12'/);
    expect(r.stdout).toMatch(/Not carried over: the host pci device/);
    const vm = await info(home, 'debian12');
    expect(vm.config).toMatchObject({ firmware: 'uefi', machine: 'q35', memoryMiB: 512, cpus: 1, osType: 'linux-debian', bootOrder: ['disk', 'cdrom'] });
    expect(vm.config.disks).toEqual([{ id: 'disk0', file: 'debian12-disk0.qcow2', format: 'qcow2', bus: 'sata', readOnly: false, owned: true }]);
    expect(vm.config.cdroms).toHaveLength(1);
    expect(vm.config.nics.map((n) => [n.model, n.mac, n.mode])).toEqual([['e1000e', '52:54:00:3a:7c:11', 'nat']]);
    // The variables are the source's (converted to the qcow2 Nestbox keeps them in).
    const vars = path.join(vm.dir, 'efivars.qcow2');
    execFileSync('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', nvram, vars]);
    // OVMF with those variables boots the disk's EFI system partition (GRUB at EFI/BOOT/BOOTX64.EFI).
    const started = await cli(home, ['start', 'debian12']);
    expect(started.code, started.stderr).toBe(0);
    await waitForFile(path.join(vm.dir, 'logs', 'serial.log'), /NESTBOX-GUEST-READY/, 170_000);
    const off = await cli(home, ['poweroff', 'debian12']);
    expect(off.code, off.stderr).toBe(0);
  });

  it('imports a VirtualBox .vbox (BIOS, SATA, e1000 NAT with a forward, a MAC another VM has, its disk two snapshots deep) and boots it', async () => {
    const hostPort = 20000 + (process.pid % 20000);
    const folder = path.join(work, 'Moderator 1');
    fs.mkdirSync(path.join(folder, 'Snapshots'), { recursive: true });
    // The base VDI has its first two MiB (boot sector and GRUB's core) wrecked; the snapshots
    // put them back, one per snapshot, so only a correctly flattened chain boots.
    const original = fs.readFileSync(raw);
    const wrecked = Buffer.from(original);
    wrecked.fill(0, 0, 1024 * 1024);
    wrecked.fill(0xee, 1024 * 1024, 2 * 1024 * 1024);
    fs.writeFileSync(path.join(work, 'wrecked.img'), wrecked);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vdi', path.join(work, 'wrecked.img'), path.join(folder, 'Moderator 1.vdi')]);
    const s1 = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
    const s2 = '1b2c3d4e-5f60-4b7c-9d8e-0f1a2b3c4d5e';
    const block = (i: number) => original.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024);
    const baseUuid = uuidOfVdi(path.join(folder, 'Moderator 1.vdi'));
    writeDiffVdi(path.join(folder, 'Snapshots', `{${s1}}.vdi`), { uuid: s1, parentUuid: baseUuid, diskSize: original.length, blocks: new Map<number, Buffer | 'zero'>([[0, block(0)], [1, 'zero']]) });
    writeDiffVdi(path.join(folder, 'Snapshots', `{${s2}}.vdi`), { uuid: s2, parentUuid: s1, diskSize: original.length, blocks: new Map<number, Buffer | 'zero'>([[1, block(1)]]) });
    const file = path.join(folder, 'Moderator 1.vbox');
    // The MAC of the domain imported above: the .vbox's adapter gets a new one, and the import says so.
    fs.writeFileSync(
      file,
      vboxXml({ location: 'Moderator 1.vdi', format: 'VDI', baseUuid, chain: [{ location: `Snapshots/{${s1}}.vdi`, uuid: `{${s1}}` }, { location: `Snapshots/{${s2}}.vdi`, uuid: `{${s2}}` }], mac: '5254003A7C11', hostPort }),
    );
    const dry = await cli(home, ['import', file, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/disk0: .*\{1b2c3d4e-5f60-4b7c-9d8e-0f1a2b3c4d5e\}\.vdi \(vdi, sata, a snapshot chain of 3 images flattened, converted to qcow2\)/);
    const r = await cli(home, ['import', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Not carried over: adapter 1's MAC 52:54:00:3a:7c:11 \(another VM has it/);
    expect(r.stdout).toMatch(/Not carried over: the audio adapter/);
    const vm = await info(home, 'Moderator 1');
    expect(vm.config).toMatchObject({ firmware: 'bios', machine: 'q35', memoryMiB: 256, description: 'Moderation desk: keep the forward on 2222.', bootOrder: ['disk', 'cdrom'] });
    expect(vm.config.disks.map((d) => [d.bus, d.format])).toEqual([['sata', 'qcow2']]);
    expect(vm.config.nics).toHaveLength(1);
    expect(vm.config.nics[0]).toMatchObject({ model: 'e1000', mode: 'nat', forwards: [{ name: 'ssh', protocol: 'tcp', hostAddress: '127.0.0.1', hostPort, guestPort: 22 }] });
    expect(vm.config.nics[0]!.mac).not.toBe('52:54:00:3a:7c:11');
    // The one disk is the chain's current state, byte for byte; no raw copy was left behind.
    execFileSync('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', raw, path.join(vm.dir, vm.config.disks[0]!.file)]);
    expect(fs.readdirSync(vm.dir).filter((f) => f.includes('flatten'))).toEqual([]);
    const started = await cli(home, ['start', 'Moderator 1']);
    expect(started.code, started.stderr).toBe(0);
    await waitForFile(path.join(vm.dir, 'logs', 'serial.log'), /NESTBOX-GUEST-READY/, 170_000);
  });

  it('imports a UTM bundle (BIOS, CD drive then VirtIO qcow2 disk, e1000e and MAC) and boots it', async () => {
    // One booted guest at a time on a shared machine: the .vbox guest has shown its marker.
    await cli(home, ['poweroff', 'Moderator 1']);
    const bundle = path.join(work, 'Debian UTM.utm');
    fs.mkdirSync(path.join(bundle, 'Data'), { recursive: true });
    const image = '0B1C2D3E-4F50-4617-8293-A4B5C6D7E8F9.qcow2';
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, path.join(bundle, 'Data', image)]);
    fs.writeFileSync(path.join(bundle, 'config.plist'), utmPlist({ name: 'Debian UTM', uefi: false, nicHardware: 'e1000e', mac: '3A:5C:11:7E:20:4B', drives: [{ type: 'CD', iface: 'IDE' }, { type: 'Disk', iface: 'VirtIO', image }] }));
    const dry = await cli(home, ['import', bundle, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/from a UTM virtual machine:/);
    expect(dry.stdout).toMatch(/boot order: cdrom, disk/);
    const r = await cli(home, ['import', bundle]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Imported 'Debian UTM'/);
    expect(r.stdout).toMatch(/Not carried over: the sound card \(intel-hda\)/);
    const vm = await info(home, 'Debian UTM');
    expect(vm.config).toMatchObject({ firmware: 'bios', machine: 'q35', memoryMiB: 256, cpus: 1, osType: 'linux-debian', bootOrder: ['cdrom', 'disk'], display: { adapter: 'virtio' } });
    expect(vm.config.disks.map((d) => [d.bus, d.format])).toEqual([['virtio', 'qcow2']]);
    expect(vm.config.cdroms).toEqual([{ id: 'cd0', iso: null }]);
    expect(vm.config.nics.map((n) => [n.model, n.mac, n.mode])).toEqual([['e1000e', '3a:5c:11:7e:20:4b', 'nat']]);
    const started = await cli(home, ['start', 'Debian UTM']);
    expect(started.code, started.stderr).toBe(0);
    await waitForFile(path.join(vm.dir, 'logs', 'serial.log'), /NESTBOX-GUEST-READY/, 170_000);
  });

  it('imports an OVA as VMware ovftool writes it (EFI, LSI Logic SCSI, vmxnet3 with its MAC, streamOptimized VMDK) and boots it under UEFI', async () => {
    await cli(home, ['poweroff', 'Debian UTM']);
    // 512 MiB: under OVMF the test guest's GRUB needs more than 256 MiB (see the header).
    const capacityMiB = Math.ceil(fs.statSync(raw).size / (1024 * 1024));
    const ova = makeOva({
      raw,
      staging: path.join(work, 'vmware'),
      name: 'efi-vm',
      disk: 'efi-vm-disk1.vmdk',
      ovf: vmwareOvf({ mac: '00:50:56:aa:bb:cc', memoryMiB: 512, capacityMiB }),
      manifest: 'ovftool',
      ova: path.join(work, 'efi-vm.ova'),
    });
    const r = await cli(home, ['import', ova]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Imported 'efi-vm'/);
    const vm = await info(home, 'efi-vm');
    expect(vm.config).toMatchObject({ firmware: 'uefi', memoryMiB: 512, cpus: 2 });
    expect(vm.config.disks.map((d) => [d.bus, d.format])).toEqual([['scsi', 'qcow2']]);
    expect(vm.config.nics.map((n) => [n.model, n.mac])).toEqual([['vmxnet3', '00:50:56:aa:bb:cc']]);
    const started = await cli(home, ['start', 'efi-vm']);
    expect(started.code, started.stderr).toBe(0);
    await waitForFile(path.join(vm.dir, 'logs', 'serial.log'), /NESTBOX-GUEST-READY/, 170_000);
    await cli(home, ['poweroff', 'efi-vm']);
  });

  it('imports an OVA as VirtualBox 7 exports it (vbox:Machine: BIOS, SATA disk, IDE DVD, a virtio NAT adapter with a forward and a host-only e1000; its manifest spelling) and boots it', async () => {
    const ova = makeOva({
      raw,
      staging: path.join(work, 'vbox-ova'),
      name: 'Moderator 1',
      disk: 'Moderator 1-disk001.vmdk',
      ovf: virtualBoxOvf({ firmware: 'BIOS', mac: '080027C0FFEE', capacityBytes: fs.statSync(raw).size }),
      manifest: 'virtualbox',
      ova: path.join(work, 'Moderator 1.ova'),
    });
    const r = await cli(home, ['import', ova, '--name', 'Moderator OVA']);
    expect(r.code, r.stderr).toBe(0);
    const vm = await info(home, 'Moderator OVA');
    expect(vm.config).toMatchObject({ firmware: 'bios', memoryMiB: 256 });
    expect(vm.config.disks.map((d) => [d.bus, d.format])).toEqual([['sata', 'qcow2']]);
    expect(vm.config.nics.map((n) => [n.model, n.mac])).toEqual([
      ['virtio-net-pci', '08:00:27:c0:ff:ee'],
      ['e1000', '08:00:27:11:22:33'],
    ]);
    // The forward's host port is VirtualBox's 2222; another may hold it here, so it goes before the start.
    await cli(home, ['portforward', 'Moderator OVA', 'remove', 'ssh']);
    const started = await cli(home, ['start', 'Moderator OVA']);
    expect(started.code, started.stderr).toBe(0);
    await waitForFile(path.join(vm.dir, 'logs', 'serial.log'), /NESTBOX-GUEST-READY/, 170_000);
    await cli(home, ['poweroff', 'Moderator OVA']);
  });

  it('refuses a .vbox or UTM bundle whose disk lies outside its folder (absolute, .., symlink) without reading it, and leaves nothing', async () => {
    const folder = path.join(work, 'hostile');
    fs.mkdirSync(folder);
    const canary = path.join(work, 'canary.img');
    fs.writeFileSync(canary, Buffer.alloc(1024 * 1024));
    fs.utimesSync(canary, new Date(0), fs.statSync(canary).mtime);
    const before = fs.readdirSync(path.join(home, 'machines')).sort();
    fs.symlinkSync(canary, path.join(folder, 'link.img'));
    for (const [location, why] of [
      [canary, /outside the \.vbox file's folder/],
      ['../canary.img', /outside the \.vbox file's folder/],
      ['link.img', /a symlink to a file outside/],
    ] as const) {
      const file = path.join(folder, 'evil.vbox');
      fs.writeFileSync(file, vboxXml({ name: 'evil', location }));
      const r = await cli(home, ['import', file]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(why);
    }
    // The same disk named by a UTM bundle: out of its Data folder by '..', by an absolute path, by a symlink.
    const bundle = path.join(folder, 'evil.utm');
    fs.mkdirSync(path.join(bundle, 'Data'), { recursive: true });
    fs.symlinkSync(canary, path.join(bundle, 'Data', 'link.qcow2'));
    for (const [image, why] of [
      ['../../../canary.img', /outside the UTM bundle's Data folder/],
      [canary, /outside the UTM bundle's Data folder/],
      ['link.qcow2', /a symlink to a file outside the UTM bundle's Data folder/],
    ] as const) {
      fs.writeFileSync(path.join(bundle, 'config.plist'), utmPlist({ name: 'evil', drives: [{ type: 'Disk', iface: 'VirtIO', image }] }));
      const r = await cli(home, ['import', bundle]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(why);
    }
    expect(fs.statSync(canary).atimeMs).toBe(0);
    expect(fs.readdirSync(path.join(home, 'machines')).sort()).toEqual(before);
  });
});
