/**
 * The VM configuration: a versioned, validated value. Every way a config enters the core
 * (the wizard, the CLI, the database, an OVF later) goes through `parseVmConfig`, which
 * rejects unknown keys so that a typo never silently becomes a default.
 */

export const CONFIG_VERSION = 1 as const;

export type Firmware = 'bios' | 'uefi';
export type MachineType = 'q35' | 'pc';
export type DiskFormat = 'qcow2' | 'raw' | 'vdi' | 'vmdk' | 'vpc' | 'vhdx';
export type DiskBus = 'virtio' | 'sata' | 'ide' | 'nvme';
export type NicModel = 'virtio-net-pci' | 'e1000' | 'rtl8139';
/**
 * How an adapter is attached, as VirtualBox names it: NAT (QEMU user networking), bridged
 * onto a host bridge, an internal network between VMs (by name, no host), or not attached.
 */
export type NicMode = 'nat' | 'bridged' | 'internal' | 'none';
/**
 * How a bridged adapter reaches the host's LAN. `helper` and `tap` are Linux (qemu-bridge-
 * helper, or a tap device the administrator prepared); `vmnet` is macOS's vmnet-bridged and
 * `windows-tap` a TAP-Windows adapter. The last two are declared so configs can carry them;
 * they are refused at start on other hosts.
 */
export type BridgeVia = 'helper' | 'tap' | 'vmnet' | 'windows-tap';
export type DisplayAdapter = 'vga' | 'virtio' | 'none';
export type BootDevice = 'disk' | 'cdrom' | 'network';

export interface DiskConfig {
  readonly id: string;
  /** Absolute path, or relative to the VM's folder (disks Nestbox created live there). */
  readonly file: string;
  readonly format: DiskFormat;
  readonly bus: DiskBus;
  readonly readOnly: boolean;
  /** True when Nestbox created the image, so deleting the VM may delete it. */
  readonly owned: boolean;
  /**
   * A linked clone's disk: a qcow2 overlay whose backing image Nestbox made (and tracks in
   * its database). Absent on every other disk; a user's image with a backing file is refused.
   */
  readonly backing?: DiskBacking;
}

export interface DiskBacking {
  /** Absolute path of the read-only base image. */
  readonly file: string;
  readonly format: 'qcow2';
}

/** Automatic snapshots taken before each start ("undo this session"). */
export interface AutoSnapshotConfig {
  /** How many automatic snapshots to keep; older ones are deleted. 0 turns them off. */
  readonly keep: number;
}

export interface CdromConfig {
  readonly id: string;
  /** Absolute path of an ISO, or null for an empty drive. */
  readonly iso: string | null;
}

export type ForwardProtocol = 'tcp' | 'udp';

/** A NAT port forwarding rule, as in VirtualBox: host address:port → guest port. */
export interface PortForward {
  readonly name: string;
  readonly protocol: ForwardProtocol;
  /** Host address to bind; 127.0.0.1 unless the user chooses otherwise. */
  readonly hostAddress: string;
  readonly hostPort: number;
  /** Guest address; empty means the guest's DHCP address (10.0.2.15 by default). */
  readonly guestAddress: string;
  readonly guestPort: number;
}

export interface NicConfig {
  readonly id: string;
  readonly mode: NicMode;
  readonly model: NicModel;
  readonly mac: string;
  /** NAT only. Absent in configs written before port forwarding existed. */
  readonly forwards: readonly PortForward[];
  /** NAT: the guest's subnet (CIDR); absent means 10.0.2.0/24 as in VirtualBox. */
  readonly natNetwork?: string;
  /** NAT: isolate the guest from the host's network (no outbound); forwards still work. */
  readonly restrict?: boolean;
  /** Bridged: the host bridge (helper, tap) or host interface (vmnet, windows-tap). */
  readonly bridge?: string;
  /** Bridged: how to reach it; absent means `helper`. */
  readonly bridgeVia?: BridgeVia;
  /** Bridged via `tap`: the prepared tap device. */
  readonly tap?: string;
  /** Internal: the network's name; VMs with the same name see each other. */
  readonly network?: string;
  /**
   * NAT or internal: count frames by mirroring every one of them to the core (QEMU's
   * filter-mirror), which costs throughput. Only for guests without an agent, when the user
   * wants counters anyway; the agent's and the tap device's counters cost nothing.
   */
  readonly mirrorCounters?: boolean;
}

