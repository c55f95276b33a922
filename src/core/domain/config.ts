/**
 * The VM configuration: a versioned, validated value. Every way a config enters the core
 * (the wizard, the CLI, the database, an OVF later) goes through `parseVmConfig`, which
 * rejects unknown keys so that a typo never silently becomes a default.
 *
 * The schema is written once, in zod (the library the API edge, `api/schemas.ts`, and the
 * Electron IPC edge use too); the config's types are inferred from it. Each field schema
 * carries the words that follow the field's path in a `ConfigError` ("disks[0].bus: must be
 * one of ..."); rules that tie fields together run once the fields themselves are valid.
 *
 * Just over 500 lines because the schema is one value: every field, its limits and the rules
 * between fields (unique device ids, MACs and share tags, a boot order without repeats, UEFI
 * and SATA against the machine type, Secure Boot against firmware) are read together when
 * the config format changes, and each is short.
 */
import { z } from 'zod';

export const CONFIG_VERSION = 1 as const;

export const FIRMWARES = ['bios', 'uefi'] as const;
export const MACHINES = ['q35', 'pc'] as const;
export const DISK_FORMATS = ['qcow2', 'raw', 'vdi', 'vmdk', 'vpc', 'vhdx'] as const;
/** `scsi` is a virtio-scsi controller (what VMware's and libvirt's SCSI disks become). */
export const DISK_BUSES = ['virtio', 'sata', 'ide', 'nvme', 'scsi'] as const;
/** e1000e, vmxnet3 and pcnet (VirtualBox's PCnet-FAST III) keep imported machines' adapters. */
export const NIC_MODELS = ['virtio-net-pci', 'e1000', 'e1000e', 'rtl8139', 'vmxnet3', 'pcnet'] as const;
/**
 * How an adapter is attached, as VirtualBox names it: NAT (QEMU user networking), bridged
 * onto a host bridge, an internal network between VMs (by name, no host), or not attached.
 */
export const NIC_MODES = ['nat', 'bridged', 'internal', 'none'] as const;
/**
 * How a bridged adapter reaches the host's LAN. `helper` and `tap` are Linux (qemu-bridge-
 * helper, or a tap device the administrator prepared); `vmnet` is macOS's vmnet-bridged and
 * `windows-tap` a TAP-Windows adapter. The last two are declared so configs can carry them;
 * they are refused at start on other hosts.
 */
export const BRIDGE_VIAS = ['helper', 'tap', 'vmnet', 'windows-tap'] as const;
export const DISPLAY_ADAPTERS = ['vga', 'virtio', 'none'] as const;
export const BOOT_DEVICES = ['disk', 'cdrom', 'network'] as const;
export const FORWARD_PROTOCOLS = ['tcp', 'udp'] as const;

export type Firmware = (typeof FIRMWARES)[number];
export type MachineType = (typeof MACHINES)[number];
export type DiskFormat = (typeof DISK_FORMATS)[number];
export type DiskBus = (typeof DISK_BUSES)[number];
export type NicModel = (typeof NIC_MODELS)[number];
export type NicMode = (typeof NIC_MODES)[number];
export type BridgeVia = (typeof BRIDGE_VIAS)[number];
export type DisplayAdapter = (typeof DISPLAY_ADAPTERS)[number];
export type BootDevice = (typeof BOOT_DEVICES)[number];
export type ForwardProtocol = (typeof FORWARD_PROTOCOLS)[number];

export const DEFAULT_NAT_NETWORK = '10.0.2.0/24';

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
  maxShares: 16,
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

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ID_RE = /^[a-z][a-z0-9]{0,15}$/;
/** A unicast MAC (the multicast bit, the lowest of the first octet, clear), lower case. */
export const MAC_RE = /^[0-9a-f][02468ace](:[0-9a-f]{2}){5}$/;
/** Linux interface names: at most 15 characters, no slash or space. */
export const IFNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
/** Internal network names: they also name the switch's sockets. */
export const NETWORK_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
/** vmnet and TAP-Windows name host adapters, which may have spaces ("Ethernet 2"). */
const HOST_ADAPTER_RE = /^[^,=\0\n]+$/;
/**
 * Names become folder names and appear in argv; keep them to characters that are safe on
 * every host file system and never look like an option.
 */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._()+-]*$/;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const RULE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}$/;

