/**
 * The Performance tab in web mode: live charts, fed by the core's events, that move while the
 * guest works; and the Activity Overview listing the running VM with host totals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { RpcClient } from '../../src/core/api/rpc';
import { connectOrHost, type CoreConnection } from '../../src/core/server/host';
import { cleanupHome, cli, SerialSession, testIso, waitForFile } from '../integration/helpers';
import { openWebSession, shotPath, type WebSession } from './harness';

const NAME = 'perfguest';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Performance tab in web mode', () => {
  let s: WebSession;
  let page: Page;
  let conn: CoreConnection;
  let client: RpcClient;

  beforeAll(async () => {
    s = await openWebSession();
    page = s.page;
    expect((await cli(s.home, ['create', NAME, '--os-type', 'linux-other', '--memory', '256', '--cpus', '1', '--disk-size', '64M', '--iso', testIso()])).code).toBe(0);
    expect((await cli(s.home, ['modify', NAME, '--balloon', 'on'])).code).toBe(0);
    expect((await cli(s.home, ['start', NAME])).code).toBe(0);
    const info = JSON.parse((await cli(s.home, ['info', NAME, '--json'])).stdout);
    await waitForFile(info.serialLog, /NESTBOX-GUEST-READY/, 180_000);
    // The serve process hosts the core; this test joins it over its unix socket.
    conn = await connectOrHost({ dataDir: s.home });
    client = conn.client;
  }, 240_000);
  afterAll(async () => {
    await conn?.close();
    await s?.close();
    if (s) await cleanupHome(s.home);
  });

  it('draws CPU, memory, disk and network charts that move while the guest works', async () => {
    await page.locator(`[role=option][data-vm-name="${NAME}"][data-vm-state="running"]`).click();
    await page.getByRole('tab', { name: 'Performance' }).click();
    const view = page.getByTestId('performance-view');
    await view.waitFor();
    for (const id of ['cpu', 'memory', 'disk', 'network']) await view.getByTestId(`perf-chart-${id}`).locator('svg').first().waitFor();
    const cpuLine = view.getByTestId('perf-chart-cpu').locator('path.MuiLineElement-root').first();
    await cpuLine.waitFor();
    const before = await cpuLine.getAttribute('d');

    const serial = await SerialSession.open(client, NAME);
    await serial.run('while :; do :; done & echo spin-$((1+1))', /spin-2/);
    await serial.run('dd if=/dev/zero of=/dev/vda bs=64k count=128 conv=fsync 2>&1; echo dd-$((3+3))', /dd-6/, 120_000);
    // The disk write shows up in the disk chart's reading and the CPU line has been redrawn.
    await expect.poll(async () => cpuLine.getAttribute('d'), { timeout: 30_000 }).not.toBe(before);
    await expect.poll(async () => view.getByTestId('perf-chart-disk').locator('path.MuiLineElement-root').count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    const mid = await cpuLine.getAttribute('d');
    await sleep(2500);
    expect(await cpuLine.getAttribute('d')).not.toBe(mid);
    expect(await view.getByTestId('perf-value-cpu').innerText()).toMatch(/\d+\.\d %/);
    await page.screenshot({ path: shotPath('performance-tab') });
    await serial.run('kill %1; echo stopped-$((2+2))', /stopped-4/);
    await serial.close();
  });

  it('lists the running VM in the Activity Overview, with host totals and sortable columns', async () => {
    await page.getByRole('button', { name: 'Activity', exact: true }).click();
    const dlg = page.getByRole('dialog', { name: 'Activity Overview' });
    await dlg.waitFor();
    const row = dlg.getByTestId(`activity-row-${NAME}`);
    await row.waitFor({ timeout: 15_000 });
    await expect.poll(() => dlg.getByTestId('host-totals').innerText(), { timeout: 10_000 }).toMatch(/Host CPU \(\d+ CPUs\)[\s\S]*KSM/);
    expect(await row.innerText()).toMatch(/\d+\.\d %/);
    await dlg.getByRole('button', { name: 'Resident' }).click();
    expect(await dlg.getByRole('columnheader', { name: 'Resident' }).getAttribute('aria-sort')).toMatch(/descending|ascending/);
    await page.screenshot({ path: shotPath('activity-overview') });
    await dlg.getByRole('button', { name: 'Close' }).click();
  });

  it('shows the VM log, searchable', async () => {
    await page.getByRole('tab', { name: 'Log' }).click();
    const view = page.getByTestId('vm-log-view');
    await expect.poll(() => view.getByLabel('Nestbox events').innerText(), { timeout: 10_000 }).toContain(`started '${NAME}'`);
    await expect.poll(() => view.getByLabel('QEMU output').innerText(), { timeout: 10_000 }).toContain('nestbox: starting');
    await view.getByRole('textbox', { name: 'Search the log' }).fill('balloon');
    // Only matching lines remain: QEMU's command line names the balloon device; the start event does not match.
    await expect.poll(() => view.getByLabel('QEMU output').innerText(), { timeout: 10_000 }).toMatch(/^\d+: .*virtio-balloon-pci/);
    expect(await view.getByLabel('Nestbox events').innerText()).not.toContain(`started '${NAME}'`);
    await page.screenshot({ path: shotPath('vm-log') });
    expect(s.consoleErrors).toEqual([]);
  });

  it('sets CPU priority and a CPU limit from Settings → Resources while the VM runs, and shows they are enforced', async () => {
    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    const dlg = page.getByRole('dialog', { name: `Settings \u2014 ${NAME}` });
    await dlg.getByRole('tab', { name: 'Resources', exact: true }).click();
    await dlg.getByRole('combobox', { name: 'CPU priority' }).click();
    await page.getByRole('option', { name: 'High (400)' }).click();
    // While MUI's menu is open (or closing) the dialog behind it is aria-hidden: its fields
    // are found only once the menu is gone (a loaded machine takes a while to close it).
    await page.getByRole('listbox').waitFor({ state: 'hidden', timeout: 30_000 });
    await expect.poll(() => dlg.getByRole('combobox', { name: 'CPU priority' }).innerText(), { timeout: 10_000 }).toMatch(/High \(400\)/);
    await dlg.getByRole('textbox', { name: 'CPU limit (% of host)' }).fill('40');
    await page.screenshot({ path: shotPath('settings-resources') });
    await dlg.getByRole('button', { name: 'OK', exact: true }).click();
    await dlg.waitFor({ state: 'hidden' });
    await page.getByRole('tab', { name: 'Details' }).click();
    await page.getByText('40 % of the host').waitFor();
    await page.screenshot({ path: shotPath('details-resources') });
    const info = JSON.parse((await cli(s.home, ['info', NAME, '--json'])).stdout) as { config: { resources: Record<string, unknown> }; resourceStatus: { setting: string; enforced: boolean; detail: string }[] };
    expect(info.config.resources).toMatchObject({ cpuShares: 400, cpuLimitPct: 40, balloon: true });
    expect(info.resourceStatus.find((x) => x.setting === 'cpuShares')).toMatchObject({ enforced: true });
    expect(info.resourceStatus.find((x) => x.setting === 'cpuLimitPct')!.detail).toMatch(/cfs_quota_us=80000|cpu\.max=80000/);
  });
});