export const DEFAULT_NAT_NETWORK = '10.0.2.0/24';

export interface DisplayConfig {
  readonly adapter: DisplayAdapter;
}

export interface SerialConfig {
  readonly enabled: boolean;
}

/**
 * What a VM is given of the host and how it competes for it (VirtualBox's CPU execution cap,
 * VMware's shares/limits). Every field is optional: a config without `resources` (all configs
 * written before this existed) means QEMU's defaults and no host-side limits.
 */
export interface ResourceConfig {
  /** CPU topology; sockets × cores × threads must equal `cpus`. */
  readonly sockets?: number;
  readonly cores?: number;
  readonly threads?: number;
  /** CPU priority relative to other VMs (cgroup cpu.weight scale, 1–10000; 100 is normal). */
  readonly cpuShares?: number;
  /** At most this percent of the whole host's CPU time (1–100). */
  readonly cpuLimitPct?: number;
  /** Host CPU numbers the VM may run on. */
  readonly pinCpus?: readonly number[];
  /** A virtio-balloon device, so memory can be reclaimed from the running guest. */
  readonly balloon?: boolean;
  /** Hard ceiling on the QEMU process's memory (guest RAM plus QEMU's own), MiB. */
  readonly memoryMaxMiB?: number;
  /** Offer the guest's RAM to the host's page sharing (KSM; QEMU mem-merge). */
  readonly memMerge?: boolean;
}

export interface VmConfig {
  readonly version: typeof CONFIG_VERSION;
  readonly uuid: string;
  readonly name: string;
  readonly osType: string;
  readonly description: string;
  readonly group: string;
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly firmware: Firmware;
  readonly machine: MachineType;
  readonly disks: readonly DiskConfig[];
  readonly cdroms: readonly CdromConfig[];
  readonly bootOrder: readonly BootDevice[];
  readonly nics: readonly NicConfig[];
  readonly display: DisplayConfig;
  readonly serial: SerialConfig;
  /** Absent in configs written before resource controls existed. */
  readonly resources?: ResourceConfig;
  /** Absent in configs written before automatic snapshots existed: off. */
  readonly autoSnapshot?: AutoSnapshotConfig;
  /**
   * A virtio-serial port for the QEMU guest agent (addresses, shutdown, file system freeze,
   * clock). New VMs get it; absent (configs written before it existed) means no port, so an
   * old VM's hardware does not change under it until the user adds it.
   */
  readonly guestAgent?: boolean;
}

export const LIMITS = {
  minMemoryMiB: 16,
  maxMemoryMiB: 4 * 1024 * 1024,
  minCpus: 1,
  maxCpus: 255,
  maxDisks: 16,
  maxCdroms: 4,
  maxNics: 8,
  maxNameLength: 64,
  maxCpuShares: 10_000,
  maxHostCpu: 1023,
  maxAutoSnapshots: 100,
} as const;

export class ConfigError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'ConfigError';
  }
}

type Obj = Record<string, unknown>;

function expectObject(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(path, 'must be an object');
  return v as Obj;
}

function rejectUnknownKeys(o: Obj, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new ConfigError(path, `unknown key '${k}'`);
  }
}

function str(o: Obj, key: string, path: string, opts: { min?: number; max?: number; pattern?: RegExp } = {}): string {
  const v = o[key];
  const p = path ? `${path}.${key}` : key;
  if (typeof v !== 'string') throw new ConfigError(p, 'must be a string');
  if (opts.min !== undefined && v.length < opts.min) throw new ConfigError(p, `must have at least ${opts.min} characters`);
  if (opts.max !== undefined && v.length > opts.max) throw new ConfigError(p, `must have at most ${opts.max} characters`);
  if (opts.pattern && !opts.pattern.test(v)) throw new ConfigError(p, `has an invalid value '${v}'`);
  return v;
}

function int(o: Obj, key: string, path: string, min: number, max: number): number {
  const v = o[key];
  const p = path ? `${path}.${key}` : key;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(p, 'must be an integer');
  if (v < min || v > max) throw new ConfigError(p, `must be between ${min} and ${max}`);
  return v;
}

function bool(o: Obj, key: string, path: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') throw new ConfigError(path ? `${path}.${key}` : key, 'must be true or false');
  return v;
}

function oneOf<T extends string>(o: Obj, key: string, path: string, values: readonly T[]): T {
  const v = o[key];
  const p = path ? `${path}.${key}` : key;
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw new ConfigError(p, `must be one of ${values.join(', ')}`);
  }
  return v as T;
}

