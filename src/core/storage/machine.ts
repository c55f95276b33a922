/**
 * A foreign machine's hardware in one neutral shape, whatever wrote it (an OVF with or without
 * VirtualBox's `vbox:Machine` section, a `.vbox` file, a libvirt domain XML, a UTM bundle), and VirtualBox's
 * machine XML read into it. Pure: no I/O. What Nestbox cannot carry over is named in
 * `dropped`, so an import can say so before anything is copied.
 */
import type { BootDevice, DiskBus, DisplayAdapter, Firmware, MachineType, NicModel, PortForward } from '../domain/config';
import { MAC_RE, NETWORK_NAME_RE, NIC_MODELS } from '../domain/config';
import { attr, child, childrenOf, localName, type XmlElement } from './xml';

export interface ForeignNic {
  readonly model: NicModel;
  /** Lower-case colon form; null when the source has none (a new one is made). */
  readonly mac: string | null;
  readonly mode: 'nat' | 'internal' | 'bridged' | 'none';
  readonly network?: string;
  /** Bridged: a host bridge that exists here. */
  readonly bridge?: string;
  readonly forwards: readonly PortForward[];
}

/** A storage attachment: which controller kind, what is attached, and (VirtualBox) which image. */
export interface ForeignAttachment {
  readonly bus: DiskBus;
  readonly kind: 'disk' | 'cdrom';
  /** VirtualBox's medium UUID (lower case, no braces) or the source's own disk reference. */
  readonly image: string | null;
}

/** A disk file a machine file names (a `.vbox`, a domain XML), before anything is read of it. */
export interface ForeignDisk {
  /** As the source wrote it (absolute, or relative to the machine file's folder). */
  readonly path: string;
  readonly bus: DiskBus;
  /** The format the source says, when it says one. */
  readonly format: string | null;
  /** What the source calls it (vda, 'SATA' port 0), for messages. */
  readonly label: string;
}

/** A whole machine file read: hardware, the disks it names and what else it keeps. */
export interface ForeignMachine {
  readonly source: 'libvirt' | 'vbox' | 'utm';
  readonly name: string;
  readonly description: string;
  /** Nestbox's OS type, when the source names one Nestbox knows. */
  readonly osType: string | null;
  readonly hardware: ForeignHardware;
  readonly disks: readonly ForeignDisk[];
  /** The UEFI variable store file: libvirt's <nvram> (absolute), UTM's efi_vars.fd (in the bundle's Data folder). */
  readonly nvram: string | null;
}

export interface ForeignHardware {
  readonly firmware: Firmware | null;
  readonly machine: MachineType | null;
  readonly cpus: number | null;
  readonly memoryMiB: number | null;
  readonly attachments: readonly ForeignAttachment[];
  readonly bootOrder: readonly BootDevice[] | null;
  /** null: the source says nothing about adapters (the preset's one NAT adapter is used). */
  readonly nics: readonly ForeignNic[] | null;
  readonly dropped: readonly string[];
  /** The display adapter, where the source names one Nestbox has (absent: the preset's). */
  readonly display?: DisplayAdapter;
}

/** VirtualBox adapter types (the `type` attribute of `<Adapter>`) → QEMU models. */
const VBOX_NICS: Readonly<Record<string, NicModel>> = {
  Am79C970A: 'pcnet',
  Am79C973: 'pcnet',
  Am79C960: 'pcnet',
  '82540EM': 'e1000',
  '82543GC': 'e1000',
  '82545EM': 'e1000',
  virtio: 'virtio-net-pci',
};

/** VirtualBox storage controller types → the bus their disks get here. */
export function vboxControllerBus(type: string): DiskBus | null {
  switch (type) {
    case 'PIIX3':
    case 'PIIX4':
    case 'ICH6':
      return 'ide';
    case 'AHCI':
      return 'sata';
    case 'LsiLogic':
    case 'BusLogic':
    case 'LsiLogicSas':
    case 'VirtioSCSI':
      return 'scsi';
    case 'NVMe':
      return 'nvme';
    default:
      return null;
  }
}

/** "080027AABBCC" or "08:00:27:aa:bb:cc" or "08-00-27-..." → "08:00:27:aa:bb:cc", or null when not a unicast MAC. */
export function normalizeMac(raw: string | undefined): string | null {
  if (!raw) return null;
  const hex = raw.replace(/[:-]/g, '').toLowerCase();
  if (!/^[0-9a-f]{12}$/.test(hex)) return null;
  const mac = hex.match(/../g)!.join(':');
  return MAC_RE.test(mac) ? mac : null;
}

const int = (v: string | undefined): number | null => (v !== undefined && /^\d{1,9}$/.test(v.trim()) ? Number(v.trim()) : null);