// ---- Field schemas. Each carries the words that follow the field's path in an error. ----

/** The problem with a string against these limits, in words, or null. */
function textProblem(v: string, opts: { min?: number; max?: number; pattern?: RegExp }): string | null {
  if (opts.min !== undefined && v.length < opts.min) return `must have at least ${opts.min} characters`;
  if (opts.max !== undefined && v.length > opts.max) return `must have at most ${opts.max} characters`;
  if (opts.pattern && !opts.pattern.test(v)) return `has an invalid value '${v}'`;
  return null;
}

const str = (opts: { min?: number; max?: number; pattern?: RegExp } = {}) =>
  z.string({ error: 'must be a string' }).check((ctx) => {
    const problem = textProblem(ctx.value, opts);
    if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
  });

const int = (min: number, max: number) =>
  z
    .number({ error: 'must be an integer' })
    .int({ error: 'must be an integer' })
    .min(min, { error: `must be between ${min} and ${max}` })
    .max(max, { error: `must be between ${min} and ${max}` });

const bool = () => z.boolean({ error: 'must be true or false' });

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.join(', ')}` });

const list = <T extends z.ZodType>(item: T, max: number) =>
  z.array(item, { error: 'must be a list' }).max(max, { error: `may have at most ${max} entries` });

const object = <S extends z.core.$ZodLooseShape>(shape: S) => z.strictObject(shape, { error: 'must be an object' });

/** `ctx.addIssue` for a rule between fields: the message at a path below the value checked. */
function fail(ctx: z.RefinementCtx, path: readonly (string | number)[], message: string): void {
  ctx.addIssue({ code: 'custom', path: [...path], message });
}

function nameProblem(name: string): string | null {
  if (name.length < 1 || name.length > LIMITS.maxNameLength) return `must have 1 to ${LIMITS.maxNameLength} characters`;
  if (!NAME_RE.test(name) || name.endsWith('.') || name.endsWith(' ')) {
    return `'${name}' is not a valid VM name (use letters, digits, spaces and . _ ( ) + -, starting with a letter or digit)`;
  }
  if (UUID_RE.test(name.toLowerCase())) return 'must not look like a UUID';
  return null;
}

const vmName = z.string({ error: 'must be a string' }).superRefine((v, ctx) => {
  const problem = nameProblem(v);
  if (problem) fail(ctx, [], problem);
});

function ipString(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** Why `a.b.c.d/n` is not a network QEMU's user networking can use, or null. */
function natNetworkProblem(v: string): string | null {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(v);
  if (!m || !IPV4_RE.test(m[1]!)) return `'${v}' is not an IPv4 network such as 10.0.2.0/24`;
  const prefix = Number(m[2]);
  if (prefix < 8 || prefix > 28) return `the prefix of '${v}' must be between /8 and /28`;
  const n = m[1]!.split('.').reduce((a, b) => a * 256 + Number(b), 0);
  const hostBits = 2 ** (32 - prefix);
  if (n % hostBits !== 0) return `'${v}' has host bits set (did you mean ${ipString(n - (n % hostBits))}/${prefix}?)`;
  return null;
}

const backingSchema = object({
  /** Absolute path of the read-only base image. */
  file: str({ min: 2, max: 4096 }).refine((f) => f.startsWith('/') || /^[A-Za-z]:[\\/]/.test(f), { error: 'must be an absolute path' }),
  format: oneOf(['qcow2']),
});

const diskSchema = object({
  id: str({ pattern: ID_RE }),
  /** Absolute path, or relative to the VM's folder (disks Nestbox created live there). */
  file: str({ min: 1, max: 4096 }),
  format: oneOf(DISK_FORMATS),
  bus: oneOf(DISK_BUSES),
  readOnly: bool(),
  /** True when Nestbox created the image, so deleting the VM may delete it. */
  owned: bool(),
  /**
   * A linked clone's disk: a qcow2 overlay whose backing image Nestbox made (and tracks in
   * its database). Absent on every other disk; a user's image with a backing file is refused.
   */
  backing: backingSchema.optional(),
}).superRefine((d, ctx) => {
  if (d.backing && d.format !== 'qcow2') fail(ctx, ['backing'], 'only a qcow2 disk can have a backing image');
});

const cdromSchema = object({
  id: str({ pattern: ID_RE }),
  /** Absolute path of an ISO, or null for an empty drive. */
  iso: z.string({ error: 'must be a path or null' }).min(1, { error: 'must be a path or null' }).nullable(),
});

/** A NAT port forwarding rule, as in VirtualBox: host address:port → guest port. */
const portForwardSchema = object({
  name: str({ pattern: RULE_NAME_RE }),
  protocol: oneOf(FORWARD_PROTOCOLS),
  /** Host address to bind; 127.0.0.1 unless the user chooses otherwise. */
  hostAddress: str({ pattern: IPV4_RE }),
  hostPort: int(1, 65535),
  /** Guest address; empty means the guest's DHCP address (10.0.2.15 by default). */
  guestAddress: z.string({ error: 'must be a string' }).refine((a) => a === '' || IPV4_RE.test(a), { error: (iss) => `'${String(iss.input)}' is not an IPv4 address` }),
  guestPort: int(1, 65535),
});

/** An empty bridge, tap or network name means "none" (the editors send '' for a cleared field). */
const EMPTY_MEANS_ABSENT = ['bridge', 'tap', 'network'] as const;

const nicFields = object({
  id: str({ pattern: ID_RE }),
  mode: oneOf(NIC_MODES),
  model: oneOf(NIC_MODELS),
  mac: str({ pattern: MAC_RE }),
  /** NAT only. Absent in configs written before port forwarding existed. */
  forwards: list(portForwardSchema, 64).default([]),
  // Settings of other modes are kept (switching back to NAT finds its subnet again).
  /** NAT: the guest's subnet (CIDR); absent means 10.0.2.0/24 as in VirtualBox. */
  natNetwork: z
    .string({ error: 'must be a string' })
    .superRefine((v, ctx) => {
      const problem = natNetworkProblem(v);
      if (problem) fail(ctx, [], problem);
    })
    .optional(),
  /** NAT: isolate the guest from the host's network (no outbound); forwards still work. */
  restrict: bool().optional(),
  /** Bridged: the host bridge (helper, tap) or host interface (vmnet, windows-tap). */
  bridge: z.string({ error: 'must be a string' }).optional(),
  /** Bridged: how to reach it; absent means `helper`. */
  bridgeVia: oneOf(BRIDGE_VIAS).optional(),
  /** Bridged via `tap`: the prepared tap device. */
  tap: str({ pattern: IFNAME_RE }).optional(),
  /** Internal: the network's name; VMs with the same name see each other. */
  network: str({ pattern: NETWORK_NAME_RE }).optional(),
  /**
   * NAT or internal: count frames by mirroring every one of them to the core (QEMU's
   * filter-mirror), which costs throughput. Only for guests without an agent, when the user
   * wants counters anyway; the agent's and the tap device's counters cost nothing.
   */
  mirrorCounters: bool().optional(),
}).superRefine((nic, ctx) => {
  const names = new Set(nic.forwards.map((f) => f.name));
  if (names.size !== nic.forwards.length) return fail(ctx, ['forwards'], 'two rules have the same name');
  const binds = new Set(nic.forwards.map((f) => `${f.protocol}:${f.hostAddress}:${f.hostPort}`));
  if (binds.size !== nic.forwards.length) return fail(ctx, ['forwards'], 'two rules use the same host address and port');
  if (nic.bridge !== undefined) {
    const loose = nic.bridgeVia === 'vmnet' || nic.bridgeVia === 'windows-tap';
    const problem = textProblem(nic.bridge, loose ? { min: 1, max: 128, pattern: HOST_ADAPTER_RE } : { pattern: IFNAME_RE });
    if (problem) return fail(ctx, ['bridge'], problem);
  }
  if (nic.mode === 'bridged') {
    const via = nic.bridgeVia ?? 'helper';
    if (via === 'tap' && !nic.tap) return fail(ctx, ['tap'], "a bridged adapter attached through a tap device needs the tap device's name");
    if (via !== 'tap' && !nic.bridge) return fail(ctx, ['bridge'], 'a bridged adapter needs the name of a host bridge');
  }
  if (nic.mode === 'internal' && !nic.network) fail(ctx, ['network'], "an adapter on an internal network needs the network's name");
});

const nicSchema = z.preprocess((v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  const o: Record<string, unknown> = { ...v };
  for (const k of EMPTY_MEANS_ABSENT) if (o[k] === '') delete o[k];
  return o;
}, nicFields);

export const RESOURCE_KEYS = ['sockets', 'cores', 'threads', 'cpuShares', 'cpuLimitPct', 'pinCpus', 'balloon', 'memoryMaxMiB', 'memMerge'] as const;

const HOST_CPU_MESSAGE = `must be a host CPU number 0–${LIMITS.maxHostCpu}`;

/**
 * What a VM is given of the host and how it competes for it (VirtualBox's CPU execution cap,
 * VMware's shares/limits). Every field is optional: a config without `resources` (all configs
 * written before this existed) means QEMU's defaults and no host-side limits. `cpus` and
 * `memoryMiB` are checked against it by the config (`resourcesAgree`).
 */
const resourcesSchema = object({
  /** CPU topology; sockets × cores × threads must equal `cpus`. */
  sockets: int(1, LIMITS.maxCpus).optional(),
  cores: int(1, LIMITS.maxCpus).optional(),
  threads: int(1, LIMITS.maxCpus).optional(),
  /** CPU priority relative to other VMs (cgroup cpu.weight scale, 1–10000; 100 is normal). */
  cpuShares: int(1, LIMITS.maxCpuShares).optional(),
  /** At most this percent of the whole host's CPU time (1–100). */
  cpuLimitPct: int(1, 100).optional(),
  /** Host CPU numbers the VM may run on. */
  pinCpus: list(z.number({ error: HOST_CPU_MESSAGE }).int({ error: HOST_CPU_MESSAGE }).min(0, { error: HOST_CPU_MESSAGE }).max(LIMITS.maxHostCpu, { error: HOST_CPU_MESSAGE }), LIMITS.maxHostCpu + 1)
    .min(1, { error: 'must name at least one host CPU (leave it out to run anywhere)' })
    .refine((l) => new Set(l).size === l.length, { error: 'lists a CPU twice' })
    .transform((l) => [...l].sort((a, b) => a - b))
    .optional(),
  /** A virtio-balloon device, so memory can be reclaimed from the running guest. */
  balloon: bool().optional(),
  /** Hard ceiling on the QEMU process's memory (guest RAM plus QEMU's own), MiB. */
  memoryMaxMiB: int(LIMITS.minMemoryMiB, LIMITS.maxMemoryMiB).optional(),
  /** Offer the guest's RAM to the host's page sharing (KSM; QEMU mem-merge). */
  memMerge: bool().optional(),
});

/** The rules between a resource section and the VM's CPU count and memory. */
function resourcesAgree(r: ResourceConfig, cpus: number, memoryMiB: number, ctx: z.RefinementCtx, at: readonly (string | number)[]): void {
  if (r.sockets !== undefined || r.cores !== undefined || r.threads !== undefined) {
    const n = (r.sockets ?? 1) * (r.cores ?? 1) * (r.threads ?? 1);
    if (n !== cpus) return fail(ctx, at, `sockets × cores × threads is ${n}, but the VM has ${cpus} CPU${cpus > 1 ? 's' : ''}`);
  }
  if (r.memoryMaxMiB !== undefined && r.memoryMaxMiB < memoryMiB) {
    fail(ctx, [...at, 'memoryMaxMiB'], `must be at least the VM's memory (${memoryMiB} MiB); QEMU needs some on top`);
  }
}