function arr(o: Obj, key: string, path: string, max: number): readonly unknown[] {
  const v = o[key];
  const p = path ? `${path}.${key}` : key;
  if (!Array.isArray(v)) throw new ConfigError(p, 'must be a list');
  if (v.length > max) throw new ConfigError(p, `may have at most ${max} entries`);
  return v;
}

export const FIRMWARES: readonly Firmware[] = ['bios', 'uefi'];
export const MACHINES: readonly MachineType[] = ['q35', 'pc'];
export const DISK_FORMATS: readonly DiskFormat[] = ['qcow2', 'raw', 'vdi', 'vmdk', 'vpc', 'vhdx'];
export const DISK_BUSES: readonly DiskBus[] = ['virtio', 'sata', 'ide', 'nvme'];
export const NIC_MODELS: readonly NicModel[] = ['virtio-net-pci', 'e1000', 'rtl8139'];
export const NIC_MODES: readonly NicMode[] = ['nat', 'bridged', 'internal', 'none'];
export const BRIDGE_VIAS: readonly BridgeVia[] = ['helper', 'tap', 'vmnet', 'windows-tap'];
export const DISPLAY_ADAPTERS: readonly DisplayAdapter[] = ['vga', 'virtio', 'none'];
export const BOOT_DEVICES: readonly BootDevice[] = ['disk', 'cdrom', 'network'];

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ID_RE = /^[a-z][a-z0-9]{0,15}$/;
/** A unicast MAC (the multicast bit, the lowest of the first octet, clear), lower case. */
export const MAC_RE = /^[0-9a-f][02468ace](:[0-9a-f]{2}){5}$/;
/** Linux interface names: at most 15 characters, no slash or space. */
export const IFNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
/** Internal network names: they also name the switch's sockets. */
export const NETWORK_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
/**
 * Names become folder names and appear in argv; keep them to characters that are safe on
 * every host file system and never look like an option.
 */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._()+-]*$/;

export function validateName(name: string, path = 'name'): string {
  if (name.length < 1 || name.length > LIMITS.maxNameLength) {
    throw new ConfigError(path, `must have 1 to ${LIMITS.maxNameLength} characters`);
  }
  if (!NAME_RE.test(name) || name.endsWith('.') || name.endsWith(' ')) {
    throw new ConfigError(
      path,
      `'${name}' is not a valid VM name (use letters, digits, spaces and . _ ( ) + -, starting with a letter or digit)`,
    );
  }
  if (UUID_RE.test(name.toLowerCase())) throw new ConfigError(path, 'must not look like a UUID');
  return name;
}

function parseDisk(v: unknown, path: string): DiskConfig {
  const o = expectObject(v, path);
  rejectUnknownKeys(o, ['id', 'file', 'format', 'bus', 'readOnly', 'owned', 'backing'], path);
  const disk: DiskConfig = {
    id: str(o, 'id', path, { pattern: ID_RE }),
    file: str(o, 'file', path, { min: 1, max: 4096 }),
    format: oneOf(o, 'format', path, DISK_FORMATS),
    bus: oneOf(o, 'bus', path, DISK_BUSES),
    readOnly: bool(o, 'readOnly', path),
    owned: bool(o, 'owned', path),
  };
  if (o['backing'] === undefined) return disk;
  const b = expectObject(o['backing'], `${path}.backing`);
  rejectUnknownKeys(b, ['file', 'format'], `${path}.backing`);
  if (disk.format !== 'qcow2') throw new ConfigError(`${path}.backing`, 'only a qcow2 disk can have a backing image');
  const file = str(b, 'file', `${path}.backing`, { min: 2, max: 4096 });
  if (!file.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(file)) throw new ConfigError(`${path}.backing.file`, 'must be an absolute path');
  return { ...disk, backing: { file, format: oneOf(b, 'format', `${path}.backing`, ['qcow2'] as const) } };
}

function parseCdrom(v: unknown, path: string): CdromConfig {
  const o = expectObject(v, path);
  rejectUnknownKeys(o, ['id', 'iso'], path);
  const iso = o['iso'];
  if (iso !== null && (typeof iso !== 'string' || iso.length === 0)) {
    throw new ConfigError(`${path}.iso`, 'must be a path or null');
  }
  return { id: str(o, 'id', path, { pattern: ID_RE }), iso: iso as string | null };
}

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const RULE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}$/;

