/**
 * OVF descriptors: reading what Nestbox needs from one (the files, the disks, memory, CPUs,
 * a guess at the OS) and writing an OVF 1.0 envelope VirtualBox imports. Pure: no I/O.
 *
 * Just over 500 lines because reading and writing the envelope are kept side by side: what
 * Nestbox writes (sections, resource types, VirtualBox's `vbox:Machine`) must stay what its own
 * reader and VirtualBox's accept, and the round trip is tested as one.
 */
import { assertNever, NestboxError } from '../api/errors';
import type { BootDevice, DiskBus, Firmware, MachineType, NicMode, NicModel, PortForward } from '../domain/config';
import { MAX_VIRTUAL_SIZE } from './inspect';
import { normalizeMac, readVboxMachine, vboxUuid, type ForeignAttachment, type ForeignHardware, type ForeignNic } from './machine';
import { attr, child, childrenOf, escapeXml, localName, parseXml, type XmlElement } from './xml';

export interface OvfFile {
  readonly id: string;
  readonly href: string;
  readonly size: number | null;
}

export interface OvfDisk {
  readonly diskId: string;
  readonly fileRef: string;
  readonly capacity: number;
  readonly format: string;
  /** VirtualBox's medium UUID (`vbox:uuid`), which its `vbox:Machine` section attaches by. */
  readonly vboxUuid: string | null;
}

export interface OvfDescriptor {
  readonly name: string;
  readonly osType: string;
  readonly osDescription: string;
  readonly memoryMiB: number | null;
  readonly cpus: number | null;
  readonly firmware: 'bios' | 'uefi';
  readonly files: readonly OvfFile[];
  /** In the order the virtual hardware attaches them (boot disk first). */
  readonly disks: readonly OvfDisk[];
  /** The bus of each disk, in the order of `disks`. */
  readonly diskBuses: readonly DiskBus[];
  /** Everything else the descriptor says about the machine (VirtualBox's section wins where present). */
  readonly hardware: ForeignHardware;
  readonly description: string;
  /** Which tool's extensions were read: what the import dialog says it kept. */
  readonly dialect: 'virtualbox' | 'vmware' | 'ovf';
}

export const VMDK_STREAM_OPTIMIZED = 'http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized';
const VMDK_FORMATS = [VMDK_STREAM_OPTIMIZED, 'http://www.vmware.com/interfaces/specifications/vmdk.html#sparse', 'http://www.vmware.com/specifications/vmdk.html#sparse'];

/** A file named by an OVF must be a plain name in the package: no folders, no "..", no oddities. */
const SAFE_HREF = /^[A-Za-z0-9][A-Za-z0-9._ +-]{0,99}$/;

const bad = (msg: string): never => {
  throw new NestboxError('IMAGE_REJECTED', `the OVF descriptor is not acceptable: ${msg}`);
};

function nonNegInt(v: string | undefined, what: string): number | null {
  if (v === undefined) return null;
  if (!/^\d{1,20}$/.test(v.trim())) return bad(`${what} '${v}' is not a whole number`);
  const n = Number(v.trim());
  if (!Number.isSafeInteger(n)) return bad(`${what} is too large`);
  return n;
}

/** "byte * 2^30" and friends (DMTF DSP0004 programmatic units). */
export function unitMultiplier(units: string | undefined): number {
  if (!units) return 1;
  const u = units.replace(/\s+/g, '').toLowerCase();
  const named: Record<string, number> = { byte: 1, bytes: 1, kilobytes: 1024, kb: 1024, megabytes: 1024 ** 2, mb: 1024 ** 2, gigabytes: 1024 ** 3, gb: 1024 ** 3 };
  if (u in named) return named[u]!;
  const m = /^byte\*2\^(\d{1,2})$/.exec(u);
  if (m) return 2 ** Number(m[1]);
  const m10 = /^byte\*10\^(\d{1,2})$/.exec(u);
  if (m10) return 10 ** Number(m10[1]);
  return bad(`the unit '${units}' is not understood`);
}