/** Automatic snapshots taken before each start ("undo this session"). */
const autoSnapshotSchema = object({
  /** How many automatic snapshots to keep; older ones are deleted. 0 turns them off. */
  keep: int(0, LIMITS.maxAutoSnapshots),
});

/** A file name in the VM's folder (seed files): no folders, nothing hidden. */
const LOCAL_FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * An unattended install under way. The seed files named here live in the VM's folder and are
 * deleted, with this section, when the run that used them ends (services/installs.ts).
 * Holds no secret: the password is only inside the seed files.
 */
const installSchema = object({
  kind: oneOf(['windows', 'debian', 'ubuntu', 'cloud'] as const),
  /** The id of the CD drive holding the seed ISO (absent for Debian: its seed is in the initrd). */
  seedCdrom: str({ pattern: ID_RE }).optional(),
  /** Seed files, relative to the VM's folder. */
  files: list(str({ pattern: LOCAL_FILE_RE }), 8),
  /** Direct kernel boot of the installer (Debian, Ubuntu): files relative to the VM's folder. */
  kernel: object({
    kernel: str({ pattern: LOCAL_FILE_RE }),
    initrd: str({ pattern: LOCAL_FILE_RE }),
    append: str({ max: 1024, pattern: /^[A-Za-z0-9_.,:=/ -]*$/ }),
  }).optional(),
  /** True once a run has started with the seed; the next stop ends the install. */
  booted: bool(),
});

