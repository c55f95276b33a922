/**
 * libvirt as a peer: domains defined from XML that mirrors what Nestbox runs (q35, TCG, the
 * test guest's ISO, a qcow2 disk, serial to a file, VGA + VNC on a unix socket, no NIC), driven
 * with `virsh` as a user would. libvirtd from Debian must be running (see bench/README.md).
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const VIRSH_URI = process.env['BENCH_LIBVIRT_URI'] ?? 'qemu:///system';

/** Null when libvirt can be used; otherwise why not and how to fix it. */
export function libvirtUnavailable(): string | null {
  try {
    execFileSync('virsh', ['-c', VIRSH_URI, 'version'], { stdio: 'pipe', timeout: 10_000 });
    return null;
  } catch (err) {
    const msg = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
    return `libvirt is not usable (${msg.split('\n')[0]}); install libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients and start it by hand: see bench/README.md`;
  }
}

export async function virsh(...args: string[]): Promise<string> {
  return virshOn(VIRSH_URI, ...args);
}

/** `virsh -c URI ...` against a given daemon (the libvirt test hosts' unix sockets). */
export async function virshOn(uri: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('virsh', ['-c', uri, ...args], { maxBuffer: 64 * 2 ** 20, env: { ...process.env, LC_ALL: 'C' } });
  return stdout;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');

export interface DomainSpec {
  readonly name: string;
  readonly memoryMiB: number;
  readonly iso: string;
  readonly disk: string | null;
  readonly serialLog: string;
  readonly vncSocket: string;
}

export function domainXml(d: DomainSpec): string {
  return `<domain type='qemu'>
  <name>${esc(d.name)}</name>
  <memory unit='MiB'>${d.memoryMiB}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type><boot dev='cdrom'/><boot dev='hd'/></os>
  <features><acpi/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    ${d.disk ? `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${esc(d.disk)}'/><target dev='vda' bus='virtio'/></disk>` : ''}
    <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='${esc(d.iso)}'/><target dev='sda' bus='sata'/><readonly/></disk>
    <serial type='file'><source path='${esc(d.serialLog)}'/><target port='0'/></serial>
    <graphics type='vnc' socket='${esc(d.vncSocket)}'/>
    <video><model type='vga'/></video>
    <input type='tablet' bus='usb'/>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

/** A directory libvirt's QEMU user (libvirt-qemu:kvm) can reach. */
export function libvirtDir(tag: string): string {
  const dir = path.join('/var/lib/libvirt', `nestbox-bench-${tag}-${process.pid}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o777);
  return dir;
}

/** Writes the domain's XML into `dir` (read by virsh on this side) and defines it on `uri`. */
export async function defineDomain(d: DomainSpec, dir: string, uri = VIRSH_URI): Promise<void> {
  const xml = path.join(dir, `${d.name}.xml`);
  fs.writeFileSync(xml, domainXml(d));
  await virshOn(uri, 'define', xml);
}

export async function undefineAll(prefix: string): Promise<void> {
  const names = (await virsh('list', '--all', '--name')).split('\n').map((s) => s.trim()).filter((s) => s.startsWith(prefix));
  for (const n of names) {
    await virsh('destroy', n).catch(() => undefined);
    await virsh('undefine', n).catch(() => undefined);
  }
}
