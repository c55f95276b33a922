/** One core per data directory: `nestbox daemon` hosts it and every other client joins it. */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataLayout } from '../../src/core/store/paths';
import { daemon, type Daemon, stopDaemon } from '../support/daemon';
import { cleanupHome, cli, tempHome } from './helpers';

describe('nestbox daemon', () => {
  let home: string;
  let d: Daemon;

  beforeAll(async () => {
    home = tempHome();
    d = await daemon(home);
    expect(fs.existsSync(new DataLayout(home).coreSocket), d.stderr()).toBe(true);
  });
  afterAll(async () => {
    await stopDaemon(d);
    await cleanupHome(home);
  });

  it('serves other clients over its unix socket (0600) instead of letting them open the database', async () => {
    const layout = new DataLayout(home);
    expect(fs.statSync(layout.coreSocket).mode & 0o777).toBe(0o600);
    expect(fs.statSync(layout.runtimeRoot).mode & 0o777).toBe(0o700);
    const r = await cli(home, ['create', 'via-daemon', '--memory', '64', '--cpus', '1', '--no-disk']);
    expect(r.code, r.stderr).toBe(0);
    // The daemon's own event log saw it: the CLI went through the daemon.
    const log = await cli(home, ['log', '--json']);
    expect(JSON.parse(log.stdout).map((e: { message: string }) => e.message).join('\n')).toMatch(/created 'via-daemon'/);
  });

  it('refuses a second core for the same data directory with a clear error', async () => {
    const second = await cli(home, ['daemon']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/another Nestbox core \(pid \d+\) already manages/);
  });

  it('stores settings, and a forced accelerator that cannot work is a clear error', async () => {
    expect((await cli(home, ['setting', 'accel', 'tcg'])).stdout).toBe('accel = tcg\n');
    const host = JSON.parse((await cli(home, ['host', '--json'])).stdout);
    expect(host.accelChoice).toBe('tcg');
    expect(host.accelEffective).toBe('tcg');
    const bad = await cli(home, ['setting', 'accel', 'warp']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/unknown accelerator 'warp'/);
    expect((await cli(home, ['setting', 'accel', '--reset'])).stdout).toBe('accel = (default)\n');
  });

  it('never lets auto pick an accelerator that cannot run a 64-bit guest, and says why', async () => {
    const host = JSON.parse((await cli(home, ['host', '--json'])).stdout);
    const kvm = host.accelerators.find((a: { name: string }) => a.name === 'kvm');
    if (kvm.usable) expect(host.accelEffective).toBe('kvm');
    else {
      expect(host.accelEffective).toBe('tcg');
      expect(host.accelNote).toContain(kvm.reason);
      // Forcing it is the user's call, and starting then fails up front with the reason.
      expect((await cli(home, ['create', 'forced', '--memory', '64', '--cpus', '1', '--no-disk'])).code).toBe(0);
      expect((await cli(home, ['setting', 'accel', 'kvm'])).code).toBe(0);
      const start = await cli(home, ['start', 'forced']);
      expect(start.code).toBe(1);
      expect(start.stderr).toContain("accelerator 'kvm' was forced but cannot be used");
      expect(JSON.parse((await cli(home, ['info', 'forced', '--json'])).stdout).state).toBe('poweredOff');
      await cli(home, ['setting', 'accel', '--reset']);
    }
  });
});