export function parsePortForward(v: unknown, path: string): PortForward {
  const o = expectObject(v, path);
  rejectUnknownKeys(o, ['name', 'protocol', 'hostAddress', 'hostPort', 'guestAddress', 'guestPort'], path);
  const guestAddress = str(o, 'guestAddress', path);
  if (guestAddress !== '' && !IPV4_RE.test(guestAddress)) throw new ConfigError(`${path}.guestAddress`, `'${guestAddress}' is not an IPv4 address`);
  return {
    name: str(o, 'name', path, { pattern: RULE_NAME_RE }),
    protocol: oneOf(o, 'protocol', path, ['tcp', 'udp'] as const),
    hostAddress: str(o, 'hostAddress', path, { pattern: IPV4_RE }),
    hostPort: int(o, 'hostPort', path, 1, 65535),
    guestAddress,
    guestPort: int(o, 'guestPort', path, 1, 65535),
  };
}

/**
 * Parses `a.b.c.d/n` into a network QEMU's user networking can use: the address must be the
 * network's own (host bits zero) and the prefix leave room for the gateway, DNS and DHCP.
 */
export function parseNatNetwork(v: string, path = 'natNetwork'): string {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(v);
  if (!m || !IPV4_RE.test(m[1]!)) throw new ConfigError(path, `'${v}' is not an IPv4 network such as 10.0.2.0/24`);
  const prefix = Number(m[2]);
  if (prefix < 8 || prefix > 28) throw new ConfigError(path, `the prefix of '${v}' must be between /8 and /28`);
  const n = m[1]!.split('.').reduce((a, b) => a * 256 + Number(b), 0);
  const hostBits = 2 ** (32 - prefix);
  if (n % hostBits !== 0) throw new ConfigError(path, `'${v}' has host bits set (did you mean ${ipString(n - (n % hostBits))}/${prefix}?)`);
  return v;
}

