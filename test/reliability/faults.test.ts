/**
 * Faults survived, against real QEMU: the core killed while VMs run, the core killed in the
 * middle of a delete, two clients racing on one VM. Each test runs `nestbox daemon` as a
 * separate process so it can be killed for real (SIGKILL, no cleanup).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcClient } from '../../src/core/api/rpc';
import { connectUnix } from '../../src/core/server/socket';
import { DataLayout } from '../../src/core/store/paths';
import { cleanupHome, cli, pidAlive, SerialSession, tempHome, testIso, waitForFile } from '../integration/helpers';
import { daemon, type Daemon, stopDaemon } from '../support/daemon';

const READY = /NESTBOX-GUEST-READY/;

/** Process ids of the QEMUs whose command line names this guest. */
function qemuPidsFor(name: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.includes('qemu-system') && argv.some((a) => a.startsWith(`guest=${name},`))) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

const homes: string[] = [];
const daemons: Daemon[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await stopDaemon(d).catch(() => undefined);
  for (const h of homes.splice(0)) await cleanupHome(h);
});

function newHome(): string {
  const h = tempHome();
  homes.push(h);
  return h;
}

describe('the core is killed while several VMs run', () => {
  it('leaves them running, and the next core re-attaches to each: same pid, QMP answers, console works', async () => {
    const home = newHome();
    const names = ['keep-a', 'keep-b', 'keep-c'];
    const first = await daemon(home);
    daemons.push(first);
    const pids: Record<string, number> = {};
    for (const name of names) {
      await first.client.call('vms.create', { name, osType: 'linux-other', memoryMiB: 192, cpus: 1, noDisk: true, nic: 'none', iso: testIso() });
      const r = await first.client.call('vms.start', { ref: name });
      pids[name] = r.vm.runtime!.pid;
    }
    for (const name of names) await waitForFile((await first.client.call('vms.info', { ref: name })).serialLog, READY, 240_000);

    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    for (const name of names) expect(pidAlive(pids[name]!), `${name}'s QEMU outlived the core`).toBe(true);

    const second = await daemon(home);
    daemons.push(second);
    for (const name of names) {
      const vm = await second.client.call('vms.info', { ref: name });
      expect(vm.state).toBe('running');
      expect(vm.runtime?.pid).toBe(pids[name]);
      expect(qemuPidsFor(name)).toEqual([pids[name]]);
      // QMP answers: a screendump goes through it.
      const shot = await second.client.call('vms.screenshot', { ref: name });
      expect(Buffer.from(shot.pngBase64, 'base64').subarray(1, 4).toString()).toBe('PNG');
      const serial = await SerialSession.open(second.client, name);
      await serial.run(`echo ALIVE-${name}-$((6*7))`, new RegExp(`ALIVE-${name}-42`), 60_000);
      await serial.close();
    }
    for (const name of names) await second.client.call('vms.powerOff', { ref: name });
    for (const name of names) expect(pidAlive(pids[name]!)).toBe(false);
  });
});

describe('the core is killed in the middle of a delete', () => {
  for (const point of ['delete:trashed', 'delete:row-removed'] as const) {
    it(`finishes the delete on the next start (killed at ${point}), leaving no row and no folder`, async () => {
      const home = newHome();
      expect((await cli(home, ['create', 'doomed', '--memory', '128', '--cpus', '1', '--disk-size', '64M'])).code).toBe(0);
      expect((await cli(home, ['create', 'bystander', '--memory', '128', '--cpus', '1', '--disk-size', '64M'])).code).toBe(0);
      const info = JSON.parse((await cli(home, ['info', 'doomed', '--json'])).stdout) as { uuid: string; dir: string };
      const bystander = JSON.parse((await cli(home, ['info', 'bystander', '--json'])).stdout) as { dir: string };

      const d = await daemon(home, { NESTBOX_FAULT: point });
      daemons.push(d);
      const call = d.client.call('vms.delete', { ref: 'doomed' });
      await expect(call).rejects.toThrow();
      expect((await d.exited).signal).toBe('SIGKILL');
      d.client.close();

      const list = await cli(home, ['list', '--json']);
      expect(list.code, list.stderr).toBe(0);
      expect((JSON.parse(list.stdout) as { name: string }[]).map((v) => v.name)).toEqual(['bystander']);
      expect(fs.existsSync(info.dir)).toBe(false);
      expect(fs.readdirSync(new DataLayout(home).trashDir)).toEqual([]);
      expect(fs.existsSync(path.join(bystander.dir))).toBe(true);
      const log = await cli(home, ['log', '--json']);
      expect(log.stdout).toMatch(/finished deleting .*interrupted when the core stopped/);
    });
  }
});

describe('two clients act on one VM at once', () => {
  it('starts it once: one start wins, the other gets a clear error, and one QEMU runs', async () => {
    const home = newHome();
    const d = await daemon(home);
    daemons.push(d);
    await d.client.call('vms.create', { name: 'raced', osType: 'linux-other', memoryMiB: 128, cpus: 1, noDisk: true, nic: 'none', iso: testIso() });
    const other = new RpcClient(await connectUnix(new DataLayout(home).coreSocket));
    try {
      const results = await Promise.allSettled([d.client.call('vms.start', { ref: 'raced' }), other.call('vms.start', { ref: 'raced' })]);
      const ok = results.filter((r) => r.status === 'fulfilled');
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(ok).toHaveLength(1);
      expect(failed).toHaveLength(1);
      expect(failed[0]!.reason).toMatchObject({ code: 'INVALID_STATE' });
      expect(String(failed[0]!.reason.message)).toMatch(/raced/);
      expect(qemuPidsFor('raced')).toHaveLength(1);
      // A CLI start at the same time as a running one is refused the same way.
      const again = await cli(home, ['start', 'raced']);
      expect(again.code).not.toBe(0);
      expect(qemuPidsFor('raced')).toHaveLength(1);
    } finally {
      other.close();
    }
    await d.client.call('vms.powerOff', { ref: 'raced' });
  });

  it('deleting while starting: one of them wins, and nothing runs for a VM that is gone', async () => {
    const home = newHome();
    const d = await daemon(home);
    daemons.push(d);
    await d.client.call('vms.create', { name: 'contested', osType: 'linux-other', memoryMiB: 128, cpus: 1, noDisk: true, nic: 'none', iso: testIso() });
    const other = new RpcClient(await connectUnix(new DataLayout(home).coreSocket));
    try {
      const [start, del] = await Promise.allSettled([d.client.call('vms.start', { ref: 'contested' }), other.call('vms.delete', { ref: 'contested' })]);
      expect([start.status, del.status].filter((s) => s === 'fulfilled')).toHaveLength(1);
      const loser = [start, del].find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
      expect(['INVALID_STATE', 'NOT_FOUND']).toContain(loser.reason.code);
      const list = await d.client.call('vms.list', {});
      if (start.status === 'fulfilled') {
        expect(list.map((v) => v.name)).toEqual(['contested']);
        expect(qemuPidsFor('contested')).toHaveLength(1);
        await d.client.call('vms.powerOff', { ref: 'contested' });
      } else {
        expect(list).toEqual([]);
        expect(qemuPidsFor('contested')).toEqual([]);
      }
    } finally {
      other.close();
    }
  });
});
