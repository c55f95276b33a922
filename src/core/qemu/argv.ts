/**
 * The one place QEMU's command line is composed: a pure function from a validated config,
 * the resolved host facts and the VM's paths. Composed from per-section builders (as UTM
 * does); option values are escaped in exactly one place (`opt`). Every disk is a -blockdev
 * with an explicit driver so QEMU never guesses a format.
 *
 * Over 500 lines because it is the one place: the ids and runtime file names QEMU objects get
 * (which the QMP command layer, the consoles and the monitor reuse) and a builder per section
 * of the command line. Split across files, the escaping rule and the id scheme would have to
 * be shared again, and a reviewer checking what a VM is started with would read several.
 */
import path from 'node:path';
import type { BootDevice, DiskConfig, NicConfig, ShareConfig, VmConfig } from '../domain/config';
import { DEFAULT_NAT_NETWORK } from '../domain/config';
import type { Accelerator } from '../api/contract';

export interface QemuHostFacts {
  readonly binary: string;
  readonly accel: Accelerator;
  /** OVMF code image, required when firmware is uefi. */
  readonly ovmfCode: string | null;
  /**
   * The Secure Boot firmware's code image (from QEMU's firmware descriptors), required when
   * the config has Secure Boot on; `requiresSmm` says the machine must be set up for it.
   */
  readonly secureBoot?: { readonly code: string; readonly format: 'raw' | 'qcow2'; readonly requiresSmm: boolean } | null;
  /**
   * Clipboard sharing through QEMU's vdagent (for a VM with a display and the clipboard on):
   * 'argv' puts it on the command line (QEMU 8.1+, where it can migrate); 'hotplug' gives the
   * VM only the virtio-serial controller, and the core plugs the channel once QEMU runs and
   * unplugs it around saving the memory (qemu/vdagent.ts). Absent: no clipboard.
   */
  readonly clipboard?: ClipboardWiring;
  /**
   * How shared folders reach the guest: virtiofs (a virtiofsd per share, started by the core
   * before QEMU, qemu/virtiofsd.ts) where virtiofsd is installed, else 9p inside QEMU.
   * Absent: the config's shares are refused (a VM without shares never needs it).
   */
  readonly shares?: ShareTransport;
}

/** How a VM gets its clipboard channel (qemu/vdagent.ts decides which for a QEMU). */
export type ClipboardWiring = 'argv' | 'hotplug';

export const SHARE_TRANSPORTS = ['virtiofs', '9p'] as const;
export type ShareTransport = (typeof SHARE_TRANSPORTS)[number];

export interface VmPaths {
  /** The VM's folder; relative disk paths resolve against it. */
  readonly vmDir: string;
  /** 0700 per-VM runtime directory holding the sockets and the pidfile. */
  readonly runDir: string;
  readonly serialLog: string;
  /** UEFI variable store (qcow2) in the VM's folder. */
  readonly efiVars: string;
}

/** The control socket of the VM's swtpm, in its runtime directory (QEMU connects to it). */
export function tpmSocket(runDir: string): string {
  return path.join(runDir, SWTPM_FILES.ctrl);
}

export interface LaunchOptions {
  /** Wait for an incoming migration stream (resuming a saved state). */
  readonly incoming: boolean;
  /** Resume from this internal snapshot (with RAM) of the VM's qcow2 disks. */
  readonly loadvm?: string;
}

/**
 * The ids QEMU objects are given from a config's device ids: one scheme for the command line
 * built here and the QMP commands sent later (qemu/commands.ts) that must name the same objects.
 */
export const QEMU_IDS = {
  /** The guest-visible device (`-device ...,id=`) of a disk, CD drive or adapter. */
  device: (id: string): string => `${id}-dev`,
  /** The protocol (file) node under a disk's format node; the format node is the config id itself. */
  fileNode: (id: string): string => `${id}-file`,
  /** A linked clone's base image: its format node and its file node. */
  baseNode: (id: string): string => `${id}-base`,
  baseFileNode: (id: string): string => `${id}-base-file`,
  /** A medium inserted into a CD drive while the VM runs (unique per change). */
  insertedMedium: (driveId: string, stamp: string): string => `${driveId}-m${stamp}`,
} as const;

