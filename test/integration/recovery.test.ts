/**
 * After QEMU dies, the VM's qcow2 disks are checked before the next start: a clean disk
 * starts, corruption is reported and not booted over, and nothing of the user's is lost.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { cleanupHome, openCore, tempHome, testIso, waitForFile, waitForState } from './helpers';

describe('recovery after QEMU dies', () => {
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;

  beforeAll(async () => {
    home = tempHome();
    ({ hosted, client } = await openCore(home));
  });
  afterAll(async () => {
    await hosted.close();
    await cleanupHome(home);
  });

  it('checks the disk, starts a clean one, and refuses a corrupt one with the reason', async () => {
    const r = await client.call('vms.create', { name: 'crashy', memoryMiB: 256, cpus: 1, diskSize: '64M', iso: testIso() });
    const started = await client.call('vms.start', { ref: 'crashy' });
    await waitForFile(started.vm.serialLog, /NESTBOX-GUEST-READY/);
    process.kill(started.vm.runtime!.pid, 'SIGKILL');
    await waitForState(client, 'crashy', 'aborted');

    // A clean disk passes the check and the VM starts again.
    const again = await client.call('vms.start', { ref: 'crashy' });
    expect(again.vm.state).toBe('running');
    process.kill(again.vm.runtime!.pid, 'SIGKILL');
    await waitForState(client, 'crashy', 'aborted');

    // Break the disk's L1 table: an unaligned L2 offset is corruption qemu-img reports.
    const disk = path.join(r.vm.dir, 'crashy.qcow2');
    const fd = fs.openSync(disk, 'r+');
    const header = Buffer.alloc(48);
    fs.readSync(fd, header, 0, 48, 0);
    const l1 = Number(header.readBigUInt64BE(40));
    const entry = Buffer.alloc(8);
    entry.writeBigUInt64BE(0x8000000000000201n);
    fs.writeSync(fd, entry, 0, 8, l1);
    fs.closeSync(fd);
    const size = fs.statSync(disk).size;

    await expect(client.call('vms.start', { ref: 'crashy' })).rejects.toThrow(/corrupt cluster\(s\) after QEMU died; it was not started/);
    const vm = await client.call('vms.info', { ref: 'crashy' });
    expect(vm.state).toBe('aborted');
    expect(vm.runtime).toBeNull();
    // Reported, not "repaired": the image is untouched.
    expect(fs.statSync(disk).size).toBe(size);
  });
});