/** CIM operating system ids (DMTF CIM_OperatingSystem) → Nestbox OS types, roughly. */
export function guessOs(cimId: number | null, description: string): string {
  const d = description.toLowerCase();
  if (/ubuntu/.test(d)) return 'linux-ubuntu';
  if (/debian/.test(d)) return 'linux-debian';
  if (/fedora|red ?hat|rhel/.test(d)) return 'linux-fedora';
  if (/windows ?11|win11/.test(d)) return 'windows-11';
  if (/windows ?10|win10/.test(d)) return 'windows-10';
  if (/freebsd/.test(d)) return 'bsd-freebsd';
  if (/linux/.test(d)) return 'linux-other';
  if (cimId !== null && [36, 79, 80, 82, 83, 84, 93, 94, 95, 96, 97, 98, 99, 100, 101, 103, 104, 105, 106, 107, 108, 109, 110].includes(cimId)) return 'linux-other';
  if (cimId === 42 || cimId === 78) return 'bsd-freebsd';
  return 'other';
}

export function parseOvf(text: string): OvfDescriptor {
  const root = parseXml(text);
  if (localName(root.name) !== 'Envelope') bad(`its root is <${root.name}>, not <Envelope>`);
  const refs = child(root, 'References');
  const files: OvfFile[] = [];
  for (const f of refs ? childrenOf(refs, 'File') : []) {
    const id = attr(f, 'id');
    const href = attr(f, 'href');
    if (!id || !href) bad('a File has no id or href');
    if (!SAFE_HREF.test(href!) || href!.includes('..')) bad(`the file name '${href}' is not a plain name inside the package`);
    if (attr(f, 'compression')) bad(`the file '${href}' is compressed (${attr(f, 'compression')}), which Nestbox does not read`);
    if (attr(f, 'chunkSize')) bad(`the file '${href}' is split into chunks, which Nestbox does not read`);
    if (files.some((x) => x.id === id || x.href.toLowerCase() === href!.toLowerCase())) bad(`the file '${href}' is named twice`);
    files.push({ id: id!, href: href!, size: nonNegInt(attr(f, 'size'), `the size of '${href}'`) });
  }
  const diskSection = child(root, 'DiskSection');
  const declared = new Map<string, OvfDisk>();
  for (const d of diskSection ? childrenOf(diskSection, 'Disk') : []) {
    const diskId = attr(d, 'diskId');
    const fileRef = attr(d, 'fileRef');
    const format = attr(d, 'format') ?? '';
    if (!diskId) bad('a Disk has no diskId');
    if (!fileRef) bad(`disk '${diskId}' has no file (empty disks are not supported)`);
    if (!files.some((f) => f.id === fileRef)) bad(`disk '${diskId}' names a file '${fileRef}' that References does not list`);
    if (!VMDK_FORMATS.includes(format)) bad(`disk '${diskId}' has the format '${format}'; Nestbox imports VMDK (streamOptimized or sparse) disks`);
    const cap = nonNegInt(attr(d, 'capacity'), `the capacity of '${diskId}'`) ?? 0;
    const capacity = cap * unitMultiplier(attr(d, 'capacityAllocationUnits'));
    if (!Number.isSafeInteger(capacity) || capacity > MAX_VIRTUAL_SIZE) bad(`disk '${diskId}' declares an absurd capacity`);
    declared.set(diskId!, { diskId: diskId!, fileRef: fileRef!, capacity, format, vboxUuid: vboxUuid(attr(d, 'uuid')) });
  }
  const vs = child(root, 'VirtualSystem') ?? (child(root, 'VirtualSystemCollection') && child(child(root, 'VirtualSystemCollection')!, 'VirtualSystem'));
  if (!vs) return bad('it describes no VirtualSystem');
  const name = (child(vs, 'Name')?.text ?? attr(vs, 'id') ?? '').trim();
  const osSec = child(vs, 'OperatingSystemSection');
  const osDescription = (osSec && (child(osSec, 'Description')?.text ?? '')) || '';
  const vboxOs = osSec ? (Object.entries(osSec.attrs).find(([k]) => localName(k) === 'OSType')?.[1] ?? '') : '';
  const osType = guessOs(osSec ? nonNegInt(attr(osSec, 'id'), 'the OS id') : null, `${osDescription} ${vboxOs}`);
  const hw = child(vs, 'VirtualHardwareSection');
  let memoryMiB: number | null = null;
  let cpus: number | null = null;
  let firmware: 'bios' | 'uefi' = 'bios';
  let vmware = false;
  const order: string[] = [];
  const busOf = new Map<string, DiskBus>();
  const controllers = new Map<string, DiskBus | null>();
  const nics: ForeignNic[] = [];
  const dropped: string[] = [];
  let cdroms = 0;
  // OVF 2.0 splits Item into StorageItem and EthernetPortItem (same field names, other prefixes).
  const items = hw ? [...childrenOf(hw, 'Item'), ...childrenOf(hw, 'StorageItem'), ...childrenOf(hw, 'EthernetPortItem')] : [];
  const field = (it: XmlElement, n: string) => child(it, n)?.text.trim();
  for (const it of items) {
    const type = field(it, 'ResourceType');
    const sub = (field(it, 'ResourceSubType') ?? '').toLowerCase();
    const id = field(it, 'InstanceID') ?? '';
    const label = field(it, 'ElementName') ?? field(it, 'Caption') ?? `item ${id}`;
    if (/^vmware\./.test(sub) || /^vmx|^lsilogic|^virtualscsi|^vmxnet/i.test(sub)) vmware = true;
    switch (type) {
      case '3':
        cpus = nonNegInt(field(it, 'VirtualQuantity'), 'the number of CPUs');
        break;
      case '4': {
        const q = nonNegInt(field(it, 'VirtualQuantity'), 'the memory size');
        if (q !== null) memoryMiB = Math.floor((q * unitMultiplier(field(it, 'AllocationUnits') ?? 'byte * 2^20')) / 1024 ** 2);
        break;
      }
      case '5':
        controllers.set(id, 'ide');
        break;
      case '6':
        controllers.set(id, 'scsi');
        break;
      case '20':
        controllers.set(id, /nvme/.test(sub) ? 'nvme' : /ahci|sata/.test(sub) ? 'sata' : null);
        if (!/nvme|ahci|sata/.test(sub)) dropped.push(`the storage controller '${label}'`);
        break;
      case '10': {
        const model = OVF_NICS[sub.replace(/[^a-z0-9]/g, '')];
        if (!model) dropped.push(`the adapter model '${field(it, 'ResourceSubType') ?? '?'}' of '${label}' (imported as e1000)`);
        nics.push({ model: model ?? 'e1000', mac: normalizeMac(field(it, 'Address')), mode: 'nat', forwards: [] });
        break;
      }
      case '15':
      case '16':
        cdroms++;
        break;
      case '17': {
        const host = field(it, 'HostResource') ?? '';
        const m = /^(?:ovf:)?\/disk\/(.+)$/.exec(host);
        if (m && declared.has(m[1]!)) {
          order.push(m[1]!);
          const bus = controllers.get(field(it, 'Parent') ?? '');
          if (bus) busOf.set(m[1]!, bus);
        }
        break;
      }
      case '14':
        dropped.push(`the floppy drive '${label}'`);
        break;
      case '23':
        dropped.push(`the USB controller '${label}'`);
        break;
      case '35':
        dropped.push(`the sound card '${label}'`);
        break;
      case '21':
      case '1':
        if (sub) dropped.push(`'${label}' (${field(it, 'ResourceSubType')})`);
        break;
      default:
        break;
    }
  }
  if (hw) {
    for (const c of childrenOf(hw, 'Config')) {
      if (attr(c, 'key') === 'firmware') {
        vmware = true;
        if (/efi/i.test(attr(c, 'value') ?? '')) firmware = 'uefi';
      }
    }
  }
  const annotation = child(vs, 'AnnotationSection');
  let description = (annotation && child(annotation, 'Annotation')?.text.trim()) || '';
  const disks = [...order.map((id) => declared.get(id)!), ...[...declared.values()].filter((d) => !order.includes(d.diskId))];
  if (disks.length === 0) bad('it has no disks');
  let diskBuses: DiskBus[] = disks.map((d) => busOf.get(d.diskId) ?? 'sata');
  let hardware: ForeignHardware = {
    firmware,
    machine: null,
    cpus,
    memoryMiB,
    attachments: [...disks.map((d, i): ForeignAttachment => ({ bus: diskBuses[i]!, kind: 'disk', image: d.diskId })), ...Array.from({ length: cdroms }, (): ForeignAttachment => ({ bus: 'sata', kind: 'cdrom', image: null }))],
    bootOrder: null,
    nics: nics.length ? nics : hw ? [] : null,
    dropped,
  };
  // VirtualBox's own section describes the machine exactly; it wins over the generic items.
  const vbox = vs.children.find((c) => localName(c.name) === 'Machine');
  if (vbox) {
    const m = readVboxMachine(vbox);
    const vboxDisks = m.attachments.filter((a) => a.kind === 'disk');
    const byUuid = new Map(vboxDisks.map((a) => [a.image, a]));
    // Disks in the order VirtualBox attaches them, where it names them by UUID.
    const ordered = [...vboxDisks.flatMap((a) => disks.filter((d) => d.vboxUuid !== null && d.vboxUuid === a.image)), ...disks.filter((d) => !d.vboxUuid || !byUuid.has(d.vboxUuid))];
    disks.splice(0, disks.length, ...ordered);
    diskBuses = disks.map((d, i) => (d.vboxUuid && byUuid.get(d.vboxUuid)?.bus) || diskBuses[i] || 'sata');
    hardware = { ...m, cpus: m.cpus ?? cpus, memoryMiB: m.memoryMiB ?? memoryMiB };
    firmware = m.firmware ?? firmware;
    memoryMiB = hardware.memoryMiB;
    cpus = hardware.cpus;
    description ||= m.description;
  }
  return { name, osType, osDescription, memoryMiB, cpus, firmware, files, disks, diskBuses, hardware, description, dialect: vbox ? 'virtualbox' : vmware ? 'vmware' : 'ovf' };
}

