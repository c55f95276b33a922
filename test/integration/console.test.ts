/**
 * The console relay against a real guest: the RFB stream of QEMU's VNC server reaches a
 * viewer through the core (no TCP port), several viewers work at once, keystrokes reach the
 * guest, Ctrl+Alt+Del resets it, and a slow or vanished viewer blocks neither the VM nor
 * the core.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcClient } from '../../src/core/api/rpc';
import { RUNTIME_FILES } from '../../src/core/qemu/argv';
import type { HostedCore } from '../../src/core/server/host';
import { socketTransport } from '../../src/core/server/socket';
import { relayVncDuplex } from '../support/relay';
import { RfbClient, type ByteDuplex } from '../support/rfb';
import { cleanupHome, openCore, SerialSession, tempHome, testIso, waitForFile } from './helpers';

const NAME = 'screen-vm';


function socketDuplex(sock: net.Socket): ByteDuplex {
  return { write: (d) => sock.write(d), onData: (cb) => sock.on('data', cb), close: () => sock.destroy() };
}

describe('the console relay', () => {
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;
  let serialLog: string;
  let runDir: string;

  beforeAll(async () => {
    home = tempHome();
    ({ hosted, client } = await openCore(home));
    await client.call('vms.create', { name: NAME, osType: 'linux-other', memoryMiB: 256, cpus: 1, noDisk: true, iso: testIso() });
    const r = await client.call('vms.start', { ref: NAME });
    serialLog = r.vm.serialLog;
    runDir = hosted.core.layout.vmRunDir(r.vm.uuid);
    await waitForFile(serialLog, /NESTBOX-GUEST-READY/);
  });
  afterAll(async () => {
    await client.call('vms.powerOff', { ref: NAME }).catch(() => undefined);
    await hosted.close();
    await cleanupHome(home);
  });

  it('carries the RFB handshake and framebuffer updates, with no TCP listener', async () => {
    const rfb = await RfbClient.connect(await relayVncDuplex(client, NAME));
    expect(rfb.width).toBeGreaterThan(0);
    expect(rfb.height).toBeGreaterThan(0);
    expect(rfb.name).toContain(NAME);
    const first = rfb.nextChange();
    rfb.requestUpdate(false);
    const u = await first;
    expect(u.changedPixels).toBeGreaterThan(1000);
    rfb.close();
    // The VNC server is on the 0700 runtime directory's unix socket only.
    expect(fs.statSync(path.join(runDir, RUNTIME_FILES.vnc)).isSocket()).toBe(true);
    expect(fs.statSync(runDir).mode & 0o777).toBe(0o700);
    const pid = (await client.call('vms.info', { ref: NAME })).runtime!.pid;
    const tcp = fs.readFileSync('/proc/net/tcp', 'utf8') + fs.readFileSync('/proc/net/tcp6', 'utf8');
    const inodes = fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return /socket:\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      } catch {
        return undefined;
      }
    });
    const listening = tcp.split('\n').filter((l) => / 0A /.test(l)).map((l) => l.trim().split(/\s+/)[9]);
    expect(inodes.filter((i) => i && listening.includes(i))).toEqual([]);
  });

  it('serves several viewers at once, and keystrokes typed through the relay reach the guest', async () => {
    const viaRelay = await RfbClient.connect(await relayVncDuplex(client, NAME));
    const direct = await RfbClient.connect(socketDuplex(net.createConnection(path.join(runDir, RUNTIME_FILES.vnc))));
    const a = viaRelay.nextChange();
    const b = direct.nextChange();
    viaRelay.requestUpdate(false);
    direct.requestUpdate(false);
    await Promise.all([a, b]);
    expect(viaRelay.width).toBe(direct.width);
    // The screen's shell is tty1; make it write to the serial port so we can read it back.
    await new Promise((r) => setTimeout(r, 500));
    viaRelay.startContinuousUpdates();
    await new Promise((r) => setTimeout(r, 300));
    const changed = viaRelay.nextChange(15_000);
    viaRelay.type('\necho typed-$((6*7)) > /dev/ttyS0\n');
    await changed;
    await waitForFile(serialLog, /typed-42/, 20_000);
    viaRelay.close();
    direct.close();
  });

  it('resets the guest with Ctrl+Alt+Del sent as keys', async () => {
    const boots = (fs.readFileSync(serialLog, 'utf8').match(/NESTBOX-GUEST-READY/g) ?? []).length;
    await client.call('vms.sendKeys', { ref: NAME, keys: ['ctrl', 'alt', 'delete'] });
    await waitForFile(serialLog, /NESTBOX-GUEST-READY/, 90_000, boots + 1);
    await expect(client.call('vms.sendKeys', { ref: NAME, keys: ['ctrl; rm'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('is not blocked by a viewer that stops reading, nor by one that vanishes', async () => {
    // A viewer on the core's unix socket that asks for full screens and then stops reading.
    const sock = net.createConnection(hosted.core.layout.coreSocket);
    await new Promise((r) => sock.once('connect', r));
    const slow = new RpcClient(socketTransport(sock));
    const rfb = await RfbClient.connect(await relayVncDuplex(slow, NAME));
    rfb.requestUpdate(false);
    await rfb.nextChange();
    sock.pause();
    for (let i = 0; i < 200; i++) rfb.requestUpdate(false);
    // Meanwhile the VM and the core carry on for everyone else.
    const serial = await SerialSession.open(client, NAME);
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) {
      await serial.run(`echo alive-${i}-$((${i}+1))`, new RegExp(`alive-${i}-${i + 1}`));
      expect((await client.call('vms.info', { ref: NAME })).state).toBe('running');
    }
    expect(Date.now() - t0).toBeLessThan(30_000); // a liveness bound (the guest kept answering), not a performance claim
    // Then it vanishes without a goodbye; the core notices and carries on.
    sock.destroy();
    await new Promise((r) => setTimeout(r, 300));
    await serial.run('echo still-$((2+2))', /still-4/);
    const fresh = await RfbClient.connect(await relayVncDuplex(client, NAME));
    const next = fresh.nextChange();
    fresh.requestUpdate(false);
    await next;
    fresh.close();
    await serial.close();
  });

  it('keeps the serial log on disk, searchable after the VM stops', async () => {
    await client.call('vms.powerOff', { ref: NAME });
    const log = await client.call('console.serialLog', { ref: NAME, query: 'nestbox-guest-ready' });
    expect(log.matches.length).toBeGreaterThanOrEqual(2);
    expect(log.matches[0]!.text).toContain('NESTBOX-GUEST-READY');
    const tail = await client.call('console.serialLog', { ref: NAME, maxBytes: 4096 });
    expect(tail.text.length).toBeGreaterThan(0);
    expect(tail.size).toBeGreaterThan(tail.text.length - 1);
  });
});

describe('UEFI', () => {
  it('boots the test guest with OVMF, keeping the variable store as qcow2 in the VM folder', async () => {
    const home = tempHome();
    const { hosted, client } = await openCore(home);
    try {
      const r = await client.call('vms.create', { name: 'uefi-vm', osType: 'linux-other', memoryMiB: 512, cpus: 1, noDisk: true, iso: testIso(), firmware: 'uefi' });
      expect(r.vm.config.firmware).toBe('uefi');
      const vars = path.join(r.vm.dir, 'efivars.qcow2');
      expect(fs.readFileSync(vars).subarray(0, 4).toString('latin1')).toBe('QFI\xfb');
      await client.call('vms.start', { ref: 'uefi-vm' });
      await waitForFile(r.vm.serialLog, /NESTBOX-GUEST-READY/, 120_000);
      await client.call('vms.powerOff', { ref: 'uefi-vm' });
    } finally {
      await hosted.close();
      await cleanupHome(home);
    }
  });
});
