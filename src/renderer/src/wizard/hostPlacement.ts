/**
 * Where the New VM wizard creates the machine: this computer, or a libvirt host (virt-manager's
 * "Connection"). On a host the disk is a volume in one of its storage pools, the ISO a volume
 * in a pool (one already there, or a file from the core's machine copied in first), and the
 * network a libvirt network or a bridge of that host — what services/hostvms.ts builds a domain
 * from. What that builder does not support is listed here with the reason the wizard shows,
 * so nothing the user set is dropped without a word. Kept free of React, like draft.ts.
 */
import type { CreateVmSpec, HostInfo, HostIsoVolume, HostPool, HostSummary } from '../../../core/api/contract';
import { assertNever } from '../../../core/api/errors';
import { volumeNameFor } from '../../../core/domain/hostvolumes';
import { formatBytes, formatMiB } from '../util/format';
import { isAbsolutePath } from '../util/validation';
import { NO_UNATTENDED, diskSizeValue, stepProblem, type Draft, type StepContext, type StepIndex } from './draft';

/** Where the installation medium of a host VM comes from. */
export type IsoSource = 'none' | 'volume' | 'file';
/** How a host VM is networked: NAT on a libvirt network, a bridge of the host, or no adapter. */
export type HostNetMode = 'network' | 'bridge' | 'none';

export interface HostPlacement {
  /** The libvirt host's name; null for this computer. */
  readonly host: string | null;
  /** The storage pool for the new disk (and for a copied ISO). */
  readonly pool: string;
  readonly isoSource: IsoSource;
  /** With isoSource 'volume': POOL/VOLUME. */
  readonly isoVolume: string;
  /** With isoSource 'file': the ISO's absolute path on the core's machine, to copy into `pool`. */
  readonly isoFile: string;
  readonly netMode: HostNetMode;
  readonly network: string;
  readonly bridge: string;
}

export const LOCAL_PLACEMENT: HostPlacement = { host: null, pool: 'default', isoSource: 'none', isoVolume: '', isoFile: '', netMode: 'network', network: 'default', bridge: '' };

/** A new placement on `host` (null: this computer); the host's own choices start from libvirt's defaults. */
export function placementOn(host: string | null): HostPlacement {
  return { ...LOCAL_PLACEMENT, host };
}

/**
 * What the wizard offers on this computer but a host VM cannot have (services/hostvms.ts
 * refuses or does not build these), with the reason shown where the field would be.
 */
export const NOT_ON_HOST = {
  group: 'Groups are kept by Nestbox for VMs on this computer; libvirt keeps none.',
  security: 'Secure Boot and a TPM are set up for VMs on this computer only; a host VM gets plain BIOS or UEFI firmware.',
  unattended: 'Automatic installation prepares its answer files on this computer; on a host, install from the ISO on the console.',
  existingDisk: 'On a host the disk is a new volume in its storage pool; an existing image here is not used there.',
} as const;

/** libvirt's (and the core's) rule for names on a host, in the wizard's words; null when fine. */
export function hostVmNameProblem(name: string, takenOnHost: readonly string[]): string | null {
  if (name.trim() === '') return 'Enter a name for the virtual machine.';
  if (name.length > 64) return 'On a libvirt host the name can be at most 64 characters.';
  if (/[^A-Za-z0-9._+-]/.test(name)) return 'On a libvirt host use only letters, digits and . _ + - (no spaces).';
  if (/^[-.+]/.test(name)) return 'The name must start with a letter, a digit or _.';
  if (takenOnHost.includes(name)) return `The host already has a VM named '${name}'.`;
  return null;
}

/** A pool as the picker lists it: its free space, or why it cannot be used. */
export interface PoolChoice {
  readonly name: string;
  readonly label: string;
  readonly disabled: boolean;
}

export function poolChoices(pools: readonly HostPool[]): readonly PoolChoice[] {
  return pools.map((p) => ({
    name: p.name,
    label: p.active ? `${p.name} — ${formatBytes(p.available)} free of ${formatBytes(p.capacity)}` : `${p.name} — not active`,
    disabled: !p.active,
  }));
}

/** The pool a new VM starts with: libvirt's 'default' when active, else the first active one. */
export function defaultPool(pools: readonly HostPool[]): string {
  return (pools.find((p) => p.name === 'default' && p.active) ?? pools.find((p) => p.active))?.name ?? '';
}

/** Every ISO volume in the host's active pools, as POOL/VOLUME with its size. */
export function isoChoices(pools: readonly HostPool[]): readonly { readonly value: string; readonly label: string; readonly iso: HostIsoVolume }[] {
  return pools.flatMap((p) => p.isos.map((iso) => ({ value: `${iso.pool}/${iso.name}`, label: `${iso.pool}/${iso.name} (${formatBytes(iso.capacity)})`, iso })));
}

/** Where a file would land when copied into `pool`, and the volume of that name already there (if any). */
export function uploadTarget(pools: readonly HostPool[], pool: string, file: string): { readonly volume: string; readonly existing: HostIsoVolume | null } {
  const volume = volumeNameFor(file.trim());
  return { volume, existing: pools.find((p) => p.name === pool)?.isos.find((v) => v.name === volume) ?? null };
}

const NET_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/;

