/**
 * The "Done means" for snapshots, against the real test guest: a marker in guest RAM
 * (a tmpfs the guest mounts) and one on its qcow2 disk (raw bytes at an offset of /dev/vda,
 * read back past the page cache), a live snapshot, both changed, a restore that brings both
 * back while the guest's uptime and shell carry on from the snapshot; branches; deleting a
 * snapshot in the middle of the tree; a powered-off snapshot and restore checked from the
 * host; and `qemu-img check` clean after every step.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { checkImages, cleanupHome, openCore, SerialSession, tempHome, testIso, waitForFile } from './helpers';

const NAME = 'data-vm';
/** Where the disk marker lives: 2 MiB into the guest's virtio disk (512-byte sectors). */
const SECTOR = 4096;

/** The 8 bytes at the marker's place in a qcow2 image, read from the host (VM off). */
function diskMarkerFromHost(file: string, tmp: string): string {
  const raw = path.join(tmp, 'peek.raw');
  execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', file, raw]);
  const fd = fs.openSync(raw, 'r');
  const b = Buffer.alloc(8);
  fs.readSync(fd, b, 0, 8, SECTOR * 512);
  fs.closeSync(fd);
  fs.rmSync(raw);
  return b.toString('latin1');
}

describe('snapshot data: RAM and disk come back', () => {
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;
  let serial: SerialSession;
  let images: string[];

  const setMarkers = async (v: string) => {
    // RAM: a file in a tmpfs and a shell variable. Disk: 8 bytes written past the guest's cache.
    await serial.run(`echo RAM-${v} > /mnt/ram/m; export MARK=${v}; echo SET-$MARK`, new RegExp(`SET-${v}\\b`));
    await serial.run(`printf DISK-${v} | dd of=/dev/vda bs=512 seek=${SECTOR} conv=notrunc 2>/dev/null; sync; echo W$(echo ROTE)-${v}`, new RegExp(`WROTE-${v}`));
  };
  /** RAM file, shell variable and disk bytes as the guest sees them (the disk re-read after dropping caches). */
  const readMarkers = async (): Promise<{ ram: string; shell: string; disk: string }> => {
    const out = await serial.run(
      'sync; echo 3 > /proc/sys/vm/drop_caches; echo "GOT ram=$(cat /mnt/ram/m) shell=$MARK disk=$(dd if=/dev/vda bs=512 skip=' + SECTOR + ' count=1 2>/dev/null | head -c 8) END"',
      /GOT ram=\S* shell=\S* disk=\S* END/,
    );
    const m = /GOT ram=(\S*) shell=(\S*) disk=(\S*) END/.exec(out)!;
    return { ram: m[1]!, shell: m[2]!, disk: m[3]! };
  };
  const uptime = async (): Promise<number> => {
    const out = await serial.run('echo UP-$(cut -d" " -f1 /proc/uptime)-PU', /UP-[\d.]+-PU/);
    return Number(/UP-([\d.]+)-PU/.exec(out)![1]);
  };
  const bootId = async (): Promise<string> => {
    const out = await serial.run('echo BOOT-$(cat /proc/sys/kernel/random/boot_id)-TOOB', /BOOT-[0-9a-f-]{36}-TOOB/);
    return /BOOT-([0-9a-f-]{36})-TOOB/.exec(out)![1]!;
  };
  const restore = async (snap: string) => {
    const r = await client.call('snapshots.restore', { ref: NAME, id: snap });
    expect(r.vm.state).toBe('running');
    checkImages(images, true);
  };

  beforeAll(async () => {
    home = tempHome();
    ({ hosted, client } = await openCore(home));
    const r = await client.call('vms.create', { name: NAME, osType: 'linux-other', memoryMiB: 256, cpus: 1, diskSize: '64M', iso: testIso() });
    expect(r.vm.config.disks[0]!.bus).toBe('virtio');
    images = [path.join(r.vm.dir, r.vm.config.disks[0]!.file)];
  });
  afterAll(async () => {
    await serial?.close();
    await client.call('vms.powerOff', { ref: NAME }).catch(() => undefined);
    await hosted.close();
    await cleanupHome(home);
  });

  it('restores RAM (tmpfs, shell) and disk from a live snapshot; uptime and shell continue from it', async () => {
    const r = await client.call('vms.start', { ref: NAME });
    await waitForFile(r.vm.serialLog, /NESTBOX-GUEST-READY/);
    serial = await SerialSession.open(client, NAME);
    await serial.run('mkdir -p /mnt/ram && mount -t tmpfs tmpfs /mnt/ram && grep -c " /mnt/ram tmpfs" /proc/mounts && echo MOUNTED', /MOUNTED/);
    await setMarkers('one');
    expect(await readMarkers()).toEqual({ ram: 'RAM-one', shell: 'one', disk: 'DISK-one' });
    const up0 = await uptime();
    const boot0 = await bootId();
    const a = await client.call('snapshots.take', { ref: NAME, name: 'A' });
    expect(a.withRam).toBe(true);
    checkImages(images, true);

    await setMarkers('two');
    expect(await readMarkers()).toEqual({ ram: 'RAM-two', shell: 'two', disk: 'DISK-two' });
    await restore('A');
    const up2 = await uptime();
    expect(await readMarkers()).toEqual({ ram: 'RAM-one', shell: 'one', disk: 'DISK-one' });
    // The same kernel carries on (no reboot: same boot id, uptime never went back to zero),
    // and the shell is the one of the snapshot (its variable is back).
    expect(await bootId()).toBe(boot0);
    expect(up2).toBeGreaterThanOrEqual(up0);
  });

  it('branches: two children of one snapshot each come back as they were', async () => {
    // A ─┬─ B ── D
    //    └─ C
    await setMarkers('bee');
    const b = await client.call('snapshots.take', { ref: NAME, name: 'B' });
    await setMarkers('dee');
    const d = await client.call('snapshots.take', { ref: NAME, name: 'D' });
    await restore('A');
    await setMarkers('cee');
    const c = await client.call('snapshots.take', { ref: NAME, name: 'C' });
    checkImages(images, true);
    const list = await client.call('snapshots.list', { ref: NAME });
    const a = list.snapshots.find((s) => s.name === 'A')!;
    expect(b.parentId).toBe(a.id);
    expect(c.parentId).toBe(a.id);
    expect(d.parentId).toBe(b.id);
    expect(list.current).toBe(c.id);

    await restore('B');
    expect(await readMarkers()).toEqual({ ram: 'RAM-bee', shell: 'bee', disk: 'DISK-bee' });
    await restore('C');
    expect(await readMarkers()).toEqual({ ram: 'RAM-cee', shell: 'cee', disk: 'DISK-cee' });
  });

  it('deletes the snapshot in the middle of a chain; the ones above and below stay restorable', async () => {
    const after = await client.call('snapshots.delete', { ref: NAME, id: 'B' });
    checkImages(images, true);
    const a = after.snapshots.find((s) => s.name === 'A')!;
    expect(after.snapshots.find((s) => s.name === 'D')!.parentId).toBe(a.id);
    await restore('D');
    expect(await readMarkers()).toEqual({ ram: 'RAM-dee', shell: 'dee', disk: 'DISK-dee' });
    await restore('A');
    expect(await readMarkers()).toEqual({ ram: 'RAM-one', shell: 'one', disk: 'DISK-one' });
    await restore('C');
    expect(await readMarkers()).toEqual({ ram: 'RAM-cee', shell: 'cee', disk: 'DISK-cee' });
  });

  it('takes and restores a snapshot while powered off; the disk comes back as the host reads it', async () => {
    await serial.close();
    await client.call('vms.powerOff', { ref: NAME });
    checkImages(images, false);
    expect(diskMarkerFromHost(images[0]!, home)).toBe('DISK-cee');
    const off = await client.call('snapshots.take', { ref: NAME, name: 'Off' });
    expect(off.withRam).toBe(false);
    checkImages(images, false);

    const r = await client.call('vms.start', { ref: NAME });
    await waitForFile(r.vm.serialLog, /NESTBOX-GUEST-READY/, 90_000, 2);
    serial = await SerialSession.open(client, NAME);
    await serial.run(`printf DISK-eff | dd of=/dev/vda bs=512 seek=${SECTOR} conv=notrunc 2>/dev/null; sync; echo W$(echo ROTE)-eff`, /WROTE-eff/);
    await serial.close();
    await client.call('vms.powerOff', { ref: NAME });
    expect(diskMarkerFromHost(images[0]!, home)).toBe('DISK-eff');

    const restored = await client.call('snapshots.restore', { ref: NAME, id: 'Off' });
    expect(restored.vm.state).toBe('poweredOff');
    checkImages(images, false);
    expect(diskMarkerFromHost(images[0]!, home)).toBe('DISK-cee');
    // The others are still there and intact after the offline restore.
    const names = (await client.call('snapshots.list', { ref: NAME })).snapshots.map((s) => s.name).sort();
    expect(names).toEqual(['A', 'C', 'D', 'Off']);
    const tags = execFileSync('qemu-img', ['snapshot', '-l', images[0]!], { encoding: 'utf8' });
    expect((tags.match(/nb-/g) ?? []).length).toBe(4);
  });

  it('reports progress while a live snapshot saves RAM, and refuses a restore whose disk lost the snapshot without ending the guest', async () => {
    const r = await client.call('vms.start', { ref: NAME });
    await waitForFile(r.vm.serialLog, /NESTBOX-GUEST-READY/, 90_000, 3);
    serial = await SerialSession.open(client, NAME);
    await serial.run('mkdir -p /mnt/ram && mount -t tmpfs tmpfs /mnt/ram; head -c 24M /dev/urandom > /mnt/ram/fill; echo FI$(echo LLED)', /FILLED/, 120_000);
    // Slow enough that the save is seen in between: 24 MiB of random RAM at 8 MiB/s.
    await client.call('settings.set', { key: 'snapshotBandwidth', value: '8' });
    const progress: { operation: string; percent: number; done: boolean; bytesDone?: number; bytesTotal?: number }[] = [];
    // The take is a job of the VM: its progress is job.progress (kind 'snapshot').
    const off = client.on('job.progress', (e) => {
      if (e.vm === r.vm.uuid) progress.push({ operation: e.kind, percent: e.percent, done: e.state === 'done', bytesDone: e.bytesDone, bytesTotal: e.bytesTotal });
    });
    let g;
    try {
      g = await client.call('snapshots.take', { ref: NAME, name: 'G' });
    } finally {
      off();
      await client.call('settings.set', { key: 'snapshotBandwidth', value: null });
    }
    expect(g.withRam).toBe(true);
    expect(progress[0]).toEqual({ operation: 'snapshot', percent: 0, done: false, bytesDone: undefined, bytesTotal: undefined });
    expect(progress.at(-1)).toMatchObject({ operation: 'snapshot', percent: 100, done: true });
    const between = progress.slice(1, -1);
    expect(between.length).toBeGreaterThan(0);
    for (const p of between) {
      expect(p.percent).toBeGreaterThanOrEqual(0);
      expect(p.percent).toBeLessThan(100);
      expect(p.bytesTotal).toBeGreaterThan(0);
    }
    expect(between.map((p) => p.percent)).toEqual([...between.map((p) => p.percent)].sort((a, b) => a - b));
    checkImages(images, true);

    // Pull the snapshot out of the image behind Nestbox's back: the restore is refused before
    // the running guest is touched.
    const qemu = hosted.core.vms.qemuOf(r.vm.uuid)!;
    await qemu.qmp.execute('blockdev-snapshot-delete-internal-sync', { device: 'disk0', name: `nb-${g.id.slice(0, 13)}` });
    await expect(client.call('snapshots.restore', { ref: NAME, id: 'G' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(hosted.core.vms.qemuOf(r.vm.uuid)).toBe(qemu);
    expect((await qemu.qmp.execute<{ status: string }>('query-status')).status).toBe('running');
    await serial.run('echo AL$(echo IVE)', /ALIVE/);
  });

  it('a paused VM is snapshotted in one step (RAM in the qcow2), and a failed restore of it never leaves the guest paused', async () => {
    const uuid = (await client.call('vms.info', { ref: NAME })).uuid;
    await client.call('vms.pause', { ref: NAME });
    const p = await client.call('snapshots.take', { ref: NAME, name: 'P' });
    expect(p.withRam).toBe(true);
    expect((await client.call('vms.info', { ref: NAME })).state).toBe('paused');
    await client.call('vms.resume', { ref: NAME });
    // QEMU's snapshot-load job fails after it has stopped the guest, and does not start it again by itself.
    const qemu = hosted.core.vms.qemuOf(uuid)!;
    await qemu.qmp.execute('blockdev-snapshot-delete-internal-sync', { device: 'disk0', name: `nb-${p.id.slice(0, 13)}` });
    await expect(client.call('snapshots.restore', { ref: NAME, id: 'P' })).rejects.toMatchObject({ code: 'QEMU_FAILED' });
    expect((await qemu.qmp.execute<{ status: string }>('query-status')).status).toBe('running');
    expect((await client.call('vms.info', { ref: NAME })).state).toBe('running');
    await serial.run('echo AL$(echo IVE)', /ALIVE/);
    const log = await client.call('events.recent', { ref: NAME, limit: 5 });
    expect(log.map((e) => e.message).join('\n')).toMatch(/was left paused after snapshot-load; resumed it/);
  });
});