/** OVF adapter subtypes (as VirtualBox, VMware and others write them, folded) → QEMU models. */
const OVF_NICS: Readonly<Record<string, NicModel>> = {
  e1000: 'e1000',
  e1000e: 'e1000e',
  vmxnet3: 'vmxnet3',
  pcnet32: 'pcnet',
  pcnet: 'pcnet',
  virtionet: 'virtio-net-pci',
  virtio: 'virtio-net-pci',
  rtl8139: 'rtl8139',
};

export interface OvfExportDisk {
  readonly href: string;
  readonly size: number;
  readonly capacity: number;
  readonly bus: DiskBus;
  /** The medium UUID VirtualBox attaches it by (`vbox:uuid`). */
  readonly uuid: string;
}

export interface OvfExportNic {
  readonly model: NicModel;
  readonly mac: string;
  readonly mode: NicMode;
  readonly network?: string;
  readonly bridge?: string;
  readonly forwards: readonly PortForward[];
}

export interface OvfExport {
  readonly name: string;
  readonly description: string;
  /** Nestbox's OS type (linux-debian …), written as VirtualBox's OSType. */
  readonly osType: string;
  readonly osFamily: 'linux' | 'windows' | 'bsd' | 'other';
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly firmware: Firmware;
  readonly machine: MachineType;
  readonly disks: readonly OvfExportDisk[];
  readonly cdroms: number;
  readonly nics: readonly OvfExportNic[];
  readonly bootOrder: readonly BootDevice[];
  /** The machine's UUID in VirtualBox's section (a new one for each export). */
  readonly uuid: string;
}

