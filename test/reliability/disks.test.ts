/**
 * Disks that are not where they should be: a VM whose disk file is missing is marked
 * inaccessible (kept in the list, refused at start with the file named), and a disk that
 * fills up while a VM is created leaves a clear NO_SPACE and nothing half made.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataLayout } from '../../src/core/store/paths';
import { cleanupHome, cli, openCore, tempHome } from '../integration/helpers';

type Hosted = Awaited<ReturnType<typeof openCore>>['hosted'];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected a refusal');
}

describe('a VM whose disk file is missing', () => {
  it('stays in the list marked inaccessible after a core start, and start names the missing file', async () => {
    const home = tempHome();
    cleanups.push(() => cleanupHome(home));
    let { hosted, client } = await openCore(home);
    const spec = { osType: 'linux-other', memoryMiB: 128, cpus: 1, diskSize: '64M', nic: 'none' } as const;
    await client.call('vms.create', { name: 'lost', ...spec });
    await client.call('vms.create', { name: 'fine', ...spec });
    const lost = await client.call('vms.info', { ref: 'lost' });
    const disk = path.join(lost.dir, lost.config.disks[0]!.file);
    expect(lost.inaccessible).toBeUndefined();
    await hosted.close();

    // The file goes away while no core runs (an unmounted drive, a user's rm).
    const moved = `${disk}.away`;
    fs.renameSync(disk, moved);
    ({ hosted, client } = await openCore(home));
    cleanups.push(() => (hosted as Hosted).close());

    const list = await client.call('vms.list', {});
    expect(list.map((v) => v.name).sort()).toEqual(['fine', 'lost']);
    expect(list.find((v) => v.name === 'lost')!.inaccessible).toBe(`disk 'disk0' is missing: ${disk}`);
    expect(list.find((v) => v.name === 'fine')!.inaccessible).toBeUndefined();
    expect((await client.call('vms.info', { ref: 'lost' })).inaccessible).toContain(disk);

    const err = await refusal(client.call('vms.start', { ref: 'lost' }));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain(disk);
    expect(err.message).toMatch(/inaccessible/);
    expect((await client.call('vms.info', { ref: 'lost' })).state).toBe('poweredOff');

    // The CLI shows it too.
    await hosted.close();
    cleanups.pop();
    const shown = await cli(home, ['list']);
    expect(shown.stdout).toMatch(/lost\s+.*\(inaccessible\)/);
    const info = await cli(home, ['info', 'lost']);
    expect(info.stdout).toContain(`inaccessible: disk 'disk0' is missing: ${disk}`);

    // Back in place: accessible again.
    fs.renameSync(moved, disk);
    ({ hosted, client } = await openCore(home));
    cleanups.push(() => (hosted as Hosted).close());
    expect((await client.call('vms.info', { ref: 'lost' })).inaccessible).toBeUndefined();
  });
});

describe('the disk fills up while a VM is created', () => {
  it('fails with NO_SPACE and leaves no folder, no row and no partial disk; the same name works once there is room', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a small tmpfs and needs root (CI runs as root)');
    const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'nbt-fullhome-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'nestbox-test', mnt]);
    cleanups.push(async () => {
      execFileSync('umount', [mnt]);
      fs.rmdirSync(mnt);
    });
    const { hosted, client } = await openCore(mnt);
    cleanups.push(() => hosted.close());
    const machines = new DataLayout(mnt).machinesDir;
    const before = fs.existsSync(machines) ? fs.readdirSync(machines) : [];

    // Fill what is left of the file system.
    const filler = path.join(mnt, 'filler');
    const fd = fs.openSync(filler, 'w');
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) fs.writeSync(fd, chunk);
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    for (;;) {
      try {
        fs.writeSync(fd, Buffer.alloc(512, 1));
      } catch {
        break;
      }
    }
    fs.closeSync(fd);

    const spec = { name: 'no-room', osType: 'linux-other', memoryMiB: 128, cpus: 1, diskSize: '64M', nic: 'none' } as const;
    const err = await refusal(client.call('vms.create', spec));
    expect(err.code).toBe('NO_SPACE');
    expect(err.message).toMatch(/not enough space on the disk holding .* to create 'no-room'.*nothing was kept/);
    const uefi = await refusal(client.call('vms.create', { ...spec, name: 'no-room-uefi', firmware: 'uefi', diskSize: undefined, noDisk: true }));
    expect(uefi.code).toBe('NO_SPACE');

    expect(await client.call('vms.list', {})).toEqual([]);
    expect(fs.existsSync(machines) ? fs.readdirSync(machines) : []).toEqual(before);

    // Room again: the same names are free.
    fs.rmSync(filler);
    await client.call('vms.create', spec);
    const made = await client.call('vms.info', { ref: 'no-room' });
    expect(fs.existsSync(path.join(made.dir, made.config.disks[0]!.file))).toBe(true);
  });
});
