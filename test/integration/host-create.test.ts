/**
 * A VM created on a libvirt host through the CLI, as a user does it: the host reached over
 * real SSH (key-only sshd in its namespace), the test ISO copied into the host's `default`
 * pool by `nestbox create --host … --iso FILE` (an upload job), a new qcow2 volume for the
 * disk, NAT on libvirt's `default` network; then booted, its screen and its serial console
 * read, and a snapshot taken and restored — each through a whole `nestbox` process. One VM.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../src/core/api/contract';
import { volumeNameFor } from '../../src/core/domain/hostvolumes';
import { startTestHosts, until, virsh, type TestHosts } from '../support/host-setup';
import type { LibvirtTestHost } from '../support/libvirt-hosts';
import { stopBackgroundDaemon } from '../support/daemon';
import { cli, tempHome, testIso } from './helpers';

/** Whether a PNG (8-bit RGB or RGBA, as libvirt's screenshots become) has any pixel that is not black. */
function nonBlank(png: Buffer): boolean {
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  const w = png.readUInt32BE(16);
  const h = png.readUInt32BE(20);
  const channels = png[25] === 6 ? 4 : 3;
  const idat: Buffer[] = [];
  for (let p = 8; p < png.length; ) {
    const len = png.readUInt32BE(p);
    if (png.subarray(p + 4, p + 8).toString('latin1') === 'IDAT') idat.push(png.subarray(p + 8, p + 8 + len));
    p += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = w * channels + 1;
  for (let y = 0; y < h; y++) for (let x = 1; x < stride; x++) if ((channels === 4 ? x % 4 !== 0 : true) && raw[y * stride + x]! > 0) return true;
  return false;
}

describe('a VM created on a libvirt host through the CLI', () => {
  let setup: TestHosts;
  let h: LibvirtTestHost;
  let home: string;
  const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-hc-'));

  beforeAll(async () => {
    testIso();
    setup = await startTestHosts({ count: 1, sshHost: 0 });
    h = setup.hosts[0]!;
    // libvirt's stock NAT network, as a fresh install has it (the harness starts hosts without it).
    virsh(h.socketUri, 'net-start', 'default');
    home = tempHome();
  });

  afterAll(async () => {
    if (home) await stopBackgroundDaemon(home).catch(() => undefined);
    await setup?.stop(['hc1']);
    if (home) fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(shots, { recursive: true, force: true });
  }, 120_000);

  async function ok(args: readonly string[], input?: string): Promise<string> {
    const r = await cli(home, args, input !== undefined ? { input } : {});
    expect(r.code, `nestbox ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout + r.stderr;
  }

  /** Types a line on the serial console (a whole `nestbox serial` process) until the answer shows. */
  async function serial(line: string, answer: RegExp, timeoutMs = 240_000): Promise<string> {
    return until(`${answer} on the serial console`, async () => {
      const r = await cli(home, ['serial', 'alpha:hc1'], { input: `\x15${line}\n` });
      return answer.test(r.stdout) ? r.stdout : false;
    }, timeoutMs);
  }

  it('refuses bad requests clearly and makes nothing on the host', async () => {
    await ok(['host', 'add', 'alpha', h.sshUri!]);
    const bad: readonly [readonly string[], RegExp][] = [
      [['create', 'x;rm', '--host', 'alpha'], /contains ';'/],
      [['create', 'hc2', '--host', 'alpha', '--iso-volume', 'default/no-such.iso', '--disk-size', '64M'], /no volume 'no-such.iso'/],
      [['create', 'hc2', '--host', 'alpha', '--pool', 'nopool', '--disk-size', '64M'], /no storage pool 'nopool'/],
      [['create', 'hc2', '--host', 'alpha', '--network', 'x y'], /--network must be/],
      [['create', 'hc2', '--host', 'nohost'], /no host named 'nohost'/],
      [['create', 'hc2', '--pool', 'default'], /--pool goes with --host/],
    ];
    for (const [args, msg] of bad) {
      const r = await cli(home, args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(msg);
    }
    expect(virsh(h.socketUri, 'list', '--all', '--name').trim()).toBe('');
    expect(virsh(h.socketUri, 'vol-list', 'default')).not.toMatch(/hc2/);
  });

  it('creates the VM on the host: the ISO copied into the pool, a disk volume, NAT on default', async () => {
    // The volume is named after the ISO's file (as root the suite uses a copy named by its size).
    const vol = volumeNameFor(testIso());
    const VOL_RE = vol.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const out = await ok(['create', 'hc1', '--host', 'alpha', '--os-type', 'other', '--memory', '256', '--cpus', '1', '--disk-size', '64M', '--iso', testIso(), '--network', 'default']);
    expect(out).toMatch(new RegExp(`Copying ${VOL_RE} to alpha:default`));
    expect(out).toMatch(/Created 'alpha:hc1'/);
    const vols = virsh(h.socketUri, 'vol-list', 'default');
    expect(vols).toMatch(new RegExp(`${VOL_RE}`));
    expect(vols).toMatch(/hc1\.qcow2/);
    expect(fs.statSync(path.join(h.imagesDir, vol)).size).toBe(fs.statSync(testIso()).size);
    const xml = virsh(h.socketUri, 'dumpxml', 'hc1');
    expect(xml).toMatch(/<source pool='default' volume='hc1\.qcow2'\/>/);
    expect(xml).toMatch(new RegExp(`<source pool='default' volume='${VOL_RE}'\\/>`));
    expect(xml).toMatch(/<source network='default'/);
    const info = JSON.parse((await cli(home, ['info', 'alpha:hc1', '--json'])).stdout) as VmInfo;
    expect(info).toMatchObject({ name: 'hc1', host: 'alpha', state: 'poweredOff', memoryMiB: 256, cpus: 1 });
    // The same ISO again is used where it is, not copied twice; the name is now taken.
    const again = await cli(home, ['create', 'hc1', '--host', 'alpha', '--iso', testIso()]);
    expect(again.stderr).toMatch(new RegExp(`Using default/${VOL_RE} already on alpha`));
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already has a VM named 'hc1'/);
  }, 360_000);

  it('boots it: screen pixels and the serial console from the guest', async () => {
    await ok(['start', 'alpha:hc1']);
    expect(virsh(h.socketUri, 'domstate', 'hc1').trim()).toBe('running');
    await serial('echo HC-$((6*7))', /HC-42/);
    const file = path.join(shots, 'hc1.png');
    await ok(['screenshot', 'alpha:hc1', file]);
    expect(nonBlank(fs.readFileSync(file))).toBe(true);
  }, 360_000);

  it('takes a snapshot and restores it', async () => {
    await serial('echo BEFORE > /tmp/mark; echo MARKED-$((2+3))', /MARKED-5/, 60_000);
    await ok(['snapshot', 'alpha:hc1', 'take', 's1']);
    await serial('echo AFTER > /tmp/mark; echo CHANGED-$((2+4))', /CHANGED-6/, 60_000);
    expect(await ok(['snapshot', 'alpha:hc1', 'list'])).toMatch(/s1/);
    await ok(['snapshot', 'alpha:hc1', 'restore', 's1']);
    await serial('echo MARK-$(cat /tmp/mark)-END', /MARK-BEFORE-END/, 60_000);
    await ok(['poweroff', 'alpha:hc1']);
  }, 360_000);
});
