/**
 * The UI reconnects by itself when the server and core behind it restart: the page keeps its
 * place, the running VM is found again (QEMU outlived the core), and its console works.
 */
import { describe, expect, it } from 'vitest';
import { cleanupHome, cli, testIso, waitForFile } from '../integration/helpers';
import { openWebSession, shotPath, startServe } from './harness';

describe('reconnecting after the core restarts', () => {
  it('shows the loss, reconnects on its own, and the console comes back', async () => {
    const s = await openWebSession();
    try {
      const page = s.page;
      expect((await cli(s.home, ['create', 'survivor', '--memory', '256', '--cpus', '1', '--no-disk', '--iso', testIso()])).code).toBe(0);
      const started = await cli(s.home, ['start', 'survivor']);
      expect(started.code, started.stderr).toBe(0);
      const info = JSON.parse((await cli(s.home, ['info', 'survivor', '--json'])).stdout);
      await waitForFile(info.serialLog, /NESTBOX-GUEST-READY/);
      const row = page.locator('[role=option][data-vm-name="survivor"][data-vm-state="running"]');
      await row.click();
      await page.getByRole('button', { name: 'Console', exact: true }).click();
      await page.locator('[data-screen-status="connected"]').waitFor({ timeout: 30_000 });

      // The server (and the core it hosts) goes away; the VM keeps running.
      const port = new URL(s.url).port;
      s.serve.kill('SIGTERM');
      await new Promise((r) => s.serve.once('exit', r));
      await page.getByText(/Lost the connection to the Nestbox core/).first().waitFor({ timeout: 15_000 });
      await page.screenshot({ path: shotPath('30-connection-lost') });
      const again = await startServe(s.home, Number(port));
      s.serve = again.child;
      // Same token (kept in the data directory), same port: the page needs no help.
      expect(new URL(again.url).searchParams.get('token')).toBe(new URL(s.url).searchParams.get('token'));
      await expect.poll(() => page.getByText(/Lost the connection to the Nestbox core/).count(), { timeout: 30_000 }).toBe(0);
      await row.waitFor({ timeout: 20_000 });
      await page.locator('[data-screen-status="connected"]').waitFor({ timeout: 30_000 });
      const after = JSON.parse((await cli(s.home, ['info', 'survivor', '--json'])).stdout);
      expect(after.runtime.pid).toBe(info.runtime.pid);
      await page.screenshot({ path: shotPath('31-reconnected') });
      await cli(s.home, ['poweroff', 'survivor']);
    } finally {
      await s.close();
      await cleanupHome(s.home);
    }
  });
});
