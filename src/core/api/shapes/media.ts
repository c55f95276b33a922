/** Media in the API: the registry of disks and ISOs, their uses, creating and converting media, checks, and imports. */
import type { DiskBus, DiskFormat, Firmware } from '../../domain/config';

export interface MediaItem {
  readonly path: string;
  readonly name: string;
  readonly kind: 'iso' | 'disk';
  readonly size: number;
  /** Names of the VMs that use it. */
  readonly usedBy: readonly string[];
}

/** A disk format Nestbox reads, or an ISO 9660 image. */
export type MediumFormat = DiskFormat | 'iso';

/** Where a medium is used: a VM's drive now, or a snapshot's configuration. */
export interface MediumUse {
  readonly vm: string;
  readonly uuid: string;
  /** The drive id in the VM's config (disk0, cd0, ...). */
  readonly device: string;
  /** True when the VM's current configuration uses it (not only a snapshot). */
  readonly current: boolean;
  /** Names of the snapshots whose configuration uses it. */
  readonly snapshots: readonly string[];
}

/** An entry of the media registry: every disk image and ISO Nestbox knows. */
export interface MediumInfo {
  readonly path: string;
  readonly name: string;
  readonly kind: 'disk' | 'iso';
  readonly format: MediumFormat;
  /** Size the guest sees, in bytes. */
  readonly virtualSize: number;
  /** Space the file takes on the host, in bytes. */
  readonly actualSize: number;
  /** Created by Nestbox (a VM's own disk, a conversion's output). */
  readonly owned: boolean;
  /** The file is gone or cannot be read any more; `problem` says why. */
  readonly missing: boolean;
  readonly problem?: string;
  readonly usedBy: readonly MediumUse[];
  readonly addedAt: string;
}

export type Preallocation = 'off' | 'metadata' | 'falloc' | 'full';

export interface CreateMediumSpec {
  readonly path: string;
  readonly format: 'qcow2' | 'raw';
  /** e.g. "20G" */
  readonly size: string;
  readonly preallocation?: Preallocation;
}

export interface ConvertMediumSpec {
  /** A registered medium or any image file (it is inspected first). */
  readonly source: string;
  readonly target: string;
  readonly format: DiskFormat;
  /** VMDK only: the VMDK kind; streamOptimized is what OVAs carry. */
  readonly subformat?: 'monolithicSparse' | 'streamOptimized';
}

export interface CheckResult {
  readonly corruptions: number;
  readonly leaks: number;
  readonly leaksFixed: number;
}

/**
 * Import a disk image or an OVA/OVF as a new VM. A disk image is either used where it is
 * (`mode: 'inPlace'`) or copied/converted to qcow2 into the new VM's folder (`'copy'`, the
 * default). An OVA always lands in the new VM's folder.
 */
export interface ImportSpec {
  readonly file: string;
  /** Defaults to the file's (or the OVF's) name. */
  readonly name?: string;
  readonly mode?: 'copy' | 'inPlace';
  readonly osType?: string;
  readonly memoryMiB?: number;
  readonly cpus?: number;
  readonly firmware?: Firmware;
  readonly diskBus?: DiskBus;
  /**
   * A libvirt domain XML only: its disks (and UEFI variables) are looked for by file name in this
   * folder instead of at the absolute paths it names — the files were copied away from the host
   * they were on (web mode uploads a domain with its disks into one folder).
   */
  readonly diskFolder?: string;
}

/** What `vms.import` would create from a file, and what it cannot carry over (nothing is made). */
export interface ImportPlan {
  readonly source: 'ova' | 'ovf' | 'libvirt' | 'vbox' | 'utm' | 'disk';
  readonly name: string;
  readonly osType: string;
  readonly firmware: Firmware;
  readonly machine: string;
  readonly memoryMiB: number;
  readonly cpus: number;
  /** `flattened`: the number of images of a VirtualBox snapshot chain (base included) written into this one disk. */
  readonly disks: readonly { readonly source: string; readonly bus: DiskBus; readonly format: string; readonly inPlace: boolean; readonly flattened?: number }[];
  readonly cdroms: number;
  readonly nics: readonly { readonly model: string; readonly mac: string; readonly mode: string; readonly bridge?: string; readonly forwards: number }[];
  readonly bootOrder: readonly string[];
  /** Each thing of the source that the new VM will not have, by name. */
  readonly notCarried: readonly string[];
}
