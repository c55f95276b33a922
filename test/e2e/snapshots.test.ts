/**
 * The Snapshot Manager in web mode against a real guest: take snapshots with RAM from the
 * UI, see the tree with thumbnails and the Current state node, restore one (with a snapshot
 * of the current state first, as VirtualBox offers), and delete one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { cleanupHome, cli, testIso, waitForFile } from '../integration/helpers';
import { openWebSession, shotPath, type WebSession } from './harness';

const NAME = 'snapguest';

async function take(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name: 'Take Snapshot', exact: true }).first().click();
  const dlg = page.getByRole('dialog', { name: `Take Snapshot of ${NAME}` });
  await dlg.waitFor();
  await dlg.getByRole('textbox', { name: 'Snapshot name' }).fill(name);
  await dlg.getByRole('button', { name: 'Take', exact: true }).click();
  await dlg.waitFor({ state: 'hidden', timeout: 60_000 });
}

function snapNames(home: string): Promise<string[]> {
  return cli(home, ['snapshot', NAME, 'list', '--json']).then((r) => (JSON.parse(r.stdout) as { snapshots: { name: string }[] }).snapshots.map((s) => s.name));
}

describe('the Snapshot Manager in web mode', () => {
  let s: WebSession;
  let page: Page;

  beforeAll(async () => {
    s = await openWebSession();
    page = s.page;
    expect((await cli(s.home, ['create', NAME, '--os-type', 'linux-other', '--memory', '256', '--cpus', '1', '--disk-size', '64M', '--iso', testIso()])).code).toBe(0);
    const r = await cli(s.home, ['start', NAME]);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse((await cli(s.home, ['info', NAME, '--json'])).stdout);
    await waitForFile(info.serialLog, /NESTBOX-GUEST-READY/);
  });
  afterAll(async () => {
    await s?.close();
    if (s) await cleanupHome(s.home);
  });

  it('takes two live snapshots and shows them in the tree with thumbnails and the current state', async () => {
    await page.locator(`[role=option][data-vm-name="${NAME}"][data-vm-state="running"]`).click();
    await page.getByRole('tab', { name: /Snapshots/ }).click();
    await take(page, 'First');
    await take(page, 'Second');
    const tree = page.getByRole('tree', { name: `Snapshots of ${NAME}` });
    await tree.getByRole('treeitem', { name: 'Second' }).waitFor({ timeout: 20_000 });
    expect(await tree.getByRole('treeitem', { name: 'First' }).count()).toBe(1);
    expect(await tree.getByRole('treeitem', { name: 'Current state' }).count()).toBe(1);
    await expect.poll(() => tree.locator('[data-thumbnail="loaded"]').count(), { timeout: 20_000 }).toBe(2);
    expect(await snapNames(s.home)).toEqual(['First', 'Second']);
    await page.screenshot({ path: shotPath('40-snapshots-tree') });
  });

  it('restores the first snapshot, taking one of the current state first', async () => {
    const tree = page.getByRole('tree', { name: `Snapshots of ${NAME}` });
    await tree.getByRole('treeitem', { name: 'First' }).click();
    await page.getByRole('button', { name: 'Restore', exact: true }).first().click();
    const dlg = page.getByRole('dialog', { name: "Restore snapshot 'First'?" });
    await dlg.waitFor();
    expect(await dlg.getByRole('checkbox', { name: 'Take a snapshot of the current state first' }).isChecked()).toBe(true);
    await page.screenshot({ path: shotPath('41-snapshots-restore') });
    await dlg.getByRole('button', { name: 'Restore', exact: true }).click();
    await dlg.waitFor({ state: 'hidden', timeout: 60_000 });
    await expect.poll(() => snapNames(s.home), { timeout: 20_000 }).toEqual(['First', 'Second', 'Before restoring First']);
    const list = JSON.parse((await cli(s.home, ['snapshot', NAME, 'list', '--json'])).stdout) as { current: string; snapshots: { id: string; name: string }[] };
    expect(list.snapshots.find((x) => x.id === list.current)?.name).toBe('First');
    expect(JSON.parse((await cli(s.home, ['info', NAME, '--json'])).stdout).state).toBe('running');
  });

  it('deletes a snapshot after asking', async () => {
    const tree = page.getByRole('tree', { name: `Snapshots of ${NAME}` });
    await tree.getByRole('treeitem', { name: 'Second' }).click();
    await page.getByRole('button', { name: 'Delete', exact: true }).last().click();
    const dlg = page.getByRole('dialog', { name: "Delete snapshot 'Second'?" });
    await dlg.waitFor();
    await dlg.getByRole('button', { name: 'Delete', exact: true }).click();
    await dlg.waitFor({ state: 'hidden', timeout: 60_000 });
    await tree.getByRole('treeitem', { name: 'Second' }).waitFor({ state: 'detached', timeout: 20_000 });
    expect(await snapNames(s.home)).toEqual(['First', 'Before restoring First']);
    await page.screenshot({ path: shotPath('42-snapshots-after-delete') });
    expect(s.consoleErrors).toEqual([]);
    await cli(s.home, ['poweroff', NAME]);
  });

  it('makes a linked clone of a snapshot; the parent then cannot be deleted, and the dialog says why', async () => {
    await page.locator(`[role=option][data-vm-name="${NAME}"][data-vm-state="poweredOff"]`).waitFor({ timeout: 20_000 });
    const tree = page.getByRole('tree', { name: `Snapshots of ${NAME}` });
    await tree.getByRole('treeitem', { name: 'First', exact: true }).click();
    await page.getByRole('toolbar', { name: 'Snapshot actions' }).getByRole('button', { name: 'Clone', exact: true }).click();
    const dlg = page.getByRole('dialog', { name: `Clone ${NAME}` });
    await dlg.waitFor();
    await dlg.getByRole('textbox', { name: 'Name of the clone' }).fill('snaplinked');
    expect(await dlg.getByRole('combobox', { name: 'Clone from' }).textContent()).toBe('Snapshot: First');
    await dlg.getByRole('radio', { name: 'Linked clone' }).check();
    await page.screenshot({ path: shotPath('43-snapshots-clone') });
    await dlg.getByRole('button', { name: 'Clone', exact: true }).click();
    await dlg.waitFor({ state: 'hidden', timeout: 120_000 });
    const info = JSON.parse((await cli(s.home, ['info', 'snaplinked', '--json'])).stdout) as { linkedTo: string[]; config: { disks: { backing?: unknown }[] } };
    expect(info.linkedTo).toEqual([NAME]);
    expect(info.config.disks[0]!.backing).toBeTruthy();

    await page.locator(`[role=option][data-vm-name="${NAME}"]`).click();
    await page.getByRole('toolbar', { name: 'Machine actions' }).getByRole('button', { name: 'Delete', exact: true }).click();
    const del = page.getByRole('dialog', { name: `Delete '${NAME}'?` });
    await del.waitFor();
    await del.getByText(/cannot be deleted while linked clones stand on its disks: 'snaplinked'/).waitFor();
    expect(await del.getByRole('button', { name: 'Delete all files', exact: true }).isDisabled()).toBe(true);
    await page.screenshot({ path: shotPath('44-delete-held-by-linked-clone') });
    await del.getByRole('button', { name: 'Cancel', exact: true }).click();
    await del.waitFor({ state: 'hidden' });
  });

  it('makes a full clone of the current state from the Manager toolbar', async () => {
    await page.locator(`[role=option][data-vm-name="${NAME}"]`).click();
    await page.getByRole('toolbar', { name: 'Machine actions' }).getByRole('button', { name: 'Clone', exact: true }).click();
    const dlg = page.getByRole('dialog', { name: `Clone ${NAME}` });
    await dlg.waitFor();
    expect(await dlg.getByRole('textbox', { name: 'Name of the clone' }).inputValue()).toBe(`${NAME} Clone`);
    expect(await dlg.getByRole('combobox', { name: 'Clone from' }).textContent()).toBe('Current state');
    expect(await dlg.getByRole('radio', { name: 'Full clone' }).isChecked()).toBe(true);
    await dlg.getByRole('button', { name: 'Clone', exact: true }).click();
    await dlg.waitFor({ state: 'hidden', timeout: 120_000 });
    // The new VM is selected in the list.
    await page.locator(`[role=option][data-vm-name="${NAME} Clone"][aria-selected="true"]`).waitFor({ timeout: 20_000 });
    const info = JSON.parse((await cli(s.home, ['info', `${NAME} Clone`, '--json'])).stdout) as { linkedTo: string[]; config: { nics: { mac: string }[] } };
    const parent = JSON.parse((await cli(s.home, ['info', NAME, '--json'])).stdout) as { config: { nics: { mac: string }[] } };
    expect(info.linkedTo).toEqual([]);
    expect(info.config.nics[0]!.mac).not.toBe(parent.config.nics[0]!.mac);
  });

  it('deletes a whole branch after showing what goes and what it frees', async () => {
    await page.locator(`[role=option][data-vm-name="${NAME}"]`).click();
    await page.getByRole('tab', { name: /Snapshots/ }).click();
    const tree = page.getByRole('tree', { name: `Snapshots of ${NAME}` });
    await tree.getByRole('treeitem', { name: 'First', exact: true }).click();
    await page.getByRole('toolbar', { name: 'Snapshot actions' }).getByRole('button', { name: 'Delete', exact: true }).click();
    const dlg = page.getByRole('dialog', { name: "Delete snapshot 'First'?" });
    await dlg.waitFor();
    await dlg.getByRole('checkbox', { name: 'Delete everything below it too (1 more snapshot)' }).check();
    await dlg.getByText(/The whole branch goes: 'First', 'Before restoring First'\./).waitFor();
    await dlg.getByTestId('delete-frees').getByText(/^Frees about [\d.]+ (KiB|MiB|GiB)/).waitFor({ timeout: 20_000 });
    await page.screenshot({ path: shotPath('45-snapshots-delete-branch') });
    await dlg.getByRole('button', { name: 'Delete', exact: true }).click();
    await dlg.waitFor({ state: 'hidden', timeout: 60_000 });
    await expect.poll(() => snapNames(s.home), { timeout: 20_000 }).toEqual([]);
    await page.getByText('No snapshots yet').waitFor({ timeout: 20_000 });
    expect(s.consoleErrors).toEqual([]);
  });

  it('offers to convert a raw disk to QCOW2, after which snapshots can be taken', async () => {
    const raw = path.join(s.home, 'plain.img');
    fs.writeFileSync(raw, Buffer.alloc(8 * 1024 * 1024));
    expect((await cli(s.home, ['create', 'rawguest', '--memory', '64', '--cpus', '1', '--disk', raw])).code).toBe(0);
    await page.locator('[role=option][data-vm-name="rawguest"]').click();
    await page.getByRole('tab', { name: /Snapshots/ }).click();
    await page.getByText(/is Raw, which cannot hold snapshots|is RAW, which cannot hold snapshots/).first().waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Convert to QCOW2…' }).click();
    const dlg = page.getByRole('dialog', { name: 'Convert the disk of rawguest to QCOW2?' });
    await dlg.waitFor();
    // Let the dialog's opening transition end, so the screenshot shows it.
    await dlg.evaluate((el) =>
      Promise.all(
        (el.closest('.MuiDialog-root') ?? el)
          .getAnimations({ subtree: true })
          .filter((a) => a.effect?.getComputedTiming().iterations !== Infinity)
          .map((a) => a.finished),
      ),
    );
    await page.screenshot({ path: shotPath('46-snapshots-convert-disk') });
    await dlg.getByRole('button', { name: 'Convert', exact: true }).click();
    await dlg.waitFor({ state: 'hidden', timeout: 60_000 });
    const info = JSON.parse((await cli(s.home, ['info', 'rawguest', '--json'])).stdout) as { config: { disks: { format: string }[] } };
    expect(info.config.disks[0]!.format).toBe('qcow2');
    expect(fs.existsSync(raw)).toBe(true);
    await page.getByRole('button', { name: 'Take the first snapshot' }).waitFor({ timeout: 20_000 });
    expect(await page.getByRole('button', { name: 'Take the first snapshot' }).isEnabled()).toBe(true);
    expect(s.consoleErrors).toEqual([]);
  });
});
