/**
 * The Manager window in web mode, driven in Chromium like a person would, against real QEMU:
 * create a VM from the test guest's ISO with the wizard, start it, watch it run, pause,
 * resume, power off, change its memory in Settings, delete it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { cleanupHome, cli, testIso } from '../integration/helpers';
import { openWebSession, shotPath, type WebSession } from './harness';

const NAME = 'Web Guest';

function row(page: Page, name: string, state?: string) {
  const sel = state ? `[role=option][data-vm-name="${name}"][data-vm-state="${state}"]` : `[role=option][data-vm-name="${name}"]`;
  return page.locator(sel);
}

describe('the Manager window in web mode', () => {
  let s: WebSession;
  let page: Page;
  let shared: string;

  beforeAll(async () => {
    s = await openWebSession();
    page = s.page;
    shared = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-wizard-share-'));
  });
  afterAll(async () => {
    await s?.close();
    if (s) await cleanupHome(s.home);
    if (shared) fs.rmSync(shared, { recursive: true, force: true });
  });

  it('opens on the welcome screen with the host facts in the status bar', async () => {
    await expect.poll(() => page.getByRole('button', { name: 'New', exact: true }).isVisible(), { timeout: 20_000 }).toBe(true);
    await expect.poll(() => page.getByText('Welcome to Nestbox').isVisible()).toBe(true);
    await expect.poll(() => page.getByText(/QEMU \d+\.\d+/).first().isVisible()).toBe(true);
    await page.screenshot({ path: shotPath('01-welcome') });
  });

  it('creates a VM from the test guest ISO with the wizard', async () => {
    await page.getByRole('button', { name: 'New', exact: true }).click();
    const wizard = page.getByRole('dialog', { name: 'Create Virtual Machine' });
    await wizard.waitFor();
    const next = wizard.getByRole('button', { name: 'Next', exact: true });
    expect(await next.isDisabled()).toBe(true);
    await wizard.getByRole('textbox', { name: 'Name', exact: true }).fill(NAME);
    await wizard.getByRole('combobox', { name: 'Type', exact: true }).click();
    await page.getByRole('option', { name: 'Other Linux', exact: true }).click();
    await page.screenshot({ path: shotPath('02-wizard-name') });
    await next.click();

    await wizard.getByRole('textbox', { name: 'ISO path on the host', exact: true }).fill(testIso());
    await page.screenshot({ path: shotPath('03-wizard-media') });
    await next.click();

    const memory = wizard.getByRole('spinbutton', { name: 'Memory (MiB)', exact: true });
    await memory.fill('256');
    await page.screenshot({ path: shotPath('04-wizard-hardware') });
    await next.click();

    await wizard.getByRole('radio', { name: 'Create a new disk', exact: true }).check();
    await wizard.getByRole('spinbutton', { name: 'Disk size (GiB)', exact: true }).fill('1');
    await next.click();
    // The summary step: the clipboard turned off, a host folder shared read-only.
    await wizard.getByRole('checkbox', { name: /Share the clipboard with the console/ }).uncheck();
    await wizard.getByRole('textbox', { name: 'Share a folder of this computer (optional)' }).fill('shared-here');
    await expect.poll(() => wizard.getByText('The shared folder must be an absolute path').isVisible()).toBe(true);
    expect(await wizard.getByRole('button', { name: 'Finish', exact: true }).isDisabled()).toBe(true);
    await wizard.getByRole('textbox', { name: 'Share a folder of this computer (optional)' }).fill(shared);
    await wizard.getByRole('checkbox', { name: 'Read-only', exact: true }).check();
    const summary = wizard.getByRole('table', { name: 'Summary' });
    await expect.poll(() => summary.textContent()).toContain(`${shared} (read-only)`);
    expect(await summary.textContent()).toMatch(/ClipboardOff/);
    await page.screenshot({ path: shotPath('05-wizard-summary') });
    // Back keeps what was entered.
    await wizard.getByRole('button', { name: 'Back', exact: true }).click();
    expect(await wizard.getByRole('spinbutton', { name: 'Disk size (GiB)', exact: true }).inputValue()).toBe('1');
    await next.click();
    await wizard.getByRole('button', { name: 'Finish', exact: true }).click();
    await wizard.waitFor({ state: 'hidden', timeout: 30_000 });

    await row(page, NAME, 'poweredOff').waitFor({ timeout: 20_000 });
    const info = JSON.parse((await cli(s.home, ['info', NAME, '--json'])).stdout);
    expect(info.memoryMiB).toBe(256);
    expect(info.config.cdroms[0].iso).toBe(testIso());
    expect(info.config.disks).toHaveLength(1);
    expect(info.config.clipboard).toBe(false);
    expect(info.config.shares).toEqual([{ tag: path.basename(shared), path: fs.realpathSync(shared), readOnly: true }]);
    // The details pane says both.
    await row(page, NAME).click();
    await expect.poll(() => page.getByRole('region', { name: 'Shared folders' }).textContent()).toContain(path.basename(shared));
  });

  it('starts the VM and shows it running, with a live preview of the guest screen', async () => {
    await row(page, NAME).click();
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await row(page, NAME, 'running').waitFor({ timeout: 60_000 });
    expect(await row(page, NAME).textContent()).toContain('Running');
    const serialLog = JSON.parse((await cli(s.home, ['info', NAME, '--json'])).stdout).serialLog as string;
    for (let i = 0; i < 300 && !(fs.existsSync(serialLog) && fs.readFileSync(serialLog, 'utf8').includes('NESTBOX-GUEST-READY')); i++) {
      await new Promise((r) => setTimeout(r, 200));
    }
    await expect.poll(() => page.locator('img[alt*="creen"], img[alt*="review"]').count(), { timeout: 20_000 }).toBeGreaterThan(0);
    await page.waitForTimeout(3500);
    await page.screenshot({ path: shotPath('06-running') });
  });

  it('pauses and resumes it', async () => {
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await row(page, NAME, 'paused').waitFor({ timeout: 20_000 });
    expect(await row(page, NAME).textContent()).toContain('Paused');
    await page.getByRole('button', { name: 'Resume', exact: true }).click();
    await row(page, NAME, 'running').waitFor({ timeout: 20_000 });
  });

  it('locks the hardware in Settings while it runs, and powers it off', async () => {
    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    const dlg = page.getByRole('dialog', { name: `Settings \u2014 ${NAME}` });
    await dlg.waitFor();
    await dlg.getByRole('tab', { name: 'System', exact: true }).click();
    expect(await dlg.getByRole('spinbutton', { name: 'Memory (MiB)', exact: true }).isDisabled()).toBe(true);
    await page.screenshot({ path: shotPath('07-settings-locked') });
    await dlg.getByRole('button', { name: 'Cancel', exact: true }).click();
    await page.getByRole('button', { name: 'Power off', exact: true }).click();
    await row(page, NAME, 'poweredOff').waitFor({ timeout: 30_000 });
  });

  it('changes its memory in Settings', async () => {
    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    const dlg = page.getByRole('dialog', { name: `Settings \u2014 ${NAME}` });
    await dlg.getByRole('tab', { name: 'System', exact: true }).click();
    const mem = dlg.getByRole('spinbutton', { name: 'Memory (MiB)', exact: true });
    expect(await mem.isDisabled()).toBe(false);
    await mem.fill('384');
    await page.screenshot({ path: shotPath('08-settings-system') });
    // The clipboard, off since the wizard, is turned back on in Display.
    await dlg.getByRole('tab', { name: 'Display', exact: true }).click();
    const clip = dlg.getByRole('checkbox', { name: 'Share the clipboard with the console' });
    expect(await clip.isChecked()).toBe(false);
    await clip.check();
    await page.screenshot({ path: shotPath('08b-settings-display') });
    await dlg.getByRole('button', { name: 'OK', exact: true }).click();
    await dlg.waitFor({ state: 'hidden' });
    await expect.poll(async () => JSON.parse((await cli(s.home, ['info', NAME, '--json'])).stdout).memoryMiB, { timeout: 10_000 }).toBe(384);
    expect(JSON.parse((await cli(s.home, ['info', NAME, '--json'])).stdout).config.clipboard).toBeUndefined();
  });

  it('shows a clear error from the core, not a blank screen', async () => {
    // Another client deletes the ISO's VM twin name first: creating a duplicate must fail in the dialog.
    await page.getByRole('button', { name: 'New', exact: true }).click();
    const wizard = page.getByRole('dialog', { name: 'Create Virtual Machine' });
    await wizard.getByRole('textbox', { name: 'Name', exact: true }).fill(NAME.toLowerCase());
    expect(await wizard.getByRole('button', { name: 'Next', exact: true }).isDisabled()).toBe(true);
    expect(await wizard.getByRole('status').textContent()).toMatch(/already/i);
    await wizard.getByRole('button', { name: 'Cancel', exact: true }).click();
  });

  it('deletes it with its files after asking', async () => {
    const dir = JSON.parse((await cli(s.home, ['info', NAME, '--json'])).stdout).dir as string;
    expect(fs.existsSync(dir)).toBe(true);
    await row(page, NAME).click();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const dlg = page.getByRole('dialog', { name: `Delete '${NAME}'?` });
    await dlg.waitFor();
    await page.screenshot({ path: shotPath('09-delete') });
    await dlg.getByRole('button', { name: 'Delete all files', exact: true }).click();
    await row(page, NAME).waitFor({ state: 'detached', timeout: 20_000 });
    expect(fs.existsSync(dir)).toBe(false);
    expect(JSON.parse((await cli(s.home, ['list', '--json'])).stdout)).toEqual([]);
  });

  it('logged no browser errors and no CSP violations', () => {
    expect(s.consoleErrors).toEqual([]);
  });
});

describe('the Manager window in dark mode with many VMs', () => {
  it('lists 1,000 VMs, filters them, and stays responsive', async () => {
    const s = await openWebSession({ colorScheme: 'dark' });
    try {
      // Created through the same core the page is connected to (the CLI joins `serve`).
      const r = await cli(s.home, ['list']);
      expect(r.code).toBe(0);
      const { connectOrHost } = await import('../../src/core/server/host');
      const conn = await connectOrHost({ dataDir: s.home, hostIfNone: false });
      try {
        for (let i = 0; i < 1000; i++) {
          await conn.client.call('vms.create', { name: `vm-${String(i).padStart(4, '0')}`, memoryMiB: 64, cpus: 1, noDisk: true, group: i % 2 ? 'odd' : 'even' });
        }
      } finally {
        await conn.close();
      }
      const page = s.page;
      await expect.poll(() => page.locator('[role=option][data-vm-name]').count(), { timeout: 30_000 }).toBeGreaterThan(10);
      // Windowed: a handful of rows in the DOM, not a thousand.
      expect(await page.locator('[role=option][data-vm-name]').count()).toBeLessThan(100);
      await page.getByRole('searchbox', { name: 'Search VMs' }).fill('vm-0999');
      await row(page, 'vm-0999').waitFor({ timeout: 10_000 });
      expect(await page.locator('[role=option][data-vm-name]').count()).toBe(1);
      await row(page, 'vm-0999').click();
      await page.screenshot({ path: shotPath('10-dark-1000-vms') });
      expect(s.consoleErrors).toEqual([]);
    } finally {
      await s.close();
      fs.rmSync(s.home, { recursive: true, force: true });
    }
  });
});