/**
 * A share's tag: what the guest mounts (`mount -t virtiofs TAG /mnt`). 9p's mount_tag holds at
 * most 31 bytes, virtiofs's 36; letters, digits and . _ - keep it one word in every shell.
 */
export const SHARE_TAG_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/;

/**
 * A host folder the guest sees (virtiofs, or 9p where virtiofsd is missing). `path` is the
 * folder's real path (symlinks resolved when it was added, services/shares.ts), so what the
 * guest reaches is the folder the user was shown, and is checked again at every start.
 */
const shareSchema = object({
  tag: str({ pattern: SHARE_TAG_RE }),
  path: str({ min: 1, max: 4096 }).refine((f) => f.startsWith('/'), { error: 'must be an absolute path' }),
  readOnly: bool(),
});

/** Fields in the order they are checked, so the first problem reported is the one a reader meets first. */
const vmConfigFields = object({
  version: z.literal(CONFIG_VERSION, { error: (iss) => `unsupported config version ${JSON.stringify(iss.input)} (expected ${CONFIG_VERSION})` }),
  display: object({ adapter: oneOf(DISPLAY_ADAPTERS) }),
  serial: object({ enabled: bool() }),
  disks: list(diskSchema, LIMITS.maxDisks),
  cdroms: list(cdromSchema, LIMITS.maxCdroms),
  nics: list(nicSchema, LIMITS.maxNics),
  bootOrder: list(oneOf(BOOT_DEVICES), BOOT_DEVICES.length),
  name: vmName,
  machine: oneOf(MACHINES),
  firmware: oneOf(FIRMWARES),
  memoryMiB: int(LIMITS.minMemoryMiB, LIMITS.maxMemoryMiB),
  cpus: int(LIMITS.minCpus, LIMITS.maxCpus),
  /** Absent in configs written before resource controls existed. */
  resources: resourcesSchema.optional(),
  /** Absent in configs written before automatic snapshots existed: off. */
  autoSnapshot: autoSnapshotSchema.optional(),
  /**
   * UEFI Secure Boot: firmware with Secure Boot and Microsoft's keys enrolled, SMM on (the
   * firmware needs it to guard its variables). UEFI only; absent means off.
   */
  secureBoot: bool().optional(),
  /** A TPM 2.0 (swtpm, its state in the VM's folder under tpm/). Absent means none. */
  tpm: bool().optional(),
  /**
   * A virtio-serial port for the QEMU guest agent (addresses, shutdown, file system freeze,
   * clock). New VMs get it; absent (configs written before it existed) means no port, so an
   * old VM's hardware does not change under it until the user adds it.
   */
  guestAgent: bool().optional(),
  /**
   * Clipboard text between the console and the guest's desktop (QEMU's vdagent and the
   * guest's spice-vdagent), for a VM with a display. Absent means on; only `false` is written.
   */
  clipboard: bool().optional(),
  /** An unattended install in progress (unattended.ts); removed when it ends. */
  install: installSchema.optional(),
  /** Shared folders; absent (configs written before they existed) or empty means none. */
  shares: list(shareSchema, LIMITS.maxShares).optional(),
  uuid: str({ pattern: UUID_RE }),
  osType: str({ min: 1, max: 64, pattern: /^[a-z0-9-]+$/ }),
  description: str({ max: 10_000 }),
  group: str({ max: 128, pattern: /^[^/\\]*$/ }),
});

