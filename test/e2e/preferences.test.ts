/**
 * Preferences (host-wide settings) in web mode: the snapshot and saved-state write speed is
 * set in the dialog and read back over the API, a value the core refuses shows the core's
 * message under the field, and the limit is lifted again with "Unlimited".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { RpcClient } from '../../src/core/api/rpc';
import { connectOrHost, type CoreConnection } from '../../src/core/server/host';
import { cleanupHome } from '../integration/helpers';
import { openWebSession, shotPath, type WebSession } from './harness';

describe('Preferences: snapshot and saved-state write speed', () => {
  let s: WebSession;
  let page: Page;
  let conn: CoreConnection;
  let client: RpcClient;

  beforeAll(async () => {
    s = await openWebSession();
    page = s.page;
    // The serve process hosts the core; the test joins it over its unix socket.
    conn = await connectOrHost({ dataDir: s.home });
    client = conn.client;
  });
  afterAll(async () => {
    await conn?.close();
    await s?.close();
    if (s) await cleanupHome(s.home);
  });

  const open = async () => {
    await page.getByRole('button', { name: 'Preferences', exact: true }).click();
    const dlg = page.getByRole('dialog', { name: 'Preferences' });
    await dlg.waitFor();
    return dlg;
  };

  it('sets a limit in the dialog, shows the core\'s refusal of a bad value, and the API reads the limit back', async () => {
    expect(await client.call('settings.get', { key: 'snapshotBandwidth' })).toBeNull();
    const dlg = await open();
    const group = dlg.getByRole('radiogroup', { name: 'Snapshot and saved-state write speed' });
    await expect.poll(() => group.getByRole('radio', { name: 'Unlimited' }).isChecked(), { timeout: 20_000 }).toBe(true);
    const field = dlg.getByRole('textbox', { name: 'Write speed' });
    expect(await field.isDisabled()).toBe(true);

    await group.getByRole('radio', { name: 'Limit to' }).check();
    await field.fill('0');
    await dlg.getByRole('button', { name: 'OK', exact: true }).click();
    // The core's own validation message, under the field; the dialog stays open and nothing changed.
    await dlg.getByText("snapshotBandwidth is a whole number of MiB per second (1 to 9999999), not '0'").waitFor({ timeout: 20_000 });
    expect(await field.getAttribute('aria-invalid')).toBe('true');
    await page.screenshot({ path: shotPath('60-preferences-refused') });
    expect(await client.call('settings.get', { key: 'snapshotBandwidth' })).toBeNull();

    await field.fill('24');
    await dlg.getByRole('button', { name: 'OK', exact: true }).click();
    await dlg.waitFor({ state: 'hidden', timeout: 20_000 });
    expect(await client.call('settings.get', { key: 'snapshotBandwidth' })).toBe('24');
    expect(s.consoleErrors).toEqual([]);
  });

  it('shows the limit when opened again, and "Unlimited" lifts it', async () => {
    const dlg = await open();
    const group = dlg.getByRole('radiogroup', { name: 'Snapshot and saved-state write speed' });
    const field = dlg.getByRole('textbox', { name: 'Write speed' });
    await expect.poll(() => field.inputValue(), { timeout: 20_000 }).toBe('24');
    expect(await group.getByRole('radio', { name: 'Limit to' }).isChecked()).toBe(true);
    await page.screenshot({ path: shotPath('61-preferences-limited') });

    await group.getByRole('radio', { name: 'Unlimited' }).check();
    await dlg.getByRole('button', { name: 'OK', exact: true }).click();
    await dlg.waitFor({ state: 'hidden', timeout: 20_000 });
    expect(await client.call('settings.get', { key: 'snapshotBandwidth' })).toBeNull();

    // Cancel keeps what is set.
    const again = await open();
    await expect.poll(() => again.getByRole('radio', { name: 'Unlimited' }).isChecked(), { timeout: 20_000 }).toBe(true);
    await again.getByRole('radio', { name: 'Limit to' }).check();
    await again.getByRole('textbox', { name: 'Write speed' }).fill('5');
    await again.getByRole('button', { name: 'Cancel', exact: true }).click();
    await again.waitFor({ state: 'hidden' });
    expect(await client.call('settings.get', { key: 'snapshotBandwidth' })).toBeNull();
    expect(s.consoleErrors).toEqual([]);
  });
});