/** The device id of the guest agent's virtio-serial port (QMP's VSERPORT_CHANGE names it). */
export const AGENT_PORT_ID = 'qga-port';

export const RUNTIME_FILES = {
  pidfile: 'qemu.pid',
  qmp: 'qmp.sock',
  /** A second QMP monitor used only by the sampler, so statistics never queue behind lifecycle commands. */
  qmpStats: 'qmp-stats.sock',
  vnc: 'vnc.sock',
  serial: 'serial.sock',
  /** A second QMP monitor, only for adapters bridged through qemu-bridge-helper. */
  fdMonitor: 'fdmon.sock',
  /** The QEMU guest agent's virtio-serial port (qemu/agent.ts talks to it). */
  agent: 'qga.sock',
} as const;

/**
 * The clipboard channel's chardev, and the port and bus the core plugs it on when QEMU cannot
 * have it on the command line (qemu/vdagent.ts).
 */
export const VDAGENT_IDS = {
  chardev: 'vdagent',
  port: 'vdagent-port',
  bus: 'vserial0.0',
} as const;

/** The virtio-serial port names guests look for (qemu-ga, spice-vdagent). */
export const VIRTIO_PORT_NAMES = {
  agent: 'org.qemu.guest_agent.0',
  vdagent: 'com.redhat.spice.0',
} as const;

/**
 * The TPM emulator's files in the runtime directory (qemu/swtpm.ts). Apart from
 * RUNTIME_FILES, which QEMU's launch clears: swtpm is started first and must keep them.
 */
export const SWTPM_FILES = {
  ctrl: 'swtpm.sock',
  pidfile: 'swtpm.pid',
} as const;

/**
 * Where QEMU mirrors one adapter's frames for counting (filter-mirror → a socket chardev the
 * core reads). QEMU user networking has no counters of its own; `rx`/`tx` are seen from the
 * guest.
 */
export function nicMirrorSocket(nicId: string, dir: 'rx' | 'tx'): string {
  return `${nicId}-${dir}.sock`;
}

/**
 * A share's files in the runtime directory: virtiofsd's vhost-user socket (QEMU connects to
 * it) and the pidfile the core writes for it. Apart from RUNTIME_FILES, which QEMU's launch
 * clears: virtiofsd is started first and must keep them.
 */
export function virtiofsdFiles(runDir: string, tag: string): { readonly socket: string; readonly pidfile: string } {
  return { socket: path.join(runDir, `vfs-${tag}.sock`), pidfile: path.join(runDir, `vfs-${tag}.pid`) };
}

/** The guest-visible device of a share, by its position (QMP and the golden files name it so). */
export function shareDeviceId(index: number): string {
  return `share${index}`;
}

/** Escapes a value inside a QEMU `key=value,...` option list: a comma is written twice. */
export function opt(value: string): string {
  return value.replace(/,/g, ',,');
}

function kv(pairs: ReadonlyArray<readonly [string, string | number | boolean]>): string {
  return pairs
    .map(([k, v]) => `${k}=${typeof v === 'boolean' ? (v ? 'on' : 'off') : typeof v === 'number' ? String(v) : opt(v)}`)
    .join(',');
}

export function resolveDiskPath(vmDir: string, file: string): string {
  return path.isAbsolute(file) ? file : path.join(vmDir, file);
}

function bootIndex(order: readonly BootDevice[], dev: BootDevice, nth: number): number | undefined {
  const i = order.indexOf(dev);
  if (i < 0) return undefined;
  // Leave room for every device of one kind (at most 16): disk 0 → 100, disk 1 → 101, ...
  return (i + 1) * 100 + nth;
}

