/**
 * The VM lifecycle against real QEMU (TCG) and the project's own test guest: what a person
 * does from the command line, then the same through the API with the guest's console.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { cleanupHome, cli, openCore, pidAlive, SerialSession, tempHome, testIso, waitForFile, waitForState } from './helpers';

const READY = /NESTBOX-GUEST-READY/;

describe('the nestbox CLI drives a real VM', () => {
  let home: string;
  beforeAll(() => {
    home = tempHome();
  });
  afterAll(async () => {
    await cleanupHome(home);
  });

  it('creates a VM from the ISO, starts it, and the guest boots after the CLI has exited', async () => {
    const create = await cli(home, ['create', 'guest one', '--os-type', 'linux-other', '--memory', '256', '--cpus', '1', '--disk-size', '64M', '--iso', testIso()]);
    expect(create.stderr).toBe('');
    expect(create.code).toBe(0);
    expect(create.stdout).toMatch(/Created 'guest one'/);

    const info = JSON.parse((await cli(home, ['info', 'guest one', '--json'])).stdout);
    expect(info.state).toBe('poweredOff');
    expect(info.config.cdroms[0].iso).toBe(testIso());
    expect(info.config.bootOrder[0]).toBe('cdrom');
    expect(fs.existsSync(path.join(info.dir, 'guest one.qcow2'))).toBe(true);

    const start = await cli(home, ['start', 'guest one']);
    expect(start.code, start.stderr).toBe(0);
    expect(start.stdout).toMatch(/is running/);
    // The CLI has exited (the core it started runs on as a background daemon). The guest boots.
    await waitForFile(info.serialLog, READY);
    const list = JSON.parse((await cli(home, ['list', '--json'])).stdout) as { name: string; state: string }[];
    expect(list).toEqual([expect.objectContaining({ name: 'guest one', state: 'running' })]);
    const again = JSON.parse((await cli(home, ['info', 'guest one', '--json'])).stdout);
    expect(again.runtime.pid).toBeGreaterThan(1);
    expect(pidAlive(again.runtime.pid)).toBe(true);
    // Its runtime directory is private.
    const runDir = fs.readdirSync(path.dirname(path.dirname(info.serialLog)));
    expect(runDir).toContain('logs');
  });

  it('answers with one clear error line and a non-zero exit for wrong requests', async () => {
    const twice = await cli(home, ['start', 'guest one']);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/^nestbox: cannot start 'guest one' while it is running\n$/);
    const missing = await cli(home, ['info', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("nestbox: no VM named 'nope'\n");
    const mem = await cli(home, ['modify', 'guest one', '--memory', '512']);
    expect(mem.code).toBe(1);
    expect(mem.stderr).toMatch(/cannot change memoryMiB of 'guest one' while it is running/);
    const huge = await cli(home, ['create', 'huge', '--memory', String(64 * 1024 * 1024)]);
    expect(huge.code).toBe(1);
    expect(huge.stderr).toMatch(/more than this host has/);
    const badIso = await cli(home, ['create', 'bad', '--iso', '/etc/passwd']);
    expect(badIso.code).toBe(1);
    expect(badIso.stderr).toMatch(/not an ISO 9660 image/);
    expect(JSON.parse((await cli(home, ['list', '--json'])).stdout)).toHaveLength(1);
  });

  it('attaches the serial console to piped input and prints what the guest answers', async () => {
    // The shell has been up since the boot marker; type a command through `nestbox serial`.
    let out = '';
    for (let i = 0; i < 5 && !/SERIAL-25/.test(out); i++) {
      const r = await cli(home, ['serial', 'guest one'], { input: '\x15echo SERIAL-$((5*5))\n', env: { NESTBOX_SERIAL_LINGER_MS: '1500' } });
      expect(r.code, r.stderr).toBe(0);
      out = r.stdout;
    }
    expect(out).toMatch(/SERIAL-25/);
  });

  it('pauses, resumes, takes a screenshot, powers off, and deletes with the folder', async () => {
    expect((await cli(home, ['pause', 'guest one'])).stdout).toMatch(/is paused/);
    expect((await cli(home, ['resume', 'guest one'])).stdout).toMatch(/is running/);
    const png = path.join(home, 'shot.png');
    const shot = await cli(home, ['screenshot', 'guest one', png]);
    expect(shot.code, shot.stderr).toBe(0);
    expect(fs.readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
    const info = JSON.parse((await cli(home, ['info', 'guest one', '--json'])).stdout);
    expect((await cli(home, ['poweroff', 'guest one'])).stdout).toMatch(/is powered off/);
    expect(pidAlive(info.runtime.pid)).toBe(false);
    expect((await cli(home, ['modify', 'guest one', '--memory', '320'])).code).toBe(0);
    expect(JSON.parse((await cli(home, ['info', 'guest one', '--json'])).stdout).memoryMiB).toBe(320);
    const del = await cli(home, ['delete', 'guest one']);
    expect(del.code, del.stderr).toBe(0);
    expect(fs.existsSync(info.dir)).toBe(false);
    expect(JSON.parse((await cli(home, ['list', '--json'])).stdout)).toEqual([]);
  });
});

describe('the core drives a real guest through its console', () => {
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;
  const name = 'console-vm';

  beforeAll(async () => {
    home = tempHome();
    ({ hosted, client } = await openCore(home));
    await client.call('vms.create', { name, osType: 'linux-other', memoryMiB: 256, cpus: 1, noDisk: true, iso: testIso() });
  });
  afterAll(async () => {
    await client.call('vms.powerOff', { ref: name }).catch(() => undefined);
    await hosted.close();
    await cleanupHome(home);
  });

  async function boot(): Promise<{ serial: SerialSession; log: string }> {
    const r = await client.call('vms.start', { ref: name });
    expect(r.vm.state).toBe('running');
    const serial = await SerialSession.open(client, name);
    const log = r.vm.serialLog;
    await waitForFile(log, READY);
    await serial.run('echo SHELL-$((40+2))', /SHELL-42/);
    return { serial, log };
  }

  it('does not advance the guest clock while paused', async () => {
    const { serial } = await boot();
    const uptime = async () => {
      const out = await serial.run('echo UP=$(cut -d" " -f1 /proc/uptime)=', /UP=([\d.]+)=/);
      return Number(/UP=([\d.]+)=/.exec(out)![1]);
    };
    const before = await uptime();
    const t0 = Date.now();
    await client.call('vms.pause', { ref: name });
    expect((await client.call('vms.info', { ref: name })).state).toBe('paused');
    await new Promise((r) => setTimeout(r, 4000));
    await client.call('vms.resume', { ref: name });
    const after = await uptime();
    const wall = (Date.now() - t0) / 1000;
    // Four seconds of pause must not show up in the guest's uptime.
    expect(after - before).toBeLessThan(wall - 3);
    await serial.close();
  });

  it('resets the guest, which boots again', async () => {
    const log = (await client.call('vms.info', { ref: name })).serialLog;
    const boots = (fs.readFileSync(log, 'utf8').match(/NESTBOX-GUEST-READY/g) ?? []).length;
    await client.call('vms.reset', { ref: name });
    await waitForFile(log, READY, 90_000, boots + 1);
    expect((await client.call('vms.info', { ref: name })).state).toBe('running');
  });

  it('saves the machine state and resumes from it with the shell state intact', async () => {
    const serial = await SerialSession.open(client, name);
    await serial.run('export NB_SECRET=kept-$((6*7)); echo SET-$NB_SECRET', /SET-kept-42/);
    const pid = (await client.call('vms.info', { ref: name })).runtime!.pid;
    const progress: { operation: string; percent: number; done: boolean }[] = [];
    const offProgress = client.on('vm.progress', (ev) => progress.push(ev));
    const saved = await client.call('vms.saveState', { ref: name });
    expect(progress.filter((p) => p.operation === 'saveState').at(-1)).toMatchObject({ percent: 100, done: true });
    expect(saved.vm.state).toBe('saved');
    expect(saved.vm.hasSavedState).toBe(true);
    expect(pidAlive(pid)).toBe(false);
    // Hardware cannot change under a saved state.
    await expect(client.call('vms.modify', { ref: name, changes: { memoryMiB: 300 } })).rejects.toMatchObject({ code: 'INVALID_STATE' });

    const started = await client.call('vms.start', { ref: name });
    offProgress();
    expect(started.vm.state).toBe('running');
    expect(started.vm.hasSavedState).toBe(false);
    expect(progress.filter((p) => p.operation === 'restoreState').at(-1)).toMatchObject({ percent: 100, done: true });
    const again = await SerialSession.open(client, name);
    const out = await again.run('echo GOT-$NB_SECRET', /GOT-kept-42/);
    expect(out).toMatch(/GOT-kept-42/);
    // It resumed; it did not boot again.
    expect(again.output).not.toMatch(/NESTBOX-GUEST-READY/);
    await again.close();
  });

  it('shuts the guest down with the ACPI power button', async () => {
    const states: string[] = [];
    const off = client.on('vm.state', (ev) => states.push(ev.state));
    const r = await client.call('vms.shutdown', { ref: name, timeoutS: 60 });
    off();
    expect(r.vm.state).toBe('poweredOff');
    expect(states).toContain('stopping');
    expect(states[states.length - 1]).toBe('poweredOff');
    const log = await client.call('events.recent', { ref: name, limit: 5 });
    expect(log.map((e) => e.message).join('\n')).toMatch(/shut down|powered off/);
  });

  it('marks a VM whose QEMU is killed from outside as aborted, with the reason, and starts it again', async () => {
    await boot();
    const pid = (await client.call('vms.info', { ref: name })).runtime!.pid;
    process.kill(pid, 'SIGKILL');
    await waitForState(client, name, 'aborted');
    const vm = await client.call('vms.info', { ref: name });
    expect(vm.stateReason).toMatch(/SIGKILL/);
    expect(vm.runtime).toBeNull();
    const { serial } = await boot();
    await serial.close();
    await client.call('vms.powerOff', { ref: name });
  });
});

describe('a new core re-attaches to VMs that kept running', () => {
  it('finds the running QEMU, checks its pid, and its console still works', async () => {
    const home = tempHome();
    try {
      expect((await cli(home, ['create', 'survivor', '--memory', '256', '--cpus', '1', '--no-disk', '--iso', testIso()])).code).toBe(0);
      expect((await cli(home, ['start', 'survivor'])).code).toBe(0);
      const info = JSON.parse((await cli(home, ['info', 'survivor', '--json'])).stdout);
      await waitForFile(info.serialLog, READY);
      const { hosted, client } = await openCore(home);
      try {
        const vm = await client.call('vms.info', { ref: 'survivor' });
        expect(vm.state).toBe('running');
        expect(vm.runtime?.pid).toBe(info.runtime.pid);
        const serial = await SerialSession.open(client, 'survivor');
        await serial.run('echo BACK-$((2*21))', /BACK-42/);
        await serial.close();
        await client.call('vms.powerOff', { ref: 'survivor' });
      } finally {
        await hosted.close();
      }
    } finally {
      await cleanupHome(home);
    }
  });

  it('leaves a stale pidfile that names an unrelated process alone and marks the VM aborted', async () => {
    const home = tempHome();
    const { spawn } = await import('node:child_process');
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      expect((await cli(home, ['create', 'stale', '--memory', '256', '--cpus', '1', '--no-disk', '--iso', testIso()])).code).toBe(0);
      expect((await cli(home, ['start', 'stale'])).code).toBe(0);
      const info = JSON.parse((await cli(home, ['info', 'stale', '--json'])).stdout);
      // QEMU dies hard and its pid is "reused" by an unrelated process.
      process.kill(info.runtime.pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      const { hosted } = await openCore(home);
      const rundir = hosted.core.layout.vmRunDir(info.uuid);
      await hosted.close();
      fs.writeFileSync(path.join(rundir, 'qemu.pid'), `${sleeper.pid}\n`);
      const { DataLayout } = await import('../../src/core/store/paths');
      const db = (await import('../../src/core/store/db')).openDatabase(new DataLayout(home).database);
      db.prepare("UPDATE vms SET state = 'running' WHERE uuid = ?").run(info.uuid);
      db.close();
      const after = JSON.parse((await cli(home, ['info', 'stale', '--json'])).stdout);
      expect(after.state).toBe('aborted');
      expect(after.stateReason).toMatch(/not this VM's QEMU/);
      expect(pidAlive(sleeper.pid!)).toBe(true);
    } finally {
      sleeper.kill();
      await cleanupHome(home);
    }
  });
});