function ipString(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** The gateway, DNS and first DHCP address QEMU uses in a NAT network (.2, .3, .15). */
export function natAddresses(cidr: string): { gateway: string; dns: string; dhcpStart: string } {
  const [addr] = cidr.split('/');
  const n = addr!.split('.').reduce((a, b) => a * 256 + Number(b), 0);
  return { gateway: ipString(n + 2), dns: ipString(n + 3), dhcpStart: ipString(n + 15) };
}

function parseNic(v: unknown, path: string): NicConfig {
  const o = expectObject(v, path);
  rejectUnknownKeys(o, ['id', 'mode', 'model', 'mac', 'forwards', 'natNetwork', 'restrict', 'bridge', 'bridgeVia', 'tap', 'network', 'mirrorCounters'], path);
  const forwards = o['forwards'] === undefined ? [] : arr(o, 'forwards', path, 64).map((f, i) => parsePortForward(f, `${path}.forwards[${i}]`));
  const names = new Set(forwards.map((f) => f.name));
  if (names.size !== forwards.length) throw new ConfigError(`${path}.forwards`, 'two rules have the same name');
  const binds = new Set(forwards.map((f) => `${f.protocol}:${f.hostAddress}:${f.hostPort}`));
  if (binds.size !== forwards.length) throw new ConfigError(`${path}.forwards`, 'two rules use the same host address and port');
  const mode = oneOf(o, 'mode', path, NIC_MODES);
  const nic: { -readonly [K in keyof NicConfig]: NicConfig[K] } = {
    id: str(o, 'id', path, { pattern: ID_RE }),
    mode,
    model: oneOf(o, 'model', path, NIC_MODELS),
    mac: str(o, 'mac', path, { pattern: MAC_RE }),
    forwards,
  };
  // Settings of other modes are kept (switching back to NAT finds its subnet again).
  if (o['natNetwork'] !== undefined) nic.natNetwork = parseNatNetwork(str(o, 'natNetwork', path), `${path}.natNetwork`);
  if (o['restrict'] !== undefined) nic.restrict = bool(o, 'restrict', path);
  if (o['mirrorCounters'] !== undefined) nic.mirrorCounters = bool(o, 'mirrorCounters', path);
  if (o['bridgeVia'] !== undefined) nic.bridgeVia = oneOf(o, 'bridgeVia', path, BRIDGE_VIAS);
  if (o['bridge'] !== undefined && o['bridge'] !== '') {
    // vmnet and TAP-Windows name host adapters, which may have spaces ("Ethernet 2").
    const loose = nic.bridgeVia === 'vmnet' || nic.bridgeVia === 'windows-tap';
    nic.bridge = str(o, 'bridge', path, loose ? { min: 1, max: 128, pattern: /^[^,=\0\n]+$/ } : { pattern: IFNAME_RE });
  }
  if (o['tap'] !== undefined && o['tap'] !== '') nic.tap = str(o, 'tap', path, { pattern: IFNAME_RE });
  if (o['network'] !== undefined && o['network'] !== '') nic.network = str(o, 'network', path, { pattern: NETWORK_NAME_RE });
  if (mode === 'bridged') {
    const via = nic.bridgeVia ?? 'helper';
    if (via === 'tap' && !nic.tap) throw new ConfigError(`${path}.tap`, 'a bridged adapter attached through a tap device needs the tap device\'s name');
    if (via !== 'tap' && !nic.bridge) throw new ConfigError(`${path}.bridge`, 'a bridged adapter needs the name of a host bridge');
  }
  if (mode === 'internal' && !nic.network) throw new ConfigError(`${path}.network`, 'an adapter on an internal network needs the network\'s name');
  return nic;
}

function uniqueIds(items: readonly { id: string }[], path: string, seen: Set<string>): void {
  for (const it of items) {
    if (seen.has(it.id)) throw new ConfigError(path, `duplicate device id '${it.id}'`);
    seen.add(it.id);
  }
}

export const RESOURCE_KEYS = ['sockets', 'cores', 'threads', 'cpuShares', 'cpuLimitPct', 'pinCpus', 'balloon', 'memoryMaxMiB', 'memMerge'] as const;

/** Validates the optional resource section; `cpus` and `memoryMiB` are checked against it. */
export function parseResources(v: unknown, cpus: number, memoryMiB: number, path = 'resources'): ResourceConfig {
  const o = expectObject(v, path);
  rejectUnknownKeys(o, RESOURCE_KEYS, path);
  const out: { -readonly [K in keyof ResourceConfig]: ResourceConfig[K] } = {};
  for (const k of ['sockets', 'cores', 'threads'] as const) if (o[k] !== undefined) out[k] = int(o, k, path, 1, LIMITS.maxCpus);
  if (out.sockets !== undefined || out.cores !== undefined || out.threads !== undefined) {
    const n = (out.sockets ?? 1) * (out.cores ?? 1) * (out.threads ?? 1);
    if (n !== cpus) throw new ConfigError(path, `sockets × cores × threads is ${n}, but the VM has ${cpus} CPU${cpus > 1 ? 's' : ''}`);
  }
  if (o['cpuShares'] !== undefined) out.cpuShares = int(o, 'cpuShares', path, 1, LIMITS.maxCpuShares);
  if (o['cpuLimitPct'] !== undefined) out.cpuLimitPct = int(o, 'cpuLimitPct', path, 1, 100);
  if (o['pinCpus'] !== undefined) {
    const list = arr(o, 'pinCpus', path, LIMITS.maxHostCpu + 1).map((c, i) => {
      if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > LIMITS.maxHostCpu) throw new ConfigError(`${path}.pinCpus[${i}]`, `must be a host CPU number 0–${LIMITS.maxHostCpu}`);
      return c;
    });
    if (list.length === 0) throw new ConfigError(`${path}.pinCpus`, 'must name at least one host CPU (leave it out to run anywhere)');
    if (new Set(list).size !== list.length) throw new ConfigError(`${path}.pinCpus`, 'lists a CPU twice');
    out.pinCpus = [...list].sort((a, b) => a - b);
  }
  if (o['balloon'] !== undefined) out.balloon = bool(o, 'balloon', path);
  if (o['memoryMaxMiB'] !== undefined) {
    out.memoryMaxMiB = int(o, 'memoryMaxMiB', path, LIMITS.minMemoryMiB, LIMITS.maxMemoryMiB);
    if (out.memoryMaxMiB < memoryMiB) throw new ConfigError(`${path}.memoryMaxMiB`, `must be at least the VM's memory (${memoryMiB} MiB); QEMU needs some on top`);
  }
  if (o['memMerge'] !== undefined) out.memMerge = bool(o, 'memMerge', path);
  return out;
}

