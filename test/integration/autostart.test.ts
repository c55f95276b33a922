/**
 * One long-lived core per data directory, as a user in several terminals meets it: the CLI
 * starts `nestbox daemon` in the background when none runs, every command joins it, it
 * leaves when idle, and a daemon of another build is replaced (#16 finding 9).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { daemon, type Daemon, runningCore, stopDaemon } from '../support/daemon';
import { waitUntil } from '../support/waits';
import { CLI, cleanupHome, cli, pidAlive, tempHome, testIso, waitForFile } from './helpers';

const READY = /NESTBOX-GUEST-READY/;

/** Background daemons (`nestbox daemon --background`) whose working directory is `home`. */
function backgroundDaemons(home: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes('daemon') && argv.includes('--background') && fs.readlinkSync(`/proc/${entry}/cwd`) === home) pids.push(Number(entry));
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

describe('the CLI and its background daemon', () => {
  it('serial held open in one terminal; portforward add, remove and poweroff in another all exit 0', async () => {
    const home = newHome();
    expect((await cli(home, ['create', 'two-terms', '--memory', '256', '--cpus', '1', '--no-disk', '--iso', testIso()])).code).toBe(0);
    const start = await cli(home, ['start', 'two-terms']);
    expect(start.code, start.stderr).toBe(0);
    const info = JSON.parse((await cli(home, ['info', 'two-terms', '--json'])).stdout) as { serialLog: string };
    await waitForFile(info.serialLog, READY);

    // Terminal 1: the serial console, input kept open like a terminal's.
    const serial = spawn(process.execPath, [CLI, 'serial', 'two-terms'], { env: { ...process.env, NESTBOX_HOME: home }, stdio: ['pipe', 'pipe', 'pipe'] });
    let serialOut = '';
    serial.stdout.on('data', (d: Buffer) => (serialOut += d.toString()));
    serial.stderr.on('data', (d: Buffer) => (serialOut += d.toString()));
    const serialExit = new Promise<number | null>((r) => serial.once('exit', (code) => r(code)));
    serial.stdin.write('\x15echo TERM-$((6*7))\n');
    await waitUntil(() => /TERM-42/.test(serialOut), 'the serial console to answer', 60_000);

    // Terminal 2.
    const add = await cli(home, ['portforward', 'two-terms', 'add', 'web,tcp,127.0.0.1,18080,,80']);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/Forwarding tcp 127.0.0.1:18080 to port 80/);
    const remove = await cli(home, ['portforward', 'two-terms', 'remove', 'web']);
    expect(remove.code, remove.stderr).toBe(0);
    const off = await cli(home, ['poweroff', 'two-terms']);
    expect(off.stderr).toBe('');
    expect(off.code).toBe(0);
    expect(off.stdout).toMatch(/is powered off/);

    // The console closes with the VM; the serial command ends cleanly too.
    expect(await serialExit).toBe(0);
    serial.stdin.destroy();
    expect(backgroundDaemons(home)).toHaveLength(1);
  });

  it('commands started at once end with one daemon, which exits by itself once idle', async () => {
    const home = newHome();
    const env = { NESTBOX_DAEMON_IDLE_S: '3' };
    const runs = await Promise.all([1, 2, 3, 4].map(() => cli(home, ['list', '--json'], { env })));
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual([]);
    }
    // A command that found no core started one; those that lost the race for the lock exit
    // by themselves (LOCKED) while every command talks to the winner.
    await waitUntil(() => backgroundDaemons(home).length === 1, 'the daemons that lost the lock to exit', 30_000);
    const pids = backgroundDaemons(home);
    expect(pids).toHaveLength(1);
    const hello = await runningCore(home);
    expect(hello?.role).toBe('daemon');
    expect(hello?.pid).toBe(pids[0]);
    // Idle (no client, no job) for 3 s: it leaves, socket and lock with it.
    await waitUntil(() => !pidAlive(pids[0]!), 'the idle daemon to exit', 30_000);
    expect(await runningCore(home)).toBeNull();
    expect(fs.readFileSync(`${home}/daemon.log`, 'utf8')).toMatch(/core stopping \(idle for 3 s\)/);
    // The next command starts a new one.
    expect((await cli(home, ['list'], { env })).code).toBe(0);
    expect(backgroundDaemons(home)).toHaveLength(1);
  });

  it('a daemon of another build is used while busy, and replaced once idle', async () => {
    const home = newHome();
    const stale = await daemon(home, { NESTBOX_BUILD_ID: 'stale-build' });
    daemons.push(stale);
    // Busy: the test holds a client on it. The CLI says so and uses it.
    const busy = await cli(home, ['list']);
    expect(busy.code).toBe(0);
    expect(busy.stderr).toMatch(/is from another Nestbox build \(stale-build\) and busy \(1 other client connected\); using it/);
    expect((await runningCore(home))?.pid).toBe(stale.child.pid);
    // Idle: asked to exit, and a daemon of this build takes its place.
    stale.client.close();
    const r = await cli(home, ['list']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/replacing the core of another Nestbox build \(pid \d+, build stale-build\)/);
    expect((await stale.exited).code).toBe(0);
    const now = await runningCore(home);
    expect(now?.role).toBe('daemon');
    expect(now?.build).not.toBe('stale-build');
    expect(now?.pid).not.toBe(stale.child.pid);
  });
});
