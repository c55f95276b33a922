/**
 * Live snapshots of a running VM save RAM through a migration stream beside the guest: the
 * guest keeps running while it is written, the save reports progress and can be cancelled
 * midway, and whatever ends it early (a cancel, a full disk, the VM powered off) leaves no
 * snapshot row, no state file and no internal snapshot on the disks, with the guest running
 * when it ran before.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { checkImages, cleanupHome, cli, openCore, SerialSession, tempHome, testIso, waitForFile } from './helpers';

const NAME = 'stream-vm';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('live snapshots saved beside the running guest', () => {
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;
  let serial: SerialSession;
  let uuid: string;
  let dir: string;
  let disk: string;

  /** Nestbox's internal snapshot tags on the VM's disk, as the running QEMU sees them. */
  const liveTags = async (): Promise<string[]> => {
    const nodes = await hosted.core.vms.qemuOf(uuid)!.qmp.execute<{ 'node-name': string; image?: { snapshots?: { name: string }[] } }[]>('query-named-block-nodes', { flat: true });
    return (nodes.find((n) => n['node-name'] === 'disk0')?.image?.snapshots ?? []).map((s) => s.name);
  };
  const stateFiles = () => (fs.existsSync(path.join(dir, 'snapshots')) ? fs.readdirSync(path.join(dir, 'snapshots')) : []);
  const guestRuns = async () => {
    expect((await hosted.core.vms.qemuOf(uuid)!.qmp.execute<{ status: string }>('query-status')).status).toBe('running');
    expect((await client.call('vms.info', { ref: NAME })).state).toBe('running');
    await serial.run('echo AL$(echo IVE)-$((3+4))', /ALIVE-7/);
  };
  /** Starts a take and resolves once it has written some RAM (a progress event with bytes). */
  const takeUnderWay = async (name: string) => {
    let seen: (v: number) => void = () => undefined;
    const saving = new Promise<number>((r) => (seen = r));
    const off = client.on('job.progress', (e) => {
      if (e.vm === uuid && e.kind === 'snapshot' && e.state === 'running' && (e.bytesDone ?? 0) > 0) seen(e.bytesDone!);
    });
    const take = client.call('snapshots.take', { ref: NAME, name });
    take.catch(() => undefined);
    const first = await Promise.race([saving, take.then(() => -1, () => -1)]);
    off();
    expect(first, 'the save should still be running when the test acts').toBeGreaterThan(0);
    // Wrapped: an async function returning the promise itself would wait for it.
    return { take };
  };

  beforeAll(async () => {
    home = tempHome();
    ({ hosted, client } = await openCore(home));
    const r = await client.call('vms.create', { name: NAME, osType: 'linux-other', memoryMiB: 256, cpus: 1, diskSize: '64M', nic: 'none', iso: testIso() });
    uuid = r.vm.uuid;
    dir = r.vm.dir;
    disk = path.join(dir, r.vm.config.disks[0]!.file);
    await client.call('vms.start', { ref: NAME });
    await waitForFile(r.vm.serialLog, /NESTBOX-GUEST-READY/);
    serial = await SerialSession.open(client, NAME);
    // 40 MiB of RAM that cannot be compressed away, so a limited save takes seconds.
    await serial.run('mkdir -p /mnt/ram && mount -t tmpfs tmpfs /mnt/ram; head -c 40M /dev/urandom > /mnt/ram/fill; echo FI$(echo LLED)', /FILLED/, 120_000);
    await client.call('settings.set', { key: 'snapshotBandwidth', value: '4' });
  });
  afterAll(async () => {
    await serial?.close();
    await client?.call('settings.set', { key: 'snapshotBandwidth', value: null }).catch(() => undefined);
    await client?.call('vms.powerOff', { ref: NAME }).catch(() => undefined);
    await hosted?.close();
    if (home) await cleanupHome(home);
  });

  it('the guest answers while its RAM is saved, and a cancel midway keeps nothing', async () => {
    const { take } = await takeUnderWay('never kept');
    // The guest is not paused for the save: its shell answers meanwhile.
    await guestRuns();
    expect(await client.call('vms.cancel', { ref: NAME })).toEqual({ cancelled: true });
    await expect(take).rejects.toMatchObject({ code: 'CANCELLED', message: expect.stringMatching(/nothing was kept and 'stream-vm' kept running/) });
    expect((await client.call('snapshots.list', { ref: NAME })).snapshots).toEqual([]);
    expect(stateFiles()).toEqual([]);
    expect((await liveTags()).filter((t) => t.startsWith('nb-'))).toEqual([]);
    await guestRuns();
    expect(await client.call('vms.cancel', { ref: NAME })).toEqual({ cancelled: false });
    // Listed with the other jobs, and ended as cancelled there too.
    expect((await client.call('jobs.list', {})).find((j) => j.kind === 'snapshot')).toMatchObject({
      title: "Taking snapshot 'never kept' of 'stream-vm'", state: 'cancelled', vm: uuid,
    });
    const log = await client.call('events.recent', { ref: NAME, limit: 5 });
    expect(log.map((e) => e.message).join('\n')).toMatch(/taking snapshot 'never kept' of 'stream-vm' was cancelled; nothing was kept/);
  });

  it('a live snapshot under way is a job of the VM: `nestbox jobs` lists it, a second operation is BUSY naming it, jobs.cancel stops it', async () => {
    const { take } = await takeUnderWay('before-upgrade');
    const job = (await client.call('jobs.list', {})).find((j) => j.vm === uuid && j.state === 'running');
    expect(job).toMatchObject({ kind: 'snapshot', title: "Taking snapshot 'before-upgrade' of 'stream-vm'", target: NAME });
    expect(job!.cancellable).not.toBe(false);
    const listed = await cli(home, ['jobs']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(job!.id);
    expect(listed.stdout).toMatch(/running\s+\d+%\s+Taking snapshot 'before-upgrade' of 'stream-vm'/);
    const busy = `vm 'stream-vm' is busy: live snapshot 'before-upgrade' (job ${job!.id}) is running`;
    await expect(client.call('vms.clone', { ref: NAME, name: 'stream-copy' })).rejects.toMatchObject({ code: 'BUSY', message: busy });
    await expect(client.call('vms.saveState', { ref: NAME })).rejects.toMatchObject({ code: 'BUSY', message: busy });
    await expect(client.call('snapshots.take', { ref: NAME, name: 'second' })).rejects.toMatchObject({ code: 'BUSY', message: busy });
    expect((await client.call('vms.list', {})).map((v) => v.name)).toEqual([NAME]);
    // Cancelled the way every job is: by its id.
    expect(await client.call('jobs.cancel', { id: job!.id })).toMatchObject({ id: job!.id, state: 'cancelled', error: { code: 'CANCELLED' } });
    await expect(take).rejects.toMatchObject({ code: 'CANCELLED' });
    expect((await client.call('snapshots.list', { ref: NAME })).snapshots).toEqual([]);
    expect(stateFiles()).toEqual([]);
    expect((await liveTags()).filter((t) => t.startsWith('nb-'))).toEqual([]);
    await guestRuns();
  });

  it('a save that runs to the end keeps one state file and one disk snapshot, and restores into a paused VM as paused', async () => {
    await serial.run('echo before > /mnt/ram/mark; echo MA$(echo RKED)', /MARKED/);
    const s = await client.call('snapshots.take', { ref: NAME, name: 'kept' });
    expect(s.withRam).toBe(true);
    expect(stateFiles()).toEqual([`nb-${s.id.slice(0, 13)}.vmstate`]);
    expect(await liveTags()).toEqual([`nb-${s.id.slice(0, 13)}`]);
    await guestRuns();
    await serial.run('echo after > /mnt/ram/mark; echo MA$(echo RKED)2', /MARKED2/);
    await client.call('vms.pause', { ref: NAME });
    const r = await client.call('snapshots.restore', { ref: NAME, id: 'kept' });
    expect(r.vm.state).toBe('paused');
    await client.call('vms.resume', { ref: NAME });
    // The serial console that was open before the restore still works (handed to the new QEMU).
    await serial.run('echo GOT-$(cat /mnt/ram/mark)-END', /GOT-before-END/);
    // The state file stays for the next restore.
    expect(stateFiles()).toEqual([`nb-${s.id.slice(0, 13)}.vmstate`]);
    const preview = await client.call('snapshots.previewDelete', { ref: NAME, id: 'kept', branch: false });
    expect(preview.ramBytes).toBe(fs.statSync(path.join(dir, 'snapshots', `nb-${s.id.slice(0, 13)}.vmstate`)).size);
    await client.call('snapshots.delete', { ref: NAME, id: 'kept' });
    expect(stateFiles()).toEqual([]);
    expect(await liveTags()).toEqual([]);
    checkImages([disk], true);
  });

  it('a restore into the running VM hands the state file to the new QEMU, which lets go of it once loaded', async () => {
    await serial.run('echo first > /mnt/ram/mark; echo MA$(echo RKED)3', /MARKED3/);
    const s = await client.call('snapshots.take', { ref: NAME, name: 'handed' });
    const file = path.join(dir, 'snapshots', `nb-${s.id.slice(0, 13)}.vmstate`);
    await serial.run('echo second > /mnt/ram/mark; echo MA$(echo RKED)4', /MARKED4/);
    const oldPid = hosted.core.vms.qemuOf(uuid)!.pid;
    const r = await client.call('snapshots.restore', { ref: NAME, id: 'handed' });
    expect(r.vm.state).toBe('running');
    const qemu = hosted.core.vms.qemuOf(uuid)!;
    expect(qemu.pid).not.toBe(oldPid);
    await serial.run('echo GOT-$(cat /mnt/ram/mark)-END', /GOT-first-END/);
    // QEMU read the state from the descriptor it was started with and closed it: no descriptor
    // of the running QEMU points at the file, and nothing was fed through an incoming socket.
    const open = fs.readdirSync(`/proc/${qemu.pid}/fd`).map((fd) => {
      try {
        return fs.readlinkSync(`/proc/${qemu.pid}/fd/${fd}`);
      } catch {
        return '';
      }
    });
    expect(open).not.toContain(file);
    expect(fs.existsSync(path.join(qemu.runDir, 'incoming.sock'))).toBe(false);
    // Restoring the same snapshot again reads the same file (it stays), then deleting it frees it.
    await client.call('snapshots.restore', { ref: NAME, id: 'handed' });
    await serial.run('echo AGAIN-$(cat /mnt/ram/mark)-END', /AGAIN-first-END/);
    await client.call('snapshots.delete', { ref: NAME, id: 'handed' });
    expect(fs.existsSync(file)).toBe(false);
    await guestRuns();
  });

  it('powering the VM off in the middle of a save leaves no snapshot behind', async () => {
    const { take } = await takeUnderWay('cut off');
    await client.call('vms.powerOff', { ref: NAME });
    await expect(take).rejects.toMatchObject({ code: expect.stringMatching(/QMP_DISCONNECTED|QEMU_FAILED|INVALID_STATE/) });
    expect((await client.call('snapshots.list', { ref: NAME })).snapshots).toEqual([]);
    expect(stateFiles()).toEqual([]);
    expect(execFileSync('qemu-img', ['snapshot', '-l', disk], { encoding: 'utf8' })).not.toMatch(/nb-/);
    checkImages([disk], false);
  });

  it('a disk that fills up while RAM is saved gives NO_SPACE, keeps nothing, and the guest runs on', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a small tmpfs and needs root (CI runs as root)');
    const r = await client.call('vms.start', { ref: NAME });
    await waitForFile(r.vm.serialLog, /NESTBOX-GUEST-READY/, 90_000, 2);
    await serial.close();
    serial = await SerialSession.open(client, NAME);
    await serial.run('mkdir -p /mnt/ram && mount -t tmpfs tmpfs /mnt/ram; head -c 40M /dev/urandom > /mnt/ram/fill; echo FI$(echo LLED)', /FILLED/, 120_000);
    await client.call('settings.set', { key: 'snapshotBandwidth', value: null });
    // The VM's snapshots folder is on a 12 MiB tmpfs.
    const mnt = path.join(home, 'tiny');
    fs.mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'nestbox-test', mnt]);
    try {
      fs.rmSync(path.join(dir, 'snapshots'), { recursive: true, force: true });
      fs.symlinkSync(mnt, path.join(dir, 'snapshots'));
      await expect(client.call('snapshots.take', { ref: NAME, name: 'too big' })).rejects.toMatchObject({ code: 'NO_SPACE' });
      expect(fs.readdirSync(mnt)).toEqual([]);
      expect((await client.call('snapshots.list', { ref: NAME })).snapshots).toEqual([]);
      expect((await liveTags()).filter((t) => t.startsWith('nb-'))).toEqual([]);
      await sleep(200);
      await guestRuns();
    } finally {
      fs.rmSync(path.join(dir, 'snapshots'), { force: true });
      execFileSync('umount', [mnt]);
    }
    // With room again, the same take works.
    const ok = await client.call('snapshots.take', { ref: NAME, name: 'fits' });
    expect(ok.withRam).toBe(true);
    await guestRuns();
  });

  it('a state file lost after an offline restore is named at start, and discarding the saved state boots the snapshot\'s disks', async () => {
    await serial.close();
    await client.call('vms.powerOff', { ref: NAME });
    const fits = (await client.call('snapshots.list', { ref: NAME })).snapshots.find((x) => x.name === 'fits')!;
    const restored = await client.call('snapshots.restore', { ref: NAME, id: fits.id });
    expect(restored.vm.state).toBe('saved');
    const file = path.join(dir, 'snapshots', `nb-${fits.id.slice(0, 13)}.vmstate`);
    fs.renameSync(file, `${file}.moved`);
    await expect(client.call('vms.start', { ref: NAME })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/that state file is missing .*discard the saved state/),
    });
    expect((await client.call('vms.info', { ref: NAME })).state).toBe('saved');
    fs.renameSync(`${file}.moved`, file);
    await client.call('vms.discardState', { ref: NAME });
    const r = await client.call('vms.start', { ref: NAME });
    await waitForFile(r.vm.serialLog, /NESTBOX-GUEST-READY/, 90_000, 3);
    serial = await SerialSession.open(client, NAME);
  });

  it('Save state reports progress and can be cancelled midway too: the VM runs on and keeps no saved state', async () => {
    await client.call('settings.set', { key: 'snapshotBandwidth', value: '4' });
    let seen: () => void = () => undefined;
    const saving = new Promise<void>((r) => (seen = r));
    const off = client.on('job.progress', (e) => {
      if (e.vm === uuid && e.kind === 'saveState' && e.state === 'running' && (e.bytesDone ?? 0) > 0) seen();
    });
    const save = client.call('vms.saveState', { ref: NAME });
    save.catch(() => undefined);
    await Promise.race([saving, save.then(() => undefined, () => undefined)]);
    off();
    expect((await client.call('vms.info', { ref: NAME })).state).toBe('saving');
    // Cancelled the way storage jobs are: from the jobs list (Media Manager, `nestbox jobs cancel`).
    const running = async () => (await client.call('jobs.list', {})).find((j) => j.kind === 'saveState' && j.state === 'running');
    expect(await running()).toMatchObject({ title: "Saving the state of 'stream-vm'", vm: uuid });
    // Its percentage follows the save.
    for (let i = 0; i < 100 && ((await running())?.percent ?? 0) < 1; i++) await sleep(100);
    const job = await running();
    expect(job!.percent).toBeGreaterThan(0);
    const ended = await client.call('jobs.cancel', { id: job!.id });
    expect(ended.state).toBe('cancelled');
    await expect(save).rejects.toMatchObject({ code: 'CANCELLED', message: expect.stringMatching(/is running as before/) });
    const info = await client.call('vms.info', { ref: NAME });
    expect(info.state).toBe('running');
    expect(info.hasSavedState).toBe(false);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('saved.state'))).toEqual([]);
    await guestRuns();
  });
});
