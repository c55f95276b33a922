/**
 * Web mode: machines of other managers whose disks are separate files, imported from the
 * browser. A VirtualBox .vbox dropped together with its VDI, and a UTM .utm folder chosen
 * with Import → Choose a folder…, are uploaded into one folder of their own on the host (in
 * the layout the descriptor names), the same import dialog shows the core's plan, and the VM
 * is made with the source's hardware; the .vbox's guest boots. A domain XML chosen with its
 * disk finds that disk among the uploaded files by name. A .vbox dropped without its
 * disk is refused naming the missing file. Every upload folder is gone once its dialog closes.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { VmInfo } from '../../src/core/api/contract';
import { domainXml, utmPlist, vboxXml } from '../support/foreign-fixtures';
import { uuidOfVdi } from '../support/vdi';
import { cleanupHome, cli, testIso, waitForFile } from '../integration/helpers';
import { dropFile, openWebSession, shotPath, type WebSession } from './harness';

function row(page: Page, name: string, state?: string) {
  const sel = state ? `[role=option][data-vm-name="${name}"][data-vm-state="${state}"]` : `[role=option][data-vm-name="${name}"]`;
  return page.locator(sel);
}

async function settle(page: Page): Promise<void> {
  await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running'));
}

describe('importing a machine with its disks from the browser (web mode)', () => {
  let s: WebSession;
  let page: Page;
  let work: string;
  let raw: string;
  const uploadFolders = () => (fs.existsSync(path.join(s.home, 'media')) ? fs.readdirSync(path.join(s.home, 'media')).filter((n) => n.startsWith('.import-')) : []);
  const info = async (name: string): Promise<VmInfo> => {
    const r = await cli(s.home, ['info', name, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as VmInfo;
  };

  beforeAll(async () => {
    s = await openWebSession();
    page = s.page;
    work = fs.mkdtempSync(path.join(s.home, 'work-'));
    raw = path.join(work, 'guest.img');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', testIso(), raw]);
    await page.getByRole('button', { name: 'New', exact: true }).waitFor({ timeout: 20_000 });
  });
  afterAll(async () => {
    for (const name of ['Web Desk']) await cli(s.home, ['poweroff', name]).catch(() => undefined);
    await s?.close();
    if (s) await cleanupHome(s.home);
  });

  it('a .vbox dropped without its disk is refused naming the missing file, and says to add it', async () => {
    const folder = path.join(work, 'Lonely');
    fs.mkdirSync(folder);
    const vdi = path.join(folder, 'Lonely.vdi');
    execFileSync('qemu-img', ['create', '-f', 'vdi', vdi, '16M']);
    const vbox = path.join(folder, 'Lonely.vbox');
    fs.writeFileSync(vbox, vboxXml({ name: 'Lonely', location: 'Lonely.vdi', format: 'VDI', baseUuid: uuidOfVdi(vdi) }));
    await dropFile(page, vbox);
    const dialog = page.getByRole('dialog', { name: 'Import Appliance' });
    await dialog.waitFor({ timeout: 30_000 });
    await dialog.getByText(/'Lonely\.vdi', which is not in the \.vbox file's folder/).waitFor({ timeout: 60_000 });
    await dialog.getByRole('note').filter({ hasText: 'Lonely.vbox names a file that was not uploaded with it' }).waitFor();
    expect(await dialog.getByRole('button', { name: 'Import', exact: true }).isEnabled()).toBe(false);
    // Uploaded meanwhile into a folder of its own, which goes with the dialog.
    expect(uploadFolders()).toHaveLength(1);
    await settle(page);
    await page.screenshot({ path: shotPath('import-upload-01-missing-disk') });
    await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(uploadFolders, { timeout: 20_000 }).toEqual([]);
    expect(await row(page, 'Lonely').count()).toBe(0);
    expect(s.consoleErrors).toEqual([]);
  });

  it('a .vbox dropped with its VDI shows the plan, imports with its hardware, and the guest boots', async () => {
    const hostPort = 20000 + ((process.pid + 7) % 20000);
    const folder = path.join(work, 'Web Desk');
    fs.mkdirSync(folder);
    const vdi = path.join(folder, 'Web Desk.vdi');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vdi', raw, vdi]);
    const vbox = path.join(folder, 'Web Desk.vbox');
    fs.writeFileSync(vbox, vboxXml({ name: 'Web Desk', location: 'Web Desk.vdi', format: 'VDI', baseUuid: uuidOfVdi(vdi), mac: '080027C0FFEE', hostPort }));
    await dropFile(page, [vbox, vdi]);
    // One dialog for the machine: its disk is part of it, not a disk image of its own.
    const dialog = page.getByRole('dialog', { name: 'Import Appliance' });
    await dialog.waitFor({ timeout: 30_000 });
    await dialog.getByText(/Web Desk\.vbox.*with 1 more file/).waitFor();
    const plan = dialog.getByRole('table', { name: 'What will be created' });
    await plan.waitFor({ timeout: 120_000 });
    const planText = (await plan.textContent()) ?? '';
    expect(planText).toMatch(/From.*VirtualBox/);
    expect(planText).toMatch(/Web Desk\.vdi/);
    expect(planText).toMatch(/MAC 08:00:27:c0:ff:ee/i);
    await dialog.getByRole('note').filter({ hasText: 'Uploaded to the host with its 2 files (Web Desk.vbox, Web Desk.vdi)' }).waitFor();
    expect(await dialog.getByRole('textbox', { name: 'Name', exact: true }).inputValue()).toBe('Web Desk');
    expect(uploadFolders()).toHaveLength(1);
    await settle(page);
    await page.screenshot({ path: shotPath('import-upload-02-vbox-plan') });
    await dialog.getByRole('button', { name: 'Import', exact: true }).click();
    await dialog.waitFor({ state: 'hidden', timeout: 180_000 });
    await row(page, 'Web Desk', 'poweredOff').waitFor({ timeout: 20_000 });
    // No second dialog for the VDI, and the upload folder went once the disk was copied.
    expect(await page.getByRole('dialog').count()).toBe(0);
    await expect.poll(uploadFolders, { timeout: 20_000 }).toEqual([]);
    const vm = await info('Web Desk');
    expect(vm.config).toMatchObject({ firmware: 'bios', machine: 'q35', memoryMiB: 256, bootOrder: ['disk', 'cdrom'] });
    expect(vm.config.disks.map((d) => [d.bus, d.format])).toEqual([['sata', 'qcow2']]);
    expect(vm.config.nics[0]).toMatchObject({ model: 'e1000', mac: '08:00:27:c0:ff:ee', mode: 'nat', forwards: [{ name: 'ssh', hostPort, guestPort: 22 }] });
    execFileSync('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', raw, path.join(vm.dir, vm.config.disks[0]!.file)]);
    const started = await cli(s.home, ['start', 'Web Desk']);
    expect(started.code, started.stderr).toBe(0);
    await waitForFile(path.join(vm.dir, 'logs', 'serial.log'), /NESTBOX-GUEST-READY/, 170_000);
    await cli(s.home, ['poweroff', 'Web Desk']);
    expect(s.consoleErrors).toEqual([]);
  });

  it('a domain XML chosen with Import → Choose files… together with its disk: the disk named by a path of another host is found among the uploaded files', async () => {
    const qcow = path.join(work, 'web-dom.qcow2');
    execFileSync('qemu-img', ['create', '-f', 'qcow2', qcow, '32M']);
    const xml = path.join(work, 'web-dom.xml');
    fs.writeFileSync(xml, domainXml({ name: 'web-dom', disk: '/var/lib/libvirt/images/web-dom.qcow2', diskFormat: 'qcow2', bus: 'sata', mac: '52:54:00:0d:0e:0f', memoryKiB: 393216, vcpus: 2 }));
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    const chooser = page.getByRole('dialog', { name: 'Import', exact: true });
    await chooser.waitFor();
    await chooser.getByTestId('import-files').setInputFiles([xml, qcow]);
    const dialog = page.getByRole('dialog', { name: 'Import Appliance' });
    await dialog.waitFor({ timeout: 30_000 });
    const plan = dialog.getByRole('table', { name: 'What will be created' });
    await plan.waitFor({ timeout: 120_000 });
    const planText = (await plan.textContent()) ?? '';
    expect(planText).toMatch(/From.*libvirt/);
    expect(planText).toMatch(/web-dom\.qcow2 \(qcow2, SATA, copied as QCOW2\)/);
    await dialog.getByRole('button', { name: 'Import', exact: true }).click();
    await dialog.waitFor({ state: 'hidden', timeout: 180_000 });
    await row(page, 'web-dom', 'poweredOff').waitFor({ timeout: 20_000 });
    await expect.poll(uploadFolders, { timeout: 20_000 }).toEqual([]);
    const vm = await info('web-dom');
    expect(vm.config).toMatchObject({ memoryMiB: 384, cpus: 2 });
    expect(vm.config.disks.map((d) => [d.bus, d.format])).toEqual([['sata', 'qcow2']]);
    expect(vm.config.nics.map((n) => n.mac)).toEqual(['52:54:00:0d:0e:0f']);
    // The libvirt host's path was never touched: only the upload was read.
    expect(fs.existsSync('/var/lib/libvirt/images/web-dom.qcow2')).toBe(false);
    expect(s.consoleErrors).toEqual([]);
  });

  it('a .utm folder chosen with Import → Choose a folder… uploads in its layout and imports with its hardware', async () => {
    const bundle = path.join(work, 'Folder UTM.utm');
    fs.mkdirSync(path.join(bundle, 'Data'), { recursive: true });
    const image = 'C4D5E6F7-0819-4A2B-9C3D-4E5F60718293.qcow2';
    execFileSync('qemu-img', ['create', '-f', 'qcow2', path.join(bundle, 'Data', image), '64M']);
    fs.writeFileSync(
      path.join(bundle, 'config.plist'),
      utmPlist({ name: 'Folder UTM', uefi: false, memoryMiB: 384, cpus: 2, nicHardware: 'e1000e', mac: '3A:5C:11:7E:20:99', drives: [{ type: 'CD', iface: 'IDE' }, { type: 'Disk', iface: 'VirtIO', image }] }),
    );
    // What UTM keeps beside the machine and no import reads stays behind.
    fs.writeFileSync(path.join(bundle, 'screenshot.png'), Buffer.alloc(1024, 9));
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    const chooser = page.getByRole('dialog', { name: 'Import', exact: true });
    await chooser.waitFor();
    await settle(page);
    await page.screenshot({ path: shotPath('import-upload-03-chooser') });
    await chooser.getByTestId('import-folder').setInputFiles(bundle);
    await chooser.waitFor({ state: 'hidden' });
    const dialog = page.getByRole('dialog', { name: 'Import Appliance' });
    await dialog.waitFor({ timeout: 30_000 });
    const plan = dialog.getByRole('table', { name: 'What will be created' });
    await plan.waitFor({ timeout: 120_000 });
    expect((await plan.textContent()) ?? '').toMatch(/From.*UTM/);
    // The folder is the source: its files are counted, not called "more" files beside it.
    await dialog.getByText(/Folder UTM\.utm \(2 files, /).waitFor();
    await dialog.getByRole('note').filter({ hasText: `Folder UTM.utm/Data/${image}` }).waitFor();
    expect(await dialog.getByRole('note').filter({ hasText: 'screenshot.png' }).count()).toBe(0);
    const folders = uploadFolders();
    expect(folders).toHaveLength(1);
    const uploaded = path.join(s.home, 'media', folders[0]!, 'Folder UTM.utm');
    expect(fs.readdirSync(uploaded).sort()).toEqual(['Data', 'config.plist']);
    expect(fs.readdirSync(path.join(uploaded, 'Data'))).toEqual([image]);
    await settle(page);
    await page.screenshot({ path: shotPath('import-upload-04-utm-plan') });
    await dialog.getByRole('button', { name: 'Import', exact: true }).click();
    await dialog.waitFor({ state: 'hidden', timeout: 180_000 });
    await row(page, 'Folder UTM', 'poweredOff').waitFor({ timeout: 20_000 });
    await expect.poll(uploadFolders, { timeout: 20_000 }).toEqual([]);
    const vm = await info('Folder UTM');
    expect(vm.config).toMatchObject({ firmware: 'bios', machine: 'q35', memoryMiB: 384, cpus: 2, bootOrder: ['cdrom', 'disk'] });
    expect(vm.config.disks.map((d) => [d.bus, d.format])).toEqual([['virtio', 'qcow2']]);
    expect(vm.config.nics.map((n) => [n.model, n.mac, n.mode])).toEqual([['e1000e', '3a:5c:11:7e:20:99', 'nat']]);
    expect(s.consoleErrors).toEqual([]);
  });
});