function machineSection(cfg: VmConfig, host: QemuHostFacts): string[] {
  const machine: [string, string | number | boolean][] = [['type', cfg.machine]];
  const res = cfg.resources;
  // virtiofsd maps the guest's RAM to serve its queues: the RAM must be a shared memfd. Only
  // with a virtiofs share, so every other VM's command line and saved states stay as they were.
  const memfd = usesVirtiofs(cfg, host);
  // With a RAM backend of our own, page sharing is its property (the machine's would not reach it).
  if (res?.memMerge !== undefined && !memfd) machine.push(['mem-merge', res.memMerge]);
  if (cfg.firmware === 'uefi') {
    machine.push(['pflash0', 'fw-code'], ['pflash1', 'fw-vars']);
  }
  // Secure Boot firmware keeps its variables out of the guest's reach through SMM.
  if (cfg.firmware === 'uefi' && cfg.secureBoot && host.secureBoot?.requiresSmm) machine.push(['smm', true]);
  if (memfd) machine.push(['memory-backend', 'mem0']);
  const cpu = host.accel === 'tcg' ? 'max' : 'host';
  return [
    ...(memfd ? ['-object', `memory-backend-memfd,${kv([['id', 'mem0'], ['size', `${cfg.memoryMiB}M`], ['share', true], ...(res?.memMerge !== undefined ? [['merge', res.memMerge] as const] : [])])}`] : []),
    '-machine', kv(machine),
    '-accel', host.accel,
    '-cpu', cpu,
    '-m', `${cfg.memoryMiB}M`,
    '-smp', smp(cfg),
    '-rtc', cfg.osType.startsWith('windows') ? 'base=localtime' : 'base=utc',
  ];
}

function smp(cfg: VmConfig): string {
  const r = cfg.resources;
  if (!r || (r.sockets === undefined && r.cores === undefined && r.threads === undefined)) return `${cfg.cpus}`;
  return kv([['cpus', cfg.cpus], ['sockets', r.sockets ?? 1], ['cores', r.cores ?? 1], ['threads', r.threads ?? 1]]);
}

/** The memory balloon: its target is set while the guest runs (QMP balloon). */
function balloonSection(cfg: VmConfig): string[] {
  if (!cfg.resources?.balloon) return [];
  return ['-device', 'virtio-balloon-pci,id=balloon0'];
}

function firmwareSection(cfg: VmConfig, host: QemuHostFacts, paths: VmPaths): string[] {
  if (cfg.firmware !== 'uefi') return [];
  let code: string;
  let format: 'raw' | 'qcow2' = 'raw';
  const secure: string[] = [];
  if (cfg.secureBoot) {
    if (!host.secureBoot) throw new Error('UEFI firmware with Secure Boot was not found on this host (Debian/Ubuntu: install the ovmf package)');
    code = host.secureBoot.code;
    format = host.secureBoot.format;
    // Only SMM code may write the variable store, so the guest cannot switch Secure Boot off.
    if (host.secureBoot.requiresSmm) secure.push('-global', 'driver=cfi.pflash01,property=secure,value=on');
  } else {
    if (!host.ovmfCode) throw new Error('UEFI firmware (OVMF) was not found on this host');
    code = host.ovmfCode;
  }
  return [
    ...secure,
    '-blockdev', kv([['driver', 'file'], ['filename', code], ['node-name', 'fw-code-file'], ['read-only', true]]),
    '-blockdev', kv([['driver', format], ['file', 'fw-code-file'], ['node-name', 'fw-code'], ['read-only', true]]),
    '-blockdev', kv([['driver', 'file'], ['filename', paths.efiVars], ['node-name', 'fw-vars-file']]),
    '-blockdev', kv([['driver', 'qcow2'], ['file', 'fw-vars-file'], ['node-name', 'fw-vars']]),
  ];
}

/** SATA ports on q35's built-in AHCI (ide.0 .. ide.5); IDE on pc has ide.0/ide.1, 2 units each. */
interface PortAllocator {
  next(): string;
}

function ataPorts(cfg: VmConfig): PortAllocator {
  let n = 0;
  return {
    next() {
      if (cfg.machine === 'q35') {
        if (n > 5) throw new Error('too many SATA/IDE devices for the q35 AHCI controller (6 ports)');
        return `bus=ide.${n++}`;
      }
      if (n > 3) throw new Error('too many IDE devices for the pc machine (4 units)');
      const s = `bus=ide.${Math.floor(n / 2)},unit=${n % 2}`;
      n++;
      return s;
    },
  };
}

