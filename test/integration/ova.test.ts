/**
 * OVA round trip against real qemu-img and QEMU: a VM made from the test guest is exported
 * (OVF 1.0, streamOptimized VMDK, SHA256 manifest), the archive is checked with GNU tar and
 * sha256sum like another tool would, imported again as a new VM, and that VM boots.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobInfo, VmInfo } from '../../src/core/api/contract';
import { NestboxError } from '../../src/core/api/errors';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { parseOvf } from '../../src/core/storage/ovf';
import { cleanupHome, cli, openCore, tempHome, testIso, waitForFile } from './helpers';

async function finish<T>(client: RpcClient, started: Promise<JobInfo>): Promise<T> {
  const job = await started;
  const end = await client.call('jobs.wait', { id: job.id });
  if (end.state !== 'done') throw NestboxError.fromShape(end.error ?? { code: 'INTERNAL', message: end.state });
  return end.result as T;
}

describe('OVA export and import', () => {
  let home: string;
  let work: string;
  let hosted: HostedCore;
  let client: RpcClient;
  let ova: string;

  beforeAll(async () => {
    home = tempHome();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'nbt-ova-'));
    ({ hosted, client } = await openCore(home));
    const img = path.join(work, 'guest.img');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', testIso(), img]);
    await finish(client, client.call('vms.import', { file: img, name: 'appliance', osType: 'linux-debian', memoryMiB: 256, cpus: 1, mode: 'copy', firmware: 'bios', diskBus: 'sata' }));
    await client.call('vms.modify', { ref: 'appliance', changes: { description: 'exported by the OVA test' } });
    // Hardware VirtualBox has no exact word for (e1000e) and a NAT forward: they must come back as they were.
    await client.call('network.setNic', { ref: 'appliance', nic: 'net0', changes: { model: 'e1000e', mac: '52:54:00:0a:7e:01' } });
    await client.call('network.addForward', { ref: 'appliance', nic: 'net0', rule: { name: 'ssh', hostPort: 20000 + (process.pid % 20000), guestPort: 22 } });
  });
  afterAll(async () => {
    for (const vm of await client.call('vms.list', {})) await client.call('vms.powerOff', { ref: vm.name }).catch(() => undefined);
    await hosted.close();
    await cleanupHome(home);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('exports a VM as an OVA that tar, sha256sum and qemu-img read as VirtualBox expects', async () => {
    ova = path.join(work, 'appliance.ova');
    const r = await finish<{ file: string }>(client, client.call('vms.export', { ref: 'appliance', file: ova }));
    expect(r.file).toBe(ova);
    expect(fs.readdirSync(work).sort()).toEqual(['appliance.ova', 'guest.img']);
    // The OVF first, then the disk, then the manifest (OVF 1.0 §5.3).
    const names = execFileSync('tar', ['-tf', ova], { encoding: 'utf8' }).trim().split('\n');
    expect(names).toEqual(['appliance.ovf', 'appliance-disk001.vmdk', 'appliance.mf']);
    const out = path.join(work, 'unpacked');
    fs.mkdirSync(out);
    execFileSync('tar', ['-xf', ova, '-C', out]);
    const mf = fs.readFileSync(path.join(out, 'appliance.mf'), 'utf8');
    // VirtualBox's spelling of the manifest (coreutils' tag style), the descriptor first.
    expect(mf).toMatch(/^SHA256 \(appliance\.ovf\) = [0-9a-f]{64}\nSHA256 \(appliance-disk001\.vmdk\) = [0-9a-f]{64}\n$/);
    for (const [, name, digest] of mf.matchAll(/SHA256 \((.+)\) = ([0-9a-f]+)/g)) {
      expect(execFileSync('sha256sum', [path.join(out, name!)], { encoding: 'utf8' }).split(' ')[0]).toBe(digest);
    }
    const ovf = parseOvf(fs.readFileSync(path.join(out, 'appliance.ovf'), 'utf8'));
    expect(ovf).toMatchObject({ name: 'appliance', memoryMiB: 256, cpus: 1, dialect: 'virtualbox', osType: 'linux-debian' });
    expect(ovf.disks[0]!.capacity).toBe(fs.statSync(testIso()).size);
    const info = JSON.parse(
      execFileSync('qemu-img', ['info', '-f', 'vmdk', '--output=json', path.join(out, 'appliance-disk001.vmdk')], { encoding: 'utf8' }),
    ) as { 'format-specific': { data: { 'create-type': string } }; 'virtual-size': number };
    expect(info['format-specific'].data['create-type']).toBe('streamOptimized');
    expect(info['virtual-size']).toBe(fs.statSync(testIso()).size);
    fs.rmSync(out, { recursive: true });
  });

  it('imports the OVA again as a new VM (through the CLI) with the same hardware and MAC, and it boots', async () => {
    // The exported MAC must not be another VM's here, or the import rightly makes a new one.
    await client.call('network.setNic', { ref: 'appliance', nic: 'net0', changes: { mac: '52:54:00:0a:7e:02' } });
    const r = await cli(home, ['import', ova, '--name', 'reimported']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Imported 'reimported'/);
    const vm: VmInfo = await client.call('vms.info', { ref: 'reimported' });
    expect(vm.memoryMiB).toBe(256);
    expect(vm.cpus).toBe(1);
    expect(vm.config.disks).toEqual([{ id: 'disk0', file: 'reimported-disk0.qcow2', format: 'qcow2', bus: 'sata', readOnly: false, owned: true }]);
    // The same hardware as the exported VM: firmware, machine, CD drives, adapters (model, forwards) and boot order.
    const source: VmInfo = await client.call('vms.info', { ref: 'appliance' });
    for (const k of ['firmware', 'machine', 'osType', 'bootOrder', 'description'] as const) expect(vm.config[k], k).toEqual(source.config[k]);
    expect(vm.config.cdroms.length).toBe(source.config.cdroms.length);
    expect(vm.config.nics.map((n) => [n.model, n.mode, n.forwards])).toEqual(source.config.nics.map((n) => [n.model, n.mode, n.forwards]));
    expect(vm.config.nics[0]!.model).toBe('e1000e');
    expect(vm.config.nics[0]!.mac).toBe('52:54:00:0a:7e:01');
    expect(r.stdout).not.toMatch(/Not carried over/);
    // Only the converted disk is left in the VM's folder: no extracted VMDK, no partial file.
    expect(fs.readdirSync(vm.dir).sort()).toEqual(['logs', 'reimported-disk0.qcow2']);
    const started = await client.call('vms.start', { ref: 'reimported' });
    await waitForFile(started.vm.serialLog, /NESTBOX-GUEST-READY/, 150_000);
    await client.call('vms.powerOff', { ref: 'reimported' });
  });

  it('imports a loose OVF with its disk next to it, and refuses one whose disk is a symlink', async () => {
    const folder = path.join(work, 'loose');
    fs.mkdirSync(folder);
    execFileSync('tar', ['-xf', ova, '-C', folder]);
    const r = await finish<VmInfo>(client, client.call('vms.import', { file: path.join(folder, 'appliance.ovf'), name: 'loose' }));
    expect(r.config.disks.map((d) => [d.file, d.format])).toEqual([['loose-disk0.qcow2', 'qcow2']]);
    expect(fs.readdirSync(r.dir).sort()).toEqual(['logs', 'loose-disk0.qcow2']);
    await client.call('vms.delete', { ref: 'loose' });
    // The deleted VM's own disk left the registry with its folder.
    expect((await client.call('media.registry', {})).filter((m) => m.path.startsWith(r.dir))).toEqual([]);
    const disk = path.join(folder, 'appliance-disk001.vmdk');
    fs.renameSync(disk, `${disk}.real`);
    fs.symlinkSync(`${disk}.real`, disk);
    await expect(client.call('vms.import', { file: path.join(folder, 'appliance.ovf'), name: 'loose' })).rejects.toMatchObject({
      code: 'IMAGE_REJECTED',
      message: expect.stringMatching(/is a symlink; only regular files are imported/),
    });
    fs.rmSync(folder, { recursive: true });
  });

  it('refuses to export over an existing file or a running VM, and a cancelled export leaves nothing', async () => {
    await expect(client.call('vms.export', { ref: 'appliance', file: ova })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await expect(client.call('vms.export', { ref: 'appliance', file: path.join(work, 'x.tar') })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const job = await client.call('vms.export', { ref: 'appliance', file: path.join(work, 'cancelled.ova') });
    const end = await client.call('jobs.cancel', { id: job.id });
    expect(end.state).toBe('cancelled');
    expect(fs.readdirSync(work).sort()).toEqual(['appliance.ova', 'guest.img']);
  });

  it('refuses an OVA whose disk was altered after export (manifest mismatch) and creates no VM', async () => {
    const altered = path.join(work, 'altered.ova');
    const b = fs.readFileSync(ova);
    // Flip a byte well inside the disk entry (after the OVF's header and data).
    const at = b.indexOf('KDMV');
    b[at + 4096] = b[at + 4096]! ^ 0xff;
    fs.writeFileSync(altered, b);
    const job = await client.call('vms.import', { file: altered, name: 'altered' });
    const end = await client.call('jobs.wait', { id: job.id });
    expect(end.state).toBe('failed');
    expect(end.error?.message).toMatch(/does not match its SHA256 digest/);
    expect((await client.call('vms.list', {})).map((v) => v.name).sort()).toEqual(['appliance', 'reimported']);
    expect(fs.readdirSync(path.join(home, 'machines')).sort()).toEqual(['appliance', 'reimported']);
    fs.rmSync(altered);
  });
});
