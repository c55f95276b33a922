/**
 * A domain XML file (as `virsh dumpxml` writes it) read as a machine to import here. The
 * same reader and the same device tables as a libvirt host's VMs (parseDomainXml, mapping),
 * plus what only an import needs: which disks are files, the boot order, and every device
 * that cannot come along, by name. Pure: no file is touched here.
 */
import { NestboxError } from '../api/errors';
import type { BootDevice, NicModel } from '../domain/config';
import { IFNAME_RE, LIMITS } from '../domain/config';
import type { ForeignAttachment, ForeignDisk, ForeignMachine, ForeignNic } from '../storage/machine';
import { normalizeMac } from '../storage/machine';
import { attr, child, childrenOf, parseXml, type XmlElement } from '../storage/xml';
import { parseDomainXml } from './domxml';
import { DOMAIN_BUS, DOMAIN_NIC_MODELS, machineOf, osTypeOf } from './mapping';

/** Is there a root element `<domain>` at the start of this text? */
export function looksLikeDomainXml(head: string): boolean {
  return /^(\uFEFF)?\s*(<\?xml[^>]*\?>\s*)?(<!--[\s\S]*?-->\s*)*<domain[\s>]/.test(head);
}

const BOOT_DEV: Readonly<Record<string, BootDevice>> = { hd: 'disk', cdrom: 'cdrom', network: 'network' };

/** A host's reader speaks of "libvirt host X"; a file's refusal names the file instead. */
function readDescription(text: string, label: string) {
  try {
    return parseDomainXml(text, label);
  } catch (err) {
    if (err instanceof NestboxError && err.code === 'PROTOCOL_ERROR') {
      const why = err.message.replace(/^.*?(unacceptable XML|is not acceptable XML): /, '');
      throw new NestboxError('IMAGE_REJECTED', `the domain XML '${label}' is not acceptable: ${why}`);
    }
    throw err;
  }
}