const vmConfigSchema = vmConfigFields
  .superRefine((c, ctx) => {
    const ids = new Set<string>();
    for (const kind of ['disks', 'cdroms', 'nics'] as const) {
      for (const dev of c[kind]) {
        if (ids.has(dev.id)) return fail(ctx, [kind], `duplicate device id '${dev.id}'`);
        ids.add(dev.id);
      }
    }
    if (new Set(c.nics.map((n) => n.mac)).size !== c.nics.length) return fail(ctx, ['nics'], 'two adapters have the same MAC address');
    if (new Set(c.bootOrder).size !== c.bootOrder.length) return fail(ctx, ['bootOrder'], 'lists a device twice');
    if (c.firmware === 'uefi' && c.machine !== 'q35') return fail(ctx, ['firmware'], 'UEFI needs the q35 machine type');
    if (c.secureBoot === true && c.firmware !== 'uefi') return fail(ctx, ['secureBoot'], 'Secure Boot needs UEFI firmware');
    if (c.install?.seedCdrom !== undefined && !c.cdroms.some((d) => d.id === c.install?.seedCdrom)) {
      return fail(ctx, ['install', 'seedCdrom'], `no CD drive '${c.install.seedCdrom}'`);
    }
    if (c.machine === 'pc' && c.disks.some((d) => d.bus === 'sata')) return fail(ctx, ['disks'], 'SATA (AHCI) disks need the q35 machine type');
    if (c.resources) resourcesAgree(c.resources, c.cpus, c.memoryMiB, ctx, ['resources']);
    const tags = (c.shares ?? []).map((s) => s.tag);
    if (new Set(tags).size !== tags.length) return fail(ctx, ['shares'], 'two shared folders have the same tag');
  })
  // An empty resource section is no section, Secure Boot or a TPM that is off and a clipboard
  // that is on are not written: the config reads as one written before they existed.
  .transform(({ resources, secureBoot, tpm, shares, clipboard, ...c }) => ({
    ...c,
    ...(clipboard === false ? { clipboard } : {}),
    ...(shares && shares.length > 0 ? { shares } : {}),
    ...(resources && Object.keys(resources).length > 0 ? { resources } : {}),
    ...(secureBoot === true ? { secureBoot } : {}),
    ...(tpm === true ? { tpm } : {}),
  }));

