/**
 * Web mode: a file dropped on the window is uploaded to the host's media folder at once; when
 * the import dialog (disk image) or the New VM wizard (ISO) it was uploaded for is cancelled,
 * the upload goes again. What a VM uses, and files the user put there, stay.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { cleanupHome, cli, testIso } from '../integration/helpers';
import { dropFile, openWebSession, shotPath, type WebSession } from './harness';

describe('cancelling an import removes its upload (web mode)', () => {
  let s: WebSession;
  let page: Page;
  let work: string;
  let media: string;

  beforeAll(async () => {
    s = await openWebSession();
    page = s.page;
    work = fs.mkdtempSync(path.join(s.home, 'work-'));
    media = path.join(s.home, 'media');
    await page.getByRole('button', { name: 'New', exact: true }).waitFor({ timeout: 20_000 });
  });
  afterAll(async () => {
    await s?.close();
    if (s) await cleanupHome(s.home);
  });

  const inMedia = () => (fs.existsSync(media) ? fs.readdirSync(media).sort() : []);

  it('Cancel in the Import Disk Image dialog deletes the uploaded image; a file the user put there stays', async () => {
    fs.mkdirSync(media, { recursive: true });
    fs.writeFileSync(path.join(media, 'placed-by-hand.img'), 'the user’s own file');
    const vdi = path.join(work, 'dropped.vdi');
    execFileSync('qemu-img', ['create', '-f', 'vdi', vdi, '16M']);
    await dropFile(page, vdi);
    const dialog = page.getByRole('dialog', { name: 'Import Disk Image' });
    await dialog.waitFor({ timeout: 30_000 });
    // Uploaded while the dialog is open: the note names the copy on the host.
    await dialog.getByRole('note').filter({ hasText: 'Uploaded to the host’s media folder as dropped.vdi.' }).waitFor({ timeout: 60_000 });
    expect(inMedia()).toEqual(['dropped.vdi', 'placed-by-hand.img']);
    await page.screenshot({ path: shotPath('media-20-import-before-cancel') });
    await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(inMedia, { timeout: 20_000 }).toEqual(['placed-by-hand.img']);
    const listed = JSON.parse((await cli(s.home, ['media', 'list', '--json'])).stdout) as { name: string }[];
    expect(listed.map((m) => m.name)).not.toContain('dropped.vdi');
    expect(s.consoleErrors).toEqual([]);
  });

  it('Escape in the dialog does the same, also after a refused import', async () => {
    const hostile = path.join(work, 'sneaky.qcow2');
    execFileSync('qemu-img', ['create', '-f', 'qcow2', '-b', '/etc/passwd', '-F', 'raw', hostile, '16M']);
    await dropFile(page, hostile);
    const dialog = page.getByRole('dialog', { name: 'Import Disk Image' });
    await dialog.waitFor({ timeout: 30_000 });
    const go = dialog.getByRole('button', { name: 'Import', exact: true });
    await expect.poll(() => go.isEnabled(), { timeout: 60_000 }).toBe(true);
    await go.click();
    await dialog.getByText(/backing file/).waitFor({ timeout: 60_000 });
    expect(inMedia()).toContain('sneaky.qcow2');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(inMedia, { timeout: 20_000 }).toEqual(['placed-by-hand.img']);
    expect(fs.existsSync('/etc/passwd')).toBe(true);
    expect(s.consoleErrors).toEqual([]);
  });

  it('cancelling the New VM wizard an ISO was uploaded for deletes that upload; an ISO a VM uses is kept', async () => {
    await dropFile(page, testIso());
    const wizard = page.getByRole('dialog', { name: 'Create Virtual Machine' });
    await wizard.waitFor({ timeout: 60_000 });
    expect(inMedia()).toEqual(['nestbox-test-guest.iso', 'placed-by-hand.img']);
    await wizard.getByRole('button', { name: 'Cancel', exact: true }).click();
    await wizard.waitFor({ state: 'hidden' });
    await expect.poll(inMedia, { timeout: 20_000 }).toEqual(['placed-by-hand.img']);

    // An upload that a VM took up is never removed by a later cancel of another one.
    await dropFile(page, testIso());
    await wizard.waitFor({ timeout: 60_000 });
    const iso = path.join(media, 'nestbox-test-guest.iso');
    expect(fs.existsSync(iso)).toBe(true);
    const made = await cli(s.home, ['create', 'uses-iso', '--os-type', 'linux-other', '--memory', '128', '--no-disk', '--iso', iso]);
    expect(made.code, made.stderr).toBe(0);
    await wizard.getByRole('button', { name: 'Cancel', exact: true }).click();
    await wizard.waitFor({ state: 'hidden' });
    // The core refuses (the VM uses it) and the page says so; the file stays.
    await page.getByText(/The upload nestbox-test-guest\.iso was kept: .*in use by 'uses-iso'/).waitFor({ timeout: 20_000 });
    expect(inMedia()).toEqual(['nestbox-test-guest.iso', 'placed-by-hand.img']);
    await page.screenshot({ path: shotPath('media-21-upload-kept-in-use') });
  });
});
