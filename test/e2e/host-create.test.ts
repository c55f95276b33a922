/**
 * A VM created on a libvirt host from the New VM wizard in web mode, as a person does it, the
 * host reached over real SSH: "Create on" the host, the test ISO copied from this computer into the host's `default` pool
 * (an upload job whose progress shows in the wizard), a disk volume in that pool, NAT on the
 * host's `default` network; then listed under the host, started, its screen in the console,
 * its serial console in the xterm panel, and a live snapshot taken and restored from the
 * Snapshots view. The domain, its volumes and
 * its snapshot are checked with virsh on the host. One libvirt host, one guest (TCG).
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { volumeNameFor } from '../../src/core/domain/hostvolumes';
import type { LibvirtTestHost } from '../support/libvirt-hosts';
import { startTestHosts, until, virsh, type TestHosts } from '../support/host-setup';
import { cli, testIso } from '../integration/helpers';
import { openWebSession, shotPath, type WebSession } from './harness';

const NAME = 'wiz1';

/** How many distinct colours the console canvas shows (1: blank or one flat colour). */
function canvasColours(screen: Locator): Promise<number> {
  return screen
    .locator('canvas')
    .first()
    .evaluate((c: HTMLCanvasElement) => {
      const g = c.getContext('2d');
      if (!g || c.width === 0 || c.height === 0) return 0;
      const d = g.getImageData(0, 0, c.width, c.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < d.length && seen.size < 16; i += 4) seen.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
      return seen.size;
    });
}

/** Picks `option` in the MUI select named `label` inside `scope`. */
async function choose(page: Page, scope: Locator, label: string, option: string | RegExp): Promise<void> {
  await scope.getByRole('combobox', { name: label }).click();
  await page.getByRole('option', { name: option }).click();
}