function diskDevice(d: DiskConfig, node: string, boot: number | undefined, ports: PortAllocator): string {
  const b = boot === undefined ? '' : `,bootindex=${boot}`;
  switch (d.bus) {
    case 'virtio':
      return `virtio-blk-pci,drive=${node},id=${d.id}${b}`;
    case 'sata':
    case 'ide':
      return `ide-hd,drive=${node},id=${d.id},${ports.next()}${b}`;
    case 'nvme':
      return `nvme,drive=${node},id=${d.id},serial=${d.id}${b}`;
    case 'scsi':
      return `scsi-hd,drive=${node},id=${d.id},bus=scsi0.0${b}`;
    default: {
      const never: never = d.bus;
      throw new Error(`unknown disk bus ${String(never)}`);
    }
  }
}

function storageSection(cfg: VmConfig, paths: VmPaths): string[] {
  const out: string[] = [];
  const ports = ataPorts(cfg);
  // One virtio-scsi controller carries every SCSI disk (imported VMware/libvirt machines).
  if (cfg.disks.some((d) => d.bus === 'scsi')) out.push('-device', 'virtio-scsi-pci,id=scsi0');
  cfg.disks.forEach((d, i) => {
    const file = resolveDiskPath(paths.vmDir, d.file);
    // A linked clone's base is named here with its format, never taken from the header.
    const backing: [string, string][] = [];
    if (d.backing) {
      out.push(
        '-blockdev', kv([['driver', 'file'], ['filename', d.backing.file], ['node-name', QEMU_IDS.baseFileNode(d.id)], ['read-only', true]]),
        '-blockdev', kv([['driver', d.backing.format], ['file', QEMU_IDS.baseFileNode(d.id)], ['node-name', QEMU_IDS.baseNode(d.id)], ['read-only', true]]),
      );
      backing.push(['backing', QEMU_IDS.baseNode(d.id)]);
    }
    out.push(
      '-blockdev', kv([['driver', 'file'], ['filename', file], ['node-name', QEMU_IDS.fileNode(d.id)], ['read-only', d.readOnly]]),
      '-blockdev', kv([['driver', d.format], ['file', QEMU_IDS.fileNode(d.id)], ...backing, ['node-name', d.id], ['read-only', d.readOnly]]),
      '-device', diskDevice(d, d.id, bootIndex(cfg.bootOrder, 'disk', i), ports),
    );
  });
  cfg.cdroms.forEach((c, i) => {
    const boot = bootIndex(cfg.bootOrder, 'cdrom', i);
    const b = boot === undefined ? '' : `,bootindex=${boot}`;
    if (c.iso) {
      out.push(
        '-blockdev', kv([['driver', 'file'], ['filename', c.iso], ['node-name', QEMU_IDS.fileNode(c.id)], ['read-only', true]]),
        '-blockdev', kv([['driver', 'raw'], ['file', QEMU_IDS.fileNode(c.id)], ['node-name', c.id], ['read-only', true]]),
        '-device', `ide-cd,drive=${c.id},id=${QEMU_IDS.device(c.id)},${ports.next()}${b}`,
      );
    } else {
      out.push('-device', `ide-cd,id=${QEMU_IDS.device(c.id)},${ports.next()}${b}`);
    }
  });
  return out;
}

/** The unix socket an internal-network adapter listens on; the core's switch connects to it. */
export function internalSocket(runDir: string, nicId: string): string {
  return path.join(runDir, `${nicId}.sock`);
}

const viaHelper = (n: NicConfig) => n.mode === 'bridged' && (n.bridgeVia ?? 'helper') === 'helper';

/** True when an adapter is bridged through qemu-bridge-helper (run by the core, see bridgehelper.ts). */
export function usesBridgeHelper(cfg: VmConfig): boolean {
  return cfg.nics.some(viaHelper);
}

/** Adapters the core attaches after launch through qemu-bridge-helper, with their boot index. */
export function bridgeHelperNics(cfg: VmConfig): { nic: NicConfig; bootIndex: number | undefined }[] {
  return cfg.nics.flatMap((n, i) => (viaHelper(n) ? [{ nic: n, bootIndex: bootIndex(cfg.bootOrder, 'network', i) }] : []));
}

