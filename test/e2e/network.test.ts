/**
 * Port forwarding from Settings → Network in web mode, while the VM runs: add a rule to the
 * guest's web server and fetch its page through it, then remove the rule.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { cleanupHome, cli, testIso, waitForFile } from '../integration/helpers';
import { openWebSession, shotPath, type WebSession } from './harness';

const NAME = 'pfguest';

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

describe('port forwarding in web mode', () => {
  let s: WebSession;
  let page: Page;
  let port: number;

  beforeAll(async () => {
    s = await openWebSession();
    page = s.page;
    expect((await cli(s.home, ['create', NAME, '--os-type', 'linux-other', '--memory', '256', '--cpus', '1', '--no-disk', '--iso', testIso()])).code).toBe(0);
    expect((await cli(s.home, ['start', NAME])).code).toBe(0);
    const info = JSON.parse((await cli(s.home, ['info', NAME, '--json'])).stdout);
    await waitForFile(info.serialLog, /NESTBOX-NET-UP/);
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    port = (srv.address() as net.AddressInfo).port;
    await new Promise((r) => srv.close(r));
  });
  afterAll(async () => {
    await s?.close();
    if (s) await cleanupHome(s.home);
  });

  it('adds a rule while the VM runs and the guest answers through it, then removes it', async () => {
    await page.locator(`[role=option][data-vm-name="${NAME}"][data-vm-state="running"]`).click();
    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    const settings = page.getByRole('dialog', { name: `Settings \u2014 ${NAME}` });
    await settings.getByRole('tab', { name: 'Network', exact: true }).click();
    await settings.getByRole('button', { name: /Port Forwarding/ }).click();
    const dlg = page.getByRole('dialog', { name: `Port Forwarding Rules \u2014 ${NAME}` });
    await dlg.waitFor();
    await dlg.getByRole('button', { name: 'Add rule', exact: true }).click();
    const table = dlg.getByRole('table', { name: 'Port forwarding rules' });
    await table.getByRole('textbox', { name: 'Host Port' }).last().fill(String(port));
    await table.getByRole('textbox', { name: 'Guest Port' }).last().fill('80');
    await table.getByRole('button', { name: 'Save rule' }).last().click();
    await expect.poll(async () => get(port).catch(() => ''), { timeout: 20_000 }).toContain('nestbox test guest');
    await page.screenshot({ path: shotPath('50-port-forwarding') });
    const rules = JSON.parse((await cli(s.home, ['portforward', NAME, 'list', '--json'])).stdout) as { hostPort: number; guestPort: number }[];
    expect(rules).toEqual([expect.objectContaining({ hostPort: port, guestPort: 80 })]);

    await table.getByRole('button', { name: /^Remove rule / }).first().click();
    await expect.poll(async () => JSON.parse((await cli(s.home, ['portforward', NAME, 'list', '--json'])).stdout).length, { timeout: 10_000 }).toBe(0);
    await expect(get(port)).rejects.toThrow();
    expect(s.consoleErrors).toEqual([]);
    await cli(s.home, ['poweroff', NAME]);
  });
});
