/**
 * Snapshots against a real guest: live with RAM (the guest continues from the snapshot's
 * memory in seconds), disk-only while off, branches after a restore, restoring a RAM
 * snapshot while off (the VM resumes from it on start), deleting with children re-parented.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { cleanupHome, cli, openCore, SerialSession, tempHome, testIso, waitForFile } from './helpers';

const NAME = 'snap-vm';

describe('snapshots', () => {
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;

  beforeAll(async () => {
    home = tempHome();
    ({ hosted, client } = await openCore(home));
    await client.call('vms.create', { name: NAME, osType: 'linux-other', memoryMiB: 256, cpus: 1, diskSize: '64M', iso: testIso() });
  });
  afterAll(async () => {
    await client.call('vms.powerOff', { ref: NAME }).catch(() => undefined);
    await hosted.close();
    await cleanupHome(home);
  });

  it('takes a live snapshot with RAM and returns to it from a later point in the running guest', async () => {
    const r = await client.call('vms.start', { ref: NAME });
    await waitForFile(r.vm.serialLog, /NESTBOX-GUEST-READY/);
    const serial = await SerialSession.open(client, NAME);
    await serial.run('export MARK=before-$((1+1)); echo SET-$MARK', /SET-before-2/);
    const states: string[] = [];
    const off = client.on('vm.state', (ev) => states.push(ev.state));
    const snap = await client.call('snapshots.take', { ref: NAME, name: 'Before', description: 'shell has MARK' });
    expect(snap.withRam).toBe(true);
    expect(snap.hasThumbnail).toBe(true);
    expect((await client.call('vms.info', { ref: NAME })).state).toBe('running');
    // The pause inside snapshot-save is not a user pause.
    expect(states).not.toContain('paused');

    await serial.run('export MARK=after-$((2+2)); echo SET-$MARK', /SET-after-4/);
    const t0 = Date.now();
    const restored = await client.call('snapshots.restore', { ref: NAME, id: 'Before' });
    const seconds = (Date.now() - t0) / 1000;
    off();
    expect(restored.vm.state).toBe('running');
    expect(seconds).toBeLessThan(60); // a liveness bound (the restore finished), not a performance claim: bench/ measures that
    const out = await serial.run('echo GOT-$MARK', /GOT-\w+-\d/);
    expect(out).toMatch(/GOT-before-2/);
    await serial.close();
    const thumb = await client.call('snapshots.thumbnail', { id: snap.id });
    expect(Buffer.from(thumb!.pngBase64, 'base64').subarray(1, 4).toString()).toBe('PNG');
  });

  it('branches the tree when a snapshot is taken after a restore', async () => {
    const b = await client.call('snapshots.take', { ref: NAME, name: 'Branch' });
    const list = await client.call('snapshots.list', { ref: NAME });
    const before = list.snapshots.find((s) => s.name === 'Before')!;
    expect(b.parentId).toBe(before.id);
    expect(list.current).toBe(b.id);
    const text = (await cli(home, ['snapshot', NAME, 'list'])).stdout;
    expect(text).toMatch(/^- Before/m);
    expect(text).toMatch(/^ {2}\* Branch/m);
  });

  it('takes a disk-only snapshot while off and restores the disk and the config of that time', async () => {
    await client.call('vms.powerOff', { ref: NAME });
    const off = await client.call('snapshots.take', { ref: NAME, name: 'Off' });
    expect(off.withRam).toBe(false);
    await client.call('vms.modify', { ref: NAME, changes: { memoryMiB: 320 } });
    const r = await client.call('snapshots.restore', { ref: NAME, id: 'Off' });
    expect(r.vm.memoryMiB).toBe(256);
    expect(r.vm.state).toBe('poweredOff');
  });

  it('restores a RAM snapshot while off: the VM is saved and resumes from that moment', async () => {
    const r = await client.call('snapshots.restore', { ref: NAME, id: 'Before' });
    expect(r.vm.state).toBe('saved');
    expect(r.vm.hasSavedState).toBe(true);
    const started = await client.call('vms.start', { ref: NAME });
    expect(started.vm.state).toBe('running');
    const serial = await SerialSession.open(client, NAME);
    const out = await serial.run('echo GOT-$MARK', /GOT-\w+-\d/);
    expect(out).toMatch(/GOT-before-2/);
    await serial.close();
    // A running VM's snapshot keeps its RAM in a file, fed to the new QEMU as an incoming stream.
    const log = fs.readFileSync(started.vm.qemuLog, 'utf8');
    expect(log).toMatch(/-incoming defer/);
    expect(log).not.toMatch(/-loadvm/);
  });

  it('deletes a snapshot in the middle of the tree, re-parenting its children, while running', async () => {
    const before = (await client.call('snapshots.list', { ref: NAME })).snapshots.find((s) => s.name === 'Before')!;
    const after = await client.call('snapshots.delete', { ref: NAME, id: before.id });
    expect(after.snapshots.map((s) => s.name).sort()).toEqual(['Branch', 'Off']);
    expect(after.snapshots.find((s) => s.name === 'Branch')!.parentId).toBeNull();
    await expect(client.call('snapshots.restore', { ref: NAME, id: 'Before' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // The children's data is intact: restoring Branch live still works.
    const r = await client.call('snapshots.restore', { ref: NAME, id: 'Branch' });
    expect(r.vm.state).toBe('running');
    await expect(client.call('snapshots.restore', { ref: NAME, id: 'Off' })).rejects.toThrow(/taken while .* was off/);
  });

  it('refuses disks that cannot hold snapshots, saying how to fix it', async () => {
    const nodisk = await client.call('vms.create', { name: 'no-disk', memoryMiB: 64, cpus: 1, noDisk: true });
    await expect(client.call('snapshots.take', { ref: nodisk.vm.uuid, name: 'x' })).rejects.toThrow(/no disk that can hold a snapshot/);
    const raw = `${home}/raw.img`;
    fs.writeFileSync(raw, Buffer.alloc(1024 * 1024));
    await client.call('vms.create', { name: 'raw-disk', memoryMiB: 64, cpus: 1, disk: raw });
    await expect(client.call('snapshots.take', { ref: 'raw-disk', name: 'x' })).rejects.toThrow(/is raw, which cannot hold snapshots; convert it to qcow2/);
  });
});