/** The PCIe root port a helper-bridged adapter is plugged into on q35 (its root bus takes no hotplug). */
export function helperNicPort(cfg: VmConfig, nicId: string): string | null {
  return cfg.machine === 'q35' ? `${nicId}-port` : null;
}

function netdev(n: NicConfig, paths: VmPaths): string {
  switch (n.mode) {
    case 'nat': {
      // Port forwards bind where the rule says (127.0.0.1 by default); nothing else listens.
      const fwd = n.forwards.map((f) => `,hostfwd=${f.protocol}:${f.hostAddress}:${f.hostPort}-${f.guestAddress}:${f.guestPort}`).join('');
      const net = n.natNetwork && n.natNetwork !== DEFAULT_NAT_NETWORK ? `,net=${n.natNetwork}` : '';
      return `user,id=${n.id}${net}${n.restrict ? ',restrict=on' : ''}${fwd}`;
    }
    case 'bridged': {
      const via = n.bridgeVia ?? 'helper';
      switch (via) {
        case 'helper':
          throw new Error('an adapter bridged through qemu-bridge-helper is attached after launch');
        case 'tap':
          return `tap,${kv([['id', n.id], ['ifname', n.tap ?? ''], ['script', 'no'], ['downscript', 'no']])}`;
        case 'vmnet':
          return `vmnet-bridged,${kv([['id', n.id], ['ifname', n.bridge ?? '']])}`;
        case 'windows-tap':
          return `tap,${kv([['id', n.id], ['ifname', n.bridge ?? '']])}`;
        default: {
          const never: never = via;
          throw new Error(`unknown bridge attachment ${String(never)}`);
        }
      }
    }
    case 'internal':
      // QEMU listens; the core's switch connects, and connects again after a core restart.
      return `stream,${kv([['id', n.id], ['server', true], ['addr.type', 'unix'], ['addr.path', internalSocket(paths.runDir, n.id)]])}`;
    case 'none':
      throw new Error('an adapter that is not attached has no netdev');
    default: {
      const never: never = n.mode;
      throw new Error(`unknown network mode ${String(never)}`);
    }
  }
}

function networkSection(cfg: VmConfig, paths: VmPaths): string[] {
  const out: string[] = [];
  cfg.nics.forEach((n, i) => {
    if (n.mode === 'none') return;
    if (viaHelper(n)) {
      // The tap comes later, from the helper through the fd monitor (see bridgehelper.ts).
      const port = helperNicPort(cfg, n.id);
      if (port) out.push('-device', `pcie-root-port,id=${port},chassis=${100 + i},slot=0`);
      return;
    }
    const boot = bootIndex(cfg.bootOrder, 'network', i);
    out.push(
      '-netdev', netdev(n, paths),
      '-device', `${n.model},netdev=${n.id},id=${QEMU_IDS.device(n.id)},mac=${n.mac}${boot === undefined ? ',romfile=' : `,bootindex=${boot}`}`,
    );
    // Counters come from the guest agent or the tap device. Only when the user asked for
    // them without either: the frames the netdev sends (to the guest: rx) and receives (from
    // it: tx) are mirrored to a socket the core counts (this costs a fifth of NAT throughput).
    if (!n.mirrorCounters) return;
    for (const [dir, queue] of [['rx', 'tx'], ['tx', 'rx']] as const) {
      const chr = `${n.id}-m${dir}`;
      out.push(
        '-chardev', 'socket,' + kv([['id', chr], ['path', path.join(paths.runDir, nicMirrorSocket(n.id, dir))], ['server', true], ['wait', false]]),
        '-object', `filter-mirror,id=${n.id}-f${dir},netdev=${n.id},queue=${queue},outdev=${chr}`,
      );
    }
  });
  if (usesBridgeHelper(cfg)) {
    out.push(
      '-chardev', `socket,${kv([['id', 'fdmon'], ['path', path.join(paths.runDir, RUNTIME_FILES.fdMonitor)], ['server', true], ['wait', false]])}`,
      '-mon', 'chardev=fdmon,mode=control',
    );
  }
  return out;
}