/** The medium UUID of a VirtualBox `<Image uuid="{…}"/>`, normalised. */
export const vboxUuid = (v: string | undefined): string | null => {
  const m = /^\{?([0-9a-fA-F-]{36})\}?$/.exec((v ?? '').trim());
  return m ? m[1]!.toLowerCase() : null;
};

/** Elements anywhere below `el` with this local name (bounded by the parser's depth limit). */
function descendants(el: XmlElement, local: string): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    for (const c of e.children) {
      if (localName(c.name) === local) out.push(c);
      walk(c);
    }
  };
  walk(el);
  return out;
}

/**
 * VirtualBox's `<Machine>` (in a `.vbox` file, or as `vbox:Machine` inside an OVF it exported):
 * its current hardware. Snapshots' hardware (`<Snapshot>`) is not read.
 */
export function readVboxMachine(machine: XmlElement): ForeignHardware & { readonly osType: string; readonly description: string } {
  const hw = child(machine, 'Hardware');
  const dropped: string[] = [];
  const fwEl = hw ? child(hw, 'Firmware') : undefined;
  const fwType = fwEl ? attr(fwEl, 'type') : undefined;
  let firmware: Firmware | null = null;
  if (fwType === undefined || fwType === 'BIOS') firmware = 'bios';
  else if (/^EFI(64|DUAL)?$/.test(fwType)) firmware = 'uefi';
  else {
    firmware = 'uefi';
    dropped.push(`the firmware '${fwType}' (imported as 64-bit UEFI)`);
  }
  const chipset = hw && child(hw, 'Chipset') ? attr(child(hw, 'Chipset')!, 'type') : undefined;
  const machineType: MachineType = chipset === 'ICH9' ? 'q35' : 'pc';
  const cpu = hw ? child(hw, 'CPU') : undefined;
  const cpus = cpu ? (int(attr(cpu, 'count')) ?? 1) : 1;
  const mem = hw ? child(hw, 'Memory') : undefined;
  const memoryMiB = mem ? int(attr(mem, 'RAMSize')) : null;

  // What Nestbox's own export kept beside VirtualBox's nearest equivalents (a virtio disk on AHCI, an e1000e as an 82545EM).
  const nestbox = new Map<string, string>();
  const extraData = child(machine, 'ExtraData');
  for (const it of extraData ? childrenOf(extraData, 'ExtraDataItem') : []) {
    const key = attr(it, 'name') ?? '';
    if (key.startsWith('nestbox/')) nestbox.set(key, attr(it, 'value') ?? '');
  }
  const attachments: ForeignAttachment[] = [];
  // Settings files of VirtualBox 4-6 keep <StorageControllers> beside <Hardware>; 7 inside it.
  const ctlParents = [machine, ...(hw ? [hw] : [])].flatMap((p) => childrenOf(p, 'StorageControllers'));
  for (const sc of ctlParents.flatMap((p) => childrenOf(p, 'StorageController'))) {
    const name = attr(sc, 'name') ?? 'a controller';
    const type = attr(sc, 'type') ?? '';
    const bus = vboxControllerBus(type);
    const devs = childrenOf(sc, 'AttachedDevice').sort((a, b) => (int(attr(a, 'port')) ?? 0) * 2 + (int(attr(a, 'device')) ?? 0) - ((int(attr(b, 'port')) ?? 0) * 2 + (int(attr(b, 'device')) ?? 0)));
    for (const d of devs) {
      const kind = attr(d, 'type');
      const img = child(d, 'Image');
      if (kind === 'HardDisk' || kind === 'DVD') {
        if (!bus) {
          dropped.push(`the ${kind === 'DVD' ? 'optical drive' : 'disk'} on '${name}' (a ${type} controller Nestbox does not emulate)`);
          continue;
        }
        if (kind === 'DVD' && attr(d, 'passthrough') === 'true') dropped.push(`host drive pass-through on '${name}'`);
        if (kind === 'DVD' && child(d, 'HostDrive')) dropped.push(`the host's optical drive on '${name}' (an empty drive is made)`);
        const image = img ? vboxUuid(attr(img, 'uuid')) : null;
        const kept = image && kind === 'HardDisk' ? nestbox.get(`nestbox/medium/{${image}}/bus`) : undefined;
        attachments.push({ bus: kept === 'virtio' ? 'virtio' : bus, kind: kind === 'DVD' ? 'cdrom' : 'disk', image });
      } else if (kind === 'Floppy') dropped.push(`the floppy drive on '${name}'`);
    }
  }

  let bootOrder: BootDevice[] | null = null;
  const boot = hw ? child(hw, 'Boot') : undefined;
  if (boot) {
    const order = childrenOf(boot, 'Order').sort((a, b) => (int(attr(a, 'position')) ?? 9) - (int(attr(b, 'position')) ?? 9));
    const map: Readonly<Record<string, BootDevice>> = { HardDisk: 'disk', DVD: 'cdrom', Network: 'network' };
    bootOrder = [];
    for (const o of order) {
      const dev = map[attr(o, 'device') ?? ''];
      if (dev && !bootOrder.includes(dev)) bootOrder.push(dev);
    }
  }

  const nics: ForeignNic[] = [];
  const net = hw ? child(hw, 'Network') : undefined;
  for (const a of net ? childrenOf(net, 'Adapter') : []) {
    if (attr(a, 'enabled') !== 'true') continue;
    const slot = (int(attr(a, 'slot')) ?? 0) + 1;
    const type = attr(a, 'type') ?? 'Am79C973';
    const keptModel = NIC_MODELS.find((m) => m === nestbox.get(`nestbox/adapter${slot - 1}/model`));
    let model = keptModel ?? VBOX_NICS[type];
    if (!model) {
      dropped.push(`adapter ${slot}'s type '${type}' (imported as e1000)`);
      model = 'e1000';
    }
    const mac = normalizeMac(attr(a, 'MACAddress'));
    const nat = child(a, 'NAT');
    const internal = child(a, 'InternalNetwork');
    const forwards: PortForward[] = [];
    let mode: ForeignNic['mode'] = 'none';
    let network: string | undefined;
    if (nat) {
      mode = 'nat';
      for (const f of childrenOf(nat, 'Forwarding')) {
        const hostPort = int(attr(f, 'hostport'));
        const guestPort = int(attr(f, 'guestport'));
        const fname = (attr(f, 'name') ?? `rule${forwards.length + 1}`).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 32) || `rule${forwards.length + 1}`;
        if (hostPort === null || guestPort === null || hostPort < 1 || hostPort > 65535 || guestPort < 1 || guestPort > 65535) {
          dropped.push(`the port forward '${fname}' of adapter ${slot} (its ports are not valid)`);
          continue;
        }
        const hostIp = attr(f, 'hostip') ?? '';
        forwards.push({ name: fname, protocol: attr(f, 'proto') === '0' ? 'udp' : 'tcp', hostAddress: /^\d{1,3}(\.\d{1,3}){3}$/.test(hostIp) ? hostIp : '127.0.0.1', hostPort, guestAddress: /^\d{1,3}(\.\d{1,3}){3}$/.test(attr(f, 'guestip') ?? '') ? attr(f, 'guestip')! : '', guestPort });
      }
    } else if (internal && NETWORK_NAME_RE.test(attr(internal, 'name') ?? '')) {
      mode = 'internal';
      network = attr(internal, 'name')!;
    } else {
      const what = child(a, 'BridgedInterface') ? `bridged to '${attr(child(a, 'BridgedInterface')!, 'name') ?? '?'}'` : child(a, 'HostOnlyInterface') ? `on the host-only network '${attr(child(a, 'HostOnlyInterface')!, 'name') ?? '?'}'` : child(a, 'NATNetwork') ? `on the NAT network '${attr(child(a, 'NATNetwork')!, 'name') ?? '?'}'` : child(a, 'GenericInterface') ? 'on a generic driver' : null;
      if (what) {
        dropped.push(`adapter ${slot} ${what} (imported as NAT)`);
        mode = 'nat';
      }
    }
    nics.push({ model, mac, mode, ...(network ? { network } : {}), forwards });
  }

  const shared = hw ? child(hw, 'SharedFolders') : undefined;
  for (const sf of shared ? childrenOf(shared, 'SharedFolder') : []) dropped.push(`the shared folder '${attr(sf, 'name') ?? '?'}'`);
  const usb = hw ? child(hw, 'USB') : undefined;
  for (const f of usb ? descendants(usb, 'DeviceFilter') : []) dropped.push(`the USB filter '${attr(f, 'name') ?? '?'}'`);
  const display = hw ? child(hw, 'Display') : undefined;
  if (display && attr(display, 'accelerate3D') === 'true') dropped.push('3D acceleration');
  const audio = hw ? child(hw, 'AudioAdapter') : undefined;
  if (audio && attr(audio, 'enabled') === 'true') dropped.push('the audio adapter');
  const uart = hw ? child(hw, 'UART') : undefined;
  for (const p of uart ? childrenOf(uart, 'Port') : []) if (attr(p, 'enabled') === 'true') dropped.push(`serial port ${(int(attr(p, 'slot')) ?? 0) + 1}`);

  const description = (child(machine, 'Description')?.text ?? '').trim();
  return { firmware, machine: machineType, cpus, memoryMiB, attachments, bootOrder, nics, dropped, osType: attr(machine, 'OSType') ?? '', description };
}
