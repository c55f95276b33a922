/**
 * The console in web mode against the test guest: the canvas shows the guest's screen and
 * its pixels change from boot to shell, typing into the canvas reaches the guest, the Send
 * key menu's Ctrl+Alt+Del resets it, and the serial tab shows the shell and takes input.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { cleanupHome, cli, testIso, waitForFile } from '../integration/helpers';
import { openWebSession, shotPath, type WebSession } from './harness';

const NAME = 'Console Guest';

/** Types like a person on a US keyboard: noVNC sends physical keys, so Shift is pressed. */
async function typeKeys(page: Page, text: string): Promise<void> {
  const shifted: Record<string, string> = { $: 'Digit4', '(': 'Digit9', ')': 'Digit0', '*': 'Digit8', '>': 'Period', '+': 'Equal' };
  for (const ch of text) {
    if (shifted[ch]) await page.keyboard.press(`Shift+${shifted[ch]}`);
    else if (/[A-Z]/.test(ch)) await page.keyboard.press(`Shift+Key${ch}`);
    else if (ch === '\n') await page.keyboard.press('Enter');
    else await page.keyboard.type(ch);
  }
}

async function canvasPixels(screen: Locator): Promise<string> {
  return screen.locator('canvas').first().evaluate((c: HTMLCanvasElement) => c.toDataURL());
}

describe('the console in web mode', () => {
  let s: WebSession;
  let page: Page;
  let serialLog: string;

  beforeAll(async () => {
    s = await openWebSession();
    page = s.page;
    const r = await cli(s.home, ['create', NAME, '--os-type', 'linux-other', '--memory', '256', '--cpus', '1', '--no-disk', '--iso', testIso()]);
    expect(r.code, r.stderr).toBe(0);
    serialLog = JSON.parse((await cli(s.home, ['info', NAME, '--json'])).stdout).serialLog;
  });
  afterAll(async () => {
    await s?.close();
    if (s) await cleanupHome(s.home);
  });

  it("shows the guest's screen, which changes from boot to shell", async () => {
    await page.locator(`[role=option][data-vm-name="${NAME}"]`).click();
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await page.locator(`[role=option][data-vm-name="${NAME}"][data-vm-state="running"]`).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Console', exact: true }).click();
    const screen = page.getByRole('application', { name: `Screen of ${NAME}` });
    await screen.waitFor({ timeout: 20_000 });
    await page.locator('[data-screen-status="connected"]').waitFor({ timeout: 30_000 });
    const early = await canvasPixels(screen);
    await waitForFile(serialLog, /NESTBOX-GUEST-READY/);
    await expect.poll(() => canvasPixels(screen), { timeout: 20_000 }).not.toBe(early);
    await page.waitForTimeout(1500);
    await page.screenshot({ path: shotPath('20-console-screen') });
  });

  it('sends what is typed into the canvas to the guest', async () => {
    const screen = page.getByRole('application', { name: `Screen of ${NAME}` });
    await screen.click();
    await page.locator('[data-keyboard-captured="true"]').waitFor({ timeout: 10_000 });
    // The screen's shell is tty1; the command writes to the serial port, where we can read it.
    await typeKeys(page, '\necho canvas-$((6*7)) >/dev/ttyS0\n');
    await page.waitForTimeout(1500);
    await page.screenshot({ path: shotPath('21-console-typed') });
    await waitForFile(serialLog, /canvas-42/, 30_000);
  });

  it('resets the guest with Ctrl+Alt+Del from the Send key menu', async () => {
    const boots = (fs.readFileSync(serialLog, 'utf8').match(/NESTBOX-GUEST-READY/g) ?? []).length;
    await page.getByRole('button', { name: 'Send key', exact: true }).click();
    await page.screenshot({ path: shotPath('22-console-sendkey') });
    await page.getByRole('menuitem', { name: 'Ctrl+Alt+Del', exact: true }).click();
    await waitForFile(serialLog, /NESTBOX-GUEST-READY/, 90_000, boots + 1);
  });

  it('shows the shell in the serial tab and takes input there', async () => {
    await page.getByRole('tab', { name: 'Serial', exact: true }).click();
    const term = page.getByRole('region', { name: `Serial console of ${NAME}` });
    await page.locator('[data-serial-status="connected"]').waitFor({ timeout: 20_000 });
    await term.locator('.xterm-helper-textarea').focus();
    const rows = term.locator('.xterm-rows');
    for (let i = 0; i < 5; i++) {
      await page.keyboard.type(`echo serial-$((7*6))\n`);
      try {
        await expect.poll(() => rows.innerText(), { timeout: 4000 }).toMatch(/serial-42/);
        break;
      } catch {
        // a shell that has just started may have swallowed the first keys
      }
    }
    expect(await rows.innerText()).toMatch(/serial-42/);
    expect(await rows.innerText()).toMatch(/nestbox-guest/);
    await page.screenshot({ path: shotPath('23-console-serial') });
  });

  it('searches the serial log kept on disk', async () => {
    const search = page.getByRole('searchbox', { name: 'Search serial log' });
    await search.fill('NESTBOX-GUEST-READY');
    await search.press('Enter');
    await expect.poll(() => page.getByText('NESTBOX-GUEST-READY').count(), { timeout: 10_000 }).toBeGreaterThan(1);
  });

  it('logged no browser errors', async () => {
    await cli(s.home, ['poweroff', NAME]);
    expect(s.consoleErrors.filter((e) => !/willReadFrequently/.test(e))).toEqual([]);
  });
});
