/**
 * What the host allows for bridged networking, found before QEMU is launched: the bridges
 * (from /sys/class/net/<if>/bridge), qemu-bridge-helper (present, and able to act: setuid
 * root or CAP_NET_ADMIN, unless we are root), its ACL (/etc/qemu/bridge.conf), and prepared
 * tap devices (/sys/class/net/<tap>/tun_flags, owner, master). Each refusal names the reason
 * and the commands that fix it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface HostBridge {
  readonly name: string;
  /** operstate: up, down, unknown. */
  readonly state: string;
  /** Interfaces enslaved to the bridge (uplinks, taps). */
  readonly members: readonly string[];
}

export interface HelperStatus {
  readonly path: string | null;
  /** The helper can create taps for us: we are root, or it is setuid root / has CAP_NET_ADMIN. */
  readonly permitted: boolean;
  readonly reason?: string;
  readonly fix?: readonly string[];
}

export interface Verdict {
  readonly ok: boolean;
  readonly reason?: string;
  /** Shell commands that fix it (run by an administrator). */
  readonly fix?: readonly string[];
  /** Allowed, but with something the user should know. */
  readonly warning?: string;
}

export interface HostFiles {
  /** /sys/class/net, overridable for tests. */
  readonly sysNet: string;
  readonly bridgeConf: string;
  readonly helperCandidates: readonly string[];
  readonly uid: number;
}

export const HOST_FILES: HostFiles = {
  sysNet: '/sys/class/net',
  bridgeConf: '/etc/qemu/bridge.conf',
  helperCandidates: [
    ...(process.env['NESTBOX_BRIDGE_HELPER'] ? [process.env['NESTBOX_BRIDGE_HELPER']] : []),
    '/usr/lib/qemu/qemu-bridge-helper',
    '/usr/libexec/qemu-bridge-helper',
    '/usr/local/libexec/qemu-bridge-helper',
    '/usr/lib/qemu-bridge-helper',
  ],
  uid: typeof process.getuid === 'function' ? process.getuid() : -1,
};

