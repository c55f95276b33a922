/** The libvirt test hosts themselves: two daemons, isolated, reachable by socket and by SSH. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLibvirtHosts, type LibvirtHosts } from '../support/libvirt-hosts';

const virsh = (uri: string, ...args: string[]) =>
  execFileSync('virsh', ['-c', uri, ...args], { timeout: 30_000, env: { ...process.env, LC_ALL: 'C' }, stdio: 'pipe' }).toString();

describe('libvirt test hosts', () => {
  let lv: LibvirtHosts;
  beforeAll(async () => {
    lv = await startLibvirtHosts({ count: 2 });
  });
  afterAll(async () => {
    await lv?.stop();
  });

  it('are two distinct daemons with their own hostnames', () => {
    const [a, b] = lv.hosts;
    expect(virsh(a!.socketUri, 'hostname').trim()).toBe(a!.name);
    expect(virsh(b!.socketUri, 'hostname').trim()).toBe(b!.name);
    const uuid = (uri: string) => /<uuid>([^<]+)<\/uuid>/.exec(virsh(uri, 'capabilities'))?.[1];
    expect(uuid(a!.socketUri)).toBeTruthy();
    expect(uuid(a!.socketUri)).not.toBe(uuid(b!.socketUri));
  });

  it('offer no KVM, whatever this machine has (their guests run under TCG everywhere)', () => {
    for (const h of lv.hosts) expect(virsh(h.socketUri, 'capabilities')).not.toMatch(/<domain type=["']kvm["']/);
  });

  it('reach each other over TCP between namespaces only', () => {
    const [a, b] = lv.hosts;
    const out = a!.exec(['virsh', '-c', b!.peerUri, 'hostname']);
    expect(out.trim()).toBe(b!.name);
  });

  it('serve the SSH host key-only', () => {
    const b = lv.hosts[1]!;
    expect(virsh(b.sshUri!, 'hostname').trim()).toBe(b.name);
    expect(() => virsh(b.sshUriWithKey!(lv.wrongKey), 'hostname')).toThrow(/Permission denied|authentication/i);
  });

  it('run a TCG guest from the test ISO', async () => {
    const a = lv.hosts[0]!;
    const iso = process.env['NESTBOX_TEST_ISO'];
    if (!iso || !fs.existsSync(iso)) throw new Error('NESTBOX_TEST_ISO is not set; the integration global setup builds it');
    const log = `${lv.sharedDir}/serial.log`;
    const xml = `<domain type='qemu'><name>harness</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='cdrom'/></os>
      <devices><disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='${iso}'/><target dev='hdc' bus='ide'/><readonly/></disk>
      <serial type='file'><source path='${log}'/></serial></devices></domain>`;
    fs.writeFileSync(`${lv.sharedDir}/d.xml`, xml);
    virsh(a.socketUri, 'create', `${lv.sharedDir}/d.xml`);
    const deadline = Date.now() + 90_000;
    while (!(fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('NESTBOX-GUEST-READY'))) {
      if (Date.now() > deadline) throw new Error(`the guest did not boot: ${fs.existsSync(log) ? fs.readFileSync(log, 'utf8').slice(-500) : 'no serial log'}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    virsh(a.socketUri, 'destroy', 'harness');
  });

  it('restart their daemon', async () => {
    const a = lv.hosts[0]!;
    await a.restartDaemon();
    expect(virsh(a.socketUri, 'hostname').trim()).toBe(a.name);
  });

  it('leave nothing behind', async () => {
    const dir = lv.sharedDir.replace(/\/shared$/, '');
    const ns = lv.hosts.map((h) => h.netns);
    await lv.stop();
    expect(fs.existsSync(dir)).toBe(false);
    const list = execFileSync('ip', ['netns', 'list']).toString();
    for (const n of ns) expect(list).not.toContain(n);
  });
});