/** CIM ids VirtualBox writes for each family (Linux 2.6 64-bit, Windows 64-bit, FreeBSD 64-bit, Other 64-bit). */
const OS_IDS = { linux: [101, 'Linux26_64'], windows: [113, 'Windows10_64'], bsd: [78, 'FreeBSD_64'], other: [102, 'Other_64'] } as const;

/** Nestbox's OS types as VirtualBox's OSType ids (and the CIM id VirtualBox pairs with it), where one is closer than the family's. */
const VBOX_OS: Readonly<Record<string, readonly [number, string]>> = {
  'linux-debian': [96, 'Debian_64'],
  'linux-ubuntu': [94, 'Ubuntu_64'],
  'linux-fedora': [101, 'Fedora_64'],
  'linux-arch': [101, 'ArchLinux_64'],
  'linux-alpine': [101, 'Linux26_64'],
  'windows-11': [113, 'Windows11_64'],
  'windows-10': [113, 'Windows10_64'],
  'windows-7': [105, 'Windows7_64'],
  'windows-server-2022': [113, 'Windows2022_64'],
  'bsd-openbsd': [102, 'OpenBSD_64'],
  'bsd-netbsd': [102, 'NetBSD_64'],
};

/**
 * Nestbox's NIC models as VirtualBox adapter types. VirtualBox has no e1000e, RTL8139 or
 * VMXNET3: those get its nearest Intel card, and Nestbox's own model is kept beside it in
 * the machine's ExtraData, which VirtualBox carries along and Nestbox reads back.
 */
