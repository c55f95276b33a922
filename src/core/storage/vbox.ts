/**
 * A VirtualBox machine file (`.vbox`): its `<Machine>` is the schema of the OVF's
 * `vbox:Machine` section (read by readVboxMachine), and its `<MediaRegistry>` says which
 * file each attached medium is. Pure: paths are returned as written; the import checks
 * them (inside the .vbox's folder, regular files) before a byte of them is read.
 */
import { NestboxError } from '../api/errors';
import { child, childrenOf, attr, parseXml, type XmlElement } from './xml';
import { readVboxMachine, vboxControllerBus, vboxUuid, type ForeignDisk, type ForeignMachine } from './machine';
import { guessOs } from './ovf';

/** Is this the start of a VirtualBox settings file? */
export function looksLikeVbox(head: string): boolean {
  return /^(\uFEFF)?\s*(<\?xml[^>]*\?>\s*)?(<!--[\s\S]*?-->\s*)*<VirtualBox[\s>]/.test(head);
}

interface Medium {
  readonly uuid: string;
  readonly location: string;
  readonly format: string;
  /** The media this one is a differencing image of, nearest first. */
  readonly parents: readonly Medium[];
}

/** VirtualBox's format names → qemu's. */
const FORMATS: Readonly<Record<string, string>> = { vdi: 'vdi', vmdk: 'vmdk', vhd: 'vpc', vhdx: 'vhdx', raw: 'raw', qcow2: 'qcow2', parallels: 'parallels', qed: 'qed' };

function registry(machine: XmlElement): { disks: Map<string, Medium>; dvds: Map<string, string> } {
  const disks = new Map<string, Medium>();
  const dvds = new Map<string, string>();
  const reg = child(machine, 'MediaRegistry');
  const walk = (el: XmlElement, parents: readonly Medium[]) => {
    const uuid = vboxUuid(attr(el, 'uuid'));
    const location = attr(el, 'location');
    if (!uuid || !location) throw new NestboxError('IMAGE_REJECTED', 'the .vbox file has a medium without a UUID or a location');
    if (disks.has(uuid)) throw new NestboxError('IMAGE_REJECTED', `the .vbox file registers the medium {${uuid}} twice`);
    const m: Medium = { uuid, location, format: (attr(el, 'format') ?? '').toLowerCase(), parents };
    disks.set(uuid, m);
    for (const c of childrenOf(el, 'HardDisk')) walk(c, [m, ...parents]);
  };
  for (const hd of reg ? childrenOf(reg, 'HardDisks') : []) for (const el of childrenOf(hd, 'HardDisk')) walk(el, []);
  for (const dv of reg ? childrenOf(reg, 'DVDImages') : []) {
    for (const el of childrenOf(dv, 'Image')) {
      const uuid = vboxUuid(attr(el, 'uuid'));
      if (uuid && attr(el, 'location')) dvds.set(uuid, attr(el, 'location')!);
    }
  }
  return { disks, dvds };
}

/** A medium of a chain as the machine file registers it. */
export interface VboxMedium {
  readonly uuid: string;
  readonly location: string;
  /** VirtualBox's format name, lower-case (vdi, vmdk, vhd…). */
  readonly format: string;
}

/** A differencing image and what it stands on, for the import to flatten (or refuse). */
export interface VboxChain {
  /** The attached (topmost) image's location, as in the machine's disks. */
  readonly disk: string;
  /** The images under it, nearest first. */
  readonly parents: readonly string[];
  /** Every medium of the chain, the base first and the attached image last. */
  readonly layers: readonly VboxMedium[];
}

export function readVboxFile(text: string, label: string): ForeignMachine & { readonly chains: readonly VboxChain[] } {
  const root = parseXml(text, { code: 'IMAGE_REJECTED', what: `the VirtualBox machine file '${label}'` });
  if (root.name !== 'VirtualBox') throw new NestboxError('IMAGE_REJECTED', `'${label}' is not a VirtualBox machine file: its root element is <${root.name.slice(0, 30)}>`);
  const machine = child(root, 'Machine');
  if (!machine) throw new NestboxError('IMAGE_REJECTED', `'${label}' has no <Machine>; it may be VirtualBox's global settings file, not a machine's`);
  const hw = readVboxMachine(machine);
  const { disks: media, dvds } = registry(machine);
  const dropped = [...hw.dropped];
  const disks: ForeignDisk[] = [];
  const chains: VboxChain[] = [];
  // The controllers again, for each disk's label (readVboxMachine keeps only the bus).
  const labels: string[] = [];
  const hwEl = child(machine, 'Hardware');
  for (const p of [machine, ...(hwEl ? [hwEl] : [])].flatMap((x) => childrenOf(x, 'StorageControllers'))) {
    for (const sc of childrenOf(p, 'StorageController')) {
      if (!vboxControllerBus(attr(sc, 'type') ?? '')) continue;
      const devs = childrenOf(sc, 'AttachedDevice').filter((d) => attr(d, 'type') === 'HardDisk' || attr(d, 'type') === 'DVD');
      const key = (d: XmlElement) => Number(attr(d, 'port') ?? 0) * 2 + Number(attr(d, 'device') ?? 0);
      for (const d of devs.sort((a, b) => key(a) - key(b))) labels.push(`'${attr(sc, 'name') ?? '?'}' port ${attr(d, 'port') ?? 0}`);
    }
  }
  const attachments = hw.attachments.filter((a, i) => {
    const where = labels[i] ?? `attachment ${i + 1}`;
    if (a.kind === 'cdrom') {
      const iso = a.image ? dvds.get(a.image) : undefined;
      if (iso) dropped.push(`the image '${iso}' in the optical drive on ${where} (the drive is kept, empty; insert it again with 'nestbox cd')`);
      return true;
    }
    const m = a.image ? media.get(a.image) : undefined;
    if (!m) {
      dropped.push(`the disk on ${where} (its medium is not in the file's media registry)`);
      return false;
    }
    const format = FORMATS[m.format] ?? null;
    if (!format) throw new NestboxError('IMAGE_REJECTED', `the disk on ${where} is in VirtualBox's '${m.format}' format, which Nestbox does not read`);
    disks.push({ path: m.location, bus: a.bus, format, label: where });
    if (m.parents.length) {
      const layers = [...m.parents].reverse().concat(m).map((x) => ({ uuid: x.uuid, location: x.location, format: x.format }));
      chains.push({ disk: m.location, parents: m.parents.map((x) => x.location), layers });
    }
    return true;
  });
  const mem = hw.memoryMiB;
  if (mem !== null && (mem < 4 || mem > 4 * 1024 * 1024)) throw new NestboxError('IMAGE_REJECTED', `'${label}' gives the machine ${mem} MiB of memory`);
  if (hw.cpus !== null && hw.cpus > 255) throw new NestboxError('IMAGE_REJECTED', `'${label}' gives the machine ${hw.cpus} virtual CPUs; Nestbox accepts at most 255`);
  return {
    source: 'vbox',
    name: attr(machine, 'name') ?? '',
    description: hw.description,
    osType: hw.osType ? guessOs(null, hw.osType) : null,
    hardware: { firmware: hw.firmware, machine: hw.machine, cpus: hw.cpus, memoryMiB: hw.memoryMiB, attachments, bootOrder: hw.bootOrder, nics: hw.nics, dropped },
    disks,
    nvram: null,
    chains,
  };
}
