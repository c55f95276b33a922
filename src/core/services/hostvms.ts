/**
 * Creating a VM on a libvirt host: its storage pools and the ISOs in them, an ISO copied into
 * a pool (`virsh vol-upload`, as a job with progress), and the VM itself — a disk volume in
 * the chosen pool, the ISO volume in the CD/DVD drive, NAT on a libvirt network or a host
 * bridge — defined from the one pure domain XML builder (libvirt/domxml.ts).
 *
 * The request is checked whole before anything is made on the host (names, sizes, choices,
 * the pool, the ISO volume, the name not taken); what is made (the disk volume) is removed
 * again when a later step fails, so a refused create leaves the host as it was.
 */
import path from 'node:path';
import fs from 'node:fs';
import type { CreateVmSpec, HostIsoUpload, HostIsoVolume, HostPool, JobInfo, OpResult } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { DiskBus, Firmware, MachineType, NicModel } from '../domain/config';
import { matchOsType, unknownOsTypeMessage } from '../domain/ostypes';
import { parseSize } from '../domain/units';
import { volumeNameFor } from '../domain/hostvolumes';

export { volumeNameFor };
import type { HostHandle, LibvirtEngine } from '../engines/libvirt';
import { buildDomainXml, checkDomainName, checkLibvirtName, type DiskBus as DomainDiskBus, type DomainSpec, type NicModel as DomainNicModel } from '../libvirt/domxml';
import type { VolumeInfo } from '../libvirt';
import type { JobService } from './jobs';

/** What creating on a host needs of the HostService's link to it. */
export interface HostVmTarget extends HostHandle {
  readonly engine: LibvirtEngine;
}

/** libosinfo ids for Nestbox's OS types, so libvirt tools (and Nestbox, reading back) know the OS. */
const OS_IDS: Readonly<Record<string, string>> = {
  'linux-debian': 'http://debian.org/debian/12',
  'linux-ubuntu': 'http://ubuntu.com/ubuntu/24.04',
  'linux-fedora': 'http://fedoraproject.org/fedora/40',
  'linux-arch': 'http://archlinux.org/archlinux/rolling',
  'linux-alpine': 'http://alpinelinux.org/alpinelinux/3.20',
  'linux-other': 'http://libosinfo.org/linux/2022',
  'windows-11': 'http://microsoft.com/win/11',
  'windows-10': 'http://microsoft.com/win/10',
  'windows-server-2022': 'http://microsoft.com/win/2k22',
  'windows-7': 'http://microsoft.com/win/7',
  'bsd-freebsd': 'http://freebsd.org/freebsd/14.0',
  'bsd-openbsd': 'http://openbsd.org/openbsd/7.5',
  'bsd-netbsd': 'http://netbsd.org/netbsd/10.0',
};

/** Everything a new host VM is, decided before anything is made. */
export interface HostVmPlan {
  readonly name: string;
  readonly osType: string;
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly firmware: Firmware;
  readonly machine: MachineType;
  readonly diskBus: DiskBus;
  readonly nicModel: NicModel;
  /** The new disk: a qcow2 volume of this many bytes in this pool; null for none. */
  readonly disk: { readonly pool: string; readonly volume: string; readonly bytes: number } | null;
  readonly cdrom: { readonly pool: string; readonly volume: string } | null;
  readonly nic: { readonly type: 'network' | 'bridge'; readonly source: string } | null;
  /** The host's QEMU has KVM; else the domain is TCG (`type='qemu'`). */
  readonly kvm: boolean;
  readonly description?: string;
}

function busOf(b: DiskBus): DomainDiskBus {
  switch (b) {
    case 'virtio':
    case 'sata':
    case 'ide':
    case 'scsi':
      return b;
    case 'nvme':
      // libvirt's NVMe disks need a controller per disk; SATA is what every guest boots from.
      return 'sata';
    default: {
      const never: never = b;
      throw new NestboxError('INVALID_ARGUMENT', `unknown disk bus ${String(never)}`);
    }
  }
}

function nicModelOf(m: NicModel): DomainNicModel {
  switch (m) {
    case 'virtio-net-pci':
      return 'virtio';
    case 'e1000':
      return 'e1000';
    case 'e1000e':
      return 'e1000e';
    case 'rtl8139':
    case 'vmxnet3':
    case 'pcnet':
      return m;
    default: {
      const never: never = m;
      throw new NestboxError('INVALID_ARGUMENT', `unknown network adapter model ${String(never)}`);
    }
  }
}