/** The host step's one blocking problem (pools still loading count as one), or null. */
export function placementProblem(p: HostPlacement, pools: readonly HostPool[] | null): string | null {
  if (p.host === null) return null;
  if (pools === null) return `Reading the storage pools of ${p.host}…`;
  if (pools.length === 0) return `Host '${p.host}' has no storage pool; define one there (virsh pool-define-as) first.`;
  const pool = pools.find((x) => x.name === p.pool);
  if (!pool) return 'Choose the storage pool for the disk.';
  if (!pool.active) return `Storage pool '${p.pool}' is not active on ${p.host}.`;
  switch (p.isoSource) {
    case 'none':
      break;
    case 'volume':
      if (!isoChoices(pools).some((c) => c.value === p.isoVolume)) return 'Choose an ISO volume on the host.';
      break;
    case 'file':
      if (p.isoFile.trim() === '') return 'Choose the ISO file to copy to the host.';
      if (!isAbsolutePath(p.isoFile.trim())) return 'The ISO path must be absolute (for example /home/me/debian.iso).';
      return `Copy ${volumeNameFor(p.isoFile.trim())} to ${p.host} first (or choose an ISO volume already there).`;
    default:
      return assertNever(p.isoSource, 'ISO source');
  }
  switch (p.netMode) {
    case 'network':
      return NET_NAME_RE.test(p.network) ? null : 'Enter the libvirt network (for example default).';
    case 'bridge':
      return NET_NAME_RE.test(p.bridge) ? null : 'Enter the host bridge to join (for example br0).';
    case 'none':
      return null;
    default:
      return assertNever(p.netMode, 'network mode');
  }
}

/**
 * The limits the Hardware step checks against: the host's CPUs and memory (as it reported them)
 * in place of this computer's. UEFI is the host's business (libvirt picks its firmware), so it
 * is offered; Secure Boot and the TPM are not (NOT_ON_HOST).
 */
export function hostLimits(local: HostInfo, h: HostSummary | undefined): HostInfo {
  return {
    ...local,
    cpus: h?.cpus ?? local.cpus,
    memoryMiB: h?.memoryMiB ?? local.memoryMiB,
    firmware: { bios: true, uefi: 'on the host', secureBoot: null },
    swtpm: null,
  };
}

export interface HostStepContext {
  readonly host: HostInfo;
  /** The names of the VMs already on the chosen host. */
  readonly takenOnHost: readonly string[];
  readonly pools: readonly HostPool[] | null;
}

/** stepProblem for a VM on a host: the same steps, the host's rules. */
export function hostStepProblem(step: StepIndex, d: Draft, p: HostPlacement, ctx: HostStepContext): string | null {
  const plain: Draft = { ...d, unattended: NO_UNATTENDED, group: '', iso: '' };
  const base: StepContext = { host: ctx.host, takenNames: [] };
  switch (step) {
    case 0:
      return hostVmNameProblem(d.name, ctx.takenOnHost) ?? (d.osType === '' ? 'Choose the type of operating system.' : null);
    case 1:
      return placementProblem(p, ctx.pools);
    case 2:
      return stepProblem(2, plain, base);
    case 3:
      if (d.diskMode === 'existing') return NOT_ON_HOST.existingDisk;
      return stepProblem(3, plain, base);
    case 4:
      return null;
    default:
      return assertNever(step, 'wizard step');
  }
}

/** The network part of a host VM's spec. */
function netSpec(p: HostPlacement): Pick<CreateVmSpec, 'nic' | 'nicNetwork' | 'nicBridge'> {
  switch (p.netMode) {
    case 'network':
      return { nic: 'nat', nicNetwork: p.network };
    case 'bridge':
      return { nic: 'bridged', nicBridge: p.bridge };
    case 'none':
      return { nic: 'none' };
    default:
      return assertNever(p.netMode, 'network mode');
  }
}

/** The vms.create request for a VM on a host: only what a host VM can have (see NOT_ON_HOST). */
export function toHostSpec(d: Draft, p: HostPlacement): CreateVmSpec {
  if (p.host === null) throw new Error('toHostSpec needs a host');
  return {
    name: d.name,
    host: p.host,
    osType: d.osType,
    memoryMiB: d.memoryMiB,
    cpus: d.cpus,
    firmware: d.firmware,
    pool: p.pool,
    ...(d.diskMode === 'none' ? { noDisk: true } : { diskSize: `${Math.round(diskSizeValue(d.diskSizeGiB) * 1024)}M` }),
    ...(p.isoSource === 'volume' && p.isoVolume !== '' ? { isoVolume: p.isoVolume } : {}),
    ...netSpec(p),
  };
}

/** The Summary's words for where the VM's parts go on the host. */
export function hostSummary(p: HostPlacement, d: Draft): { readonly disk: string; readonly iso: string; readonly network: string } {
  const disk = d.diskMode === 'none' ? 'None' : `New ${formatMiB(Math.round(diskSizeValue(d.diskSizeGiB) * 1024))} QCOW2 volume ${d.name}.qcow2 in pool ${p.pool}`;
  const iso = p.isoSource === 'volume' && p.isoVolume !== '' ? p.isoVolume : 'None';
  const network = p.netMode === 'network' ? `NAT on libvirt network ${p.network}` : p.netMode === 'bridge' ? `Bridge ${p.bridge}` : 'None';
  return { disk, iso, network };
}