/**
 * A TPM 2.0 through the VM's swtpm (started by the core before QEMU). QEMU carries the TPM's
 * state in its migration stream, so Save state and live snapshots include it.
 */
function tpmSection(cfg: VmConfig, paths: VmPaths): string[] {
  if (!cfg.tpm) return [];
  return [
    '-chardev', `socket,${kv([['id', 'chrtpm'], ['path', tpmSocket(paths.runDir)]])}`,
    '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm',
    '-device', 'tpm-tis,tpmdev=tpm0,id=tpm0-dev',
  ];
}

/** True when the VM's shares are served by virtiofsd (qemu/virtiofsd.ts). */
export function usesVirtiofs(cfg: VmConfig, host: Pick<QemuHostFacts, 'shares'>): boolean {
  return (cfg.shares?.length ?? 0) > 0 && host.shares === 'virtiofs';
}

function shareDevice(s: ShareConfig, i: number, host: QemuHostFacts, paths: VmPaths): string[] {
  const transport = host.shares;
  switch (transport) {
    case undefined:
      throw new Error(`shared folder '${s.tag}' needs virtiofsd or QEMU's 9p support, and this host has neither`);
    case 'virtiofs':
      return [
        '-chardev', `socket,${kv([['id', `fs${i}`], ['path', virtiofsdFiles(paths.runDir, s.tag).socket]])}`,
        '-device', `vhost-user-fs-pci,${kv([['chardev', `fs${i}`], ['tag', s.tag], ['id', shareDeviceId(i)]])}`,
      ];
    case '9p':
      // security_model=none: files are created as QEMU's user, and QEMU writes no xattrs
      // into the user's files; readonly=on makes QEMU itself refuse every write.
      return [
        '-fsdev', `local,${kv([['id', `fsdev${i}`], ['path', s.path], ['security_model', 'none'], ...(s.readOnly ? [['readonly', true] as const] : [])])}`,
        '-device', `virtio-9p-pci,${kv([['fsdev', `fsdev${i}`], ['mount_tag', s.tag], ['id', shareDeviceId(i)]])}`,
      ];
    default: {
      const never: never = transport;
      throw new Error(`unknown share transport ${String(never)}`);
    }
  }
}

function sharesSection(cfg: VmConfig, host: QemuHostFacts, paths: VmPaths): string[] {
  return (cfg.shares ?? []).flatMap((s, i) => shareDevice(s, i, host, paths));
}

function displaySection(cfg: VmConfig, paths: VmPaths): string[] {
  const vnc = path.join(paths.runDir, RUNTIME_FILES.vnc);
  switch (cfg.display.adapter) {
    case 'none':
      return ['-display', 'none'];
    case 'vga':
      return ['-device', 'VGA,id=video0', '-display', 'none', '-vnc', `unix:${opt(vnc)}`];
    case 'virtio':
      return ['-device', 'virtio-vga,id=video0', '-display', 'none', '-vnc', `unix:${opt(vnc)}`];
    default: {
      const never: never = cfg.display.adapter;
      throw new Error(`unknown display adapter ${String(never)}`);
    }
  }
}

function inputSection(cfg: VmConfig): string[] {
  if (cfg.display.adapter === 'none') return [];
  return [
    // An absolute pointer so the host's mouse is never captured.
    '-device', 'qemu-xhci,id=usb',
    '-device', 'usb-tablet,id=tablet0,bus=usb.0',
  ];
}

/** Whether a VM gets the clipboard channel: it needs a display (the VNC viewer carries the text), and it is on unless turned off. */
export function wantsClipboard(cfg: Pick<VmConfig, 'display' | 'clipboard'>): boolean {
  return cfg.display.adapter !== 'none' && cfg.clipboard !== false;
}

/**
 * One virtio-serial controller for every host–guest channel: the guest agent's port (a unix
 * socket in the runtime folder) and the clipboard's (QEMU's vdagent, between the VNC viewer
 * and a guest running spice-vdagent). With 'hotplug' wiring the controller is there for the
 * clipboard port the core plugs later (VDAGENT_IDS), even without the agent's.
 */
