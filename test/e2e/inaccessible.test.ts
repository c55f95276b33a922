/**
 * A VM whose disk file is missing, in web mode: the list marks it inaccessible and its
 * details say which file is missing; Start is refused with that file named.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../src/core/api/contract';
import { cleanupHome, cli, tempHome } from '../integration/helpers';
import { openWebSession, shotPath, type WebSession } from './harness';

describe('an inaccessible VM in the manager', () => {
  let s: WebSession;
  let disk: string;

  beforeAll(async () => {
    const home = tempHome();
    expect((await cli(home, ['create', 'gone-disk', '--os-type', 'linux-other', '--memory', '128', '--cpus', '1', '--disk-size', '32M'])).code).toBe(0);
    const vm = JSON.parse((await cli(home, ['info', 'gone-disk', '--json'])).stdout) as VmInfo;
    disk = path.join(vm.dir, vm.config.disks[0]!.file);
    fs.rmSync(disk);
    s = await openWebSession({ home });
  });
  afterAll(async () => {
    await s?.close();
    if (s) await cleanupHome(s.home);
  });

  it('marks it in the list and names the missing file in the details', async () => {
    const row = s.page.locator('[role=option][data-vm-name="gone-disk"]');
    await expect.poll(async () => row.textContent()).toContain('Inaccessible');
    await row.click();
    const alert = s.page.getByTestId('vm-inaccessible');
    await alert.waitFor();
    expect(await alert.textContent()).toContain(disk);
    await s.page.screenshot({ path: shotPath('inaccessible-details') });
    expect(s.consoleErrors).toEqual([]);
  });
});
