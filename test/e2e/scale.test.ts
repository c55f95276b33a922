/**
 * The Manager with thousands of VMs in web mode: the list stays a window onto the inventory
 * (a bounded number of rows in the DOM however many VMs there are), scrolling reaches the
 * last machine, selecting it shows its details, and the keyboard still walks the whole list.
 * The inventory is made through the core's API (no guest boots: the VMs are never started).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { connectOrHost } from '../../src/core/server/host';
import { cleanupHome, tempHome, testIso } from '../integration/helpers';
import { openWebSession, shotPath, type WebSession } from './harness';

const COUNT = 5000;
const GROUPS = 7;
const name = (i: number) => `vm-${String(i).padStart(4, '0')}`;
/** The list's order: groups by name, names in natural order within each. */
const ORDER = Array.from({ length: GROUPS }, (_, g) => Array.from({ length: COUNT }, (_, i) => i).filter((i) => i % GROUPS === g)).flat().map(name);
const FIRST = ORDER[0]!;
const LAST = ORDER[ORDER.length - 1]!;
/** Rows the window may hold at 800 px: the visible ones plus the overscan, far fewer than the VMs. */
const MAX_ROWS = 60;

describe(`the Manager with ${COUNT} VMs in web mode`, () => {
  let s: WebSession;
  let page: Page;
  const rows = () => page.locator('[role=listbox][aria-label="Virtual machines"] [role=option]');
  const list = () => page.getByRole('listbox', { name: 'Virtual machines' });

  beforeAll(async () => {
    const home = tempHome();
    const iso = testIso();
    // The inventory first, through an in-process core that then leaves; `nestbox serve` hosts the next one.
    const conn = await connectOrHost({ dataDir: home });
    try {
      for (let i = 0; i < COUNT; i += 10) {
        await Promise.all(
          Array.from({ length: Math.min(10, COUNT - i) }, (_, k) =>
            conn.client.call('vms.create', { name: name(i + k), osType: (i + k) % 3 ? 'linux-other' : 'windows-11', memoryMiB: 128, cpus: 1, noDisk: true, nic: 'none', iso, group: `group ${(i + k) % GROUPS}` }),
          ),
        );
      }
    } finally {
      await conn.close();
    }
    s = await openWebSession({ home });
    page = s.page;
    await page.getByRole('option', { name: FIRST, exact: true }).waitFor({ timeout: 60_000 });
  }, 600_000);
  afterAll(async () => {
    await s?.close();
    if (s) await cleanupHome(s.home);
  });

  it('shows every VM in the count and only a window of rows in the DOM', async () => {
    await expect.poll(() => page.getByText(`${COUNT.toLocaleString('en-US')} VMs`).count()).toBeGreaterThan(0);
    const n = await rows().count();
    expect(n).toBeGreaterThan(5);
    expect(n).toBeLessThanOrEqual(MAX_ROWS);
    // Every rendered row knows its place in the whole list, for screen readers.
    expect(await rows().first().getAttribute('aria-setsize')).toBe(String(COUNT));
    expect(s.consoleErrors).toEqual([]);
  });

  it('scrolling to the end reaches the last VM, and clicking it shows its details', async () => {
    await list().evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    const last = page.getByRole('option', { name: LAST, exact: true });
    await last.waitFor();
    expect(await last.getAttribute('aria-posinset')).toBe(String(COUNT));
    expect(await rows().count()).toBeLessThanOrEqual(MAX_ROWS);
    await page.getByRole('option', { name: FIRST, exact: true }).waitFor({ state: 'detached' });
    await last.click();
    await page.getByRole('heading', { name: LAST, exact: true }).waitFor();
    expect(await last.getAttribute('aria-selected')).toBe('true');
    await page.screenshot({ path: shotPath(`scale-${COUNT}-last`) });
  });

  it('the keyboard walks the whole list: Home, ArrowDown, End, ArrowUp, typeahead', async () => {
    await list().focus();
    await page.keyboard.press('Home');
    await page.getByRole('heading', { name: FIRST, exact: true }).waitFor();
    expect(await page.getByRole('option', { name: FIRST, exact: true }).getAttribute('aria-selected')).toBe('true');
    await page.keyboard.press('ArrowDown');
    await page.getByRole('heading', { name: ORDER[1]!, exact: true }).waitFor();
    await page.keyboard.press('End');
    await page.getByRole('heading', { name: LAST, exact: true }).waitFor();
    await page.keyboard.press('ArrowUp');
    const beforeLast = ORDER[ORDER.length - 2]!;
    await page.getByRole('heading', { name: beforeLast, exact: true }).waitFor();
    // The selected row is rendered (aria-activedescendant points at it) however far down it is.
    const active = await list().getAttribute('aria-activedescendant');
    expect(active).toBeTruthy();
    expect(await page.locator(`[id="${active}"]`).getAttribute('data-vm-name')).toBe(beforeLast);
    // Typeahead: a name in the middle of the inventory, in a group far from the current one.
    const target = name(1234);
    await page.keyboard.type(target, { delay: 20 });
    await page.getByRole('heading', { name: target, exact: true }).waitFor();
    expect(await rows().count()).toBeLessThanOrEqual(MAX_ROWS);
  });

  it('the search filters thousands down to the matches', async () => {
    await page.getByRole('searchbox', { name: 'Search VMs' }).fill('vm-24');
    // vm-2400 … vm-2499: a hundred matches, still windowed.
    await expect.poll(() => page.getByText(`100 of ${COUNT.toLocaleString('en-US')}`).count()).toBeGreaterThan(0);
    expect(await rows().count()).toBeLessThanOrEqual(MAX_ROWS);
    await page.screenshot({ path: shotPath(`scale-${COUNT}-search`) });
    await page.getByRole('searchbox', { name: 'Search VMs' }).fill('');
  });
});
