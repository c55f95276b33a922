/**
 * Storage in web mode, driven in Chromium like a person would, against real QEMU: drop the
 * test guest's ISO on the Manager → the wizard comes up prefilled → the VM boots; drop a VDI
 * made from it → the import dialog converts it with progress → that VM boots; the Media
 * Manager lists both with sizes and users, and a conversion shows its progress and ends.
 * Drops are real DragEvents with a DataTransfer holding the real file (picked through a
 * file input, as Playwright hands files to the page); web mode uploads them with progress.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { cleanupHome, cli, testIso, waitForFile } from '../integration/helpers';
import { dropFile, openWebSession, shotPath, type WebSession } from './harness';

function row(page: Page, name: string, state?: string) {
  const sel = state ? `[role=option][data-vm-name="${name}"][data-vm-state="${state}"]` : `[role=option][data-vm-name="${name}"]`;
  return page.locator(sel);
}

/** Screenshots after dialogs have finished fading in. */
async function settle(page: Page): Promise<void> {
  await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running'));
}

async function bootsToMarker(s: WebSession, name: string): Promise<void> {
  const serialLog = JSON.parse((await cli(s.home, ['info', name, '--json'])).stdout).serialLog as string;
  await waitForFile(serialLog, /NESTBOX-GUEST-READY/, 170_000);
}

