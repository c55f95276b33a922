/**
 * Stopping a live snapshot midway, against a real guest whose memory is full of random data
 * and a `snapshotBandwidth` cap low enough that saving it takes a while: from the Take
 * dialog (its bar follows the core's progress, Stop ends it) and from the CLI (Ctrl+C). In
 * both cases nothing is kept and the guest keeps running; a later take works as usual, and
 * the snapshot a restore takes of the current state first shows its progress too, and Stop
 * there ends the restore with nothing restored and nothing kept.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { RpcClient } from '../../src/core/api/rpc';
import { connectOrHost, type CoreConnection } from '../../src/core/server/host';
import { CLI, cleanupHome, cli, SerialSession, testIso, waitForFile } from '../integration/helpers';
import { openWebSession, shotPath, type WebSession } from './harness';

const NAME = 'cancelguest';
/** MiB of random data the guest keeps in a tmpfs: what the snapshot has to write out. */
const FILL_MIB = 128;

/** Waits until the dialog's transitions have ended, so a screenshot shows it settled. */
async function settled(page: Page): Promise<void> {
  await page.evaluate(() =>
    Promise.all(
      document
        .getAnimations()
        .filter((a) => a.effect?.getComputedTiming().iterations !== Infinity)
        .map((a) => a.finished.catch(() => undefined)),
    ),
  );
}

