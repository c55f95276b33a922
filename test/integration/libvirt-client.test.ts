/**
 * LibvirtConnection against two real libvirt hosts (test/support/libvirt-hosts.ts): one
 * reached through its unix socket, one through a real key-only sshd. A TCG guest boots from
 * the project's test ISO; its serial output proves it ran.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NestboxError } from '../../src/core/api/errors';
import { LibvirtConnection, buildDomainXml, type DomainEvent } from '../../src/core/libvirt';
import { startLibvirtHosts, type LibvirtHosts } from '../support/libvirt-hosts';
import { testIso, waitForFile } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string; ms: number }> {
  const t = Date.now();
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(NestboxError);
    return { code: (e as NestboxError).code, message: (e as Error).message, ms: Date.now() - t };
  }
  throw new Error('expected a failure');
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

describe('LibvirtConnection against real hosts', () => {
  let lv: LibvirtHosts;
  let a: LibvirtConnection;
  let b: LibvirtConnection;
  beforeAll(async () => {
    lv = await startLibvirtHosts({ count: 2 });
    a = new LibvirtConnection(lv.hosts[0]!.socketUri);
    b = new LibvirtConnection(lv.hosts[1]!.sshUri!);
  });
  afterAll(async () => {
    a?.close();
    b?.close();
    await lv?.stop();
  });

  it('reads versions and node info over the socket and over SSH', async () => {
    for (const [c, h] of [
      [a, lv.hosts[0]!],
      [b, lv.hosts[1]!],
    ] as const) {
      const v = await c.versions();
      expect(v.libvirt).toMatch(/^\d+\.\d+\.\d+$/);
      expect(v.hypervisor).toMatch(/^QEMU \d+\.\d+/);
      const n = await c.nodeInfo();
      expect(n.hostname).toBe(h.name);
      expect(n.cpus).toBeGreaterThan(0);
      expect(n.memoryKiB).toBeGreaterThan(100_000);
    }
  });

  it('defines a guest from buildDomainXml, boots it, sees its events, console and states, and deletes it', async () => {
    const serialLog = path.join(lv.sharedDir, 'g1-serial.log');
    const xml = buildDomainXml({
      name: 'g1',
      memoryMiB: 128,
      cpus: 1,
      firmware: 'bios',
      machine: 'pc',
      domainType: 'qemu',
      disks: [],
      cdrom: { path: testIso() },
      bootCdrom: true,
      nics: [],
      graphics: 'vnc-socket',
      vncSocket: path.join(lv.sharedDir, 'g1-vnc.sock'),
      serialLog,
      osId: 'http://nestbox.test/guest/1',
    });
    const events: DomainEvent[] = [];
    let closed = '';
    const ev = a.events(
      (e) => events.push(e),
      (r) => (closed = r),
    );
    await sleep(500);
    const { uuid, name } = await a.define(xml);
    expect(name).toBe('g1');
    expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
    let list = await a.listDomains();
    expect(list).toEqual([{ uuid, name: 'g1', state: 'shutoff', persistent: true, memoryKiB: 131072, vcpus: 1, hasManagedSave: false, osId: 'http://nestbox.test/guest/1' }]);

    await a.start('g1');
    await waitForFile(serialLog, /NESTBOX-GUEST-READY/, 120_000);
    list = await a.listDomains();
    expect(list[0]!.state).toBe('running');
    const d = await a.describe(uuid);
    expect(d).toMatchObject({ name: 'g1', type: 'qemu', memoryKiB: 131072, vcpus: 1, firmware: 'bios', serials: 1, osId: 'http://nestbox.test/guest/1' });
    expect(d.disks[0]).toMatchObject({ device: 'cdrom', source: testIso(), readOnly: true });
    expect(d.graphics[0]).toMatchObject({ type: 'vnc', socket: path.join(lv.sharedDir, 'g1-vnc.sock') });
    await until('a Started event', 10_000, () => events.some((e) => e.domain === 'g1' && e.event === 'lifecycle' && /^Started/.test(e.detail)));

    // The serial console as a byte stream: a command typed, its output read.
    const serial = await a.openSerial('g1');
    let out = '';
    serial.onData((x) => (out += x.toString('latin1')));
    await sleep(500);
    serial.write(Buffer.from('echo nb-$((6*7))-ok\r'));
    await until('the guest to answer on its serial console', 20_000, () => out.includes('nb-42-ok'));
    serial.close();

    await a.suspend('g1');
    expect((await a.listDomains())[0]!.state).toBe('paused');
    await a.resume('g1');
    await until('Suspended and Resumed events', 10_000, () => events.some((e) => /^Suspended/.test(e.detail)) && events.some((e) => /^Resumed/.test(e.detail)));

    // ACPI shutdown: the guest's acpid powers it off.
    await a.shutdown('g1');
    await until('the guest to power off after ACPI shutdown', 60_000, async () => (await a.listDomains())[0]!.state === 'shutoff');
    await until('a Stopped event', 10_000, () => events.some((e) => /^Stopped/.test(e.detail)));

    await a.start('g1');
    await a.destroy('g1');
    expect((await a.listDomains())[0]!.state).toBe('shutoff');
    const again = await failure(a.destroy('g1'));
    expect(again.code).toBe('INVALID_STATE');
    expect(again.message).toContain('not running');

    await a.undefine('g1', { removeStorage: false });
    expect(await a.listDomains()).toEqual([]);
    expect((await failure(a.describe('g1'))).code).toBe('NOT_FOUND');
    ev.close();
    await until('the event stream to close', 5000, () => closed === 'closed');
  });

  it('notices a daemon restart: the event stream closes, calls fail HOST_UNREACHABLE, then work again', async () => {
    const h = lv.hosts[0]!;
    let closedReason = '';
    a.events(
      () => undefined,
      (r) => (closedReason = r),
    );
    await sleep(500);
    await h.killDaemon();
    const f = await failure(a.listDomains());
    expect(f.code).toBe('HOST_UNREACHABLE');
    expect(f.message).toContain(h.socketUri.split('socket=')[1]!);
    expect(f.ms).toBeLessThan(15_000); // a liveness bound (a hang would pass it), not a performance claim
    await until('the event stream to report the lost daemon', 30_000, () => closedReason !== '');
    expect(closedReason).not.toBe('closed');
    await h.startDaemon();
    expect((await a.nodeInfo()).hostname).toBe(h.name);
    // The same after a graceful restart.
    await h.restartDaemon();
    expect((await a.versions()).libvirt).toMatch(/^\d/);
  });

  it('gives a clear error within bounded time for an unreachable host, a wrong URI and refused SSH auth', async () => {
    const gone = await failure(new LibvirtConnection(`qemu+unix:///system?socket=${lv.sharedDir}/no-such-libvirt-sock`).versions());
    expect(gone.code).toBe('HOST_UNREACHABLE');
    expect(gone.message).toMatch(/no-such-libvirt-sock.*No such file/);

    const sock = lv.hosts[0]!.socketUri.split('socket=')[1]!;
    const driver = await failure(new LibvirtConnection(`bogus+unix:///system?socket=${sock}`).versions());
    expect(driver.code).toBe('INVALID_ARGUMENT');
    expect(driver.message).toContain('no connection driver available for bogus:///system');
    const badPath = await failure(new LibvirtConnection(`qemu+unix:///nonsense?socket=${sock}`).versions());
    expect(badPath.code).toBe('INVALID_ARGUMENT');
    expect(badPath.message).toContain("unexpected qemu URI path '/nonsense'");
    expect(() => new LibvirtConnection('qemu+ssh://h/system --help')).toThrow(/spaces or control characters/);
    expect(() => new LibvirtConnection('-c')).toThrow(/not a libvirt URI/);

    const auth = await failure(new LibvirtConnection(lv.hosts[1]!.sshUriWithKey!(lv.wrongKey)).versions());
    expect(auth.code).toBe('HOST_UNREACHABLE');
    expect(auth.message).toContain('Permission denied (publickey)');
    expect(auth.ms).toBeLessThan(30_000); // a liveness bound: a refused key must not hang

    // A host that never answers: a timeout, not a hang.
    const slow = new LibvirtConnection(lv.hosts[1]!.sshUri!.replace(/command=[^&]+/, `command=${encodeURIComponent(writeHangingSsh(lv.sharedDir))}`), { timeoutMs: 3000 });
    const hung = await failure(slow.versions());
    expect(hung.code).toBe('HOST_UNREACHABLE');
    expect(hung.message).toMatch(/no answer within 3 s/);
    expect(hung.ms).toBeLessThan(6000); // the 3 s limit fired, not a hang (liveness, not performance)
  });

  it('refuses hostile names and XML before anything reaches the host, and changes nothing', async () => {
    const before = await a.listDomains();
    for (const name of ['a;reboot', '$(id)', '<x>', "it's", '-rf']) {
      expect((await failure(a.start(name))).code).toBe('INVALID_ARGUMENT');
    }
    const dtd = `<!DOCTYPE domain [<!ENTITY x SYSTEM "file:///etc/shadow">]><domain type='qemu'><name>&x;</name></domain>`;
    const f = await failure(a.define(dtd));
    expect(f.code).toBe('INVALID_ARGUMENT');
    expect(f.message).toContain('DOCTYPE');
    expect((await failure(a.define("<domain type='qemu'><name>x;y</name></domain>"))).message).toContain("';'");
    expect(await a.listDomains()).toEqual(before);
  });

  // How long this takes against `virsh list --all` is the hostlist benchmark's business (bench/), not a test's.
  it('lists 100 domains with their state and memory, locally and over SSH', async () => {
    const dir = path.join(lv.sharedDir, 'many');
    fs.mkdirSync(dir);
    const cmds: string[] = [];
    for (let i = 0; i < 100; i++) {
      const f = path.join(dir, `d${i}.xml`);
      fs.writeFileSync(f, buildDomainXml({ name: `many-${i}`, memoryMiB: 64, cpus: 1, firmware: 'bios', domainType: 'qemu', disks: [], nics: [], graphics: 'none' }));
      cmds.push(`define ${f}`);
    }
    execFileSync('virsh', ['-q', '-c', lv.hosts[1]!.socketUri, cmds.join(' ; ')], { stdio: 'pipe', timeout: 120_000 });
    const local = new LibvirtConnection(lv.hosts[1]!.socketUri);
    const list = await local.listDomains();
    expect(list).toHaveLength(100);
    expect(new Set(list.map((d) => d.name)).size).toBe(100);
    expect(list.every((d) => d.state === 'shutoff' && d.memoryKiB === 65536 && d.persistent)).toBe(true);
    expect(await b.listDomains()).toHaveLength(100);
  });
});

/** An ssh stand-in that connects nowhere and never answers. */
function writeHangingSsh(dir: string): string {
  const f = path.join(dir, 'hanging-ssh');
  fs.writeFileSync(f, '#!/bin/sh\nexec sleep 600\n', { mode: 0o755 });
  return f;
}
