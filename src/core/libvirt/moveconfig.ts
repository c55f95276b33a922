/**
 * A VM's configuration across the line between this computer and a libvirt host, both ways,
 * as pure functions: what a moved VM keeps (memory, CPUs, firmware, machine, disk buses and
 * order, NIC models and MACs, boot order, description) and what cannot cross said as a
 * warning or a refusal naming the device, never dropped in silence.
 */
import { NestboxError } from '../api/errors';
import type { BootDevice, DiskBus as LocalDiskBus, NicConfig, NicModel as LocalNicModel, VmConfig } from '../domain/config';
import type { DiskBus, DiskSource, DomainSpec, NicModel } from './domxml';
import type { DomainDescription } from './types';

/** Where each of the moved VM's files went on the host. */
export interface MovedVolumes {
  /** One per disk of the config, in order. */
  readonly disks: readonly { readonly source: DiskSource; readonly format: 'qcow2' | 'raw' }[];
  /** The CD-ROM image copied along, if one was attached. */
  readonly cdrom: DiskSource | null;
  /** The UEFI variable store's path on the host. */
  readonly nvram: string | null;
}

export interface ToDomainOptions {
  readonly name: string;
  readonly domainType: 'kvm' | 'qemu';
  /** The libvirt network NAT adapters join (libvirt's own NAT network is 'default'). */
  readonly natNetwork: string;
}

function diskBusToHost(bus: LocalDiskBus, i: number, warnings: string[]): DiskBus {
  switch (bus) {
    case 'virtio':
    case 'sata':
    case 'ide':
    case 'scsi':
      return bus;
    case 'nvme':
      warnings.push(`disk ${i + 1} was on NVMe, which libvirt domains here do not offer; it is on SATA on the host`);
      return 'sata';
    default:
      return assertNever(bus);
  }
}

function nicModelToHost(m: LocalNicModel): NicModel {
  switch (m) {
    case 'virtio-net-pci':
      return 'virtio';
    case 'e1000':
    case 'e1000e':
    case 'rtl8139':
    case 'vmxnet3':
    case 'pcnet':
      return m;
    default:
      return assertNever(m);
  }
}

function assertNever(x: never): never {
  throw new NestboxError('INTERNAL', `unexpected value ${String(x)}`);
}

function nicToHost(n: NicConfig, i: number, natNetwork: string, warnings: string[]): DomainSpec['nics'][number] | null {
  const model = nicModelToHost(n.model);
  switch (n.mode) {
    case 'nat':
      if (n.forwards.length > 0) warnings.push(`adapter ${i + 1}: its ${n.forwards.length} port forwarding rule(s) stay behind (libvirt's NAT network has none)`);
      return { type: 'network', source: natNetwork, model, mac: n.mac };
    case 'bridged':
      if (!n.bridge) throw new NestboxError('INVALID_CONFIG', `adapter ${i + 1} is bridged but names no bridge`);
      return { type: 'bridge', source: n.bridge, model, mac: n.mac };
    case 'internal':
      throw new NestboxError(
        'UNSUPPORTED',
        `adapter ${i + 1} is on the internal network '${n.network ?? ''}', which exists only on this computer; change it to NAT or bridged (or remove it) before moving the VM`,
      );
    case 'none':
      warnings.push(`adapter ${i + 1} (${n.mac}) was not attached; it is left out on the host`);
      return null;
    default:
      return assertNever(n.mode);
  }
}

/** The domain of a VM moved from this computer, its files already in the host's pool. */
export function domainSpecFromConfig(config: VmConfig, vols: MovedVolumes, o: ToDomainOptions): { spec: DomainSpec; warnings: string[] } {
  const warnings: string[] = [];
  if (vols.disks.length !== config.disks.length) throw new NestboxError('INTERNAL', 'one volume per disk is expected');
  const disks = config.disks.map((d, i) => ({ source: vols.disks[i]!.source, format: vols.disks[i]!.format, bus: diskBusToHost(d.bus, i, warnings) }));
  const nics = config.nics.map((n, i) => nicToHost(n, i, o.natNetwork, warnings)).filter((n): n is NonNullable<typeof n> => n !== null);
  if (config.bootOrder.includes('network')) warnings.push('network boot is not carried over (the host boots from disk or CD-ROM)');
  if (config.cdroms.filter((c) => c.iso).length > 1) warnings.push('only the first CD-ROM image is carried over');
  // A folder of this computer means nothing on the host.
  for (const s of config.shares ?? []) warnings.push(`shared folder '${s.tag}' (${s.path}) is not carried over: it is a folder of this computer`);
  const firstBoot = config.bootOrder.find((b) => b !== 'network');
  const spec: DomainSpec = {
    name: o.name,
    memoryMiB: config.memoryMiB,
    cpus: config.cpus,
    firmware: config.firmware,
    machine: config.machine,
    domainType: o.domainType,
    disks,
    cdrom: vols.cdrom,
    nics,
    graphics: config.display.adapter === 'none' ? 'none' : 'vnc-socket',
    ...(config.description ? { description: config.description.slice(0, 4096) } : {}),
    ...(vols.cdrom && firstBoot === 'cdrom' ? { bootCdrom: true } : {}),
    ...(vols.nvram !== null && config.firmware === 'uefi' ? { nvram: vols.nvram } : {}),
  };
  return { spec, warnings };
}

