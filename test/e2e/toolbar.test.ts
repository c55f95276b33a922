/**
 * The Manager's toolbar in a narrow window: every button is inside the window (none runs off
 * the right edge); when they do not all fit, the host-wide tools fold into "More", from which
 * they still open. No VM is booted: this is about layout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { cleanupHome } from '../integration/helpers';
import { openWebSession, shotPath, type WebSession } from './harness';

describe('toolbar at desktop window widths', () => {
  let s: WebSession;
  let page: Page;

  beforeAll(async () => {
    s = await openWebSession();
    page = s.page;
    await page.getByRole('toolbar', { name: 'Machine actions' }).waitFor();
  });
  afterAll(async () => {
    await s?.close();
    if (s) await cleanupHome(s.home);
  });

  /** Each toolbar button's accessible name and right edge, once the layout has settled. */
  const buttons = async (width: number, height: number) => {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(500);
    await page.screenshot({ path: shotPath(`toolbar-${width}`) });
    return page
      .getByRole('toolbar', { name: 'Machine actions' })
      .getByRole('button')
      .evaluateAll((bs) => bs.map((b) => ({ name: b.getAttribute('aria-label') ?? '', right: b.getBoundingClientRect().right })));
  };

  it('shows every tool at 1600 px and 1280 px, each inside the window', async () => {
    for (const width of [1600, 1280]) {
      const list = await buttons(width, 800);
      expect(list.map((b) => b.name)).toEqual(expect.arrayContaining(['New', 'Start', 'Media Manager', 'Network Manager', 'Activity', 'Preferences']));
      for (const b of list) expect(b.right, `${b.name} at ${width} px`).toBeLessThanOrEqual(width);
    }
  });

  it('folds the host-wide tools into More at 1024 px, and Preferences opens from there', async () => {
    const list = await buttons(1024, 768);
    const names = list.map((b) => b.name);
    expect(names).toEqual(expect.arrayContaining(['New', 'Start', 'Shut down', 'Delete', 'More tools']));
    expect(names).not.toContain('Preferences');
    for (const b of list) expect(b.right, `${b.name} at 1024 px`).toBeLessThanOrEqual(1024);
    await page.getByRole('button', { name: 'More tools' }).click();
    await page.getByRole('menuitem', { name: 'Preferences' }).click();
    await page.getByRole('dialog', { name: 'Preferences' }).waitFor();
    await page.screenshot({ path: shotPath('toolbar-1024-preferences') });
    await page.keyboard.press('Escape');
    await page.getByRole('dialog', { name: 'Preferences' }).waitFor({ state: 'hidden' });
    // Wide again, the tools come back out of the menu.
    expect((await buttons(1600, 900)).map((b) => b.name)).toContain('Preferences');
  });
});