/** `T` with every property and element readonly: a config is a value, never changed in place. */
type Frozen<T> = T extends readonly (infer E)[] ? readonly Frozen<E>[] : T extends object ? { readonly [K in keyof T]: Frozen<T[K]> } : T;

export type DiskBacking = Frozen<z.output<typeof backingSchema>>;
export type DiskConfig = Frozen<z.output<typeof diskSchema>>;
export type CdromConfig = Frozen<z.output<typeof cdromSchema>>;
export type PortForward = Frozen<z.output<typeof portForwardSchema>>;
export type NicConfig = Frozen<z.output<typeof nicFields>>;
export type ResourceConfig = Frozen<z.output<typeof resourcesSchema>>;
export type AutoSnapshotConfig = Frozen<z.output<typeof autoSnapshotSchema>>;
export type InstallConfig = Frozen<z.output<typeof installSchema>>;
export type ShareConfig = Frozen<z.output<typeof shareSchema>>;
export type DisplayConfig = Frozen<z.output<typeof vmConfigFields>['display']>;
export type SerialConfig = Frozen<z.output<typeof vmConfigFields>['serial']>;
export type VmConfig = Frozen<z.output<typeof vmConfigFields>>;

// ---- From zod's issues to one ConfigError. ----

function pathString(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

/**
 * Parses `input` with `schema` or throws the ConfigError of its first problem, below `at`.
 * A misspelt key is named first (it is usually why a "missing" field looks missing), the
 * outermost first; otherwise problems come in the order of the schema's fields.
 */
function parseWith<T extends z.ZodType>(schema: T, input: unknown, at = ''): z.output<T> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const unknown = r.error.issues.filter((i) => i.code === 'unrecognized_keys').sort((a, b) => a.path.length - b.path.length);
  const issue = unknown[0] ?? r.error.issues[0]!;
  const path = pathString(issue.path);
  const full = at && path ? `${at}${path.startsWith('[') ? '' : '.'}${path}` : at || path;
  if (issue.code === 'unrecognized_keys') throw new ConfigError(full, `unknown key '${issue.keys[0] ?? ''}'`);
  throw new ConfigError(full, issue.message);
}