const VBOX_ADAPTER: Readonly<Record<NicModel, { readonly type: string; readonly sub: string; readonly exact: boolean }>> = {
  'virtio-net-pci': { type: 'virtio', sub: 'virtio', exact: true },
  e1000: { type: '82540EM', sub: 'E1000', exact: true },
  e1000e: { type: '82545EM', sub: 'E1000', exact: false },
  rtl8139: { type: '82540EM', sub: 'E1000', exact: false },
  vmxnet3: { type: '82545EM', sub: 'E1000', exact: false },
  pcnet: { type: 'Am79C973', sub: 'PCNet32', exact: true },
};

/** VirtualBox's controllers for Nestbox's buses; virtio disks go on AHCI (VirtualBox has no virtio-blk), their bus kept in ExtraData. */
const VBOX_CONTROLLERS = {
  ide: { name: 'IDE', type: 'PIIX4', rasdType: '5', sub: 'PIIX4', caption: 'ideController', what: 'IDE Controller', ports: 2, perPort: 2 },
  sata: { name: 'SATA', type: 'AHCI', rasdType: '20', sub: 'AHCI', caption: 'sataController', what: 'SATA Controller', ports: 30, perPort: 1 },
  scsi: { name: 'SCSI', type: 'LsiLogic', rasdType: '6', sub: 'lsilogic', caption: 'scsiController', what: 'SCSI Controller', ports: 16, perPort: 1 },
  nvme: { name: 'NVMe', type: 'NVMe', rasdType: '20', sub: 'NVMe', caption: 'nvmeController', what: 'NVMe Controller', ports: 255, perPort: 1 },
} as const;
type VboxController = keyof typeof VBOX_CONTROLLERS;

const BOOT_WORDS: Readonly<Record<BootDevice, string>> = { disk: 'HardDisk', cdrom: 'DVD', network: 'Network' };

/** "52:54:00:12:34:56" as VirtualBox writes a MAC: "525400123456". */
const vboxMac = (mac: string): string => mac.replace(/:/g, '').toUpperCase();

/**
 * An OVF 1.0 envelope shaped like VirtualBox's own export: the References, DiskSection (with
 * `vbox:uuid`), NetworkSection and one VirtualSystem whose VirtualHardwareSection lists CPUs,
 * memory, the storage controllers, adapters, disks and CD drives as generic items, followed by
 * the `vbox:Machine` section (VirtualBox's settings format) from which VirtualBox restores
 * firmware, chipset, adapter types and MACs, controllers and ports, and boot order. A UEFI
 * machine also carries VMware's `firmware` Config, which other OVF readers understand.
 */
