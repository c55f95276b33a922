/**
 * The clipboard channel on a QEMU that cannot migrate it (7.2, this machine's): the core plugs
 * the vdagent port after start and unplugs it around everything that saves the memory, so a
 * live snapshot, a paused snapshot, Save state + start and a restore all succeed with the
 * clipboard on, and after each the port is back, seen from QMP and from inside the guest; so
 * is it after a Save state that fails (cancelled midway). One guest for everything.
 *
 * Text crosses both ways, before the first save and after the last restore: the plain test
 * guest has no desktop for spice-vdagent, so a shell in it speaks the agent's wire protocol on the port
 * (announce the clipboard capability, request the host's text, grab the clipboard and send
 * its own), and the host side is an RFB client through the core's console relay that speaks
 * the extended clipboard as noVNC does. The same with Debian's real spice-vdagent on an X
 * display: clipboard-agent.test.ts (the desktop test guest).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RpcClient } from '../../src/core/api/rpc';
import { VDAGENT_IDS, VIRTIO_PORT_NAMES } from '../../src/core/qemu/argv';
import { clipboardWiring } from '../../src/core/qemu/vdagent';
import type { HostedCore } from '../../src/core/server/host';
import { relayVncDuplex } from '../support/relay';
import { RfbClient } from '../support/rfb';
import { cleanupHome, openCore, SerialSession, tempHome, testIso, waitForFile } from './helpers';

const NAME = 'clip guest';
/** Every virtio-serial port's name as the guest's kernel lists it; the marker is computed so the echoed command never matches it. */
const LIST_PORTS = 'for p in /sys/class/virtio-ports/*; do echo PORT-$(cat $p/name 2>/dev/null)-; done; echo PORTS-$((6*7))';
const SPICE_PORT = `PORT-${VIRTIO_PORT_NAMES.vdagent}-`;

/** spice-vdagent's wire format (spice-protocol vd_agent.h): a chunk header, then a message header, little-endian. */
const VD = { clipboard: 4, announceCapabilities: 6, clipboardGrab: 7, clipboardRequest: 8, utf8Text: 1, capClipboardByDemand: 5 } as const;
function u32s(...v: number[]): Buffer {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i));
  return b;
}
function vdMessage(type: number, data: Buffer): Buffer {
  // Chunk: port 1 (the client port), size; message: protocol 1, type, opaque (8 bytes), size.
  return Buffer.concat([u32s(1, 20 + data.length, 1, type, 0, 0, data.length), data]);
}
/** Bytes as a printf format of octal escapes, for the guest's shell. */
function printfBytes(b: Buffer): string {
  return [...b].map((x) => `\\${x.toString(8).padStart(3, '0')}`).join('');
}