describe('stopping a live snapshot midway', () => {
  let s: WebSession;
  let page: Page;
  let conn: CoreConnection;
  let client: RpcClient;
  let serial: SerialSession;

  const snapNames = async (): Promise<string[]> => {
    const r = await cli(s.home, ['snapshot', NAME, 'list', '--json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { snapshots: { name: string }[] }).snapshots.map((x) => x.name);
  };
  const state = async (): Promise<string> => JSON.parse((await cli(s.home, ['info', NAME, '--json'])).stdout).state as string;

  beforeAll(async () => {
    s = await openWebSession();
    page = s.page;
    expect((await cli(s.home, ['create', NAME, '--os-type', 'linux-other', '--memory', '256', '--cpus', '1', '--disk-size', '64M', '--iso', testIso()])).code).toBe(0);
    const r = await cli(s.home, ['start', NAME]);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse((await cli(s.home, ['info', NAME, '--json'])).stdout);
    await waitForFile(info.serialLog, /NESTBOX-GUEST-READY/, 180_000);
    // The serve process hosts the core; the test joins it over its unix socket for the serial console.
    conn = await connectOrHost({ dataDir: s.home });
    client = conn.client;
    serial = await SerialSession.open(client, NAME);
    // Random bytes in RAM: QEMU cannot skip them as zero pages, so the save has real work to do.
    await serial.run(
      `mkdir -p /mnt/ram && (grep -q " /mnt/ram tmpfs" /proc/mounts || mount -t tmpfs -o size=${FILL_MIB + 16}m tmpfs /mnt/ram) && dd if=/dev/urandom of=/mnt/ram/fill bs=1048576 count=${FILL_MIB} 2>/dev/null; echo FILLED-$(($(wc -c < /mnt/ram/fill) / 1048576))`,
      new RegExp(`FILLED-${FILL_MIB}\\b`),
      150_000,
    );
    const set = await cli(s.home, ['setting', 'snapshotBandwidth', '4']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('snapshotBandwidth = 4');
  }, 400_000);

  /**
   * Restores 'Kept' from the tree with "Take a snapshot of the current state first" on, and
   * returns the dialog and that snapshot's bar once it shows progress.
   */
  const restoreKeptShowingPreTake = async () => {
    const tree = page.getByRole('tree', { name: `Snapshots of ${NAME}` });
    await tree.getByRole('treeitem', { name: 'Kept', exact: true }).click();
    await page.getByRole('button', { name: 'Restore', exact: true }).first().click();
    const dlg = page.getByRole('dialog', { name: "Restore snapshot 'Kept'?" });
    await dlg.waitFor();
    expect(await dlg.getByRole('checkbox', { name: 'Take a snapshot of the current state first' }).isChecked()).toBe(true);
    await dlg.getByRole('button', { name: 'Restore', exact: true }).click();
    const bar = dlg.getByRole('progressbar', { name: "Taking snapshot 'Before restoring Kept' of the current state…" });
    await expect.poll(async () => Number((await bar.getAttribute('aria-valuenow').catch(() => null)) ?? 0), { timeout: 120_000, interval: 100 }).toBeGreaterThan(0);
    return { dlg, bar };
  };

  afterAll(async () => {
    if (s) await cli(s.home, ['setting', 'snapshotBandwidth', '--reset']);
    await serial?.close();
    await conn?.close();
    // `serve` is stopped with the VM still running after a restore from a streamed snapshot:
    // no timer of that restore may hold it up (one of 5 minutes once did; this hook's timeout
    // is far below that).
    await s?.close();
    if (s) await cleanupHome(s.home);
  }, 90_000);

  it('shows the progress of the take in the dialog; Stop ends it, keeps nothing, and the VM keeps running', async () => {
    await page.locator(`[role=option][data-vm-name="${NAME}"][data-vm-state="running"]`).click();
    await page.getByRole('tab', { name: /Snapshots/ }).click();
    await page.getByRole('button', { name: 'Take Snapshot', exact: true }).first().click();
    const dlg = page.getByRole('dialog', { name: `Take Snapshot of ${NAME}` });
    await dlg.waitFor();
    await dlg.getByRole('textbox', { name: 'Snapshot name' }).fill('Stopped midway');
    await dlg.getByRole('button', { name: 'Take', exact: true }).click();

    const bar = dlg.getByRole('progressbar', { name: 'Taking the snapshot' });
    await bar.waitFor({ timeout: 30_000 });
    // Determinate once the core reports, and moving: the memory is streamed while the guest runs.
    await expect.poll(async () => Number((await bar.getAttribute('aria-valuenow')) ?? 0), { timeout: 120_000, interval: 100 }).toBeGreaterThan(0);
    const bytes = dlg.getByTestId('progress-bytes');
    await expect.poll(() => bytes.textContent(), { timeout: 30_000 }).toMatch(/^Saving memory: [\d.]+ (B|KiB|MiB|GiB) of [\d.]+ (MiB|GiB)$/);
    expect(await dlg.getByRole('button', { name: 'Take', exact: true }).isDisabled()).toBe(true);
    const stop = dlg.getByRole('button', { name: 'Stop taking the snapshot' });
    // Take is disabled once pressed; the keyboard focus waits on Stop.
    await expect.poll(() => stop.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await state()).toBe('running');
    await settled(page);
    await page.screenshot({ path: shotPath('47-snapshot-take-progress') });

    await page.keyboard.press('Enter');
    await dlg.getByRole('alert').filter({ hasText: 'Taking the snapshot was stopped; nothing was kept and the VM kept running.' }).waitFor({ timeout: 60_000 });
    expect(await bar.count()).toBe(0);
    expect(await dlg.getByRole('button', { name: 'Take', exact: true }).isEnabled()).toBe(true);
    await page.screenshot({ path: shotPath('48-snapshot-take-stopped') });

    expect(await snapNames()).toEqual([]);
    expect(await state()).toBe('running');
    // The guest runs on, with the memory it had.
    await serial.run('echo ALIVE-$(($(wc -c < /mnt/ram/fill) / 1048576))', new RegExp(`ALIVE-${FILL_MIB}\\b`));

    await dlg.getByRole('button', { name: 'Cancel', exact: true }).click();
    await dlg.waitFor({ state: 'hidden' });
    const tree = page.getByRole('tree', { name: `Snapshots of ${NAME}` });
    expect(await tree.getByRole('treeitem', { name: 'Stopped midway' }).count()).toBe(0);
    await page.getByText('No snapshots yet').waitFor({ timeout: 20_000 });
    expect(s.consoleErrors).toEqual([]);
  });

  it('Ctrl+C stops `nestbox snapshot take` with the core\'s message and a non-zero exit', async () => {
    const child = spawn(process.execPath, [CLI, 'snapshot', NAME, 'take', 'By CLI'], {
      env: { ...process.env, NESTBOX_HOME: s.home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Not a terminal: the progress line is printed once per 10%, the first at the first report.
    await expect.poll(() => stderr, { timeout: 120_000, interval: 100 }).toMatch(/Taking snapshot 'By CLI' of 'cancelguest': \d+%( \(memory [\d.]+ \w+ of [\d.]+ \w+\))?\n/);
    child.kill('SIGINT');
    const code = await exited;
    expect(code, `stdout: ${stdout}\nstderr: ${stderr}`).toBe(1);
    expect(stderr).toContain(`nestbox: stopping snapshot 'By CLI' of '${NAME}'...`);
    expect(stderr).toMatch(/nestbox: .*'By CLI'.*was cancelled/);
    expect(stdout).not.toContain('Took snapshot');
    expect(await snapNames()).toEqual([]);
    expect(await state()).toBe('running');
    await serial.run('echo STILL-$((40+2))', /STILL-42/);
    // With nothing under way, `nestbox cancel` says so.
    const idle = await cli(s.home, ['cancel', NAME]);
    expect(idle.code, idle.stderr).toBe(0);
    expect(idle.stdout.trim()).toBe(`'${NAME}' has no clone, conversion or snapshot that can be stopped`);
  });

  it('takes a snapshot as usual afterwards, once the bandwidth cap is lifted', async () => {
    const reset = await cli(s.home, ['setting', 'snapshotBandwidth', '--reset']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toContain('snapshotBandwidth = (default)');
    await page.getByRole('button', { name: 'Take Snapshot', exact: true }).first().click();
    const dlg = page.getByRole('dialog', { name: `Take Snapshot of ${NAME}` });
    await dlg.waitFor();
    await dlg.getByRole('textbox', { name: 'Snapshot name' }).fill('Kept');
    await dlg.getByRole('button', { name: 'Take', exact: true }).click();
    await dlg.waitFor({ state: 'hidden', timeout: 120_000 });
    const tree = page.getByRole('tree', { name: `Snapshots of ${NAME}` });
    await tree.getByRole('treeitem', { name: 'Kept' }).waitFor({ timeout: 20_000 });
    expect(await snapNames()).toEqual(['Kept']);
    expect(await state()).toBe('running');
    expect(s.consoleErrors).toEqual([]);
  });

  it('shows the progress of the snapshot of the current state that a restore takes first', async () => {
    const set = await cli(s.home, ['setting', 'snapshotBandwidth', '16']);
    expect(set.code, set.stderr).toBe(0);
    const { dlg } = await restoreKeptShowingPreTake();
    await page.screenshot({ path: shotPath('49-snapshot-restore-pretake-progress') });
    await dlg.waitFor({ state: 'hidden', timeout: 180_000 });
    expect(await snapNames()).toEqual(['Kept', 'Before restoring Kept']);
    expect(await state()).toBe('running');
    expect(s.consoleErrors).toEqual([]);
  });

  it('Stop during that snapshot of the current state ends the restore: nothing restored, nothing kept', async () => {
    const set = await cli(s.home, ['setting', 'snapshotBandwidth', '4']);
    expect(set.code, set.stderr).toBe(0);
    // A mark in the guest's RAM (tmpfs) that 'Kept' does not have: a restore would lose it.
    await serial.run('echo MARK-$((6*7)) > /mnt/ram/mark; cat /mnt/ram/mark', /MARK-42/);
    const before = await client.call('snapshots.list', { ref: NAME });
    const lastEvent = Math.max(0, ...(await client.call('events.recent', { ref: NAME, limit: 50 })).map((e) => e.id));
    const { dlg, bar } = await restoreKeptShowingPreTake();
    const stop = dlg.getByRole('button', { name: 'Stop taking the snapshot' });
    // The keyboard focus waits on Stop, as in the Take dialog.
    await expect.poll(() => stop.evaluate((el) => el === document.activeElement)).toBe(true);
    await settled(page);
    await page.screenshot({ path: shotPath('50-snapshot-restore-pretake-stop') });
    await stop.click();

    await dlg
      .getByRole('alert')
      .filter({ hasText: 'Stopped: nothing was restored and nothing was kept; the VM kept running as it was.' })
      .waitFor({ timeout: 60_000 });
    expect(await bar.count()).toBe(0);
    expect(await dlg.getByRole('button', { name: 'Restore', exact: true }).isEnabled()).toBe(true);
    await page.screenshot({ path: shotPath('51-snapshot-restore-stopped') });

    // No new snapshot, the same current state, the guest still has what 'Kept' does not.
    expect(await snapNames()).toEqual(['Kept', 'Before restoring Kept']);
    const after = await client.call('snapshots.list', { ref: NAME });
    expect(after.current).toBe(before.current);
    expect(await state()).toBe('running');
    await serial.run('cat /mnt/ram/mark', /MARK-42/);
    const events = await client.call('events.recent', { ref: NAME, limit: 50 });
    expect(events.filter((e) => e.id > lastEvent && (e.kind === 'snapshot-restored' || /^restor/i.test(e.message))).map((e) => e.message)).toEqual([]);

    await dlg.getByRole('button', { name: 'Cancel', exact: true }).click();
    await dlg.waitFor({ state: 'hidden' });
    expect(s.consoleErrors).toEqual([]);
  });
});