/** The hardware of a host's domain as Nestbox creates it here (before its disks are added). */
export interface LocalShape {
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly firmware: 'bios' | 'uefi';
  readonly machine: 'q35' | 'pc';
  readonly description: string;
  /** The disks to copy, in the domain's order. */
  readonly disks: readonly { readonly pool: string | null; readonly volume: string | null; readonly path: string | null; readonly format: 'qcow2' | 'raw'; readonly bus: LocalDiskBus }[];
  readonly nics: readonly { readonly mode: 'nat' | 'bridged'; readonly bridge?: string; readonly model: LocalNicModel; readonly mac: string | null }[];
  readonly bootOrder: readonly BootDevice[];
  readonly warnings: readonly string[];
}

function diskBusToLocal(bus: string, i: number, warnings: string[]): LocalDiskBus {
  switch (bus) {
    case 'virtio':
    case 'sata':
    case 'ide':
    case 'scsi':
      return bus;
    default:
      warnings.push(`disk ${i + 1} was on the '${bus}' bus; it is on SATA here`);
      return 'sata';
  }
}

function nicModelToLocal(model: string | null, i: number, warnings: string[]): LocalNicModel {
  switch (model) {
    case 'virtio':
      return 'virtio-net-pci';
    case 'e1000':
    case 'e1000e':
    case 'rtl8139':
    case 'vmxnet3':
    case 'pcnet':
      return model;
    default:
      warnings.push(`adapter ${i + 1} was a '${model ?? 'default'}' adapter; it is virtio here`);
      return 'virtio-net-pci';
  }
}

/** What a domain read from a host (with the safe parser) becomes on this computer. */
export function localShapeFromDomain(d: DomainDescription): LocalShape {
  const warnings: string[] = [];
  const disks = d.disks
    .filter((x) => x.device === 'disk')
    .map((x, i) => {
      if (x.format !== 'qcow2' && x.format !== 'raw') {
        throw new NestboxError('UNSUPPORTED', `disk ${i + 1} (${x.target}) of '${d.name}' is ${x.format ?? 'of an unknown format'}; Nestbox brings qcow2 and raw disks`);
      }
      return { pool: x.pool ?? null, volume: x.volume ?? null, path: x.source, format: x.format as 'qcow2' | 'raw', bus: diskBusToLocal(x.bus, i, warnings) };
    });
  if (disks.length > 16) throw new NestboxError('UNSUPPORTED', `'${d.name}' has ${disks.length} disks; a VM here has at most 16`);
  const cdroms = d.disks.filter((x) => x.device === 'cdrom' && (x.source || x.volume));
  if (cdroms.length > 0) warnings.push(`its CD-ROM image (${cdroms.map((c) => c.source ?? `${c.pool ?? ''}/${c.volume ?? ''}`).join(', ')}) stays on the host; the drive here is empty`);
  const nics: LocalShape['nics'][number][] = [];
  d.nics.forEach((n, i) => {
    const model = nicModelToLocal(n.model, i, warnings);
    if (n.type === 'bridge' && n.source) nics.push({ mode: 'bridged', bridge: n.source, model, mac: n.mac });
    else {
      if (n.type !== 'network') warnings.push(`adapter ${i + 1} was a '${n.type}' interface; it is NAT here`);
      nics.push({ mode: 'nat', model, mac: n.mac });
    }
  });
  if (nics.length > 8) throw new NestboxError('UNSUPPORTED', `'${d.name}' has ${nics.length} network adapters; a VM here has at most 8`);
  const memoryMiB = Math.max(16, Math.round(d.memoryKiB / 1024));
  const machine: 'q35' | 'pc' = d.machine && /q35/.test(d.machine) ? 'q35' : 'pc';
  if (d.type === 'xen' || (d.arch !== null && d.arch !== 'x86_64')) throw new NestboxError('UNSUPPORTED', `'${d.name}' is a ${d.arch ?? d.type} domain; Nestbox runs x86_64 VMs`);
  return {
    memoryMiB,
    cpus: d.vcpus,
    firmware: d.firmware,
    machine,
    description: d.description ?? '',
    disks,
    nics,
    bootOrder: ['disk', 'cdrom'],
    warnings,
  };
}
