/**
 * Consoles, screenshots, snapshots and storage of a guest on a libvirt host reached the way
 * users reach one: qemu+ssh:// through a real key-only sshd. VNC comes through an SSH
 * stream-local forward (and directly from the socket for a local connection), never a TCP
 * port; the serial console through libvirt's own console stream.
 */
import fs from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtConnection, buildDomainXml, type ByteStream } from '../../src/core/libvirt';
import { startLibvirtHosts, type LibvirtHosts, type LibvirtTestHost } from '../support/libvirt-hosts';
import { RfbClient } from '../support/rfb';
import { testIso, waitForFile } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

/** A serial session: type a command, wait for a marker in what comes back. */
async function serialRun(s: ByteStream, buf: { text: string }, cmd: string, marker: RegExp, timeoutMs = 30_000): Promise<string> {
  const from = buf.text.length;
  s.write(Buffer.from(`${cmd}\r`));
  await until(`${marker} on the serial console`, timeoutMs, () => marker.test(buf.text.slice(from)));
  return buf.text.slice(from);
}

function pngSize(png: Buffer): { w: number; h: number; nonBlack: boolean } {
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  const w = png.readUInt32BE(16);
  const h = png.readUInt32BE(20);
  const idat: Buffer[] = [];
  for (let p = 8; p < png.length; ) {
    const len = png.readUInt32BE(p);
    if (png.subarray(p + 4, p + 8).toString('latin1') === 'IDAT') idat.push(png.subarray(p + 8, p + 8 + len));
    p += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  let nonBlack = false;
  for (let y = 0; y < h && !nonBlack; y++) for (let x = 1; x <= w * 3; x++) if (raw[y * (w * 3 + 1) + x]! > 0) nonBlack = true;
  return { w, h, nonBlack };
}

describe('consoles, snapshots and storage through a qemu+ssh:// host', () => {
  let lv: LibvirtHosts;
  let H: LibvirtTestHost;
  let ssh: LibvirtConnection;
  let local: LibvirtConnection;
  let serialLog: string;
  beforeAll(async () => {
    lv = await startLibvirtHosts({ count: 1, sshHost: 0 });
    H = lv.hosts[0]!;
    ssh = new LibvirtConnection(H.sshUri!);
    local = new LibvirtConnection(H.socketUri);
    serialLog = path.join(lv.sharedDir, 'v1-serial.log');
  });
  afterAll(async () => {
    ssh?.close();
    local?.close();
    await lv?.stop();
  });

  it('creates, uploads, lists and downloads volumes with progress', async () => {
    const pools = await ssh.listPools();
    expect(pools).toEqual([expect.objectContaining({ name: 'default', active: true, path: H.hostImagesDir })]);
    expect(pools[0]!.capacity).toBeGreaterThan(0);
    expect(pools[0]!.available).toBeGreaterThan(0);

    const volPath = await ssh.createVolume('default', 'data.raw', 4 * 1024 * 1024, 'raw');
    expect(volPath).toBe(`${H.hostImagesDir}/data.raw`);
    const src = path.join(lv.sharedDir, 'upload.bin');
    const bytes = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE((i * 2654435761) >>> 0, i);
    fs.writeFileSync(src, bytes);
    const up: number[] = [];
    await ssh.uploadVolume('default', 'data.raw', src, (done, total) => {
      expect(total).toBe(bytes.length);
      up.push(done);
    });
    expect(up.at(-1)).toBe(bytes.length);
    expect(fs.readFileSync(path.join(H.imagesDir, 'data.raw')).equals(bytes)).toBe(true);

    const dst = path.join(lv.sharedDir, 'download.bin');
    const down: number[] = [];
    await ssh.downloadVolume('default', 'data.raw', dst, (done) => down.push(done));
    expect(fs.readFileSync(dst).equals(bytes)).toBe(true);
    expect(down.at(-1)).toBe(bytes.length);

    await ssh.createVolume('default', 'v1.qcow2', 64 * 1024 * 1024, 'qcow2');
    const vols = await ssh.listVolumes('default');
    expect(vols.map((v) => [v.name, v.format, v.capacity]).sort()).toEqual([
      ['data.raw', 'raw', 4 * 1024 * 1024],
      ['v1.qcow2', 'qcow2', 64 * 1024 * 1024],
    ]);
    await ssh.deleteVolume('default', 'data.raw');
    expect((await ssh.listVolumes('default')).map((v) => v.name)).toEqual(['v1.qcow2']);
    await expect(ssh.listVolumes('no-such-pool')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('boots a guest over SSH; its serial console and its VNC screen come through the host connection', async () => {
    await ssh.define(
      buildDomainXml({
        name: 'v1',
        memoryMiB: 128,
        cpus: 1,
        firmware: 'bios',
        machine: 'pc',
        domainType: 'qemu',
        disks: [{ source: { pool: 'default', volume: 'v1.qcow2' }, bus: 'virtio', format: 'qcow2' }],
        cdrom: { path: testIso() },
        bootCdrom: true,
        nics: [],
        graphics: 'vnc-socket',
        vncSocket: path.join(lv.sharedDir, 'v1-vnc.sock'),
        serialLog,
      }),
    );
    await ssh.start('v1');
    await waitForFile(serialLog, /NESTBOX-GUEST-READY/, 120_000);

    const serial = await ssh.openSerial('v1');
    const buf = { text: '' };
    serial.onData((b) => (buf.text += b.toString('latin1')));
    const out = await serialRun(serial, buf, 'echo serial-$((40+2))-over-ssh', /serial-42-over-ssh/);
    expect(out).toContain('serial-42-over-ssh');
    serial.close();

    for (const conn of [ssh, local]) {
      const vnc = await conn.openVnc('v1');
      const rfb = await RfbClient.connect(vnc);
      expect(rfb.width).toBeGreaterThanOrEqual(640);
      expect(rfb.height).toBeGreaterThanOrEqual(400);
      rfb.requestUpdate(false);
      await rfb.nextChange(20_000);
      const fb = rfb.snapshot();
      expect(fb.some((x) => x !== 0)).toBe(true);
      rfb.close();
    }

    const png = await ssh.screenshot('v1');
    const size = pngSize(png);
    expect(size.w).toBeGreaterThanOrEqual(640);
    expect(size.h).toBeGreaterThanOrEqual(400);
    expect(size.nonBlack).toBe(true);
  });

  it('takes snapshots with memory, lists the tree, reverts and deletes', async () => {
    const serial = await ssh.openSerial('v1');
    const buf = { text: '' };
    serial.onData((b) => (buf.text += b.toString('latin1')));
    await serialRun(serial, buf, 'echo before > /tmp/state; echo ok-$((1+1))', /ok-2/);
    await ssh.takeSnapshot('v1', 's1', 'first <snapshot> & "quotes"');
    await serialRun(serial, buf, 'echo after > /tmp/state; echo ok-$((2+1))', /ok-3/);
    await ssh.takeSnapshot('v1', 's2', 'second');
    let snaps = await ssh.listSnapshots('v1');
    expect(snaps.map((s) => ({ name: s.name, parent: s.parent, current: s.current, state: s.state, hasMemory: s.hasMemory }))).toEqual([
      { name: 's1', parent: null, current: false, state: 'running', hasMemory: true },
      { name: 's2', parent: 's1', current: true, state: 'running', hasMemory: true },
    ]);
    expect(snaps[0]!.description).toBe('first <snapshot> & "quotes"');
    expect(snaps[0]!.createdAt).toBeGreaterThan(Date.now() - 3600_000);
    serial.close();

    await ssh.revertSnapshot('v1', 's1');
    expect((await ssh.listDomains()).find((d) => d.name === 'v1')!.state).toBe('running');
    // The guest's RAM is back to s1: the file written after s1 (in RAM) says "before".
    const again = await ssh.openSerial('v1');
    const buf2 = { text: '' };
    again.onData((b) => (buf2.text += b.toString('latin1')));
    const out = await serialRun(again, buf2, 'echo state-$(cat /tmp/state)-end', /state-\w+-end/);
    expect(out).toMatch(/state-before-end/);
    again.close();
    snaps = await ssh.listSnapshots('v1');
    expect(snaps.find((s) => s.current)?.name).toBe('s1');

    await ssh.deleteSnapshot('v1', 's2');
    expect((await ssh.listSnapshots('v1')).map((s) => s.name)).toEqual(['s1']);
    await expect(ssh.revertSnapshot('v1', 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(ssh.takeSnapshot('v1', 'a;b', '')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('deletes the VM with its storage', async () => {
    await ssh.destroy('v1');
    await ssh.undefine('v1', { removeStorage: true });
    expect(await ssh.listDomains()).toEqual([]);
    expect(fs.existsSync(path.join(H.imagesDir, 'v1.qcow2'))).toBe(false);
  });
});