function read(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

export function listBridges(files: HostFiles = HOST_FILES): HostBridge[] {
  let names: string[];
  try {
    names = fs.readdirSync(files.sysNet);
  } catch {
    return [];
  }
  return names
    .filter((n) => fs.existsSync(path.join(files.sysNet, n, 'bridge')))
    .sort()
    .map((name) => {
      let members: string[] = [];
      try {
        members = fs.readdirSync(path.join(files.sysNet, name, 'brif')).sort();
      } catch {
        // no members
      }
      return { name, state: read(path.join(files.sysNet, name, 'operstate')) ?? 'unknown', members };
    });
}

export function findBridgeHelper(files: HostFiles = HOST_FILES): string | null {
  for (const p of files.helperCandidates) {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return null;
}

/** File capabilities of `file` as `getcap` prints them, or null when getcap is missing. */
function fileCaps(file: string): string | null {
  for (const getcap of ['/usr/sbin/getcap', '/sbin/getcap', '/usr/bin/getcap']) {
    if (!fs.existsSync(getcap)) continue;
    try {
      return execFileSync(getcap, [file], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return '';
    }
  }
  return null;
}

export function helperStatus(files: HostFiles = HOST_FILES): HelperStatus {
  const helper = findBridgeHelper(files);
  if (!helper) {
    return {
      path: null,
      permitted: false,
      reason: 'qemu-bridge-helper is not installed',
      fix: ['sudo apt install qemu-system-common    # Debian, Ubuntu', 'sudo dnf install qemu-bridge-helper    # Fedora'],
    };
  }
  if (files.uid === 0) return { path: helper, permitted: true };
  const st = fs.statSync(helper);
  if (st.uid === 0 && (st.mode & 0o4000) !== 0) return { path: helper, permitted: true };
  const caps = fileCaps(helper);
  if (caps && /cap_net_admin/i.test(caps)) return { path: helper, permitted: true };
  return {
    path: helper,
    permitted: false,
    reason: `${helper} is neither setuid root nor has CAP_NET_ADMIN, so it cannot create tap devices for you`,
    fix: [`sudo chmod u+s ${helper}`, `# or: sudo setcap cap_net_admin+ep ${helper}`],
  };
}

export interface BridgeAcl {
  /** null: the file could not be read (it may exist, readable only by root). */
  readonly readable: boolean;
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

/**
 * Reads qemu-bridge-helper's ACL as the helper does: `allow NAME|all`, `deny NAME|all`,
 * `include FILE`, `#` comments. Deny wins over allow; a bridge not allowed is denied.
 */
export function readBridgeAcl(file: string, depth = 0): BridgeAcl {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    return { readable: missing, allow: [], deny: [] };
  }
  const allow: string[] = [];
  const deny: string[] = [];
  let readable = true;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [cmd, arg] = line.split(/\s+/, 2) as [string, string | undefined];
    if (!arg) continue;
    if (cmd === 'allow') allow.push(arg);
    else if (cmd === 'deny') deny.push(arg);
    else if (cmd === 'include' && depth < 8) {
      const inc = readBridgeAcl(arg, depth + 1);
      readable &&= inc.readable;
      allow.push(...inc.allow);
      deny.push(...inc.deny);
    }
  }
  return { readable, allow, deny };
}

export function aclAllows(acl: BridgeAcl, bridge: string): boolean {
  if (acl.deny.includes('all') || acl.deny.includes(bridge)) return false;
  return acl.allow.includes('all') || acl.allow.includes(bridge);
}

function noBridge(bridge: string, files: HostFiles): Verdict {
  const known = listBridges(files).map((b) => b.name);
  return {
    ok: false,
    reason: `there is no bridge '${bridge}' on this host${known.length ? ` (bridges: ${known.join(', ')})` : ' (it has no bridges)'}`,
    fix: [
      `sudo ip link add ${bridge} type bridge && sudo ip link set ${bridge} up`,
      `sudo ip link set ETH master ${bridge}    # put your wired interface ETH on it (moves its IP to the bridge)`,
      `# or with NetworkManager: nmcli con add type bridge ifname ${bridge} && nmcli con add type bridge-slave ifname ETH master ${bridge}`,
    ],
  };
}

/** May QEMU attach to `bridge` through qemu-bridge-helper? */
export function checkHelperBridge(bridge: string, files: HostFiles = HOST_FILES): Verdict {
  if (!fs.existsSync(path.join(files.sysNet, bridge, 'bridge'))) {
    if (fs.existsSync(path.join(files.sysNet, bridge))) {
      return {
        ok: false,
        reason: `'${bridge}' is a network interface but not a bridge`,
        fix: [`sudo ip link add br0 type bridge && sudo ip link set ${bridge} master br0 && sudo ip link set br0 up    # then bridge to br0`],
      };
    }
    return noBridge(bridge, files);
  }
  const helper = helperStatus(files);
  if (!helper.permitted) return { ok: false, reason: helper.reason!, fix: helper.fix! };
  const acl = readBridgeAcl(files.bridgeConf);
  if (!acl.readable && files.uid !== 0) {
    return { ok: true, warning: `${files.bridgeConf} is not readable by this user; qemu-bridge-helper will check that it allows '${bridge}'` };
  }
  if (!aclAllows(acl, bridge)) {
    const exists = fs.existsSync(files.bridgeConf);
    const denied = acl.deny.includes(bridge) || acl.deny.includes('all');
    return {
      ok: false,
      reason: denied
        ? `${files.bridgeConf} denies bridge '${bridge}' to qemu-bridge-helper`
        : exists
          ? `${files.bridgeConf} does not allow bridge '${bridge}' for qemu-bridge-helper`
          : `${files.bridgeConf} does not exist, so qemu-bridge-helper allows no bridge`,
      fix: [
        `sudo mkdir -p ${path.dirname(files.bridgeConf)}`,
        `echo 'allow ${bridge}' | sudo tee -a ${files.bridgeConf}`,
        ...(denied ? [`# and remove the 'deny' line for ${bridge} (or 'deny all') from ${files.bridgeConf}`] : []),
      ],
    };
  }
  return { ok: true };
}

/** May QEMU open the prepared tap device `tap` (optionally: is it on `bridge`)? */
export function checkTap(tap: string, bridge: string | undefined, files: HostFiles = HOST_FILES): Verdict {
  const dir = path.join(files.sysNet, tap);
  const prepare = [
    `sudo ip tuntap add dev ${tap} mode tap user ${files.uid === 0 ? 'root' : '$USER'}`,
    ...(bridge ? [`sudo ip link set ${tap} master ${bridge}`] : []),
    `sudo ip link set ${tap} up`,
  ];
  if (!fs.existsSync(dir)) return { ok: false, reason: `there is no tap device '${tap}' on this host`, fix: prepare };
  if (!fs.existsSync(path.join(dir, 'tun_flags'))) return { ok: false, reason: `'${tap}' is a network interface but not a tap device`, fix: prepare };
  const owner = Number(read(path.join(dir, 'owner')) ?? '-1');
  if (files.uid !== 0 && owner !== -1 && owner !== files.uid) {
    return { ok: false, reason: `tap device '${tap}' belongs to user ${owner}, not to you (uid ${files.uid})`, fix: [`sudo ip tuntap del dev ${tap} mode tap`, ...prepare] };
  }
  if (files.uid !== 0 && owner === -1) {
    const group = Number(read(path.join(dir, 'group')) ?? '-1');
    if (group === -1) return { ok: false, reason: `tap device '${tap}' has no owner, so only root may open it`, fix: [`sudo ip tuntap del dev ${tap} mode tap`, ...prepare] };
  }
  if (bridge) {
    let master: string | null = null;
    try {
      master = path.basename(fs.readlinkSync(path.join(dir, 'master')));
    } catch {
      master = null;
    }
    if (master !== bridge) {
      return {
        ok: false,
        reason: master ? `tap device '${tap}' is on bridge '${master}', not on '${bridge}'` : `tap device '${tap}' is not on bridge '${bridge}'`,
        fix: [`sudo ip link set ${tap} master ${bridge}`, `sudo ip link set ${tap} up`],
      };
    }
  }
  return { ok: true };
}