/** Pure: the domain a plan becomes (its XML is golden-file tested through buildDomainXml). */
export function hostDomainSpec(p: HostVmPlan): DomainSpec {
  const osId = OS_IDS[p.osType];
  return {
    name: p.name,
    memoryMiB: p.memoryMiB,
    cpus: p.cpus,
    firmware: p.firmware,
    machine: p.machine,
    domainType: p.kvm ? 'kvm' : 'qemu',
    disks: p.disk ? [{ source: { pool: p.disk.pool, volume: p.disk.volume }, bus: busOf(p.diskBus), format: 'qcow2' }] : [],
    cdrom: p.cdrom ? { pool: p.cdrom.pool, volume: p.cdrom.volume } : null,
    // An installer boots from its CD first; the disk is second in the boot order.
    bootCdrom: p.cdrom !== null,
    nics: p.nic ? [{ type: p.nic.type, source: p.nic.source, model: nicModelOf(p.nicModel) }] : [],
    graphics: 'vnc-socket',
    ...(osId ? { osId } : {}),
    ...(p.description ? { description: p.description } : {}),
  };
}

/** "POOL/VOLUME" as its two checked names. */
export function parseIsoVolume(s: string): { pool: string; volume: string } {
  const m = /^([^/]+)\/([^/]+)$/.exec(typeof s === 'string' ? s : '');
  if (!m) throw new NestboxError('INVALID_ARGUMENT', `'${String(s)}' is not POOL/VOLUME (an ISO volume in one of the host's storage pools)`);
  return { pool: checkLibvirtName(m[1]!, 'storage pool name'), volume: checkLibvirtName(m[2]!, 'volume name') };
}

const int = (v: number | undefined, min: number, max: number, what: string): number | undefined => {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < min || v > max) throw new NestboxError('INVALID_ARGUMENT', `${what} must be a whole number from ${min} to ${max} (got ${String(v)})`);
  return v;
};

/**
 * Pure: a create request for a host checked whole (what does not apply there is refused with
 * the reason, never ignored) and completed from its OS type's presets.
 */