describe('drag-and-drop and the Media Manager in web mode', () => {
  let s: WebSession;
  let page: Page;
  let work: string;

  beforeAll(async () => {
    s = await openWebSession();
    page = s.page;
    work = fs.mkdtempSync(path.join(s.home, 'work-'));
    await page.getByRole('button', { name: 'New', exact: true }).waitFor({ timeout: 20_000 });
  });
  afterAll(async () => {
    await s?.close();
    if (s) await cleanupHome(s.home);
  });

  it('an ISO dropped on the window opens the wizard prefilled with it, and the VM boots from it', async () => {
    await dropFile(page, testIso(), 'media-01-drop-overlay');
    const wizard = page.getByRole('dialog', { name: 'Create Virtual Machine' });
    await wizard.waitFor({ timeout: 60_000 });
    // The name comes from the file; the ISO is the uploaded copy in the host's media folder.
    const name = wizard.getByRole('textbox', { name: 'Name', exact: true });
    expect(await name.inputValue()).toBe('nestbox-test-guest');
    await settle(page);
    await page.screenshot({ path: shotPath('media-02-wizard-prefilled') });
    const next = wizard.getByRole('button', { name: 'Next', exact: true });
    await next.click();
    const isoField = wizard.getByRole('textbox', { name: 'ISO path on the host', exact: true });
    const uploaded = await isoField.inputValue();
    expect(uploaded).toBe(path.join(s.home, 'media', 'nestbox-test-guest.iso'));
    expect(fs.readFileSync(uploaded).equals(fs.readFileSync(testIso()))).toBe(true);
    await next.click();
    await wizard.getByRole('spinbutton', { name: 'Memory (MiB)', exact: true }).fill('256');
    await next.click();
    await wizard.getByRole('radio', { name: 'No disk', exact: true }).check();
    await next.click();
    await wizard.getByRole('button', { name: 'Finish', exact: true }).click();
    await wizard.waitFor({ state: 'hidden', timeout: 30_000 });

    await row(page, 'nestbox-test-guest', 'poweredOff').click({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await row(page, 'nestbox-test-guest', 'running').waitFor({ timeout: 60_000 });
    await bootsToMarker(s, 'nestbox-test-guest');
    await cli(s.home, ['poweroff', 'nestbox-test-guest']);
    await row(page, 'nestbox-test-guest', 'poweredOff').waitFor({ timeout: 30_000 });
  });

  it('a VDI dropped on the window is imported as a new VM with progress, and that VM boots', async () => {
    const vdi = path.join(work, 'guest-disk.vdi');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vdi', testIso(), vdi]);
    await dropFile(page, vdi);
    const dialog = page.getByRole('dialog', { name: 'Import Disk Image' });
    await dialog.waitFor({ timeout: 30_000 });
    const name = dialog.getByRole('textbox', { name: 'Name', exact: true });
    expect(await name.inputValue()).toBe('guest-disk');
    expect(await dialog.getByRole('radio', { name: /^Copy it into a new VM/ }).isChecked()).toBe(true);
    await dialog.getByRole('spinbutton', { name: 'Memory (MiB)', exact: true }).fill('256');
    const importButton = dialog.getByRole('button', { name: 'Import', exact: true });
    await expect.poll(() => importButton.isEnabled(), { timeout: 60_000 }).toBe(true);
    await settle(page);
    await page.screenshot({ path: shotPath('media-03-import-dialog') });
    await importButton.click();
    await dialog.waitFor({ state: 'hidden', timeout: 120_000 });

    await row(page, 'guest-disk', 'poweredOff').waitFor({ timeout: 20_000 });
    const info = JSON.parse((await cli(s.home, ['info', 'guest-disk', '--json'])).stdout);
    expect(info.memoryMiB).toBe(256);
    expect(info.config.disks[0]).toMatchObject({ format: 'qcow2', owned: true });
    await row(page, 'guest-disk').click();
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await row(page, 'guest-disk', 'running').waitFor({ timeout: 60_000 });
    await bootsToMarker(s, 'guest-disk');
    await cli(s.home, ['poweroff', 'guest-disk']);
    await row(page, 'guest-disk', 'poweredOff').waitFor({ timeout: 30_000 });
  });

  it('a file Nestbox cannot use is refused with a clear message', async () => {
    const txt = path.join(work, 'notes.txt');
    fs.writeFileSync(txt, 'not an image');
    await dropFile(page, txt);
    await expect.poll(() => page.getByText(/Nestbox cannot use notes\.txt/).isVisible(), { timeout: 10_000 }).toBe(true);
  });

  it('several files dropped at once are handled in turn: a hostile image is refused with the core’s reason, an OVA is imported', async () => {
    const hostile = path.join(work, 'sneaky.qcow2');
    execFileSync('qemu-img', ['create', '-f', 'qcow2', '-b', '/etc/passwd', '-F', 'raw', hostile, '64M']);
    const ova = path.join(work, 'appliance.ova');
    await cli(s.home, ['export', 'guest-disk', ova]);
    expect(fs.existsSync(ova)).toBe(true);
    await dropFile(page, [hostile, ova]);

    const disk = page.getByRole('dialog', { name: 'Import Disk Image' });
    await disk.waitFor({ timeout: 30_000 });
    expect(await disk.getByText('sneaky.qcow2', { exact: true }).isVisible()).toBe(true);
    const importButton = disk.getByRole('button', { name: 'Import', exact: true });
    await expect.poll(() => importButton.isEnabled(), { timeout: 30_000 }).toBe(true);
    await importButton.click();
    await disk.getByText(/backing file/).waitFor({ timeout: 60_000 });
    await settle(page);
    await page.screenshot({ path: shotPath('media-10-hostile-refused') });
    expect(await row(page, 'sneaky').count()).toBe(0);
    await disk.getByRole('button', { name: 'Cancel', exact: true }).click();

    const appliance = page.getByRole('dialog', { name: 'Import Appliance' });
    await appliance.waitFor({ timeout: 30_000 });
    expect(await appliance.getByRole('textbox', { name: 'Name', exact: true }).inputValue()).toBe('appliance');
    const go = appliance.getByRole('button', { name: 'Import', exact: true });
    await expect.poll(() => go.isEnabled(), { timeout: 60_000 }).toBe(true);
    // Before anything is copied, the dialog says what the appliance becomes (the core's plan).
    const plan = appliance.getByRole('table', { name: 'What will be created' });
    await plan.waitFor({ timeout: 30_000 });
    const planText = await plan.textContent();
    expect(planText).toMatch(/Froman OVA appliance/);
    expect(planText).toMatch(/Disk 1.*, copied as QCOW2\)/);
    expect(planText).toMatch(/Adapter 1Virtio network, NAT, MAC /);
    await settle(page);
    await page.screenshot({ path: shotPath('media-11-appliance-plan') });
    await go.click();
    await appliance.waitFor({ state: 'hidden', timeout: 120_000 });
    await row(page, 'appliance', 'poweredOff').waitFor({ timeout: 20_000 });
    const info = JSON.parse((await cli(s.home, ['info', 'appliance', '--json'])).stdout);
    expect(info.config.disks).toHaveLength(1);
  });

  it('the Media Manager shows sizes and which VMs use each medium', async () => {
    await page.getByRole('button', { name: 'Media Manager', exact: true }).click();
    const mm = page.getByRole('dialog', { name: 'Media Manager' });
    await mm.waitFor();
    const disk = mm.locator('tr[data-medium="guest-disk.qcow2"]');
    await disk.waitFor({ timeout: 20_000 });
    // The uploaded appliance is not a disk; the refused image's upload went when its import was cancelled.
    expect(await mm.locator('tr[data-medium="appliance.ova"]').count()).toBe(0);
    expect(await mm.locator('tr[data-medium="sneaky.qcow2"]').count()).toBe(0);
    expect(fs.existsSync(path.join(s.home, 'media', 'sneaky.qcow2'))).toBe(false);
    const isoSize = fs.statSync(testIso()).size;
    const cells = await disk.locator('td').allInnerTexts();
    expect(cells[1]).toBe('QCOW2');
    expect(cells[2]).toMatch(/\d+(\.\d)? MiB/);
    expect(cells[4]).toBe('guest-disk');
    const registry = JSON.parse((await cli(s.home, ['media', 'list', '--json'])).stdout) as { name: string; virtualSize: number }[];
    expect(registry.find((m) => m.name === 'guest-disk.qcow2')?.virtualSize).toBe(isoSize);
    await settle(page);
    await page.screenshot({ path: shotPath('media-04-manager-disks') });

    await mm.getByRole('tab', { name: /Optical disks/ }).click();
    const iso = mm.locator('tr[data-medium="nestbox-test-guest.iso"]');
    await iso.waitFor();
    expect((await iso.locator('td').allInnerTexts())[4]).toBe('nestbox-test-guest');
    // In use: removing it is refused with the reason.
    await iso.click();
    await mm.getByRole('button', { name: 'Remove…', exact: true }).click();
    const rm = page.getByRole('dialog', { name: 'Remove nestbox-test-guest.iso' });
    await expect.poll(() => rm.getByText(/In use by nestbox-test-guest \(cd0\)/).isVisible()).toBe(true);
    expect(await rm.getByRole('button', { name: 'Remove', exact: true }).isDisabled()).toBe(true);
    await rm.getByRole('button', { name: 'Cancel', exact: true }).click();
    await mm.getByRole('tab', { name: /Hard disks/ }).click();

    // Attach the uploaded VDI to a powered-off VM, then detach it again.
    const vdi = mm.locator('tr[data-medium="guest-disk.vdi"]');
    await vdi.click();
    await mm.getByRole('button', { name: 'Attach…', exact: true }).click();
    const attach = page.getByRole('dialog', { name: 'Attach guest-disk.vdi' });
    await attach.getByRole('combobox', { name: 'Virtual machine' }).click();
    await page.getByRole('option', { name: 'nestbox-test-guest', exact: true }).click();
    await attach.getByRole('button', { name: 'Attach', exact: true }).click();
    await expect.poll(async () => (await vdi.locator('td').allInnerTexts())[4], { timeout: 20_000 }).toBe('nestbox-test-guest');
    const attached = JSON.parse((await cli(s.home, ['info', 'nestbox-test-guest', '--json'])).stdout);
    expect(attached.config.disks.map((d: { file: string }) => d.file)).toEqual([path.join(s.home, 'media', 'guest-disk.vdi')]);
    await mm.getByRole('button', { name: 'Detach', exact: true }).click();
    await expect.poll(async () => (await vdi.locator('td').allInnerTexts())[4], { timeout: 20_000 }).toBe('—');
  });

  it('a conversion started in the Media Manager shows its progress and completes', async () => {
    const src = path.join(work, 'random.raw');
    fs.writeFileSync(src, crypto.randomBytes(512 * 1024 * 1024));
    await cli(s.home, ['media', 'info', src]);
    const mm = page.getByRole('dialog', { name: 'Media Manager' });
    const source = mm.locator('tr[data-medium="random.raw"]');
    await source.waitFor({ timeout: 20_000 });
    await source.click();
    // Every progress value the page shows for a job, from the first to the last.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { __e2eProgress: string[] }).__e2eProgress = seen;
      const record = () => {
        for (const g of document.querySelectorAll('[role=group][aria-label^="Job: Converting"]')) {
          const bar = g.querySelector('[role=progressbar]');
          seen.push(`${g.getAttribute('data-job-state')}:${bar?.getAttribute('aria-valuenow') ?? ''}`);
        }
      };
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow', 'data-job-state'] });
    });
    await mm.getByRole('button', { name: 'Copy / Convert…', exact: true }).click();
    const conv = page.getByRole('dialog', { name: 'Copy or convert random.raw' });
    await conv.getByRole('combobox', { name: 'Target format' }).click();
    await page.getByRole('option', { name: 'QCOW2', exact: true }).click();
    const target = await conv.getByRole('textbox', { name: 'New file on the host' }).inputValue();
    expect(target).toBe(path.join(work, 'random-copy.qcow2'));
    await conv.getByRole('button', { name: 'Convert', exact: true }).click();

    const job = mm.locator('[role=group][aria-label^="Job: Converting"]');
    await job.first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: shotPath('media-05-converting') });
    await expect.poll(() => job.first().getAttribute('data-job-state'), { timeout: 170_000 }).toBe('done');
    const seen = await page.evaluate(() => (window as unknown as { __e2eProgress: string[] }).__e2eProgress);
    const running = seen.filter((v) => v.startsWith('running:')).map((v) => Number(v.split(':')[1]));
    expect(running.some((p) => p > 0 && p < 100)).toBe(true);
    expect(seen.at(-1)).toBe('done:100');
    await mm.locator('tr[data-medium="random-copy.qcow2"]').waitFor({ timeout: 20_000 });
    const out = execFileSync('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', src, target]).toString();
    expect(out).toMatch(/identical/i);
    await page.screenshot({ path: shotPath('media-06-manager-after') });

    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: shotPath('media-07-manager-dark') });
    await mm.getByRole('button', { name: 'Close', exact: true }).click();
    await dropFile(page, testIso(), 'media-08-drop-overlay-dark');
    const again = page.getByRole('dialog', { name: 'Create Virtual Machine' });
    await again.waitFor({ timeout: 60_000 });
    expect(await again.getByRole('textbox', { name: 'Name', exact: true }).inputValue()).toBe('nestbox-test-guest (2)');
    await settle(page);
    await page.screenshot({ path: shotPath('media-09-wizard-dark') });
    await again.getByRole('button', { name: 'Cancel', exact: true }).click();
    expect(s.consoleErrors).toEqual([]);
  });
});
