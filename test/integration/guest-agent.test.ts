/**
 * The guest agent against real QEMU and the real qemu-ga in the test guest (one VM): addresses
 * of two adapters, network counters without mirroring; a live snapshot taken during heavy
 * writes to ext4 on the VM's disk frozen through the agent (consistent: its disks alone check
 * clean with e2fsck, and the guest restored from it is thawed), and one with a hung agent
 * (SIGSTOP) that completes within the limit, not frozen, leaving the guest writable; and Shut
 * down of a guest that ignores ACPI succeeding through the agent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RpcClient } from '../../src/core/api/rpc';
import type { VmInfo } from '../../src/core/api/contract';
import type { HostedCore } from '../../src/core/server/host';
import { FREEZE_LIMITS } from '../../src/core/services/quiesce';
import { cleanupHome, openCore, SerialSession, tempHome, testIso, waitForFile } from './helpers';

const NAME = 'agent guest';

describe('the guest agent in a real guest', () => {
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;

  beforeAll(async () => {
    home = tempHome();
    ({ hosted, client } = await openCore(home));
    await client.call('vms.create', { name: NAME, osType: 'linux-other', memoryMiB: 256, cpus: 1, diskSize: '64M', iso: testIso(), nic: 'nat' });
    await client.call('network.addNic', { ref: NAME, spec: { mode: 'nat', model: 'e1000', natNetwork: '10.0.3.0/24' } });
    const r = await client.call('vms.start', { ref: NAME });
    await waitForFile(r.vm.serialLog, /NESTBOX-NET-UP 10\.0\.3\.15/, 180_000);
  }, 240_000);
  afterAll(async () => {
    await client.call('vms.powerOff', { ref: NAME }).catch(() => undefined);
    await hosted.close();
    await cleanupHome(home);
  });

  it('reports the OS, host name and both adapters\' addresses, with counters from the agent', async () => {
    let info: VmInfo | undefined;
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      info = await client.call('vms.info', { ref: NAME });
      const addrs = info.guestAgent?.interfaces.flatMap((i) => i.addresses) ?? [];
      if (addrs.includes('10.0.2.15/24') && addrs.includes('10.0.3.15/24') && info.guestAgent?.hostName) break;
      await sleep(1000);
    }
    expect(info?.config.guestAgent).toBe(true);
    expect(info?.guestAgent?.connected).toBe(true);
    expect(info?.guestAgent?.hostName).toBe('nestbox-guest');
    expect(info?.guestAgent?.os?.prettyName).toBe('Nestbox test guest 1.0');
    const byMac = new Map(info!.guestAgent!.interfaces.map((i) => [i.mac, i.addresses]));
    expect(byMac.get(info!.config.nics[0]!.mac)).toContain('10.0.2.15/24');
    expect(byMac.get(info!.config.nics[1]!.mac)).toContain('10.0.3.15/24');
    await sleep(6000); // one more poll, so the sampler has the agent's counters
    const recent = await client.call('stats.recent', { ref: NAME });
    const last = recent.at(-1)!;
    expect(last.nics).toHaveLength(2);
    for (const n of last.nics) expect(n.available, n.reason).toBe(true);
  }, 120_000);

  /** Whether the agent answers (the watch polls every 5 s while it does). */
  const agentAnswers = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await client.call('vms.info', { ref: NAME })).guestAgent?.connected) return;
      await sleep(1000);
    }
    throw new Error(`the guest agent of '${NAME}' did not answer within ${timeoutMs} ms`);
  };
  /** ext4 on the VM's disk, mounted at /mnt/d (made once; typed again until its marker shows). */
  const MOUNT = "grep -q ' /mnt/d ' /proc/mounts || { mkdir -p /mnt/d; mount -t ext4 /dev/vda /mnt/d 2>/dev/null || { mkfs.ext4 -q -F /dev/vda && mount -t ext4 /dev/vda /mnt/d; }; }; grep -q ' /mnt/d ' /proc/mounts && echo MNT-$((6*7))";
  /**
   * The snapshot's disks without its RAM: restored while off, its saved state discarded, the
   * guest booted afresh and `e2fsck -fn` run on the disk before anything mounts it.
   */
  const fsckFromDisks = async (snapId: string): Promise<string> => {
    await client.call('vms.powerOff', { ref: NAME });
    await client.call('snapshots.restore', { ref: NAME, id: snapId });
    expect((await client.call('vms.discardState', { ref: NAME })).vm.state).toBe('poweredOff');
    await client.call('vms.start', { ref: NAME });
    const serial = await SerialSession.open(client, NAME);
    const out = await serial.run(
      '[ -e /run/fsck.rc ] || { e2fsck -fn /dev/vda >/run/fsck.out 2>&1; echo $? >/run/fsck.rc; }; cat /run/fsck.out; echo FSCK-RC-$(cat /run/fsck.rc)-',
      /FSCK-RC-\d+-/,
      180_000,
    );
    await serial.close();
    return out;
  };
  /** A write that blocks while the file system is frozen: its marker shows only when it is not. */
  const writes = (serial: SerialSession, timeoutMs: number) => serial.run('touch /mnt/d/probe && echo WROTE-$((2*21))', /WROTE-42/, timeoutMs);

  it('a live snapshot during heavy writes is frozen: consistent, its disks alone fsck-clean, and the guest restored from it is thawed', async () => {
    let serial = await SerialSession.open(client, NAME);
    const tools = await serial.run('for b in mkfs.ext4 e2fsck; do command -v $b >/dev/null || echo MISSING-$b; done; echo E2FS-$((6*7))', /E2FS-42/);
    expect(tools, 'the test guest has no e2fsprogs: NESTBOX_TEST_ISO names an ISO built before test/guest/build.sh added them; rebuild it').not.toMatch(/MISSING-(mkfs|e2fsck)/);
    await serial.run(MOUNT, /MNT-42/, 60_000);
    // Data written with fsync (journal commits all the time) plus files made and removed.
    await serial.run(
      '[ -e /run/writer ] || { touch /run/writer; (i=0; while :; do dd if=/dev/zero of=/mnt/d/f$((i%8)) bs=4k count=128 conv=fsync; mkdir -p /mnt/d/d$((i%16)); touch /mnt/d/d$((i%16))/t$i; rm -f /mnt/d/d$(((i+8)%16))/*; i=$((i+1)); done) </dev/null >/dev/null 2>&1 & }; echo WRITER-$((3*14))',
      /WRITER-42/,
    );
    await sleep(3000);
    // The disk is written to as the snapshot starts (sectors written in one second).
    const rate = await serial.run("a=$(awk '{print $7}' /sys/block/vda/stat); sleep 1; b=$(awk '{print $7}' /sys/block/vda/stat); echo WSECT-$((b-a))-", /WSECT-\d+-/);
    const sectors = Number(/WSECT-(\d+)-/.exec(rate)![1]);
    expect(sectors).toBeGreaterThan(0);
    const t0 = Date.now();
    const snap = await client.call('snapshots.take', { ref: NAME, name: 'during writes' });
    const took = Date.now() - t0;
    expect(snap.withRam).toBe(true);
    expect(snap.frozen, snap.freezeNote).toBe(true);
    expect(snap.freezeNote).toBeUndefined();
    expect((await client.call('snapshots.list', { ref: NAME })).snapshots.find((x) => x.id === snap.id)?.frozen).toBe(true);
    await writes(serial, 20_000); // thawed after the snapshot
    await serial.close();
    console.log(`snapshot with a freeze during writes (${sectors} sectors/s written) took ${took} ms`);

    // Restored with its RAM, the guest comes back frozen as it was, and is thawed.
    const r = await client.call('snapshots.restore', { ref: NAME, id: snap.id });
    expect(r.vm.state).toBe('running');
    serial = await SerialSession.open(client, NAME);
    await writes(serial, 60_000);
    await serial.close();
    const events = await client.call('events.recent', { ref: NAME, limit: 50 });
    expect(events.map((e) => e.message)).toContainEqual(expect.stringMatching(/^thawed the file systems of 'agent guest': it resumed from a snapshot taken with them frozen/));

    // Its disks alone (the RAM state discarded, the guest booted afresh) check clean: no
    // journal to replay, nothing half-written.
    const out = await fsckFromDisks(snap.id);
    expect(out).not.toMatch(/journal recovery|needs_recovery|UNEXPECTED INCONSISTENCY/);
    expect(out).toMatch(/FSCK-RC-0-/);
  }, 420_000);

  it('a snapshot with a hung agent completes within the limit, not frozen, and leaves the guest writable', async () => {
    await agentAnswers(90_000);
    const serial = await SerialSession.open(client, NAME);
    await serial.run(MOUNT, /MNT-42/, 60_000);
    await serial.run('kill -STOP $(pidof qemu-ga) && echo QGA-$((6*7))-STOPPED', /QGA-42-STOPPED/);
    const t0 = Date.now();
    const snap = await client.call('snapshots.take', { ref: NAME, name: 'hung agent' });
    const took = Date.now() - t0;
    console.log(`snapshot with a hung agent took ${took} ms`);
    expect(snap.frozen).toBe(false);
    expect(snap.freezeNote).toMatch(new RegExp(`^the guest agent did not answer within ${FREEZE_LIMITS.pingMs / 1000} s`));
    // A liveness bound, not a performance claim: the agent's limit, plus saving 256 MiB of RAM under TCG on a loaded machine.
    expect(took).toBeLessThan(FREEZE_LIMITS.pingMs + 45_000);
    await writes(serial, 20_000);
    // Woken, the agent works through what waited for it; the guest stays writable.
    await serial.run('kill -CONT $(pidof qemu-ga) && echo QGA-$((6*7))-CONT', /QGA-42-CONT/);
    await sleep(3000);
    await writes(serial, 20_000);
    await serial.close();
    await agentAnswers(30_000);
    // The control for the fsck above: this snapshot's disks alone, not frozen, hold a mounted
    // ext4 whose journal needs replaying.
    expect(await fsckFromDisks(snap.id)).toMatch(/journal recovery/);
    await agentAnswers(90_000); // for the shutdown below
  }, 300_000);

  it('Shut down of a guest that ignores ACPI works through the agent', async () => {
    const serial = await SerialSession.open(client, NAME);
    await serial.run('nestbox-ignore-acpi', /NESTBOX-ACPI-IGNORED/);
    await serial.close();
    const t0 = Date.now();
    const r = await client.call('vms.shutdown', { ref: NAME, timeoutS: 60 });
    expect(r.vm.state).toBe('poweredOff');
    expect(Date.now() - t0).toBeLessThan(60_000); // a liveness bound (the shutdown's own timeout), not a performance claim
  }, 120_000);
});
