/**
 * Bridged-networking preflight against a fake /sys/class/net and bridge.conf in a temp dir:
 * every refusal says why and carries the commands that fix it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aclAllows, checkHelperBridge, checkTap, helperStatus, listBridges, readBridgeAcl, type HostFiles } from '../../../../src/core/network/bridges';

let dir: string;
let files: HostFiles;

function iface(name: string, extra: Record<string, string> = {}, bridge = false): void {
  const d = path.join(dir, 'sys', name);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'operstate'), 'up\n');
  if (bridge) {
    fs.mkdirSync(path.join(d, 'bridge'));
    fs.mkdirSync(path.join(d, 'brif'));
  }
  for (const [k, v] of Object.entries(extra)) fs.writeFileSync(path.join(d, k), `${v}\n`);
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-br-'));
  fs.mkdirSync(path.join(dir, 'sys'));
  const helper = path.join(dir, 'qemu-bridge-helper');
  fs.writeFileSync(helper, '#!/bin/sh\n', { mode: 0o755 });
  files = { sysNet: path.join(dir, 'sys'), bridgeConf: path.join(dir, 'bridge.conf'), helperCandidates: [helper], uid: 0 };
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('listBridges', () => {
  it('lists interfaces that have a bridge/ directory, with their members', () => {
    iface('eth0');
    iface('br0', {}, true);
    iface('virbr1', {}, true);
    fs.symlinkSync('../../eth0', path.join(dir, 'sys', 'br0', 'brif', 'eth0'));
    expect(listBridges(files)).toEqual([
      { name: 'br0', state: 'up', members: ['eth0'] },
      { name: 'virbr1', state: 'up', members: [] },
    ]);
  });
});

describe('bridge.conf', () => {
  it('reads allow, deny and include like qemu-bridge-helper; deny wins', () => {
    fs.writeFileSync(path.join(dir, 'more.conf'), 'allow br2\n');
    fs.writeFileSync(files.bridgeConf, `# comment\nallow br0\nallow br1 # trailing\ndeny br1\ninclude ${path.join(dir, 'more.conf')}\n`);
    const acl = readBridgeAcl(files.bridgeConf);
    expect(aclAllows(acl, 'br0')).toBe(true);
    expect(aclAllows(acl, 'br1')).toBe(false);
    expect(aclAllows(acl, 'br2')).toBe(true);
    expect(aclAllows(acl, 'br3')).toBe(false);
    expect(aclAllows({ readable: true, allow: ['all'], deny: [] }, 'x')).toBe(true);
    expect(aclAllows({ readable: true, allow: ['all'], deny: ['all'] }, 'x')).toBe(false);
  });
});

describe('checkHelperBridge', () => {
  it('refuses a bridge that does not exist, naming the bridges there are and how to make one', () => {
    iface('br0', {}, true);
    const v = checkHelperBridge('br9', files);
    expect(v.ok).toBe(false);
    expect(v.reason).toBe("there is no bridge 'br9' on this host (bridges: br0)");
    expect(v.fix?.[0]).toBe('sudo ip link add br9 type bridge && sudo ip link set br9 up');
  });

  it('refuses an interface that is not a bridge', () => {
    iface('eth0');
    expect(checkHelperBridge('eth0', files)).toMatchObject({ ok: false, reason: "'eth0' is a network interface but not a bridge" });
  });

  it('refuses when bridge.conf is missing or does not allow the bridge, with the line to add', () => {
    iface('br0', {}, true);
    expect(checkHelperBridge('br0', files)).toMatchObject({
      ok: false,
      reason: `${files.bridgeConf} does not exist, so qemu-bridge-helper allows no bridge`,
      fix: [`sudo mkdir -p ${dir}`, `echo 'allow br0' | sudo tee -a ${files.bridgeConf}`],
    });
    fs.writeFileSync(files.bridgeConf, 'allow virbr0\n');
    expect(checkHelperBridge('br0', files).reason).toBe(`${files.bridgeConf} does not allow bridge 'br0' for qemu-bridge-helper`);
    fs.writeFileSync(files.bridgeConf, 'allow all\ndeny br0\n');
    expect(checkHelperBridge('br0', files).reason).toBe(`${files.bridgeConf} denies bridge 'br0' to qemu-bridge-helper`);
    fs.writeFileSync(files.bridgeConf, 'allow br0\n');
    expect(checkHelperBridge('br0', files)).toEqual({ ok: true });
  });

  it('refuses when the helper is missing, or cannot gain privileges for a normal user', () => {
    iface('br0', {}, true);
    fs.writeFileSync(files.bridgeConf, 'allow br0\n');
    expect(checkHelperBridge('br0', { ...files, helperCandidates: [path.join(dir, 'nope')] })).toMatchObject({ ok: false, reason: 'qemu-bridge-helper is not installed' });
    const user = { ...files, uid: 1000 };
    const st = helperStatus(user);
    expect(st.permitted).toBe(false);
    expect(st.reason).toMatch(/neither setuid root nor has CAP_NET_ADMIN/);
    expect(st.fix).toContain(`sudo chmod u+s ${files.helperCandidates[0]}`);
    expect(checkHelperBridge('br0', user).ok).toBe(false);
  });
});

describe('checkTap', () => {
  it('accepts a tap device owned by the user and on the bridge; refuses otherwise with the commands', () => {
    iface('br0', {}, true);
    iface('tap0', { tun_flags: '0x1002', owner: '1000', group: '-1' });
    const user = { ...files, uid: 1000 };
    expect(checkTap('tap0', undefined, user)).toEqual({ ok: true });
    expect(checkTap('tap0', 'br0', user)).toMatchObject({ ok: false, reason: "tap device 'tap0' is not on bridge 'br0'", fix: ['sudo ip link set tap0 master br0', 'sudo ip link set tap0 up'] });
    fs.symlinkSync('../br0', path.join(dir, 'sys', 'tap0', 'master'));
    expect(checkTap('tap0', 'br0', user)).toEqual({ ok: true });
    expect(checkTap('tap0', 'br0', { ...files, uid: 1001 })).toMatchObject({ ok: false, reason: "tap device 'tap0' belongs to user 1000, not to you (uid 1001)" });
    expect(checkTap('tap9', 'br0', user)).toMatchObject({ ok: false, reason: "there is no tap device 'tap9' on this host", fix: ['sudo ip tuntap add dev tap9 mode tap user $USER', 'sudo ip link set tap9 master br0', 'sudo ip link set tap9 up'] });
    iface('eth0');
    expect(checkTap('eth0', undefined, user).reason).toBe("'eth0' is a network interface but not a tap device");
  });
});