/** Validates an untrusted value into a VmConfig. Throws ConfigError naming the bad field. */
export function parseVmConfig(input: unknown): VmConfig {
  return parseWith(vmConfigSchema, input);
}

export function validateName(name: string, path = 'name'): string {
  return parseWith(vmName, name, path);
}

/** Validates one port forwarding rule (a new rule is checked before it joins a config). */
export function parsePortForward(v: unknown, path: string): PortForward {
  return parseWith(portForwardSchema, v, path);
}

/**
 * Parses `a.b.c.d/n` into a network QEMU's user networking can use: the address must be the
 * network's own (host bits zero) and the prefix leave room for the gateway, DNS and DHCP.
 */
export function parseNatNetwork(v: string, path = 'natNetwork'): string {
  const problem = natNetworkProblem(v);
  if (problem) throw new ConfigError(path, problem);
  return v;
}

/** Validates the optional resource section; `cpus` and `memoryMiB` are checked against it. */
export function parseResources(v: unknown, cpus: number, memoryMiB: number, path = 'resources'): ResourceConfig {
  return parseWith(resourcesSchema.superRefine((r, ctx) => resourcesAgree(r, cpus, memoryMiB, ctx, [])), v, path);
}

/** The gateway, DNS and first DHCP address QEMU uses in a NAT network (.2, .3, .15). */
export function natAddresses(cidr: string): { gateway: string; dns: string; dhcpStart: string } {
  const [addr] = cidr.split('/');
  const n = addr!.split('.').reduce((a, b) => a * 256 + Number(b), 0);
  return { gateway: ipString(n + 2), dns: ipString(n + 3), dhcpStart: ipString(n + 15) };
}