describe('the clipboard channel around saved memory (QEMU before 8.1)', () => {
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;
  let uuid: string;

  const qmp = () => {
    const run = hosted.core.vms.registry.running.get(uuid);
    if (!run) throw new Error(`'${NAME}' has no QEMU attached`);
    return run.proc.qmp;
  };
  /** What QEMU has of the channel now. */
  const plugged = async () => {
    const peripherals = await qmp().execute<{ name: string; type: string }[]>('qom-list', { path: '/machine/peripheral' });
    const chardevs = await qmp().execute<{ label: string; filename: string }[]>('query-chardev');
    return {
      port: peripherals.find((p) => p.name === VDAGENT_IDS.port)?.type ?? null,
      chardev: chardevs.find((c) => c.label === VDAGENT_IDS.chardev)?.filename ?? null,
    };
  };
  /** The guest lists the spice port (hot-plugged ports are announced to it asynchronously, so it is asked until it does). */
  const guestSeesPort = async (timeoutMs = 60_000) => {
    const serial = await SerialSession.open(client, NAME);
    try {
      const deadline = Date.now() + timeoutMs;
      let out = '';
      while (Date.now() < deadline) {
        out = await serial.run(LIST_PORTS, /PORTS-42/);
        if (out.includes(SPICE_PORT)) return out;
        await sleep(1000);
      }
      throw new Error(`the guest does not list ${VIRTIO_PORT_NAMES.vdagent}; its ports:\n${out}`);
    } finally {
      await serial.close();
    }
  };
  const expectBack = async () => {
    expect(await plugged()).toEqual({ port: 'child<virtserialport>', chardev: 'qemu-vdagent' });
    const out = await guestSeesPort();
    // The agent's port is there too, once: the unplug took only the clipboard's.
    expect(out.split(SPICE_PORT).length - 1).toBe(1);
    expect(out).toContain(`PORT-${VIRTIO_PORT_NAMES.agent}-`);
  };
  const noClipboardWarnings = async () => {
    const events = await client.call('events.recent', { ref: NAME, limit: 100 });
    expect(events.filter((e) => e.kind === 'clipboard').map((e) => e.message)).toEqual([]);
  };
  /** One command in the guest's shell; the marks it writes are files in its RAM-backed /run: there after a resume, gone after a reboot. */
  const guestRun = (command: string, marker: RegExp, timeoutMs?: number) => SerialSession.runOnce(client, NAME, command, marker, timeoutMs);

  /**
   * Text from the host (the RFB client's cut text) reaches the guest's port, and text the
   * guest's "agent" grabs the clipboard with reaches the RFB client. `round` keeps each
   * round's guest files apart.
   */
  const roundTrip = async (round: number) => {
    const serial = await SerialSession.open(client, NAME);
    const rfb = await RfbClient.connect(await relayVncDuplex(client, NAME), { clipboard: true });
    try {
      // Opened once (a virtio port takes one opener): a reader in the background, writes through fd 3.
      const announce = printfBytes(vdMessage(VD.announceCapabilities, u32s(0, 1 << VD.capClipboardByDemand)));
      await serial.run(
        `[ -e /run/vd${round} ] || { for p in /sys/class/virtio-ports/*; do [ "$(cat $p/name)" = ${VIRTIO_PORT_NAMES.vdagent} ] && d=/dev/\${p##*/}; done; exec 3<>$d && { cat <&3 >/run/vd${round}.in & printf '${announce}' >&3; touch /run/vd${round}; }; }; [ -e /run/vd${round} ] && echo VD-${round}-OPEN-$((6*7))`,
        new RegExp(`VD-${round}-OPEN-42`),
      );
      const hostText = `from-host-${round}-${Date.now()}`;
      rfb.cutText(hostText);
      const request = printfBytes(vdMessage(VD.clipboardRequest, u32s(VD.utf8Text)));
      await serial.run(`printf '${request}' >&3; sleep 1; grep -q ${hostText} /run/vd${round}.in && echo GOT-HOST-${round}-$((6*7))`, new RegExp(`GOT-HOST-${round}-42`), 60_000);

      const guestText = `from-guest-${round}-${Date.now()}`;
      const got = new Promise<string>((resolve) => rfb.onClipboard((t) => t === guestText && resolve(t)));
      const grab = printfBytes(Buffer.concat([vdMessage(VD.clipboardGrab, u32s(VD.utf8Text)), vdMessage(VD.clipboard, Buffer.concat([u32s(VD.utf8Text), Buffer.from(guestText)]))]));
      await serial.run(`printf '${grab}' >&3 && echo SENT-${round}-$((6*7))`, new RegExp(`SENT-${round}-42`));
      // A bound on the wait, not a performance claim: the text comes at once or never.
      expect(await Promise.race([got, sleep(30_000).then(() => 'nothing within 30 s')])).toBe(guestText);
    } finally {
      rfb.close();
      await serial.close();
    }
  };

  beforeAll(async () => {
    home = tempHome();
    ({ hosted, client } = await openCore(home));
    const qemu = hosted.core.host.qemu;
    if (!qemu) throw new Error('no QEMU on this host');
    // This test is about the hot-plugged channel: on QEMU 8.1+ the channel is on the command line and migrates.
    expect(clipboardWiring(qemu), `QEMU ${qemu.major}.${qemu.minor} migrates the vdagent itself; this test is for QEMU before 8.1`).toBe('hotplug');
    const r = await client.call('vms.create', { name: NAME, osType: 'linux-other', memoryMiB: 192, cpus: 1, diskSize: '64M', iso: testIso(), nic: 'none' });
    uuid = r.vm.uuid;
    expect(r.vm.config.clipboard).toBeUndefined(); // on: only "off" is written
    const s = await client.call('vms.start', { ref: NAME });
    await waitForFile(s.vm.serialLog, /NESTBOX-GUEST-READY/, 180_000);
  }, 240_000);
  afterAll(async () => {
    await client.call('vms.powerOff', { ref: NAME }).catch(() => undefined);
    await hosted.close();
    await cleanupHome(home);
  });

  it('is plugged after start, and while plugged QEMU would refuse to migrate', async () => {
    await expectBack();
    const mig = await qmp().execute<{ 'blocked-reasons'?: string[] }>('query-migrate');
    expect(mig['blocked-reasons'] ?? []).toContainEqual(expect.stringMatching(/vdagent/));
  }, 120_000);

  it('carries text both ways between the console and the guest', async () => {
    await roundTrip(1);
  }, 180_000);

  it('a live snapshot, and one of the paused VM, succeed; the port is back after each', async () => {
    await guestRun('echo before >/run/clip-mark && echo MARK-$((6*7))', /MARK-42/);
    const live = await client.call('snapshots.take', { ref: NAME, name: 'live' });
    expect(live.withRam).toBe(true);
    expect((await client.call('vms.info', { ref: NAME })).state).toBe('running');
    await expectBack();

    await client.call('vms.pause', { ref: NAME });
    const paused = await client.call('snapshots.take', { ref: NAME, name: 'paused' });
    expect(paused.withRam).toBe(true);
    expect(await plugged()).toEqual({ port: 'child<virtserialport>', chardev: 'qemu-vdagent' });
    await client.call('vms.resume', { ref: NAME });
    await expectBack();
    await noClipboardWarnings();
  }, 300_000);

  it('Save state and start: the guest resumes where it was, with the port', async () => {
    await guestRun('echo saved >/run/clip-mark && echo MARK-$((6*7))', /MARK-42/);
    const saved = await client.call('vms.saveState', { ref: NAME });
    expect(saved.vm.state).toBe('saved');
    const started = await client.call('vms.start', { ref: NAME });
    expect(started.vm.state).toBe('running');
    // Resumed, not rebooted: what it wrote to its RAM-backed /run before the save is there.
    expect(await guestRun('echo MARK-$(cat /run/clip-mark)-$((6*7))', /MARK-\w*-42/)).toMatch(/MARK-saved-42/);
    await expectBack();
    await noClipboardWarnings();
  }, 300_000);

  it('a Save state that fails (cancelled midway) leaves the VM running with the port back; while it ran the channel was out', async () => {
    // RAM that cannot be compressed away, so a save limited to 4 MiB/s takes seconds.
    await guestRun("mkdir -p /mnt/ram; grep -q ' /mnt/ram ' /proc/mounts || mount -t tmpfs tmpfs /mnt/ram; [ -s /mnt/ram/fill ] || head -c 24M /dev/urandom >/mnt/ram/fill; echo FI$(echo LLED)", /FILLED/, 120_000);
    await client.call('settings.set', { key: 'snapshotBandwidth', value: '4' });
    try {
      let seen: () => void = () => undefined;
      const saving = new Promise<void>((r) => (seen = r));
      const off = client.on('job.progress', (e) => {
        if (e.vm === uuid && e.kind === 'saveState' && e.state === 'running' && (e.bytesDone ?? 0) > 0) seen();
      });
      const save = client.call('vms.saveState', { ref: NAME });
      save.catch(() => undefined);
      await Promise.race([saving, save.then(() => undefined, () => undefined)]);
      off();
      expect((await client.call('vms.info', { ref: NAME })).state).toBe('saving');
      expect(await plugged()).toEqual({ port: null, chardev: null });
      await client.call('vms.cancel', { ref: NAME });
      await expect(save).rejects.toMatchObject({ code: 'CANCELLED' });
    } finally {
      await client.call('settings.set', { key: 'snapshotBandwidth', value: null });
    }
    expect((await client.call('vms.info', { ref: NAME })).state).toBe('running');
    await expectBack();
    await noClipboardWarnings();
  }, 300_000);

  it('restoring the live snapshot into the running VM brings back its memory and the port', async () => {
    const snaps = await client.call('snapshots.list', { ref: NAME });
    const live = snaps.snapshots.find((s) => s.name === 'live')!;
    const r = await client.call('snapshots.restore', { ref: NAME, id: live.id });
    expect(r.vm.state).toBe('running');
    expect(await guestRun('echo MARK-$(cat /run/clip-mark)-$((6*7))', /MARK-\w*-42/)).toMatch(/MARK-before-42/);
    await expectBack();
    await noClipboardWarnings();
    // And the plugged-back channel carries text again.
    await roundTrip(2);
  }, 300_000);
});