describe('a VM created on a libvirt host from the wizard, in the web UI', () => {
  let setup: TestHosts;
  let h: LibvirtTestHost;
  let web: WebSession;

  beforeAll(async () => {
    testIso();
    // Reached over real SSH (key-only sshd in the host's namespaces), as users reach a host: the
    // console's VNC socket is forwarded through that connection.
    setup = await startTestHosts({ count: 1, sshHost: 0 });
    h = setup.hosts[0]!;
    // libvirt's stock NAT network, as a fresh install has it (the harness starts hosts without it).
    virsh(h.socketUri, 'net-start', 'default');
    web = await openWebSession();
    const r = await cli(web.home, ['host', 'add', 'alpha', h.sshUri!]);
    expect(r.code, r.stderr).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await web?.close();
    await setup?.stop([NAME]);
    if (web?.home) fs.rmSync(web.home, { recursive: true, force: true });
  }, 120_000);

  it('creates it from the wizard, starts it, shows its screen and serial console, takes and restores a snapshot', async () => {
    const page = web.page;
    let step = 'start';
    const at = (s: string) => {
      step = s;
      process.stderr.write(`e2e host-create: ${s}\n`);
    };
    try {
      await flow(page, at);
    } catch (err) {
      await page.screenshot({ path: shotPath(`host-create-failed-${step.replace(/\W+/g, '-')}`) }).catch(() => undefined);
      throw new Error(`at '${step}': ${(err as Error).message}`);
    }
  }, 900_000);

  async function flow(page: Page, at: (s: string) => void): Promise<void> {
    const vol = volumeNameFor(testIso());
    await page.locator('[data-host="alpha"][data-host-status="connected"]').waitFor({ timeout: 60_000 });

    at('wizard: name and host');
    await page.getByRole('button', { name: 'New', exact: true }).click();
    const wiz = page.getByRole('dialog', { name: 'Create Virtual Machine' });
    await wiz.waitFor();
    // A name libvirt refuses is caught on the first step once the host is chosen.
    await wiz.getByLabel('Name').fill('wiz one');
    await wiz.getByRole('combobox', { name: 'Type' }).click();
    await page.locator('li[role=option][data-value="other"]').click();
    await choose(page, wiz, 'Create on', /^alpha/);
    await expect.poll(() => wiz.getByRole('status').textContent()).toMatch(/no spaces/);
    await page.screenshot({ path: shotPath('host-create-wizard-create-on') });
    await wiz.getByLabel('Name').fill(NAME);
    expect(await wiz.getByLabel('Group (optional)').isDisabled()).toBe(true);
    await wiz.getByRole('button', { name: 'Next' }).click();

    at('wizard: host step');
    await wiz.getByRole('heading', { name: 'Storage, media and network on alpha' }).waitFor();
    await expect.poll(() => wiz.getByRole('combobox', { name: 'Storage pool' }).textContent(), { timeout: 30_000 }).toMatch(/^default — .* free of /);
    await wiz.getByRole('radio', { name: 'An ISO on this computer, copied to alpha' }).check();
    await wiz.getByLabel('ISO path on this computer').fill(testIso());
    // The copy's progress bar must show (however short the copy): watch for it from now on.
    await page.evaluate(() => {
      const w = window as unknown as { __sawCopy: boolean };
      w.__sawCopy = false;
      const seen = () => document.querySelector('[aria-label="Copy progress"]') !== null;
      new MutationObserver(() => {
        if (seen()) w.__sawCopy = true;
      }).observe(document.body, { subtree: true, childList: true });
    });
    await page.screenshot({ path: shotPath('host-create-wizard-host-step') });
    await wiz.getByRole('button', { name: 'Copy to alpha' }).click();
    await expect.poll(() => wiz.getByRole('combobox', { name: 'ISO volume' }).textContent(), { timeout: 120_000 }).toContain(`default/${vol}`);
    expect(await page.evaluate(() => (window as unknown as { __sawCopy: boolean }).__sawCopy)).toBe(true);
    expect(fs.statSync(`${h.imagesDir}/${vol}`).size).toBe(fs.statSync(testIso()).size);
    await page.screenshot({ path: shotPath('host-create-wizard-host-step-copied') });
    await wiz.getByRole('button', { name: 'Next' }).click();

    at('wizard: hardware');
    await wiz.getByRole('heading', { name: 'Hardware' }).waitFor();
    expect(await wiz.getByText(/Secure Boot and a TPM are set up for VMs on this computer only/).count()).toBe(1);
    await wiz.getByLabel('Memory (MiB)').fill('256');
    await wiz.getByLabel('CPUs').fill('1');
    await wiz.getByRole('button', { name: 'Next' }).click();

    at('wizard: disk');
    expect(await wiz.getByRole('radio', { name: 'Use an existing disk' }).isDisabled()).toBe(true);
    await wiz.getByLabel('Disk size (GiB)').fill('0.0625');
    await wiz.getByRole('button', { name: 'Next' }).click();

    at('wizard: summary');
    const summary = wiz.getByRole('table', { name: 'Summary' });
    await summary.waitFor();
    expect(await summary.textContent()).toMatch(new RegExp(`Created onHost alpha.*ISO imagedefault/${vol.replace(/\./g, '\\.')}.*New 64 MiB QCOW2 volume wiz1\\.qcow2 in pool default.*NAT on libvirt network default`));
    await page.screenshot({ path: shotPath('host-create-wizard-summary') });
    await wiz.getByRole('button', { name: 'Finish' }).click();
    await wiz.waitFor({ state: 'detached', timeout: 120_000 });

    at('listed under the host; the domain on the host');
    const row = page.locator(`[data-vm-name="${NAME}"][data-vm-host="alpha"]`);
    await row.waitFor({ timeout: 30_000 });
    const xml = virsh(h.socketUri, 'dumpxml', NAME);
    expect(xml).toMatch(/<source pool='default' volume='wiz1\.qcow2'\/>/);
    expect(xml).toContain(`<source pool='default' volume='${vol}'/>`);
    expect(xml).toMatch(/<source network='default'/);
    expect(xml).toMatch(/<memory unit='KiB'>262144<\/memory>/);
    expect(virsh(h.socketUri, 'vol-info', '--pool', 'default', 'wiz1.qcow2')).toMatch(/Capacity:\s+64\.00 MiB/);

    at('start');
    await row.click();
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await page.locator(`[data-vm-name="${NAME}"][data-vm-host="alpha"][data-vm-state="running"]`).waitFor({ timeout: 60_000 });
    expect(virsh(h.socketUri, 'domstate', NAME).trim()).toBe('running');

    at('console');
    await page.getByRole('button', { name: 'Console', exact: true }).click();
    const screen = page.getByRole('application', { name: `Screen of ${NAME}` });
    await screen.waitFor({ timeout: 20_000 });
    await page.locator('[data-screen-status="connected"]').waitFor({ timeout: 60_000 });
    await expect.poll(() => canvasColours(screen), { timeout: 120_000, interval: 1000 }).toBeGreaterThan(1);
    await page.screenshot({ path: shotPath('host-create-console') });

    at('serial console');
    // The guest's serial port on the host (a pty in the domain XML), reached through the same
    // SSH connection, in the same xterm.js panel as a local VM's.
    await page.getByRole('tab', { name: 'Serial', exact: true }).click();
    const term = page.getByRole('region', { name: `Serial console of ${NAME}` });
    await page.locator('[data-serial-status="connected"]').waitFor({ timeout: 30_000 });
    await term.locator('.xterm-helper-textarea').focus();
    const rows = term.locator('.xterm-rows');
    // The guest may still be booting (TCG): its shell comes up at the ready marker, and keys
    // typed before that are lost, so the command is typed again until its answer shows.
    await expect
      .poll(
        async () => {
          await page.keyboard.type(`echo host-serial-$((6*7))\n`);
          return rows.innerText();
        },
        { timeout: 180_000, interval: 5000 },
      )
      .toMatch(/host-serial-42/);
    await page.screenshot({ path: shotPath('host-create-serial') });
    await page.getByRole('button', { name: 'Close console' }).click();

    at('take a snapshot');
    await page.getByRole('tab', { name: /Snapshots/ }).click();
    await page.getByRole('button', { name: 'Take Snapshot', exact: true }).first().click();
    const take = page.getByRole('dialog', { name: `Take Snapshot of ${NAME}` });
    await take.getByRole('textbox', { name: 'Snapshot name' }).fill('s1');
    await take.getByRole('button', { name: 'Take', exact: true }).click();
    await take.waitFor({ state: 'hidden', timeout: 180_000 });
    const tree = page.getByRole('tree', { name: `Snapshots of ${NAME}` });
    await tree.getByRole('treeitem', { name: 's1' }).waitFor({ timeout: 30_000 });
    expect(virsh(h.socketUri, 'snapshot-list', NAME, '--name').trim()).toBe('s1');

    at('power off, then restore the live snapshot');
    await page.getByRole('button', { name: 'Power off', exact: true }).click();
    await until('the domain shut off', () => virsh(h.socketUri, 'domstate', NAME).trim() === 'shut off', 60_000);
    // The toolbar's operation ends (the row is no longer busy) before the snapshot actions come back.
    await page.locator(`[data-vm-name="${NAME}"][data-vm-host="alpha"][data-vm-state="poweredOff"]:not([aria-busy])`).waitFor({ timeout: 120_000 });
    await tree.getByRole('treeitem', { name: 's1' }).click();
    await page.getByRole('button', { name: 'Restore', exact: true }).first().click();
    const restore = page.getByRole('dialog', { name: "Restore snapshot 's1'?" });
    await restore.waitFor();
    const first = restore.getByRole('checkbox', { name: 'Take a snapshot of the current state first' });
    if (await first.count()) await first.uncheck();
    await restore.getByRole('button', { name: 'Restore', exact: true }).click();
    await restore.waitFor({ state: 'hidden', timeout: 180_000 });
    // A snapshot taken while running brings the guest back running, from its saved memory.
    await until('the domain running again', () => virsh(h.socketUri, 'domstate', NAME).trim() === 'running', 120_000);
    expect(virsh(h.socketUri, 'snapshot-current', NAME, '--name').trim()).toBe('s1');
    await page.locator(`[data-vm-name="${NAME}"][data-vm-host="alpha"][data-vm-state="running"]`).waitFor({ timeout: 60_000 });
    await page.screenshot({ path: shotPath('host-create-restored') });
    expect(web.consoleErrors.filter((e) => !/favicon|willReadFrequently/i.test(e))).toEqual([]);
  }
});
