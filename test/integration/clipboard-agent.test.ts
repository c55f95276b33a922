/**
 * The clipboard with the guest's real agent: the desktop test guest (test/guest/build-desktop.sh)
 * runs Debian's Xvfb, spice-vdagentd and spice-vdagent, and its X CLIPBOARD is set and read
 * with xclip from the serial shell. The host side is an RFB client through the core's console
 * relay that speaks the extended clipboard as noVNC does. Text crosses both ways after boot,
 * and again after each operation that unplugs and replugs the channel on this QEMU (before
 * 8.1): a live snapshot, Save state + start, and restoring that snapshot.
 *
 * What the agent does across an unplug is read from its own debug output in the guest and
 * printed, so a run shows it. The test asserts what a user sees, the text arrives, and, once,
 * what README says the guest's agent does at an unplug (spice-vdagentd quits and is started
 * again; the session's spice-vdagent stays and reconnects).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RpcClient } from '../../src/core/api/rpc';
import { clipboardWiring } from '../../src/core/qemu/vdagent';
import type { HostedCore } from '../../src/core/server/host';
import { relayVncDuplex } from '../support/relay';
import { RfbClient } from '../support/rfb';
import { sleep } from '../support/waits';
import { cleanupHome, openCore, ROOT, SerialSession, tempHome, testIso, waitForFile } from './helpers';

const NAME = 'desktop guest';

function desktopIso(): string {
  const out = execFileSync('bash', ['test/guest/build-desktop.sh', testIso()], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], timeout: 300_000 })
    .toString()
    .trim()
    .split('\n')
    .pop()!;
  if (!fs.existsSync(out)) throw new Error(`test/guest/build-desktop.sh did not produce an ISO (said: ${out})`);
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return out;
  // As root, QEMU runs as an unprivileged user that cannot reach the build cache under /root.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbt-desktop-iso-'));
  fs.chmodSync(dir, 0o755);
  const copy = path.join(dir, path.basename(out));
  fs.copyFileSync(out, copy);
  fs.chmodSync(copy, 0o644);
  return copy;
}

describe("the clipboard with the guest's spice-vdagent, around snapshots and Save state (QEMU before 8.1)", () => {
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;
  let serialLog: string;
  let isoCopy: string | undefined;

  const guestRun = (command: string, marker: RegExp, timeoutMs?: number) => SerialSession.runOnce(client, NAME, command, marker, timeoutMs);
  /** The guest's X CLIPBOARD, as xclip reads it. */
  const guestClipboard = async () => {
    const out = await guestRun('clip-get; echo GOT-$((6*7))', /GOT-42/, 60_000);
    return /CLIP\[(.*)\]/.exec(out.replace(/\r/g, ''))?.[1] ?? null;
  };
  /** How often each agent process started and what its logs say about the port, for the run's output. */
  const agentReport = async (label: string) => {
    const out = await guestRun(
      "for s in vdagentd vdagent; do echo \"$s starts: $(cat /run/desktop/$s.starts 2>/dev/null)\"; done; grep -hE 'AIIEEE|Fatal|opening vdagent|closed vdagent|=== |onnected|disconnect|egfault' /run/desktop/vdagentd.log /run/desktop/vdagent.log /run/desktop/syslog | tail -n 30; ls -l /dev/virtio-ports | grep -o 'com.*'; echo REPORT-$((6*7))",
      /REPORT-42/,
    );
    const text = out.replace(/\r/g, '');
    console.log(`[${label}] the guest's agent:\n${text}`);
    const starts = (s: string) => Number(new RegExp(`^${s} starts: (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    return { text, vdagentdStarts: starts('vdagentd'), vdagentStarts: starts('vdagent') };
  };
  /**
   * Host → guest: the RFB client's cut text becomes the guest's X clipboard; guest → host: text
   * xclip puts there reaches the RFB client. A replugged port is announced to the guest and the
   * agent reopens it asynchronously, so each direction is tried again (the same text, which
   * is idempotent) until it shows, within a liveness bound.
   */
  const roundTrip = async (round: string) => {
    const rfb = await RfbClient.connect(await relayVncDuplex(client, NAME), { clipboard: true });
    try {
      const hostText = `host-${round}-${Date.now()}`;
      let inGuest: string | null = null;
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
        rfb.cutText(hostText);
        inGuest = await guestClipboard();
        if (inGuest === hostText) break;
        await sleep(2000);
      }
      expect(inGuest, 'the host text in the guest X clipboard').toBe(hostText);

      const guestText = `guest-${round}-${Date.now()}`;
      let seen = false;
      const off = rfb.onClipboard((t) => {
        if (t === guestText) seen = true;
      });
      try {
        for (const deadline = Date.now() + 60_000; !seen && Date.now() < deadline; ) {
          await guestRun(`clip-set ${guestText}; echo SET-$((6*7))`, /SET-42/);
          for (let i = 0; i < 10 && !seen; i++) await sleep(1000);
        }
      } finally {
        off();
      }
      expect(seen, `'${guestText}' set in the guest reached the console's clipboard`).toBe(true);
    } finally {
      rfb.close();
    }
  };

  beforeAll(async () => {
    const iso = desktopIso();
    if (iso.includes('nbt-desktop-iso-')) isoCopy = iso;
    home = tempHome();
    ({ hosted, client } = await openCore(home));
    const qemu = hosted.core.host.qemu;
    if (!qemu) throw new Error('no QEMU on this host');
    expect(clipboardWiring(qemu), `QEMU ${qemu.major}.${qemu.minor} migrates the vdagent itself; this test is for QEMU before 8.1`).toBe('hotplug');
    await client.call('vms.create', { name: NAME, osType: 'linux-other', memoryMiB: 384, cpus: 1, diskSize: '64M', iso, nic: 'none' });
    const t0 = Date.now();
    const s = await client.call('vms.start', { ref: NAME });
    serialLog = s.vm.serialLog;
    await waitForFile(serialLog, /NESTBOX-DESKTOP-READY/, 300_000);
    console.log(`desktop guest: X listens ${Math.round((Date.now() - t0) / 1000)} s after start`);
  }, 420_000);
  afterAll(async () => {
    if (client) await client.call('vms.powerOff', { ref: NAME }).catch(() => undefined);
    await hosted?.close();
    if (home) await cleanupHome(home);
    if (isoCopy) fs.rmSync(path.dirname(isoCopy), { recursive: true, force: true });
  });

  it('carries text both ways between the console and the X clipboard', async () => {
    await roundTrip('boot');
    await agentReport('after boot');
  }, 300_000);

  it('after a live snapshot', async () => {
    await guestRun('echo before >/run/clip-mark && echo MARK-$((6*7))', /MARK-42/);
    const live = await client.call('snapshots.take', { ref: NAME, name: 'live' });
    expect(live.withRam).toBe(true);
    await agentReport('after the live snapshot');
    await roundTrip('snapshot');
    // What README says the guest does: spice-vdagentd could not reopen the vanished port and
    // quit, and came back only because it was started again; the session's spice-vdagent
    // stayed and reconnected to it.
    const after = await agentReport('after the live snapshot and a round trip');
    expect(after.text).toContain('Fatal error opening vdagent virtio channel');
    expect(after.vdagentdStarts).toBe(2);
    expect(after.vdagentStarts).toBe(1);
  }, 400_000);

  it('after Save state and start', async () => {
    await guestRun('echo saved >/run/clip-mark && echo MARK-$((6*7))', /MARK-42/);
    expect((await client.call('vms.saveState', { ref: NAME })).vm.state).toBe('saved');
    expect((await client.call('vms.start', { ref: NAME })).vm.state).toBe('running');
    // Resumed, not rebooted.
    expect(await guestRun('echo MARK-$(cat /run/clip-mark)-$((6*7))', /MARK-\w*-42/)).toMatch(/MARK-saved-42/);
    await agentReport('after Save state and start');
    await roundTrip('saved');
  }, 400_000);

  it('after restoring the live snapshot into the running VM', async () => {
    const live = (await client.call('snapshots.list', { ref: NAME })).snapshots.find((s) => s.name === 'live')!;
    expect((await client.call('snapshots.restore', { ref: NAME, id: live.id })).vm.state).toBe('running');
    expect(await guestRun('echo MARK-$(cat /run/clip-mark)-$((6*7))', /MARK-\w*-42/)).toMatch(/MARK-before-42/);
    await agentReport('after the restore');
    await roundTrip('restored');
  }, 400_000);
});