export function planHostVm(spec: CreateVmSpec, kvm: boolean): HostVmPlan {
  const host = spec.host ?? '';
  const name = checkDomainName(spec.name);
  const osType = spec.osType ?? 'other';
  const t = matchOsType(osType);
  if (!t) throw new NestboxError('INVALID_ARGUMENT', unknownOsTypeMessage(osType));
  if (spec.disk !== undefined) throw new NestboxError('UNSUPPORTED', `on host '${host}' a new VM gets a new disk in a storage pool ('disk' is a path on this computer)`);
  if (spec.iso !== undefined) throw new NestboxError('UNSUPPORTED', `on host '${host}' the ISO is a volume in one of its storage pools: give isoVolume POOL/VOLUME, or copy the ISO there first (hosts.uploadIso; the CLI's --iso does it)`);
  if (spec.group !== undefined && spec.group !== '') throw new NestboxError('UNSUPPORTED', `VMs on host '${host}' have no group (libvirt keeps none)`);
  if (spec.autoSnapshots !== undefined && spec.autoSnapshots !== 0) throw new NestboxError('UNSUPPORTED', `automatic snapshots are for VMs on this computer, not on host '${host}'`);
  if (spec.display !== undefined && spec.display !== 'vga') throw new NestboxError('UNSUPPORTED', `VMs on host '${host}' get a VGA display`);
  // The domain builder makes no Secure Boot firmware, TPM or answer-file medium: asking for one is refused, not dropped.
  if (spec.secureBoot === true) throw new NestboxError('UNSUPPORTED', `Secure Boot is set up for VMs on this computer, not on host '${host}'`);
  if (spec.tpm === true) throw new NestboxError('UNSUPPORTED', `a TPM is set up for VMs on this computer, not on host '${host}'`);
  if (spec.shares !== undefined && spec.shares.length > 0) throw new NestboxError('UNSUPPORTED', `shared folders are folders of this computer, for VMs on this computer, not on host '${host}'`);
  if (spec.clipboard === true) throw new NestboxError('UNSUPPORTED', `the clipboard channel is set up for VMs on this computer, not on host '${host}'`);
  if (spec.unattended !== undefined) throw new NestboxError('UNSUPPORTED', `an automatic install is prepared for VMs on this computer, not on host '${host}'`);
  if (spec.noDisk === true && spec.diskSize !== undefined) throw new NestboxError('INVALID_ARGUMENT', 'give either noDisk or diskSize, not both');
  const firmware = spec.firmware ?? t.preset.firmware;
  if (firmware !== 'bios' && firmware !== 'uefi') throw new NestboxError('INVALID_ARGUMENT', `firmware must be bios or uefi (got '${String(firmware)}')`);
  const diskBus = spec.diskBus ?? t.preset.diskBus;
  if (!['virtio', 'sata', 'ide', 'nvme'].includes(diskBus)) throw new NestboxError('INVALID_ARGUMENT', `diskBus must be virtio, sata, ide or nvme (got '${String(diskBus)}')`);
  const memoryMiB = int(spec.memoryMiB, 16, 4 * 1024 * 1024, 'memory (MiB)') ?? t.preset.memoryMiB;
  const cpus = int(spec.cpus, 1, 512, 'the number of CPUs') ?? t.preset.cpus;
  const pool = checkLibvirtName(spec.pool ?? 'default', 'storage pool name');
  let bytes = 0;
  if (spec.noDisk !== true) {
    try {
      bytes = spec.diskSize !== undefined ? parseSize(spec.diskSize) : t.preset.diskGiB * 2 ** 30;
    } catch (err) {
      throw new NestboxError('INVALID_ARGUMENT', `disk size: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!Number.isSafeInteger(bytes) || bytes < 2 ** 20 || bytes > 2 ** 50) throw new NestboxError('INVALID_ARGUMENT', `the disk size must be 1 MiB to 1 PiB (got '${String(spec.diskSize)}')`);
  }
  const nicMode = spec.nic ?? 'nat';
  let nic: HostVmPlan['nic'];
  switch (nicMode) {
    case 'nat':
      if (spec.nicBridge !== undefined) throw new NestboxError('INVALID_ARGUMENT', "nicBridge goes with nic 'bridged'");
      nic = { type: 'network', source: checkLibvirtName(spec.nicNetwork ?? 'default', 'libvirt network name') };
      break;
    case 'bridged':
      if (!spec.nicBridge) throw new NestboxError('INVALID_ARGUMENT', `nic 'bridged' needs nicBridge: a bridge on host '${host}'`);
      nic = { type: 'bridge', source: checkLibvirtName(spec.nicBridge, 'bridge name') };
      break;
    case 'none':
      nic = null;
      break;
    case 'internal':
      throw new NestboxError('UNSUPPORTED', `internal networks are Nestbox's own, on this computer; on host '${host}' use NAT on a libvirt network or a bridge`);
    default:
      throw new NestboxError('INVALID_ARGUMENT', `nic must be nat, bridged or none (got '${String(nicMode)}')`);
  }
  return {
    name,
    osType: t.id,
    memoryMiB,
    cpus,
    firmware,
    machine: t.preset.machine,
    diskBus,
    nicModel: t.preset.nicModel,
    disk: spec.noDisk === true ? null : { pool, volume: `${name}.qcow2`, bytes },
    cdrom: spec.isoVolume !== undefined ? parseIsoVolume(spec.isoVolume) : null,
    nic,
    kvm,
    ...(spec.description ? { description: spec.description } : {}),
  };
}

/** An ISO by its volume's format or name (libvirt calls a plain file 'raw' or 'iso'). */
function isIso(v: VolumeInfo): boolean {
  return v.format === 'iso' || /\.iso$/i.test(v.name);
}

/** The host's pools and the ISO volumes in each active one. */
export async function hostPools(t: HostVmTarget): Promise<HostPool[]> {
  const conn = t.connection();
  try {
    const pools = await conn.listPools();
    const out: HostPool[] = [];
    for (const p of pools.sort((a, b) => a.name.localeCompare(b.name))) {
      const vols = p.active ? await conn.listVolumes(p.name) : [];
      out.push({
        ...p,
        isos: vols
          .filter(isIso)
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((v) => ({ pool: p.name, name: v.name, path: v.path, capacity: v.capacity })),
      });
    }
    return out;
  } catch (err) {
    return t.failed(err);
  }
}

async function activePool(t: HostVmTarget, pool: string): Promise<void> {
  const pools = await t.connection().listPools();
  const p = pools.find((x) => x.name === pool);
  if (!p) throw new NestboxError('NOT_FOUND', `host '${t.name}' has no storage pool '${pool}'${pools.length ? ` (it has: ${pools.map((x) => x.name).join(', ')})` : ''}`);
  if (!p.active) throw new NestboxError('INVALID_STATE', `storage pool '${pool}' on host '${t.name}' is not active`);
}

/** Copies an ISO from this machine into a host's pool, as an 'upload' job; a failed or cancelled copy leaves no volume. */
export async function startIsoUpload(t: HostVmTarget, jobs: JobService, spec: HostIsoUpload, log: (message: string) => void): Promise<JobInfo> {
  const pool = checkLibvirtName(spec.pool, 'storage pool name');
  if (typeof spec.file !== 'string' || !path.isAbsolute(spec.file)) throw new NestboxError('INVALID_ARGUMENT', `'${String(spec.file)}' is not an absolute path`);
  let st: fs.Stats;
  try {
    st = fs.statSync(spec.file);
  } catch {
    throw new NestboxError('NOT_FOUND', `no file '${spec.file}'`);
  }
  if (!st.isFile()) throw new NestboxError('INVALID_ARGUMENT', `'${spec.file}' is not a regular file`);
  if (st.size === 0) throw new NestboxError('INVALID_ARGUMENT', `'${spec.file}' is empty`);
  const volume = checkLibvirtName(spec.volume ?? volumeNameFor(spec.file), 'volume name');
  const conn = t.connection();
  await activePool(t, pool);
  if ((await conn.listVolumes(pool)).some((v) => v.name === volume)) throw new NestboxError('ALREADY_EXISTS', `storage pool '${pool}' on host '${t.name}' already has a volume '${volume}'`);
  const title = `Copying ${path.basename(spec.file)} to ${t.name}:${pool}`;
  return jobs.start('upload', title, `${t.name}:${pool}/${volume}`, async (ctx): Promise<HostIsoVolume> => {
    const volPath = await conn.createVolume(pool, volume, st.size, 'raw');
    try {
      await conn.uploadVolume(pool, volume, spec.file, (done, total) => ctx.progress(total > 0 ? Math.min(99, (done / total) * 100) : 0), ctx.signal);
    } catch (err) {
      await conn.deleteVolume(pool, volume).catch(() => undefined);
      throw err;
    }
    log(`copied ${spec.file} into ${pool}/${volume} on host '${t.name}'`);
    return { pool, name: volume, path: volPath, capacity: st.size };
  });
}

/** Creates (defines) the VM on the host; it stays powered off, as a new local VM does. */
export async function createOnHost(t: HostVmTarget, spec: CreateVmSpec, log: (message: string) => void): Promise<OpResult> {
  const conn = t.connection();
  const plan0 = planHostVm(spec, false);
  if (t.summaries().some((v) => v.name === plan0.name)) throw new NestboxError('ALREADY_EXISTS', `host '${t.name}' already has a VM named '${plan0.name}'`);
  const plan = { ...plan0, kvm: await conn.hasKvm() };
  if (plan.disk) {
    await activePool(t, plan.disk.pool);
    if ((await conn.listVolumes(plan.disk.pool)).some((v) => v.name === plan.disk!.volume)) {
      throw new NestboxError('ALREADY_EXISTS', `storage pool '${plan.disk.pool}' on host '${t.name}' already has a volume '${plan.disk.volume}'`);
    }
  }
  if (plan.cdrom) {
    const { pool, volume } = plan.cdrom;
    if (!plan.disk || plan.disk.pool !== pool) await activePool(t, pool);
    if (!(await conn.listVolumes(pool)).some((v) => v.name === volume)) throw new NestboxError('NOT_FOUND', `storage pool '${pool}' on host '${t.name}' has no volume '${volume}'`);
  }
  const xml = buildDomainXml(hostDomainSpec(plan));
  let uuid: string;
  let made = false;
  try {
    if (plan.disk) {
      await conn.createVolume(plan.disk.pool, plan.disk.volume, plan.disk.bytes, 'qcow2');
      made = true;
    }
    uuid = (await conn.define(xml)).uuid;
  } catch (err) {
    // Nothing half-made stays on the host: the new disk goes when the definition was refused.
    if (made && plan.disk) await conn.deleteVolume(plan.disk.pool, plan.disk.volume).catch(() => undefined);
    if (err instanceof NestboxError && err.code === 'HOST_UNREACHABLE') t.failed(err);
    throw err;
  }
  log(`created '${plan.name}' on host '${t.name}'${plan.disk ? ` (disk ${plan.disk.pool}/${plan.disk.volume})` : ''}`);
  await t.refresh();
  const vm = await t.engine.info(uuid);
  return { vm, warnings: plan.kvm ? [] : [`host '${t.name}' has no KVM: '${plan.name}' runs under TCG (emulated, slow)`] };
}
