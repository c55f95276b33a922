/**
 * The one setup of the multi-host tests and benchmarks: namespaced libvirt hosts (one of them
 * reached over real SSH when asked) from libvirt-hosts.ts, the names Nestbox gives them, the
 * `hosts.add` parameters that reach them without TCP from the root namespace, guests defined
 * straight through virsh as another tool would, and a cleanup that destroys what ran.
 *
 * Peers reach each other's daemon by its socket path (every host sees /tmp) and send the
 * migration data over the hosts' network (migrateAddr). Never the qemu+tcp peer URI from
 * here: the desktop side also reads the result from the destination, and the root namespace
 * must never send TCP into a namespace.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { HostSpec } from '../../src/core/api/contract';
import type { RpcClient } from '../../src/core/api/rpc';
import { startLibvirtHosts, type LibvirtHosts, type LibvirtTestHost, type StartOptions } from './libvirt-hosts';

/** The names the hosts get in Nestbox, in the harness's order. */
export const HOST_NAMES = ['alpha', 'beta', 'gamma'] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `virsh -c URI ...`, synchronously, with libvirt's C-locale messages. */
export function virsh(uri: string, ...args: string[]): string {
  return execFileSync('virsh', ['-c', uri, ...args], { timeout: 60_000, env: { ...process.env, LC_ALL: 'C' }, stdio: 'pipe' }).toString();
}

/** Polls `fn` every 100 ms until it returns something other than undefined/false. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

/** A guest defined straight through virsh (as another tool would): an ISO, a serial pty, a screen, maybe a disk. */
export function defineTestGuest(h: LibvirtTestHost, name: string, iso: string, disk: string | null = null): void {
  const xml = `<domain type='qemu'><name>${name}</name><memory unit='MiB'>160</memory><vcpu>1</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='cdrom'/></os>
    <devices>
      <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='${iso}'/><target dev='hdc' bus='ide'/><readonly/></disk>
      ${disk ? `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>` : ''}
      <serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console>
      <graphics type='vnc' autoport='yes' listen='127.0.0.1'/><video><model type='vga'/></video>
    </devices></domain>`;
  const file = path.join(h.imagesDir, `${name}.xml`);
  fs.writeFileSync(file, xml);
  virsh(h.socketUri, 'define', file);
}

export interface TestHosts {
  readonly lv: LibvirtHosts;
  readonly hosts: readonly LibvirtTestHost[];
  /** The test host Nestbox knows as `name` (alpha, beta, ...). */
  host(name: (typeof HOST_NAMES)[number]): LibvirtTestHost;
  /** `hosts.add` for the i-th host: by its socket, or (`ssh`) by its real SSH URI. */
  addParams(index: number, opts?: { readonly ssh?: boolean }): HostSpec & { readonly name: string; readonly uri: string };
  /** Adds every host to a Nestbox core (the SSH host over SSH unless `ssh: false`) and waits until all are connected. */
  register(client: RpcClient, opts?: { readonly ssh?: boolean }): Promise<void>;
  /** Destroys (stops) these domains wherever they run; what is not running is skipped. */
  destroy(domains: readonly string[]): void;
  /** Destroys the domains and stops every host. */
  stop(domains?: readonly string[]): Promise<void>;
}

/** Starts the namespaced libvirt hosts (see libvirt-hosts.ts for `sshHost`: -1 for none). */
export async function startTestHosts(opts: StartOptions = {}): Promise<TestHosts> {
  const count = opts.count ?? 2;
  if (count > HOST_NAMES.length) throw new Error(`at most ${HOST_NAMES.length} test hosts`);
  const lv = await startLibvirtHosts(opts);
  const addParams = (index: number, o: { readonly ssh?: boolean } = {}) => {
    const h = lv.hosts[index];
    if (!h) throw new Error(`there is no test host ${index}`);
    if (o.ssh && !h.sshUri) throw new Error(`test host ${index} runs no sshd`);
    return { name: HOST_NAMES[index]!, uri: o.ssh ? h.sshUri! : h.socketUri, peerUri: h.socketUri, migrateAddr: h.migrateAddr };
  };
  const destroy = (domains: readonly string[]) => {
    for (const h of lv.hosts) {
      for (const d of domains) {
        try {
          virsh(h.socketUri, 'destroy', d);
        } catch {
          /* not running there */
        }
      }
    }
  };
  return {
    lv,
    hosts: lv.hosts,
    host(name) {
      const h = lv.hosts[HOST_NAMES.indexOf(name)];
      if (!h) throw new Error(`no test host is named ${name}`);
      return h;
    },
    addParams,
    async register(client, o = {}) {
      for (const [i, h] of lv.hosts.entries()) await client.call('hosts.add', addParams(i, { ssh: o.ssh !== false && h.sshUri !== undefined }));
      await until('every host connected', async () => (await client.call('hosts.list', {})).every((x) => x.status === 'connected'), 60_000);
    },
    destroy,
    async stop(domains = []) {
      destroy(domains);
      await lv.stop();
    },
  };
}
