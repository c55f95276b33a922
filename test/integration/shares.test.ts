/**
 * Shared folders against real QEMU, the real virtiofsd and the test guest's virtiofs module
 * (one boot): a file written on the host appears in the guest and back; a read-only share
 * refuses the guest's writes; bad folders (missing, a file, a folder replaced by a symlink
 * out) are clear errors; Save state and a live snapshot are refused naming the share, with
 * nothing saved; virtiofsd outlives a core restart, is found again and ends with the VM.
 * With NESTBOX_VIRTIOFSD=none the same file proves the 9p fallback (QEMU serves the shares).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { vmFiles } from '../../src/core/store/paths';
import { cleanupHome, cli, expectError, giveToQemuUser, openCore, pidAlive, SerialSession, tempHome, testIso, waitForFile } from './helpers';

const NAME = 'share guest';
/** The 9p fallback instead of virtiofsd (NESTBOX_VIRTIOFSD=none, as on a host without it). */
const NINE_P = process.env['NESTBOX_VIRTIOFSD'] === 'none';
const MOUNT = NINE_P ? 'mount -t 9p -o trans=virtio,version=9p2000.L' : 'mount -t virtiofs';
const FS_TYPE = NINE_P ? '9p' : 'virtiofs';

function virtiofsdPids(runDir: string): number[] {
  return fs.readdirSync(runDir).filter((f) => /^vfs-.*\.pid$/.test(f)).map((f) => Number(fs.readFileSync(path.join(runDir, f), 'utf8').trim()));
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('shared folders in a real guest', () => {
  let home: string;
  let work: string;
  let rw: string;
  let ro: string;
  let hosted: HostedCore;
  let client: RpcClient;
  let serial: SerialSession;
  let runDir: string;

  beforeAll(async () => {
    home = tempHome();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-shares-'));
    rw = path.join(work, 'rw');
    ro = path.join(work, 'ro');
    fs.mkdirSync(rw);
    fs.mkdirSync(ro);
    fs.writeFileSync(path.join(ro, 'readme.txt'), 'read me, do not change me\n');
    if (NINE_P) {
      // QEMU opens the folders itself, as its unprivileged user when the tests run as root.
      fs.chmodSync(work, 0o755);
      giveToQemuUser(rw);
    }
    ({ hosted, client } = await openCore(home));
    await client.call('vms.create', { name: NAME, osType: 'linux-other', memoryMiB: 256, cpus: 1, noDisk: true, iso: testIso(), nic: 'none' });
  }, 60_000);
  afterAll(async () => {
    await serial?.close();
    await client.call('vms.powerOff', { ref: NAME }).catch(() => undefined);
    await hosted.close();
    await cleanupHome(home);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('refuses a missing folder, a file and a folder replaced by a symlink out; resolves a symlink it is given', async () => {
    await expectError(client.call('shares.add', { ref: NAME, path: path.join(work, 'nope') }), 'NOT_FOUND', /does not exist: .*nope/);
    fs.writeFileSync(path.join(work, 'a-file'), 'x');
    await expectError(client.call('shares.add', { ref: NAME, path: path.join(work, 'a-file') }), 'INVALID_ARGUMENT', /only a folder can be shared, and .*a-file is not one/);
    await expectError(client.call('shares.add', { ref: NAME, path: 'relative/dir' }), 'INVALID_ARGUMENT', /absolute path/);
    // A link the user points at is resolved once, and the result says what is stored.
    fs.symlinkSync(rw, path.join(work, 'link-to-rw'));
    fs.mkdirSync(path.join(work, 'later'));
    const viaLink = await client.call('shares.add', { ref: NAME, path: path.join(work, 'later'), tag: 'later' });
    expect(viaLink.vm.config.shares).toEqual([{ tag: 'later', path: path.join(work, 'later'), readOnly: false }]);
    await expectError(client.call('shares.add', { ref: NAME, path: path.join(work, 'link-to-rw'), tag: 'later' }), 'ALREADY_EXISTS', /tagged 'later'/);
    // The folder is then replaced by a symlink leading out (to /etc): the start refuses it.
    fs.rmdirSync(path.join(work, 'later'));
    fs.symlinkSync('/etc', path.join(work, 'later'));
    await expectError(client.call('vms.start', { ref: NAME }), 'INVALID_CONFIG', /'later' .* has been replaced by a symlink to \/etc; Nestbox shares only the folder that was added/);
    expect((await client.call('vms.info', { ref: NAME })).state).toBe('poweredOff');
    await client.call('shares.remove', { ref: NAME, tag: 'later' });
    // Through the CLI: the link is stored as the folder it leads to, and the warning says so.
    const add = await cli(home, ['share', NAME, 'add', path.join(work, 'link-to-rw'), '--tag', 'rw']);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain(`Sharing ${rw} with '${NAME}' as 'rw'`);
    expect(add.stderr).toContain(`the share is stored as ${rw}`);
    const addRo = await cli(home, ['share', NAME, 'add', ro, '--read-only']);
    expect(addRo.code, addRo.stderr).toBe(0);
    const list = await cli(home, ['share', NAME, 'list', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([
      { tag: 'rw', path: rw, readOnly: false },
      { tag: 'ro', path: ro, readOnly: true },
    ]);
  }, 120_000);

  it('boots with both shares; files cross both ways; the read-only share refuses writes', async () => {
    const r = await client.call('vms.start', { ref: NAME });
    runDir = hosted.core.layout.vmRunDir(r.vm.uuid);
    expect(virtiofsdPids(runDir)).toHaveLength(NINE_P ? 0 : 2);
    await waitForFile(r.vm.serialLog, /NESTBOX-GUEST-READY/, 180_000);
    serial = await SerialSession.open(client, NAME);
    const mounted = await serial.run(
      `mkdir -p /mnt/rw /mnt/ro; grep -q ' /mnt/rw ' /proc/mounts || ${MOUNT} rw /mnt/rw; grep -q ' /mnt/ro ' /proc/mounts || ${MOUNT} ro /mnt/ro; echo MNT$(grep -c ' ${FS_TYPE} ' /proc/mounts)X`,
      /MNT\d+X/,
      60_000,
    );
    expect(mounted).toMatch(/MNT2X/);

    // Host → guest.
    fs.writeFileSync(path.join(rw, 'from-host.txt'), 'hello from the host\n');
    const seen = await serial.run('cat /mnt/rw/from-host.txt; echo C$((2+3))X', /C5X/);
    expect(seen).toContain('hello from the host');

    // Guest → host.
    await serial.run('echo from-guest-$((6*7)) > /mnt/rw/from-guest.txt; sync; echo W$((3+4))X', /W7X/);
    await waitFor('the guest\'s file on the host', () => fs.existsSync(path.join(rw, 'from-guest.txt')));
    expect(fs.readFileSync(path.join(rw, 'from-guest.txt'), 'utf8')).toBe('from-guest-42\n');

    // Read-only: readable, but every kind of write is refused by the kernel.
    const roOut = await serial.run(
      'cat /mnt/ro/readme.txt; echo nope > /mnt/ro/new.txt; echo A$?; rm -f /mnt/ro/readme.txt; echo B$?; mkdir /mnt/ro/d; echo D$?; echo RO$((8+1))X',
      /RO9X/,
    );
    expect(roOut).toContain('read me, do not change me');
    expect(roOut).toMatch(/Read-only file system/);
    expect(roOut).toMatch(/A1/);
    expect(roOut).toMatch(/B1/);
    expect(roOut).toMatch(/D1/);
    expect(fs.readdirSync(ro)).toEqual(['readme.txt']);
    expect(fs.readFileSync(path.join(ro, 'readme.txt'), 'utf8')).toBe('read me, do not change me\n');
  }, 300_000);

  it('refuses Save state and a live snapshot naming the shares, and saves nothing', async () => {
    await expectError(client.call('vms.saveState', { ref: NAME }), 'INVALID_STATE', /cannot save the state of 'share guest' while it runs with shared folders 'rw', 'ro'.*Nothing was saved/);
    await expectError(client.call('snapshots.take', { ref: NAME, name: 'with share' }), 'INVALID_STATE', /cannot take a live snapshot of 'share guest' while it runs with shared folders 'rw', 'ro'/);
    const info = await client.call('vms.info', { ref: NAME });
    expect(info.state).toBe('running');
    expect(fs.existsSync(vmFiles(info.dir).savedState)).toBe(false);
    expect((await client.call('snapshots.list', { ref: NAME })).snapshots).toHaveLength(0);
    // The guest and its share are as they were.
    await serial.run('echo still > /mnt/rw/after.txt; echo S$((4+4))X', /S8X/);
    await waitFor('the file written after the refusals', () => fs.existsSync(path.join(rw, 'after.txt')));
    // A change while it runs is kept for the next start, and says so.
    const extra = fs.mkdtempSync(path.join(work, 'extra-'));
    const added = await client.call('shares.add', { ref: NAME, path: extra, tag: 'extra' });
    expect(added.warnings.join(' ')).toMatch(/running: the change applies at its next start/);
    await client.call('shares.remove', { ref: NAME, tag: 'extra' });
  }, 120_000);

  it('keeps serving across a core restart and ends virtiofsd with the VM', async () => {
    const pids = virtiofsdPids(runDir);
    await serial.close();
    await hosted.close();
    ({ hosted, client } = await openCore(home));
    for (const p of pids) expect(pidAlive(p)).toBe(true);
    // The new core still knows the VM runs with shares.
    await expectError(client.call('vms.saveState', { ref: NAME }), 'INVALID_STATE', /shared folders 'rw', 'ro'/);
    serial = await SerialSession.open(client, NAME);
    fs.writeFileSync(path.join(rw, 'after-restart.txt'), 'second core\n');
    const seen = await serial.run('cat /mnt/rw/after-restart.txt; echo R$((5+5))X', /R10X/);
    expect(seen).toContain('second core');
    await client.call('vms.powerOff', { ref: NAME });
    await waitFor('virtiofsd to end with the VM', () => pids.every((p) => !pidAlive(p)), 10_000);
    // Its socket and pidfile go once the core has seen it end (its stop polls every 50 ms), not
    // at the instant the process is gone: wait for that, as a user would see it.
    const leftovers = () => fs.readdirSync(runDir).filter((f) => f.startsWith('vfs-'));
    await waitFor('virtiofsd\'s socket and pidfile to be removed', () => leftovers().length === 0, 10_000).catch(() => undefined);
    expect(leftovers()).toEqual([]);
  }, 180_000);
});
