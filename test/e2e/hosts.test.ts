/**
 * libvirt hosts in the web UI, as a person uses it: add two hosts in the Add Host dialog,
 * see a host's VM listed under its host, start it from the toolbar and migrate it with the
 * Migrate dialog; real libvirt daemons, real QEMU (TCG), Debian's Chromium.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LibvirtTestHost } from '../support/libvirt-hosts';
import { defineTestGuest, startTestHosts, virsh, type TestHosts } from '../support/host-setup';
import { testIso } from '../integration/helpers';
import { openWebSession, shotPath, type WebSession } from './harness';

describe('libvirt hosts in the web UI', () => {
  let setup: TestHosts;
  let a: LibvirtTestHost;
  let b: LibvirtTestHost;
  let web: WebSession;

  beforeAll(async () => {
    testIso();
    setup = await startTestHosts({ count: 2, sshHost: -1 });
    a = setup.hosts[0]!;
    b = setup.hosts[1]!;
    defineTestGuest(a, 'web', testIso());
    web = await openWebSession();
  });

  afterAll(async () => {
    await web?.close();
    await setup?.stop(['web']);
    if (web?.home) fs.rmSync(web.home, { recursive: true, force: true });
  }, 120_000);

  async function addHost(name: string, h: LibvirtTestHost): Promise<void> {
    const page = web.page;
    await page.getByRole('button', { name: 'Add host' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Add a libvirt host' });
    await dialog.getByLabel('Name').fill(name);
    await dialog.getByRole('button', { name: /Advanced/ }).click();
    await dialog.getByLabel('URI', { exact: true }).fill(h.socketUri);
    await dialog.getByLabel('Peer URI (for migration)').fill(h.socketUri);
    await dialog.getByLabel('Migration address').fill(h.migrateAddr);
    await dialog.getByRole('button', { name: 'Add host' }).click();
    await dialog.waitFor({ state: 'detached', timeout: 60_000 });
    await page.locator(`[data-host="${name}"][data-host-status="connected"]`).waitFor({ timeout: 60_000 });
  }

  it('adds hosts in the dialog, lists a host’s VM under it, starts it and migrates it', async () => {
    const page = web.page;
    let step = 'start';
    const at = (s: string) => {
      step = s;
      process.stderr.write(`e2e hosts: ${s}\n`);
    };
    try {
      await flow(at);
    } catch (err) {
      await page.screenshot({ path: shotPath(`hosts-failed-${step.replace(/\W+/g, '-')}`) }).catch(() => undefined);
      throw new Error(`at '${step}': ${(err as Error).message}`);
    }
  }, 600_000);

  async function flow(at: (s: string) => void): Promise<void> {
    const page = web.page;
    at('bad name');
    // A wrong URI is refused in the dialog before anything is sent.
    await page.getByRole('button', { name: 'Add host' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Add a libvirt host' });
    await dialog.getByLabel('Name').fill('bad;name');
    await expect.poll(() => dialog.getByText(/not a valid host name/).count()).toBeGreaterThan(0);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });

    at('add alpha');
    await addHost('alpha', a);
    at('add beta');
    await addHost('beta', b);
    at('listed');
    const line = page.locator('[data-host="alpha"] [data-testid="host-line"]');
    await expect.poll(() => line.textContent()).toMatch(/Connected · libvirt \d+\.\d+.* · QEMU \d+\.\d+.* CPU/);
    const row = page.locator('[data-vm-name="web"][data-vm-host="alpha"]');
    await row.waitFor({ timeout: 30_000 });
    await page.screenshot({ path: shotPath('hosts-listed') });

    at('start');
    await row.click();
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await page.locator('[data-vm-name="web"][data-vm-host="alpha"][data-vm-state="running"]').waitFor({ timeout: 60_000 });
    expect(virsh(a.socketUri, 'domstate', 'web').trim()).toBe('running');

    at('migrate');
    await page.getByRole('button', { name: 'Migrate', exact: true }).click();
    const mig = page.getByRole('dialog', { name: /Migrate 'web' from alpha/ });
    await mig.getByLabel('The storage is shared (both hosts see the disks)').check();
    await mig.getByRole('button', { name: 'Migrate', exact: true }).click();
    const result = mig.getByTestId('migrate-result');
    await result.waitFor({ timeout: 240_000 });
    expect(await result.textContent()).toMatch(/Migrated to beta in \d+\.\d s; downtime (\d+ ms|not reported)/);
    await page.screenshot({ path: shotPath('hosts-migrated') });
    await mig.getByRole('button', { name: 'Close' }).click();
    await page.locator('[data-vm-name="web"][data-vm-host="beta"][data-vm-state="running"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-vm-name="web"][data-vm-host="alpha"]').count()).toBe(0);
    expect(virsh(b.socketUri, 'domstate', 'web').trim()).toBe('running');
    expect(web.consoleErrors.filter((e) => !/favicon/i.test(e))).toEqual([]);
  }
});