export function generateOvf(e: OvfExport): string {
  const x = escapeXml;
  const [osId, osType] = VBOX_OS[e.osType] ?? OS_IDS[e.osFamily];
  let instance = 0;
  const item = (fields: Record<string, string>) => {
    const body = Object.keys(fields)
      .sort()
      .map((k) => `        <rasd:${k}>${x(fields[k]!)}</rasd:${k}>`)
      .join('\n');
    return `      <Item>\n${body}\n      </Item>`;
  };
  // Where each disk and CD drive sits: a controller kind and a slot on it.
  const ctlOf = (bus: DiskBus): VboxController => (bus === 'virtio' ? 'sata' : bus);
  const cdCtl: VboxController = e.machine === 'q35' ? 'sata' : 'ide';
  const slots = new Map<VboxController, number>();
  const place = (c: VboxController) => {
    const k = slots.get(c) ?? 0;
    slots.set(c, k + 1);
    const spec = VBOX_CONTROLLERS[c];
    return { ctl: c, port: Math.floor(k / spec.perPort), device: k % spec.perPort };
  };
  const diskPlaces = e.disks.map((d) => place(ctlOf(d.bus)));
  const cdPlaces = Array.from({ length: e.cdroms }, () => place(cdCtl));
  // Controllers in the order of their first disk: VirtualBox (and Nestbox's import) attach disks controller by controller.
  const used = [...new Set([...diskPlaces, ...cdPlaces].map((p) => p.ctl))];

  const items: string[] = [];
  items.push(item({ Caption: `${e.cpus} virtual CPU`, Description: 'Number of virtual CPUs', ElementName: `${e.cpus} virtual CPU`, InstanceID: String(++instance), ResourceType: '3', VirtualQuantity: String(e.cpus) }));
  items.push(item({ AllocationUnits: 'MegaBytes', Caption: `${e.memoryMiB} MB of memory`, Description: 'Memory Size', ElementName: `${e.memoryMiB} MB of memory`, InstanceID: String(++instance), ResourceType: '4', VirtualQuantity: String(e.memoryMiB) }));
  // VirtualBox writes one IDE item per channel (primary, secondary); other controllers once.
  const ctlInstance = new Map<string, number>();
  for (const c of used) {
    const spec = VBOX_CONTROLLERS[c];
    const channels = c === 'ide' ? 2 : 1;
    for (let ch = 0; ch < channels; ch++) {
      ctlInstance.set(`${c}${ch}`, ++instance);
      items.push(item({ Address: String(ch), Caption: `${spec.caption}${ch}`, Description: spec.what, ElementName: `${spec.caption}${ch}`, InstanceID: String(instance), ResourceSubType: spec.sub, ResourceType: spec.rasdType }));
    }
  }
  const parentOf = (p: { ctl: VboxController; port: number; device: number }) => ({
    parent: ctlInstance.get(`${p.ctl}${p.ctl === 'ide' ? p.port : 0}`)!,
    address: p.ctl === 'ide' ? p.device : p.port,
  });
  const connection = (n: OvfExportNic) => (n.mode === 'bridged' ? 'Bridged' : n.mode === 'internal' ? 'Internal' : n.mode === 'none' ? 'NotAttached' : 'NAT');
  for (const n of e.nics) {
    items.push(item({ AutomaticAllocation: 'true', Caption: `Ethernet adapter on '${connection(n)}'`, Connection: connection(n), ElementName: `Ethernet adapter on '${connection(n)}'`, InstanceID: String(++instance), ResourceSubType: VBOX_ADAPTER[n.model].sub, ResourceType: '10' }));
  }
  e.disks.forEach((_, i) => {
    const { parent, address } = parentOf(diskPlaces[i]!);
    items.push(item({ AddressOnParent: String(address), Caption: `disk${i + 1}`, Description: 'Disk Image', ElementName: `disk${i + 1}`, HostResource: `/disk/vmdisk${i + 1}`, InstanceID: String(++instance), Parent: String(parent), ResourceType: '17' }));
  });
  cdPlaces.forEach((p, i) => {
    const { parent, address } = parentOf(p);
    items.push(item({ AddressOnParent: String(address), AutomaticAllocation: 'true', Caption: `cdrom${i + 1}`, Description: 'CD-ROM Drive', ElementName: `cdrom${i + 1}`, InstanceID: String(++instance), Parent: String(parent), ResourceType: '15' }));
  });
  const networks = [...new Set(e.nics.map(connection))];

  // VirtualBox's own section: its settings format, which it prefers over the generic items.
  const extra: string[] = [];
  const adapters = e.nics.map((n, slot) => {
    const a = VBOX_ADAPTER[n.model];
    if (!a.exact) extra.push(`          <ExtraDataItem name="nestbox/adapter${slot}/model" value="${n.model}"/>`);
    let attach: string;
    switch (n.mode) {
      case 'nat': {
        const rules = n.forwards.map((f) => `              <Forwarding name="${x(f.name)}" proto="${f.protocol === 'udp' ? 0 : 1}" hostip="${x(f.hostAddress)}" hostport="${f.hostPort}"${f.guestAddress ? ` guestip="${x(f.guestAddress)}"` : ''} guestport="${f.guestPort}"/>`);
        attach = rules.length ? `            <NAT>\n${rules.join('\n')}\n            </NAT>` : '            <NAT/>';
        break;
      }
      case 'internal':
        attach = `            <InternalNetwork name="${x(n.network ?? 'intnet')}"/>`;
        break;
      case 'bridged':
        attach = `            <BridgedInterface name="${x(n.bridge ?? '')}"/>`;
        break;
      case 'none':
        attach = '';
        break;
      default:
        return assertNever(n.mode);
    }
    return `          <Adapter slot="${slot}" enabled="true" MACAddress="${vboxMac(n.mac)}" type="${a.type}"${attach ? `>\n${attach}\n          </Adapter>` : '/>'}`;
  });
  e.disks.forEach((d) => {
    if (d.bus === 'virtio') extra.push(`          <ExtraDataItem name="nestbox/medium/{${d.uuid}}/bus" value="virtio"/>`);
  });
  const order = [...e.bootOrder.map((b) => BOOT_WORDS[b]), 'None', 'None', 'None', 'None'].slice(0, 4);
  const controllers = used.map((c) => {
    const spec = VBOX_CONTROLLERS[c];
    const devs = [
      ...e.disks.map((d, i) => ({ p: diskPlaces[i]!, xml: (p: { port: number; device: number }) => `            <AttachedDevice type="HardDisk" hotpluggable="false" port="${p.port}" device="${p.device}">\n              <Image uuid="{${d.uuid}}"/>\n            </AttachedDevice>` })),
      ...cdPlaces.map((p) => ({ p, xml: (q: { port: number; device: number }) => `            <AttachedDevice passthrough="false" type="DVD" hotpluggable="false" port="${q.port}" device="${q.device}"/>` })),
    ].filter((d) => d.p.ctl === c);
    const count = c === 'ide' ? 2 : Math.max(1, ...devs.map((d) => d.p.port + 1));
    return `          <StorageController name="${spec.name}" type="${spec.type}" PortCount="${count}" useHostIOCache="${c === 'ide'}" Bootable="true">\n${devs.map((d) => d.xml(d.p)).join('\n')}\n          </StorageController>`;
  });
  const machine = `    <vbox:Machine ovf:required="false" version="1.19-linux" uuid="{${e.uuid}}" name="${x(e.name)}" OSType="${osType}" snapshotFolder="Snapshots">
      <ovf:Info>Complete VirtualBox machine configuration in VirtualBox format</ovf:Info>
${e.description ? `      <Description>${x(e.description)}</Description>\n` : ''}${extra.length ? `      <ExtraData>\n${extra.map((l) => l.slice(2)).join('\n')}\n      </ExtraData>\n` : ''}      <Hardware>
        <CPU count="${e.cpus}">
          <PAE enabled="true"/>
          <LongMode enabled="true"/>
        </CPU>
        <Memory RAMSize="${e.memoryMiB}"/>
${e.firmware === 'uefi' ? '        <Firmware type="EFI"/>\n' : ''}${e.machine === 'q35' ? '        <Chipset type="ICH9"/>\n' : ''}        <Boot>
${order.map((d, i) => `          <Order position="${i + 1}" device="${d}"/>`).join('\n')}
        </Boot>
        <Display controller="VMSVGA" VRAMSize="16"/>
        <Network>
${adapters.join('\n')}
        </Network>
        <StorageControllers>
${controllers.join('\n')}
        </StorageControllers>
      </Hardware>
    </vbox:Machine>`;

  return `<?xml version="1.0" encoding="UTF-8"?>
<Envelope ovf:version="1.0" xml:lang="en-US" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:vbox="http://www.virtualbox.org/ovf/machine" xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References>
${e.disks.map((d, i) => `    <File ovf:id="file${i + 1}" ovf:href="${x(d.href)}" ovf:size="${d.size}"/>`).join('\n')}
  </References>
  <DiskSection>
    <Info>List of the virtual disks used in the package</Info>
${e.disks.map((d, i) => `    <Disk ovf:capacity="${d.capacity}" ovf:diskId="vmdisk${i + 1}" ovf:fileRef="file${i + 1}" ovf:format="${VMDK_STREAM_OPTIMIZED}" vbox:uuid="${d.uuid}"/>`).join('\n')}
  </DiskSection>
  <NetworkSection>
    <Info>Logical networks used in the package</Info>
${networks.map((n) => `    <Network ovf:name="${n}">\n      <Description>Logical network used by this appliance.</Description>\n    </Network>`).join('\n')}
  </NetworkSection>
  <VirtualSystem ovf:id="${x(e.name)}">
    <Info>A virtual machine</Info>
${e.description ? `    <AnnotationSection>\n      <Info>A human-readable annotation</Info>\n      <Annotation>${x(e.description)}</Annotation>\n    </AnnotationSection>\n` : ''}    <OperatingSystemSection ovf:id="${osId}">
      <Info>The kind of installed guest operating system</Info>
      <Description>${osType}</Description>
      <vbox:OSType ovf:required="false">${osType}</vbox:OSType>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements for a virtual machine</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>${x(e.name)}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>virtualbox-2.2</vssd:VirtualSystemType>
      </System>
${items.join('\n')}${e.firmware === 'uefi' ? '\n      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>' : ''}
    </VirtualHardwareSection>
${machine}
  </VirtualSystem>
</Envelope>
`;
}

