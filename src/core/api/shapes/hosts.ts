/** libvirt hosts in the API: a host, its pools and ISO volumes, a domain's hardware, migration and moves between this computer and a host. */
import type { VmSummary } from './vms';

/** A libvirt VM's hardware as its domain XML says (parsed defensively; untrusted input). */
export interface HostDomainDetails {
  readonly type: string;
  readonly machine: string | null;
  readonly arch: string | null;
  readonly firmware: 'bios' | 'uefi';
  readonly persistent: boolean;
  readonly osId: string | null;
  readonly disks: readonly { readonly device: 'disk' | 'cdrom'; readonly bus: string; readonly target: string; readonly source: string | null; readonly format: string | null; readonly readOnly: boolean }[];
  readonly nics: readonly { readonly type: string; readonly source: string | null; readonly model: string | null; readonly mac: string | null }[];
  readonly graphics: readonly { readonly type: string }[];
  readonly serials: number;
}

/** How Nestbox reaches a libvirt host, as stored. */
export interface HostSpec {
  /** 1-32 letters, digits, '.', '_' or '-', starting with a letter or digit; not 'local'. */
  readonly name: string;
  /** qemu:///system, qemu+ssh://user@host[:port]/system, qemu+tls://host/system, qemu+unix:///system?socket=PATH. */
  readonly uri: string;
  /**
   * How *other hosts' daemons* reach this one for peer-to-peer migration (e.g.
   * qemu+tcp://10.0.0.2/system or qemu+ssh://host/system); defaults to `uri`.
   */
  readonly peerUri?: string | null;
  /** The address migration data is sent to (tcp://ADDR), when the host's name does not resolve on its peers. */
  readonly migrateAddr?: string | null;
}

export type HostStatus = 'connecting' | 'connected' | 'unreachable';

export interface HostSummary {
  readonly name: string;
  readonly uri: string;
  readonly peerUri: string | null;
  readonly migrateAddr: string | null;
  readonly createdAt: string;
  readonly status: HostStatus;
  /** Why it is unreachable (libvirt's own words), or what the last attempt said. */
  readonly reason?: string;
  /** Filled once connected (kept from the last connection while unreachable). */
  readonly libvirtVersion?: string;
  readonly hypervisorVersion?: string | null;
  readonly hostname?: string;
  readonly cpus?: number;
  readonly memoryMiB?: number;
  readonly cpuModel?: string;
  /** VMs Nestbox last saw there. */
  readonly vmCount: number;
  /** When the next reconnection attempt is due (ISO), while unreachable. */
  readonly retryAt?: string;
}

export interface HostDetail extends HostSummary {
  readonly vms: readonly VmSummary[];
}

/** A volume in a host's storage pool that holds an ISO image (by its name or format). */
export interface HostIsoVolume {
  readonly pool: string;
  readonly name: string;
  /** Its path on the host. */
  readonly path: string;
  readonly capacity: number;
}

/** `hosts.pools`: a host's storage pools, where a new VM's disk goes, and the ISOs in them. */
export interface HostPool {
  readonly name: string;
  readonly active: boolean;
  readonly path: string | null;
  readonly capacity: number;
  readonly available: number;
  readonly isos: readonly HostIsoVolume[];
}

/** `hosts.uploadIso`: a file on the core's machine copied into a host's storage pool as a new volume. */
export interface HostIsoUpload {
  /** The host. */
  readonly name: string;
  readonly pool: string;
  /** Absolute path of the ISO on the core's machine. */
  readonly file: string;
  /** The new volume's name (default: the file's name). */
  readonly volume?: string;
}

/** `vms.migrate`: a running (live) or powered-off (offline) VM of one libvirt host to another. */
export interface MigrateSpec {
  /** HOST:VM */
  readonly ref: string;
  /** The destination host's name. */
  readonly to: string;
  /** Live (default for a running VM) or offline (the definition only; the VM must be off). */
  readonly live?: boolean;
  /** Copy the disks to the destination (non-shared storage); otherwise storage must be shared. */
  readonly copyStorage?: boolean;
  /**
   * The storage is shared but libvirt cannot tell (a plain directory both hosts see): skip
   * libvirt's safety check. Only when the user knows; never a default.
   */
  readonly unsafe?: boolean;
  readonly maxDowntimeMs?: number;
  readonly bandwidthMiBps?: number;
}

/** The result of a `migrate` job. */
export interface MigrateResult {
  readonly vm: string;
  readonly from: string;
  readonly to: string;
  readonly live: boolean;
  readonly elapsedMs: number;
  /** libvirt's own figure for the time the guest was stopped (null when libvirt did not say). */
  readonly downtimeMs: number | null;
  readonly dataBytes: number | null;
}

/**
 * `vms.move`: a powered-off VM between this computer and a libvirt host (`VM` → HOST, or
 * `HOST:VM` → 'local'). Its disks are copied; nothing is deleted where it came from unless
 * `deleteSource` says so (and only after the copy is complete and defined at the other end).
 */
export interface MoveSpec {
  /** A VM of this computer, or HOST:VM. */
  readonly ref: string;
  /** A host's name, or 'local' for this computer. */
  readonly to: string;
  /** Moving to a host: the storage pool for its disks (default: 'default'). */
  readonly pool?: string;
  /** The VM's name at the other end (default: its name here). */
  readonly name?: string;
  /** Remove the VM (and its disks) from where it came from once the move succeeded. */
  readonly deleteSource?: boolean;
}

/** The result of a `move` job. */
export interface MoveResult {
  readonly vm: string;
  /** 'local' or the host's name. */
  readonly from: string;
  readonly to: string;
  /** The VM's reference at its new place (NAME or HOST:NAME). */
  readonly ref: string;
  readonly bytesCopied: number;
  readonly elapsedMs: number;
  readonly deletedSource: boolean;
  /** What did not cross as it was (an unattached adapter, a bus the other side lacks, ...). */
  readonly warnings: readonly string[];
}

/** What a migration job reports as it goes (libvirt's job info). */
export interface MigrateProgressInfo {
  readonly dataTotal: number;
  readonly dataProcessed: number;
  readonly dataRemaining: number;
  /** Pages dirtied per second, as bytes/s; null while libvirt does not know. */
  readonly dirtyRate: number | null;
  readonly elapsedMs: number;
}
