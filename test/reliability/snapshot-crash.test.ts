/**
 * The core killed in the middle of a live snapshot.
 *  - A paused VM's snapshot (QMP snapshot-save): QEMU finishes the job on its own; the next
 *    core waits for it, dismisses it, removes the unnamed snapshot it left on the disk, and
 *    says so.
 *  - A running VM's snapshot (RAM streamed to a file): killed while RAM is written, QEMU's
 *    migration fails and the guest runs on; killed at the switch-over (the guest stopped by
 *    QEMU), the next core cancels the migration and resumes the guest. Either way no row,
 *    state file or disk snapshot stays.
 * The inventory and the disk agree afterwards, the guest runs, and `qemu-img check` is clean.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcClient } from '../../src/core/api/rpc';
import { QmpClient } from '../../src/core/qemu/qmp';
import { DataLayout } from '../../src/core/store/paths';
import { cleanupHome, cli, SerialSession, tempHome, testIso, waitForFile } from '../integration/helpers';
import { daemon, stopBackgroundDaemon, stopDaemon } from '../support/daemon';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function diskTags(disk: string): string[] {
  const j = JSON.parse(execFileSync('qemu-img', ['info', '-f', 'qcow2', '--force-share', '--output=json', disk]).toString()) as { snapshots?: { name: string }[] };
  return (j.snapshots ?? []).map((s) => s.name);
}

function checkClean(disk: string): void {
  const r = JSON.parse(execFileSync('qemu-img', ['check', '-f', 'qcow2', '--output=json', disk]).toString()) as { corruptions?: number; leaks?: number };
  expect(r.corruptions ?? 0).toBe(0);
  expect(r.leaks ?? 0).toBe(0);
}

/** The guest answers, and a snapshot taken now works and is the only one on the disk, which checks clean. */
async function worksAfterTheCrash(client: RpcClient, vm: string, disk: string): Promise<void> {
  const serial = await SerialSession.open(client, vm);
  await serial.run('echo STILL-$((40+2))', /STILL-42/, 60_000);
  await serial.close();
  await client.call('snapshots.take', { ref: vm, name: 'after the crash' });
  expect((await client.call('snapshots.list', { ref: vm })).snapshots.map((s) => s.name)).toEqual(['after the crash']);
  await client.call('vms.powerOff', { ref: vm });
  expect(diskTags(disk)).toHaveLength(1);
  checkClean(disk);
}

const homes: string[] = [];
afterEach(async () => {
  for (const h of homes.splice(0)) await cleanupHome(h);
});

