/**
 * Clones, whole-branch deletion, disks that cannot hold snapshots, automatic snapshots and
 * UEFI snapshots, against the real test guest and real qemu-img:
 * - a linked clone of a snapshot boots with the parent's disk data of that moment, and the
 *   parent cannot be deleted while it stands on it; a second linked clone shares the base;
 * - a full clone of a running VM's current state boots after its parent is deleted;
 * - deleting a branch removes the snapshot and all below it, after a preview;
 * - a raw disk is refused with SNAPSHOTS_UNSUPPORTED, converted to qcow2 (original kept);
 * - automatic snapshots before each start are pruned to the retention count;
 * - a UEFI VM (its variable store in qcow2) snapshots and restores live.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../src/core/api/contract';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { checkImages, cleanupHome, cli, openCore, SerialSession, tempHome, testIso, waitForFile } from './helpers';

const SECTOR = 4096;

describe('clones, branches, conversion, automatic and UEFI snapshots', () => {
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;

  const diskOf = (vm: VmInfo, i = 0) => path.join(vm.dir, vm.config.disks[i]!.file);

  /** Boots `name` and returns its serial session once the shell is up. */
  const boot = async (name: string): Promise<SerialSession> => {
    const before = await client.call('vms.info', { ref: name });
    const n = fs.existsSync(before.serialLog) ? (fs.readFileSync(before.serialLog, 'utf8').match(/NESTBOX-GUEST-READY/g) ?? []).length : 0;
    const r = await client.call('vms.start', { ref: name });
    await waitForFile(r.vm.serialLog, /NESTBOX-GUEST-READY/, 120_000, n + 1);
    return SerialSession.open(client, name);
  };
  const writeDisk = (s: SerialSession, v: string) =>
    s.run(`printf ${v} | dd of=/dev/vda bs=512 seek=${SECTOR} conv=notrunc 2>/dev/null; sync; echo W$(echo ROTE)-${v}`, new RegExp(`WROTE-${v}`));
  const readDisk = async (s: SerialSession): Promise<string> => {
    const out = await s.run(
      `sync; echo 3 > /proc/sys/vm/drop_caches; echo "GOT=$(dd if=/dev/vda bs=512 skip=${SECTOR} count=1 2>/dev/null | head -c 8)=END"`,
      /GOT=\S*=END/,
    );
    return /GOT=(\S*)=END/.exec(out)![1]!;
  };

  beforeAll(async () => {
    home = tempHome();
    ({ hosted, client } = await openCore(home));
  });
  afterAll(async () => {
    for (const vm of await client.call('vms.list', {})) await client.call('vms.powerOff', { ref: vm.uuid }).catch(() => undefined);
    await hosted.close();
    await cleanupHome(home);
  });

  it('makes linked clones of a snapshot that boot with its data; the parent cannot be deleted under them', async () => {
    await client.call('vms.create', { name: 'parent', osType: 'linux-other', memoryMiB: 256, cpus: 1, diskSize: '64M', iso: testIso() });
    const s = await boot('parent');
    await writeDisk(s, 'DISK-S1x');
    await client.call('snapshots.take', { ref: 'parent', name: 'S1' });
    await writeDisk(s, 'DISK-now');
    await s.close();

    const r = await client.call('vms.clone', { ref: 'parent', name: 'lc', snapshot: 'S1', linked: true });
    const parent = await client.call('vms.info', { ref: 'parent' });
    expect(r.vm.uuid).not.toBe(parent.uuid);
    expect(r.vm.config.nics[0]!.mac).not.toBe(parent.config.nics[0]!.mac);
    expect(r.vm.config.disks[0]!.backing?.format).toBe('qcow2');
    expect(r.vm.linkedTo).toEqual(['parent']);
    expect(parent.linkedClones).toEqual(['lc']);
    // Nestbox made the chain and names the base's format itself.
    const info = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', diskOf(r.vm)], { encoding: 'utf8' })) as Record<string, string>;
    expect(info['backing-filename-format']).toBe('qcow2');
    expect(info['backing-filename']).toBe(r.vm.config.disks[0]!.backing!.file);

    const again = await client.call('vms.clone', { ref: 'parent', name: 'lc2', snapshot: 'S1', linked: true });
    expect(again.vm.config.disks[0]!.backing!.file).toBe(r.vm.config.disks[0]!.backing!.file);
    expect(fs.readdirSync(path.join(parent.dir, 'bases'))).toHaveLength(1);

    const lc = await boot('lc');
    expect(await readDisk(lc)).toBe('DISK-S1x');
    await writeDisk(lc, 'DISK-lcw');
    expect(await readDisk(lc)).toBe('DISK-lcw');
    await lc.close();
    await client.call('vms.powerOff', { ref: 'lc' });
    await client.call('vms.powerOff', { ref: 'parent' });
    checkImages([diskOf(r.vm), diskOf(parent), r.vm.config.disks[0]!.backing!.file], false);

    await expect(client.call('vms.delete', { ref: 'parent' })).rejects.toMatchObject({ code: 'IN_USE', message: expect.stringMatching(/linked clones 'lc', 'lc2'|linked clones 'lc2', 'lc'/) });
    const del = await cli(home, ['delete', 'parent']);
    expect(del.code).toBe(1);
    expect(del.stderr).toMatch(/cannot be deleted: the linked clones/);
    expect((await client.call('vms.info', { ref: 'parent' })).state).toBe('poweredOff');
  });

  it('makes a full clone of a running VM that boots after the parent is deleted', async () => {
    const s = await boot('parent');
    await writeDisk(s, 'DISK-cur');
    const fc = await client.call('vms.clone', { ref: 'parent', name: 'fc' });
    expect(fc.vm.config.disks[0]!.backing).toBeUndefined();
    expect(fc.vm.linkedTo).toEqual([]);
    // The temporary snapshot the clone was read from is gone again, and the parent still runs.
    const parent = await client.call('vms.info', { ref: 'parent' });
    expect(parent.state).toBe('running');
    expect(execFileSync('qemu-img', ['snapshot', '-U', '-l', diskOf(parent)], { encoding: 'utf8' })).not.toMatch(/nb-clone-/);
    await s.close();
    await client.call('vms.powerOff', { ref: 'parent' });

    await client.call('vms.delete', { ref: 'lc' });
    // The base still carries lc2.
    expect(fs.readdirSync(path.join(parent.dir, 'bases'))).toHaveLength(1);
    await client.call('vms.delete', { ref: 'lc2' });
    // The last linked clone is gone: so is the base it stood on, and the parent may go.
    expect(fs.readdirSync(path.join(parent.dir, 'bases'))).toHaveLength(0);
    await client.call('vms.delete', { ref: 'parent' });
    expect(fs.existsSync(parent.dir)).toBe(false);

    checkImages([diskOf(fc.vm)], false);
    const f = await boot('fc');
    expect(await readDisk(f)).toBe('DISK-cur');
    await f.close();
    await client.call('vms.powerOff', { ref: 'fc' });
    checkImages([diskOf(fc.vm)], false);
  });

  it('deletes a whole branch after showing what it frees', async () => {
    const s = await boot('fc');
    await s.close();
    for (const n of ['B1', 'B2', 'B3']) await client.call('snapshots.take', { ref: 'fc', name: n });
    await client.call('snapshots.restore', { ref: 'fc', id: 'B1' });
    await client.call('snapshots.take', { ref: 'fc', name: 'B4' });
    // B1 ─┬─ B2 ── B3
    //     └─ B4 (current)
    const p = await client.call('snapshots.previewDelete', { ref: 'fc', id: 'B2', branch: true });
    expect(p.snapshots.map((x) => x.name)).toEqual(['B2', 'B3']);
    expect(p.ramBytes).toBeGreaterThan(0);
    expect(p.approxBytes).toBeGreaterThanOrEqual(p.ramBytes);
    expect(p.currentMovesTo).toBeUndefined();
    const dry = await cli(home, ['snapshot', 'fc', 'delete', 'B1', '--branch', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^Would delete 4 snapshots: 'B1', 'B2', 'B3', 'B4'; frees about [\d.]+ MiB/);
    expect((await client.call('snapshots.list', { ref: 'fc' })).snapshots).toHaveLength(4);
    const after = await client.call('snapshots.deleteBranch', { ref: 'fc', id: 'B2' });
    expect(after.snapshots.map((x) => x.name)).toEqual(['B1', 'B4']);
    const vm = await client.call('vms.info', { ref: 'fc' });
    checkImages([diskOf(vm)], true);
    const tags = execFileSync('qemu-img', ['snapshot', '-U', '-l', diskOf(vm)], { encoding: 'utf8' });
    expect((tags.match(/nb-/g) ?? []).length).toBe(2);
    // The current state hangs in the branch: it moves to the branch's parent.
    const p2 = await client.call('snapshots.previewDelete', { ref: 'fc', id: 'B1', branch: true });
    expect(p2.currentMovesTo).toBeNull();
    const none = await client.call('snapshots.deleteBranch', { ref: 'fc', id: 'B1' });
    expect(none.snapshots).toEqual([]);
    expect(none.current).toBeNull();
    await client.call('vms.powerOff', { ref: 'fc' });
    checkImages([diskOf(vm)], false);
  });

  it('refuses snapshots of a raw disk with a code, and converts it to qcow2 keeping the original', async () => {
    const raw = path.join(home, 'user-disk.img');
    const buf = Buffer.alloc(4 * 1024 * 1024);
    buf.write('RAW-MARK', SECTOR * 512, 'latin1');
    fs.writeFileSync(raw, buf);
    await client.call('vms.create', { name: 'rawvm', memoryMiB: 64, cpus: 1, disk: raw });
    await expect(client.call('snapshots.take', { ref: 'rawvm', name: 'x' })).rejects.toMatchObject({ code: 'SNAPSHOTS_UNSUPPORTED' });
    const r = await client.call('vms.convertDisk', { ref: 'rawvm' });
    const d = r.vm.config.disks[0]!;
    expect(d.format).toBe('qcow2');
    expect(d.owned).toBe(true);
    expect(r.warnings.join(' ')).toContain(raw);
    expect(fs.readFileSync(raw).subarray(SECTOR * 512, SECTOR * 512 + 8).toString('latin1')).toBe('RAW-MARK');
    checkImages([diskOf(r.vm)], false);
    const back = path.join(home, 'back.raw');
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', diskOf(r.vm), back]);
    expect(fs.readFileSync(back).equals(buf)).toBe(true);
    const snap = await client.call('snapshots.take', { ref: 'rawvm', name: 'now it works' });
    expect(snap.withRam).toBe(false);
    await expect(client.call('vms.convertDisk', { ref: 'rawvm' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('takes an automatic snapshot before each start and keeps only the newest ones', async () => {
    const m = await cli(home, ['modify', 'fc', '--auto-snapshots', '2']);
    expect(m.code, m.stderr).toBe(0);
    for (let i = 0; i < 3; i++) {
      await client.call('vms.start', { ref: 'fc' });
      await client.call('vms.powerOff', { ref: 'fc' });
    }
    const l = await client.call('snapshots.list', { ref: 'fc' });
    expect(l.snapshots).toHaveLength(2);
    expect(l.snapshots.every((x) => x.auto && !x.withRam && /^Before start /.test(x.name))).toBe(true);
    // Each hangs under the one before: the sessions form a chain.
    expect(l.snapshots[1]!.parentId).toBe(l.snapshots[0]!.id);
    const vm = await client.call('vms.info', { ref: 'fc' });
    checkImages([diskOf(vm)], false);
    expect((execFileSync('qemu-img', ['snapshot', '-l', diskOf(vm)], { encoding: 'utf8' }).match(/nb-/g) ?? []).length).toBe(2);
    const made = await cli(home, ['create', 'auto-vm', '--no-disk', '--memory', '64', '--auto-snapshots', '3', '--json']);
    expect(made.code, made.stderr).toBe(0);
    expect((JSON.parse(made.stdout) as VmInfo).config.autoSnapshot).toEqual({ keep: 3 });
    expect((await cli(home, ['info', 'auto-vm'])).stdout).toMatch(/Auto snapshots:\s+before each start, keeping 3/);
    await client.call('vms.modify', { ref: 'fc', changes: { autoSnapshots: 0 } });
    await client.call('vms.start', { ref: 'fc' });
    await client.call('vms.powerOff', { ref: 'fc' });
    expect((await client.call('snapshots.list', { ref: 'fc' })).snapshots).toHaveLength(2);
  });

  it('stops a long clone or conversion midway, with progress before it; nothing is kept', async () => {
    // 1 GiB that does not compress away (one random MiB, repeated): qemu-img reports
    // progress long before it is done.
    const big = path.join(home, 'big.img');
    const fd = fs.openSync(big, 'w');
    const block = crypto.randomBytes(1 << 20);
    for (let i = 0; i < 1024; i++) fs.writeSync(fd, block);
    fs.closeSync(fd);
    await client.call('vms.create', { name: 'big', memoryMiB: 64, cpus: 1, disk: big });
    for (const op of ['clone', 'convertDisk'] as const) {
      const seen: number[] = [];
      let cancel: Promise<{ cancelled: boolean }> | null = null;
      const off = client.on('job.progress', (e) => {
        if (e.kind !== op || e.state !== 'running') return;
        seen.push(e.percent);
        if (e.percent > 0 && !cancel) cancel = client.call('vms.cancel', { ref: 'big' });
      });
      const work = op === 'clone' ? client.call('vms.clone', { ref: 'big', name: 'big2' }) : client.call('vms.convertDisk', { ref: 'big' });
      await expect(work).rejects.toMatchObject({ code: 'CANCELLED' });
      off();
      expect(await cancel).toEqual({ cancelled: true });
      expect(seen.some((p) => p > 0 && p < 100)).toBe(true);
    }
    expect((await client.call('vms.list', {})).map((v) => v.name)).not.toContain('big2');
    expect(fs.existsSync(path.join(home, 'machines', 'big2'))).toBe(false);
    const vm = await client.call('vms.info', { ref: 'big' });
    expect(vm.config.disks[0]!.format).toBe('raw');
    expect(fs.readdirSync(vm.dir).filter((f) => f.endsWith('.qcow2'))).toEqual([]);
    expect(await client.call('vms.cancel', { ref: 'big' })).toEqual({ cancelled: false });
    await client.call('vms.delete', { ref: 'big' });
    expect(fs.statSync(big).size).toBe(1024 * 1024 * 1024);
    fs.rmSync(big);
  });

  it('snapshots and restores a UEFI VM live, its variable store included', async () => {
    const host = await client.call('host.info', {});
    expect(host.firmware.uefi, 'UEFI tests need OVMF (Debian package ovmf)').not.toBeNull();
    const r = await client.call('vms.create', { name: 'uefi', osType: 'linux-other', memoryMiB: 512, cpus: 1, diskSize: '64M', iso: testIso(), firmware: 'uefi' });
    const vars = path.join(r.vm.dir, 'efivars.qcow2');
    const s = await boot('uefi');
    await s.run('export MARK=uefi-$((2*3)); echo SET-$MARK', /SET-uefi-6/);
    await writeDisk(s, 'DISK-efi');
    await client.call('snapshots.take', { ref: 'uefi', name: 'U' });
    expect(execFileSync('qemu-img', ['snapshot', '-U', '-l', vars], { encoding: 'utf8' })).toMatch(/nb-/);
    await s.run('export MARK=changed-$((1+1)); echo SET-$MARK', /SET-changed-2/);
    await writeDisk(s, 'DISK-chg');
    const back = await client.call('snapshots.restore', { ref: 'uefi', id: 'U' });
    expect(back.vm.state).toBe('running');
    const out = await s.run('echo GOT-$MARK-TOG', /GOT-(uefi|changed)-\d-TOG/);
    expect(out).toMatch(/GOT-uefi-6-TOG/);
    expect(await readDisk(s)).toBe('DISK-efi');
    await s.close();
    await client.call('vms.powerOff', { ref: 'uefi' });
    checkImages([diskOf(r.vm), vars], false);
  });
});