/** Validates an untrusted value into a VmConfig. Throws ConfigError naming the bad field. */
export function parseVmConfig(input: unknown): VmConfig {
  const o = expectObject(input, '');
  rejectUnknownKeys(
    o,
    [
      'version', 'uuid', 'name', 'osType', 'description', 'group', 'memoryMiB', 'cpus', 'firmware',
      'machine', 'disks', 'cdroms', 'bootOrder', 'nics', 'display', 'serial', 'resources', 'autoSnapshot',
      'guestAgent',
    ],
    '',
  );
  if (o['version'] !== CONFIG_VERSION) {
    throw new ConfigError('version', `unsupported config version ${JSON.stringify(o['version'])} (expected ${CONFIG_VERSION})`);
  }
  const display = expectObject(o['display'], 'display');
  rejectUnknownKeys(display, ['adapter'], 'display');
  const serial = expectObject(o['serial'], 'serial');
  rejectUnknownKeys(serial, ['enabled'], 'serial');

  const disks = arr(o, 'disks', '', LIMITS.maxDisks).map((d, i) => parseDisk(d, `disks[${i}]`));
  const cdroms = arr(o, 'cdroms', '', LIMITS.maxCdroms).map((d, i) => parseCdrom(d, `cdroms[${i}]`));
  const nics = arr(o, 'nics', '', LIMITS.maxNics).map((d, i) => parseNic(d, `nics[${i}]`));
  const ids = new Set<string>();
  uniqueIds(disks, 'disks', ids);
  uniqueIds(cdroms, 'cdroms', ids);
  uniqueIds(nics, 'nics', ids);
  const macs = new Set(nics.map((n) => n.mac));
  if (macs.size !== nics.length) throw new ConfigError('nics', 'two adapters have the same MAC address');

  const bootOrder = arr(o, 'bootOrder', '', BOOT_DEVICES.length).map((b, i) => {
    if (typeof b !== 'string' || !(BOOT_DEVICES as readonly string[]).includes(b)) {
      throw new ConfigError(`bootOrder[${i}]`, `must be one of ${BOOT_DEVICES.join(', ')}`);
    }
    return b as BootDevice;
  });
  if (new Set(bootOrder).size !== bootOrder.length) throw new ConfigError('bootOrder', 'lists a device twice');

  const name = validateName(str(o, 'name', ''));
  const machine = oneOf(o, 'machine', '', MACHINES);
  const firmware = oneOf(o, 'firmware', '', FIRMWARES);
  if (firmware === 'uefi' && machine !== 'q35') throw new ConfigError('firmware', 'UEFI needs the q35 machine type');
  if (machine === 'pc' && disks.some((d) => d.bus === 'sata')) {
    throw new ConfigError('disks', 'SATA (AHCI) disks need the q35 machine type');
  }

  const memoryMiB = int(o, 'memoryMiB', '', LIMITS.minMemoryMiB, LIMITS.maxMemoryMiB);
  const cpus = int(o, 'cpus', '', LIMITS.minCpus, LIMITS.maxCpus);
  const resources = o['resources'] === undefined ? undefined : parseResources(o['resources'], cpus, memoryMiB);
  let autoSnapshot: AutoSnapshotConfig | undefined;
  if (o['autoSnapshot'] !== undefined) {
    const a = expectObject(o['autoSnapshot'], 'autoSnapshot');
    rejectUnknownKeys(a, ['keep'], 'autoSnapshot');
    autoSnapshot = { keep: int(a, 'keep', 'autoSnapshot', 0, LIMITS.maxAutoSnapshots) };
  }

  return {
    version: CONFIG_VERSION,
    uuid: str(o, 'uuid', '', { pattern: UUID_RE }),
    name,
    osType: str(o, 'osType', '', { min: 1, max: 64, pattern: /^[a-z0-9-]+$/ }),
    description: str(o, 'description', '', { max: 10_000 }),
    group: str(o, 'group', '', { max: 128, pattern: /^[^/\\]*$/ }),
    memoryMiB,
    cpus,
    firmware,
    machine,
    disks,
    cdroms,
    bootOrder,
    nics,
    display: { adapter: oneOf(display, 'adapter', 'display', DISPLAY_ADAPTERS) },
    serial: { enabled: bool(serial, 'enabled', 'serial') },
    ...(resources && Object.keys(resources).length > 0 ? { resources } : {}),
    ...(autoSnapshot ? { autoSnapshot } : {}),
    ...(o['guestAgent'] !== undefined ? { guestAgent: bool(o, 'guestAgent', '') } : {}),
  };
}