describe('the core is killed in the middle of a snapshot', () => {
  it('finishes the snapshot-save job it left in QEMU for a paused VM, removes the unnamed snapshot, and the guest stays paused', async () => {
    const home = tempHome();
    homes.push(home);
    let d = await daemon(home);
    const created = await d.client.call('vms.create', { name: 'snappy', osType: 'linux-other', memoryMiB: 384, cpus: 1, diskSize: '256M', nic: 'none', iso: testIso() });
    const disk = path.join(created.vm.dir, created.vm.config.disks[0]!.file);
    const started = await d.client.call('vms.start', { ref: 'snappy' });
    await waitForFile(created.vm.serialLog, /NESTBOX-GUEST-READY/, 240_000);
    const serial = await SerialSession.open(d.client, 'snappy');
    // Enough dirty RAM that the save takes a while under TCG.
    await serial.run('dd if=/dev/urandom of=/root/fill bs=1M count=200 2>/dev/null; echo FILLED-$((100+1))', /FILLED-101/, 180_000);
    await serial.close();
    await d.client.call('vms.pause', { ref: 'snappy' });

    const before = fs.statSync(disk).blocks * 512;
    const take = d.client.call('snapshots.take', { ref: 'snappy', name: 'never finished' });
    take.catch(() => undefined);
    // Kill the core once QEMU's job is under way: the RAM state is being written into the disk.
    for (let i = 0; i < 600 && fs.statSync(disk).blocks * 512 < before + 16 * 2 ** 20; i++) await sleep(20);
    d.child.kill('SIGKILL');
    await d.exited;
    d.client.close();

    // Precondition, read straight from QEMU: the job really was left to QEMU.
    const runDir = new DataLayout(home).vmRunDir(started.vm.uuid);
    const qmp = await QmpClient.connect(path.join(runDir, 'qmp.sock'), { retryUntilMs: 10_000 });
    const jobs = await qmp.execute<{ id: string; type: string; status: string }[]>('query-jobs');
    qmp.close();
    expect(jobs.filter((j) => j.type === 'snapshot-save'), `jobs: ${JSON.stringify(jobs)}, tags: ${diskTags(disk).join(',')}`).toHaveLength(1);

    d = await daemon(home);
    try {
      const log = await cli(home, ['log', 'snappy', '--json']);
      expect(log.stdout).toMatch(/a snapshot-save job on 'snappy' was under way when the core stopped/);
      expect(log.stdout).toMatch(/removed an unfinished snapshot \(nb-[0-9a-f-]+\) of 'snappy'/);
      expect((await d.client.call('snapshots.list', { ref: 'snappy' })).snapshots).toEqual([]);
      // The guest stays paused as the user left it, and runs when resumed.
      expect((await d.client.call('vms.info', { ref: 'snappy' })).state).toBe('paused');
      await d.client.call('vms.resume', { ref: 'snappy' });
      await worksAfterTheCrash(d.client, 'snappy', disk);
    } finally {
      await stopDaemon(d);
    }
  });

  for (const when of ['while RAM is written', 'at the switch-over'] as const) {
    it(`a running VM's snapshot cut off ${when}: no row, state file or disk snapshot stays, and the guest runs`, async () => {
      const home = tempHome();
      homes.push(home);
      const fault: Record<string, string> = when === 'at the switch-over' ? { NESTBOX_FAULT: 'snapshot:switchover' } : {};
      let d = await daemon(home, fault);
      const created = await d.client.call('vms.create', { name: 'streamy', osType: 'linux-other', memoryMiB: 256, cpus: 1, diskSize: '64M', nic: 'none', iso: testIso() });
      const disk = path.join(created.vm.dir, created.vm.config.disks[0]!.file);
      const snapDir = path.join(created.vm.dir, 'snapshots');
      const started = await d.client.call('vms.start', { ref: 'streamy' });
      await waitForFile(created.vm.serialLog, /NESTBOX-GUEST-READY/, 240_000);
      const serial = await SerialSession.open(d.client, 'streamy');
      await serial.run('mkdir -p /mnt/ram && mount -t tmpfs tmpfs /mnt/ram; head -c 24M /dev/urandom > /mnt/ram/fill; echo FI$(echo LLED)', /FILLED/, 120_000);
      await serial.close();
      if (when === 'while RAM is written') await d.client.call('settings.set', { key: 'snapshotBandwidth', value: '4' });
      const take = d.client.call('snapshots.take', { ref: 'streamy', name: 'never finished' });
      take.catch(() => undefined);
      if (when === 'while RAM is written') {
        // Kill the core once some RAM is in the partial state file.
        const partialSize = () => (fs.existsSync(snapDir) ? fs.readdirSync(snapDir).filter((n) => n.endsWith('.partial')).map((n) => fs.statSync(path.join(snapDir, n)).size)[0] ?? 0 : 0);
        for (let i = 0; i < 1500 && partialSize() < 2 ** 20; i++) await sleep(20);
        expect(partialSize()).toBeGreaterThan(0);
        d.child.kill('SIGKILL');
      }
      await d.exited;
      d.client.close();

      // Precondition, read straight from QEMU: at the switch-over it is left stopped, waiting.
      const runDir = new DataLayout(home).vmRunDir(started.vm.uuid);
      const qmp = await QmpClient.connect(path.join(runDir, 'qmp.sock'), { retryUntilMs: 10_000 });
      const mig = await qmp.execute<{ status?: string }>('query-migrate');
      const status = await qmp.execute<{ status: string }>('query-status');
      qmp.close();
      if (when === 'at the switch-over') {
        expect(mig.status).toBe('pre-switchover');
        expect(status.status).toBe('finish-migrate');
      }

      d = await daemon(home);
      try {
        const log = (await cli(home, ['log', 'streamy', '--json'])).stdout;
        if (when === 'at the switch-over') {
          expect(log).toMatch(/a snapshot of 'streamy' was saving its RAM when the core stopped; that save was cancelled/);
          expect(log).toMatch(/removed an unfinished snapshot \(nb-[0-9a-f-]+\) of 'streamy'/);
        } else {
          expect(log).toMatch(/removed the RAM state of a snapshot of 'streamy' that was not finished when the core stopped \(nb-[0-9a-f-]+\.vmstate\.partial\)/);
        }
        expect((await d.client.call('snapshots.list', { ref: 'streamy' })).snapshots).toEqual([]);
        expect(fs.existsSync(snapDir) ? fs.readdirSync(snapDir) : []).toEqual([]);
        for (let i = 0; i < 100 && (await d.client.call('vms.info', { ref: 'streamy' })).state !== 'running'; i++) await sleep(100);
        expect((await d.client.call('vms.info', { ref: 'streamy' })).state).toBe('running');
        await d.client.call('settings.set', { key: 'snapshotBandwidth', value: null });
        await worksAfterTheCrash(d.client, 'streamy', disk);
      } finally {
        await stopDaemon(d);
      }
    });
  }

  it('removes an unnamed Nestbox snapshot left on a powered-off disk, and never touches other tools’ snapshots', async () => {
    const home = tempHome();
    homes.push(home);
    expect((await cli(home, ['create', 'cold', '--memory', '128', '--cpus', '1', '--disk-size', '64M'])).code).toBe(0);
    const info = JSON.parse((await cli(home, ['info', 'cold', '--json'])).stdout) as { dir: string; config: { disks: { file: string }[] } };
    const disk = path.join(info.dir, info.config.disks[0]!.file);
    const take = await cli(home, ['snapshot', 'cold', 'take', 'kept']);
    expect(take.code, take.stderr).toBe(0);
    // The core that took it goes away (the CLI's background daemon stays otherwise): the
    // next command starts a new one, which reconciles what it finds.
    await stopBackgroundDaemon(home);
    // A take cut short after qemu-img ran (its marker still in the VM's folder), and a
    // snapshot the user made with qemu-img.
    fs.writeFileSync(path.join(info.dir, '.snapshot-work'), 'cut short\n');
    execFileSync('qemu-img', ['snapshot', '-c', 'nb-0123abcd-4567', disk]);
    execFileSync('qemu-img', ['snapshot', '-c', 'mine', disk]);
    const kept = diskTags(disk).filter((t) => t.startsWith('nb-') && t !== 'nb-0123abcd-4567');
    expect(kept).toHaveLength(1);
    // Any client starts a new core, which reconciles.
    const log = await cli(home, ['log', 'cold', '--json']);
    expect(log.stdout).toMatch(/removed an unfinished snapshot \(nb-0123abcd-4567\)/);
    expect(diskTags(disk).sort()).toEqual([kept[0]!, 'mine'].sort());
    const list = await cli(home, ['snapshot', 'cold', 'list', '--json']);
    expect((JSON.parse(list.stdout) as { snapshots: { name: string }[] }).snapshots.map((s) => s.name)).toEqual(['kept']);
    checkClean(disk);
    expect(fs.existsSync(path.join(info.dir, '.snapshot-work'))).toBe(false);
  });
});