export function readDomainFile(text: string, label: string, bridgeExists: (name: string) => boolean): ForeignMachine {
  // Parsed once as the file it is (refusals name it), then by the host reader for the mapping.
  const root = parseXml(text, { code: 'IMAGE_REJECTED', what: `the domain XML '${label}'` });
  if (root.name !== 'domain') throw new NestboxError('IMAGE_REJECTED', `'${label}' is not a libvirt domain XML: its root element is <${root.name.slice(0, 30)}>`);
  const d = readDescription(text, label);
  const memoryMiB = Math.round(d.memoryKiB / 1024);
  if (memoryMiB > LIMITS.maxMemoryMiB || memoryMiB < LIMITS.minMemoryMiB) {
    throw new NestboxError('IMAGE_REJECTED', `the domain XML '${label}' gives the machine ${memoryMiB} MiB of memory; Nestbox accepts ${LIMITS.minMemoryMiB}–${LIMITS.maxMemoryMiB} MiB`);
  }
  if (d.vcpus > LIMITS.maxCpus) throw new NestboxError('IMAGE_REJECTED', `the domain XML '${label}' gives the machine ${d.vcpus} virtual CPUs; Nestbox accepts at most ${LIMITS.maxCpus}`);
  if (d.arch && d.arch !== 'x86_64' && d.arch !== 'i686') throw new NestboxError('IMAGE_REJECTED', `'${label}' is a ${d.arch} machine; Nestbox runs x86 guests`);
  const dropped: string[] = [];
  const devices = child(root, 'devices');
  const os = child(root, 'os');

  const attachments: ForeignAttachment[] = [];
  const disks: ForeignDisk[] = [];
  const bootIndex: { order: number; dev: BootDevice }[] = [];
  const perDeviceBoot = (el: XmlElement, dev: BootDevice) => {
    const b = child(el, 'boot');
    const n = b ? Number(attr(b, 'order')) : NaN;
    if (Number.isInteger(n) && n > 0) bootIndex.push({ order: n, dev });
  };
  for (const el of devices ? childrenOf(devices, 'disk') : []) {
    const device = attr(el, 'device') ?? 'disk';
    const type = attr(el, 'type') ?? 'file';
    const target = child(el, 'target');
    const dev = (target ? attr(target, 'dev') : undefined)?.slice(0, 32) ?? '?';
    const src = child(el, 'source');
    const busWord = (target ? attr(target, 'bus') : undefined) ?? '';
    if (device === 'floppy' || device === 'lun') {
      dropped.push(`the ${device === 'floppy' ? 'floppy drive' : 'SCSI pass-through LUN'} ${dev}`);
      continue;
    }
    const bus = DOMAIN_BUS[busWord];
    if (!bus) {
      dropped.push(`the ${device === 'cdrom' ? 'CD drive' : 'disk'} ${dev} on the '${busWord.slice(0, 16)}' bus, which Nestbox does not emulate`);
      continue;
    }
    if (device === 'cdrom') {
      const iso = src ? attr(src, 'file') : undefined;
      if (iso) dropped.push(`the image '${iso.slice(0, 256)}' in the CD drive ${dev} (the drive is kept, empty; insert it again with 'nestbox cd')`);
      attachments.push({ bus, kind: 'cdrom', image: null });
      perDeviceBoot(el, 'cdrom');
      continue;
    }
    const file = type === 'file' && src ? attr(src, 'file') : undefined;
    if (!file) {
      const what = type === 'block' ? `the block device ${src ? (attr(src, 'dev') ?? '?') : '?'}` : type === 'network' ? `a network disk (${src ? (attr(src, 'protocol') ?? '?') : '?'} ${src ? (attr(src, 'name') ?? '') : ''})`.replace(' )', ')') : type === 'volume' ? `the storage pool volume ${src ? `${attr(src, 'pool') ?? '?'}/${attr(src, 'volume') ?? '?'}` : '?'}` : type === 'file' ? 'no file' : `a '${type.slice(0, 16)}' source`;
      dropped.push(`the disk ${dev} (${what}; only file-backed disks are imported)`);
      continue;
    }
    const driver = child(el, 'driver');
    disks.push({ path: file, bus, format: driver ? (attr(driver, 'type') ?? null) : null, label: dev });
    attachments.push({ bus, kind: 'disk', image: null });
    perDeviceBoot(el, 'disk');
  }

  const nics: ForeignNic[] = [];
  for (const [i, n] of d.nics.entries()) {
    const el = devices ? childrenOf(devices, 'interface')[i] : undefined;
    let model: NicModel | undefined = DOMAIN_NIC_MODELS[n.model ?? 'virtio'];
    if (!model) {
      dropped.push(`adapter ${i + 1}'s model '${n.model}' (imported as virtio)`);
      model = 'virtio-net-pci';
    }
    const mac = normalizeMac(n.mac ?? undefined);
    if (n.mac && !mac) dropped.push(`adapter ${i + 1}'s MAC '${n.mac}' (not a unicast MAC; a new one was made)`);
    let mode: ForeignNic['mode'] = 'nat';
    let bridge: string | undefined;
    if (n.type === 'bridge' && n.source && IFNAME_RE.test(n.source) && bridgeExists(n.source)) {
      mode = 'bridged';
      bridge = n.source;
    } else if (n.type === 'bridge') {
      dropped.push(`adapter ${i + 1} bridged to '${n.source ?? '?'}', a bridge that does not exist here (imported as NAT)`);
    } else if (n.type === 'network' && n.source && n.source !== 'default') {
      dropped.push(`adapter ${i + 1} on the libvirt network '${n.source}' (imported as NAT)`);
    } else if (n.type !== 'network' && n.type !== 'user') {
      dropped.push(`adapter ${i + 1} of type '${n.type}'${n.source ? ` on '${n.source}'` : ''} (imported as NAT)`);
    }
    nics.push({ model, mac, mode, ...(bridge ? { bridge } : {}), forwards: [] });
    if (el) perDeviceBoot(el, 'network');
  }

  let bootOrder: BootDevice[] | null = null;
  if (bootIndex.length) {
    bootOrder = [];
    for (const b of bootIndex.sort((a, z) => a.order - z.order)) if (!bootOrder.includes(b.dev)) bootOrder.push(b.dev);
  } else if (os && childrenOf(os, 'boot').length) {
    bootOrder = [];
    for (const b of childrenOf(os, 'boot')) {
      const dev = BOOT_DEV[attr(b, 'dev') ?? ''];
      if (dev && !bootOrder.includes(dev)) bootOrder.push(dev);
    }
  }

  for (const el of devices?.children ?? []) {
    switch (el.name) {
      case 'hostdev': {
        const src = child(el, 'source');
        const a = src ? child(src, 'address') : undefined;
        const v = src ? child(src, 'vendor') : undefined;
        const p = src ? child(src, 'product') : undefined;
        const where = a && attr(a, 'bus') !== undefined ? ` at ${[attr(a, 'domain'), attr(a, 'bus'), attr(a, 'slot'), attr(a, 'function')].filter((x) => x !== undefined).join(':')}` : v && p ? ` ${attr(v, 'id')}:${attr(p, 'id')}` : '';
        dropped.push(`the host ${attr(el, 'type') ?? ''} device${where}`.replace('host  device', 'host device'));
        break;
      }
      case 'filesystem': {
        const t = child(el, 'target');
        dropped.push(`the shared folder '${(t ? attr(t, 'dir') : undefined) ?? '?'}'`);
        break;
      }
      case 'redirdev':
        dropped.push('USB redirection');
        break;
      case 'smartcard':
        dropped.push('the smartcard reader');
        break;
      case 'tpm':
        dropped.push('the TPM and its state (turn a TPM on with nestbox modify if the guest needs one)');
        break;
      case 'sound':
        dropped.push(`the sound card (${attr(el, 'model') ?? '?'})`);
        break;
      default:
        break;
    }
  }
  if (d.firmware === 'uefi' && os && child(os, 'loader') && attr(child(os, 'loader')!, 'secure') === 'yes') {
    dropped.push('Secure Boot (the VM runs UEFI without it; turn it on with nestbox modify if the guest needs it)');
  }

  return {
    source: 'libvirt',
    name: d.name,
    description: d.description ?? '',
    osType: d.osId ? osTypeOf(d.osId) : null,
    hardware: { firmware: d.firmware, machine: machineOf(d.machine), cpus: d.vcpus, memoryMiB, attachments, bootOrder, nics, dropped },
    disks,
    nvram: d.firmware === 'uefi' ? (d.nvram ?? null) : null,
  };
}