/** An OVF manifest as VirtualBox writes it: one "SHA256 (name) = hex" line per file, the descriptor first. */
export function generateManifest(entries: readonly { readonly name: string; readonly sha256: string }[]): string {
  return entries.map((e) => `SHA256 (${e.name}) = ${e.sha256}\n`).join('');
}

const DIGEST_HEX = { sha1: 40, sha256: 64, sha512: 128 } as const;

/**
 * Reads a manifest's lines into name → { algorithm, digest }. Both spellings tools write are
 * read: ovftool's `SHA256(name)= hex` and VirtualBox's `SHA256 (name) = hex` (coreutils' tag
 * style). A digest of the wrong length for its algorithm is refused, never half-compared.
 */
export function parseManifest(text: string): Map<string, { algorithm: 'sha1' | 'sha256' | 'sha512'; digest: string }> {
  const out = new Map<string, { algorithm: 'sha1' | 'sha256' | 'sha512'; digest: string }>();
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const m = /^(SHA1|SHA256|SHA512) ?\((.+)\) ?= ?([0-9a-fA-F]+)\s*$/.exec(line);
    if (!m) throw new NestboxError('IMAGE_REJECTED', `the OVA manifest has a line Nestbox does not understand: '${line.slice(0, 80)}'`);
    const algorithm = m[1]!.toLowerCase() as 'sha1' | 'sha256' | 'sha512';
    if (m[3]!.length !== DIGEST_HEX[algorithm]) throw new NestboxError('IMAGE_REJECTED', `the OVA manifest's ${m[1]} digest of '${m[2]}' has ${m[3]!.length} hex digits, not ${DIGEST_HEX[algorithm]}`);
    if (out.has(m[2]!)) throw new NestboxError('IMAGE_REJECTED', `the OVA manifest lists '${m[2]}' twice`);
    out.set(m[2]!, { algorithm, digest: m[3]!.toLowerCase() });
  }
  return out;
}