function virtioSerialSection(cfg: VmConfig, host: QemuHostFacts, paths: VmPaths): string[] {
  const wiring = wantsClipboard(cfg) ? host.clipboard : undefined;
  const clipboard = wiring === 'argv';
  const agent = cfg.guestAgent === true;
  if (!wiring && !agent) return [];
  return [
    ...(clipboard ? ['-chardev', `qemu-vdagent,id=${VDAGENT_IDS.chardev},clipboard=on`] : []),
    ...(agent
      ? ['-chardev', 'socket,' + kv([['id', 'qga0'], ['path', path.join(paths.runDir, RUNTIME_FILES.agent)], ['server', true], ['wait', false]])]
      : []),
    '-device', 'virtio-serial-pci,id=vserial0',
    ...(clipboard ? ['-device', `virtserialport,bus=${VDAGENT_IDS.bus},chardev=${VDAGENT_IDS.chardev},name=${VIRTIO_PORT_NAMES.vdagent}`] : []),
    ...(agent ? ['-device', `virtserialport,bus=vserial0.0,chardev=qga0,id=${AGENT_PORT_ID},name=${VIRTIO_PORT_NAMES.agent}`] : []),
  ];
}

function serialSection(cfg: VmConfig, paths: VmPaths): string[] {
  if (!cfg.serial.enabled) return [];
  return [
    '-chardev',
    'socket,' +
    kv([
      ['id', 'serial0'],
      ['path', path.join(paths.runDir, RUNTIME_FILES.serial)],
      ['server', true],
      ['wait', false],
      ['logfile', paths.serialLog],
      ['logappend', true],
    ]),
    '-serial', 'chardev:serial0',
  ];
}

function controlSection(cfg: VmConfig, paths: VmPaths): string[] {
  return [
    '-pidfile', path.join(paths.runDir, RUNTIME_FILES.pidfile),
    '-qmp', `unix:${opt(path.join(paths.runDir, RUNTIME_FILES.qmp))},server=on,wait=off`,
    '-qmp', `unix:${opt(path.join(paths.runDir, RUNTIME_FILES.qmpStats))},server=on,wait=off`,
    '-boot', 'menu=off,strict=on',
    '-msg', 'timestamp=on',
  ];
}

/** Builds the complete argv (without the binary) for starting a VM. */
/**
 * An unattended Linux install boots the installer's kernel directly (QEMU's -kernel, through
 * fw_cfg, under BIOS and UEFI alike), so its command line can carry what makes the installer
 * ask nothing; the ISO stays in its drive for the installer's packages.
 */
function installerSection(cfg: VmConfig, paths: VmPaths): string[] {
  const k = cfg.install?.kernel;
  if (!k) return [];
  return ['-kernel', resolveDiskPath(paths.vmDir, k.kernel), '-initrd', resolveDiskPath(paths.vmDir, k.initrd), '-append', k.append];
}

export function buildQemuArgv(cfg: VmConfig, host: QemuHostFacts, paths: VmPaths, launch: LaunchOptions): string[] {
  return [
    '-name', kv([['guest', cfg.name], ['debug-threads', true]]),
    '-uuid', cfg.uuid,
    '-nodefaults',
    '-no-user-config',
    '-sandbox', 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
    ...machineSection(cfg, host),
    ...firmwareSection(cfg, host, paths),
    ...storageSection(cfg, paths),
    ...networkSection(cfg, paths),
    ...balloonSection(cfg),
    ...tpmSection(cfg, paths),
    ...sharesSection(cfg, host, paths),
    ...displaySection(cfg, paths),
    ...inputSection(cfg),
    ...virtioSerialSection(cfg, host, paths),
    ...serialSection(cfg, paths),
    ...controlSection(cfg, paths),
    ...installerSection(cfg, paths),
    // Always start stopped: the core attaches to QMP first, so no early event is missed.
    '-S',
    ...(launch.incoming ? ['-incoming', 'defer'] : []),
    ...(launch.loadvm ? ['-loadvm', launch.loadvm] : []),
  ];
}
