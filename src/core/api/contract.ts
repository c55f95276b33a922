/**
 * The service contract, defined once. Every transport (in-memory, unix socket, MessagePort,
 * WebSocket) carries exactly these methods and events. `api` may import *types* from
 * `domain` (the plain model shapes) and nothing else of ours.
 *
 * Longer than the ~500 lines a module is kept to, on purpose: it is the one place a reader
 * (or a client author) finds every method, its params, its result and every event, and
 * `ApiMethods` must be one type for the schemas (schemas.ts) and the handler table to be
 * checked against it. Split by group, it would scatter the contract it exists to state.
 */
import type { VmConfig, ShareConfig, Firmware, NicMode, NicModel, BridgeVia, DiskBus, DisplayAdapter, DiskFormat, ResourceConfig } from '../domain/config';
import type { MinuteAggregate } from '../domain/stats';
import type { VmState, VmOperation } from '../domain/lifecycle';
import type { OsType } from '../domain/ostypes';
import type { ErrorShape } from './errors';

export type { VmConfig, VmState, VmOperation, OsType, ResourceConfig, MinuteAggregate };

export type Accelerator = 'kvm' | 'hvf' | 'whpx' | 'tcg';
export type AcceleratorChoice = Accelerator | 'auto';

export interface AcceleratorStatus {
  readonly name: Accelerator;
  readonly usable: boolean;
  /** Why it cannot be used, in words a user can act on. */
  readonly reason?: string;
}

export interface HostInfo {
  readonly nestboxVersion: string;
  readonly platform: string;
  readonly arch: string;
  readonly dataDir: string;
  readonly qemu: { readonly binary: string; readonly version: string; readonly imgBinary: string } | null;
  readonly accelerators: readonly AcceleratorStatus[];
  readonly accelChoice: AcceleratorChoice;
  /** What `auto` (or the forced choice) resolves to; null if nothing can run a guest. */
  readonly accelEffective: Accelerator | null;
  readonly accelNote?: string;
  readonly firmware: {
    readonly bios: boolean;
    readonly uefi: string | null;
    /** The Secure Boot firmware's code image (from QEMU's descriptors), null when none. */
    readonly secureBoot?: string | null;
  };
  /** swtpm's path when a VM can have a TPM 2.0, null when it is not installed. */
  readonly swtpm?: string | null;
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly osTypes: readonly OsType[];
  /** Host memory page sharing (Linux KSM). */
  readonly ksm?: KsmInfo;
  /** Whether per-VM CPU and memory limits can be enforced here (cgroups), per controller. */
  readonly cgroups?: CgroupInfo;
}

export interface KsmInfo {
  readonly available: boolean;
  readonly running: boolean;
  readonly pagesShared: number;
  readonly pagesSharing: number;
  readonly savedBytes: number;
  readonly reason?: string;
}

export interface CgroupInfo {
  readonly version: 'v1' | 'v2' | 'none';
  readonly cpu: string;
  readonly cpuset: string;
  readonly memory: string;
}

/** One resource setting of a VM and whether the host enforces it. */
export interface SettingStatus {
  readonly setting: 'cpuShares' | 'cpuLimitPct' | 'pinCpus' | 'memoryMaxMiB' | 'balloon' | 'memMerge' | 'topology';
  readonly enforced: boolean;
  /** How it is enforced, or "not enforced: <reason>". */
  readonly detail: string;
}

/** One second of one running VM, pushed as `vm.stats` to clients that subscribed. */
export interface VmStatsSample {
  readonly uuid: string;
  readonly name: string;
  /** Milliseconds since the epoch. */
  readonly ts: number;
  /** Length of the interval the rates cover, seconds. */
  readonly intervalS: number;
  readonly cpu: {
    /** Percent of the whole host (100 = every host CPU busy with this VM). */
    readonly hostPct: number;
    readonly hostCpus: number;
    /** Per vCPU thread, percent of one host CPU. */
    readonly vcpus: readonly { readonly index: number; readonly threadId: number; readonly pct: number }[];
  };
  readonly memory: {
    readonly assignedBytes: number;
    /** Resident set of the QEMU process. */
    readonly rssBytes: number;
    /** What the balloon leaves the guest (null: no balloon device). */
    readonly balloonBytes: number | null;
    /** Reported by the guest's balloon driver; null where the guest does not report. */
    readonly guest: { readonly totalBytes: number; readonly freeBytes: number; readonly availableBytes: number | null; readonly usedBytes: number } | null;
    readonly guestNote?: string;
  };
  readonly disks: readonly {
    readonly id: string;
    readonly rdBytes: number;
    readonly wrBytes: number;
    readonly rdOps: number;
    readonly wrOps: number;
    readonly rdBytesPerS: number;
    readonly wrBytesPerS: number;
    readonly rdOpsPerS: number;
    readonly wrOpsPerS: number;
    /** Average per operation during the interval; null when none completed. */
    readonly rdLatencyMs: number | null;
    readonly wrLatencyMs: number | null;
  }[];
  readonly nics: readonly {
    readonly id: string;
    /** False when this adapter has no counters; `reason` says why. Counts are then 0 and meaningless. */
    readonly available: boolean;
    readonly reason?: string;
    /** Since Nestbox attached to the VM (rx = to the guest). */
    readonly rxBytes: number;
    readonly txBytes: number;
    readonly rxPackets: number;
    readonly txPackets: number;
    readonly rxBytesPerS: number;
    readonly txBytesPerS: number;
    readonly rxPacketsPerS: number;
    readonly txPacketsPerS: number;
  }[];
}

/** The host's totals each second, for the Activity Overview. */
export interface HostStats {
  readonly ts: number;
  readonly cpuPct: number;
  readonly cpus: number;
  readonly memTotalBytes: number;
  readonly memAvailableBytes: number;
  readonly ksm: KsmInfo;
  readonly runningVms: number;
}

export interface VmSummary {
  readonly uuid: string;
  readonly name: string;
  readonly osType: string;
  readonly group: string;
  readonly state: VmState;
  readonly stateReason?: string;
  /**
   * Set when a disk file of the VM is missing (moved, deleted, on an unmounted drive): the
   * VM stays in the list but cannot start until the file is back or the disk detached.
   * Says which file (VirtualBox calls such a VM "inaccessible").
   */
  readonly inaccessible?: string;
  readonly memoryMiB: number;
  readonly cpus: number;
  /**
   * The libvirt host the VM lives on (see `hosts.*`); absent for a VM on this computer, so
   * local VMs keep the shape existing clients know. Its VMs are named `HOST:VM` in refs.
   */
  readonly host?: string;
  /**
   * Set when the VM's host cannot be reached: `state` is then what Nestbox last saw, and this
   * says why the host is unreachable. The VM stays listed, never dropped.
   */
  readonly unreachable?: string;
}

/** What the QEMU guest agent in a running VM reports (all text bounded and cleaned by the core). */
export interface GuestAgentStatus {
  /** The VM has the agent's port (config guestAgent). */
  readonly configured: boolean;
  /** The agent answered the last poll. */
  readonly connected: boolean;
  readonly checkedAt?: string;
  /** Why the last poll got no answer. */
  readonly error?: string;
  readonly os?: { readonly name: string | null; readonly version: string | null; readonly prettyName: string | null; readonly kernel: string | null };
  readonly hostName?: string;
  /** Every interface of the guest (all adapters), addresses as ADDRESS/PREFIX. */
  readonly interfaces: readonly { readonly name: string; readonly mac: string | null; readonly addresses: readonly string[] }[];
}

export interface VmRuntimeInfo {
  readonly pid: number;
  readonly accel: Accelerator;
  readonly startedAt: string;
}

export interface VmInfo extends VmSummary {
  readonly config: VmConfig;
  readonly dir: string;
  readonly allowed: readonly VmOperation[];
  readonly runtime: VmRuntimeInfo | null;
  readonly hasSavedState: boolean;
  readonly createdAt: string;
  readonly serialLog: string;
  readonly qemuLog: string;
  /** Resource settings and whether they are enforced (while running: as applied to QEMU). */
  readonly resourceStatus?: readonly SettingStatus[];
  /** Names of the linked clones that stand on this VM's disks: it cannot be deleted while there are any. */
  readonly linkedClones: readonly string[];
  /** Names of the VMs this linked clone's disks stand on (empty unless it is a linked clone). */
  readonly linkedTo: readonly string[];
  /** A libvirt host's VM: its hardware as read from its domain XML (`config` is mapped from it). */
  readonly domain?: HostDomainDetails;
  /** What the VM's engine cannot do (a libvirt host without a feature, ...), with why. */
  readonly unsupported?: readonly { readonly operation: string; readonly reason: string }[];
  /** The guest agent while the VM runs (absent when it is not running or has no agent port). */
  readonly guestAgent?: GuestAgentStatus;
  /** Set after a resume from a saved state or snapshot whose clock could not be set (no agent). */
  readonly clockNote?: string;
}

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

export interface CreateVmSpec {
  readonly name: string;
  readonly osType?: string;
  readonly memoryMiB?: number;
  readonly cpus?: number;
  readonly firmware?: Firmware;
  /** Size of a new disk, e.g. "20G"; ignored when `disk` is given. */
  readonly diskSize?: string;
  /** Attach an existing image in place instead of creating one. */
  readonly disk?: string;
  /** No disk at all (live ISO). */
  readonly noDisk?: boolean;
  readonly diskBus?: DiskBus;
  readonly iso?: string;
  readonly nic?: NicMode;
  /** With nic 'internal': the internal network's name. */
  readonly nicNetwork?: string;
  /** With nic 'bridged': the host bridge to join (through qemu-bridge-helper). */
  readonly nicBridge?: string;
  readonly display?: DisplayAdapter;
  readonly description?: string;
  readonly group?: string;
  /** Automatic snapshots before each start: how many to keep (0 or absent: off). */
  readonly autoSnapshots?: number;
  /** UEFI Secure Boot; absent: the OS type's preset. */
  readonly secureBoot?: boolean;
  /** A TPM 2.0; absent: the OS type's preset. */
  readonly tpm?: boolean;
  /** Clipboard text between the console and the guest's desktop; absent: on (where there is a display). */
  readonly clipboard?: boolean;
  /** Host folders shared with the guest from its first start (checked as `shares.add` checks them). */
  readonly shares?: readonly ShareSpec[];
  /** Install the OS unattended (an installer ISO) or set up a cloud image (`disk`). */
  readonly unattended?: UnattendedSpec;
  /**
   * Create the VM on this libvirt host instead of this computer. There, `nic` 'nat' is the
   * host's libvirt network `nicNetwork` (default 'default') and 'bridged' its bridge
   * `nicBridge`; a new disk is a volume in `pool`; the ISO is a volume (`isoVolume`), and
   * `disk`, `iso` (a path here) and the internal network do not apply.
   */
  readonly host?: string;
  /** On a host: the storage pool for the new disk (default 'default'). */
  readonly pool?: string;
  /** On a host: an ISO already in one of its pools, as POOL/VOLUME. */
  readonly isoVolume?: string;
}

/**
 * What an unattended install needs. The password travels only to the core, which writes it
 * nowhere in the clear (hashed in Linux seeds, Windows' hidden form in autounattend.xml).
 */
export interface UnattendedSpec {
  readonly user: string;
  readonly password: string;
  readonly hostname?: string;
  /** IANA time zone; UTC when absent. */
  readonly timezone?: string;
  /** en_US form; en_US when absent. */
  readonly locale?: string;
  /** Windows only. */
  readonly productKey?: string;
  /** OpenSSH public key lines (Linux). */
  readonly sshKeys?: readonly string[];
}

export interface ModifyVmSpec {
  readonly name?: string;
  readonly memoryMiB?: number;
  readonly cpus?: number;
  /** Path of an ISO, or null to eject. */
  readonly iso?: string | null;
  readonly description?: string;
  readonly group?: string;
  readonly firmware?: Firmware;
  readonly display?: DisplayAdapter;
  /** Resource settings to change; null clears one (back to the default). */
  readonly resources?: { readonly [K in keyof ResourceConfig]?: ResourceConfig[K] | null };
  /** Automatic snapshots before each start: how many to keep (0 turns them off). */
  readonly autoSnapshots?: number;
  /** Add (true) or remove the guest agent's virtio-serial port; the VM must be powered off. */
  readonly guestAgent?: boolean;
  /** Clipboard sharing with the console on (the default) or off; the VM must be powered off. */
  readonly clipboard?: boolean;
  /** UEFI Secure Boot on or off (powered off; a new variable store from the matching template). */
  readonly secureBoot?: boolean;
  /** Add or remove the TPM 2.0 (powered off; removing keeps its state until the VM is deleted). */
  readonly tpm?: boolean;
  /** Erase the TPM's state (stale or damaged); the user confirms this first. */
  readonly resetTpm?: boolean;
}

export interface CloneSpec {
  /** The new VM's name. */
  readonly name: string;
  /** Clone from this snapshot (id or name); the current state when absent. */
  readonly snapshot?: string;
  /** A linked clone: qcow2 overlays on base images of the source instead of full copies. */
  readonly linked?: boolean;
  /** Keep the source's MAC addresses (default: every adapter gets a new one, as VirtualBox does). */
  readonly keepMacs?: boolean;
}

/** What deleting a snapshot, or a whole branch, would remove and free. */
export interface SnapshotDeletePreview {
  readonly snapshots: readonly { readonly id: string; readonly name: string; readonly withRam: boolean }[];
  /** RAM states the snapshots hold (exact, from qemu-img). */
  readonly ramBytes: number;
  /**
   * Disk space freed, estimated: RAM states plus the disk data only these snapshots keep,
   * bounded by what the images hold beyond the current state. Approximate by nature.
   */
  readonly approxBytes: number;
  /** Where the current state hangs afterwards, when it hangs in the deleted branch now. */
  readonly currentMovesTo?: string | null;
}

/** A folder to share: `tag` defaults to the folder's name, `readOnly` to false. */
export interface ShareSpec {
  readonly path: string;
  readonly tag?: string;
  readonly readOnly?: boolean;
}

export interface OpResult {
  readonly vm: VmInfo;
  readonly warnings: readonly string[];
}

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
  readonly disks: readonly { readonly source: string; readonly bus: DiskBus; readonly format: string; readonly inPlace: boolean }[];
  readonly cdroms: number;
  readonly nics: readonly { readonly model: string; readonly mac: string; readonly mode: string; readonly bridge?: string; readonly forwards: number }[];
  readonly bootOrder: readonly string[];
  /** Each thing of the source that the new VM will not have, by name. */
  readonly notCarried: readonly string[];
}

export type JobKind =
  | 'create' | 'convert' | 'resize' | 'compact' | 'check' | 'import' | 'export'
  /** A VM's own long operations, listed while their API call runs. */
  | 'clone' | 'convertDisk' | 'snapshot' | 'saveState'
  | 'restoreSnapshot' | 'deleteSnapshot' | 'autoSnapshot' | 'loadState' | 'shutdown'
  /** A VM moved between libvirt hosts. */
  | 'migrate'
  /** A powered-off VM moved between this computer and a libvirt host (its disks copied). */
  | 'move'
  /** A file copied into a libvirt host's storage pool. */
  | 'upload';
/** 'interrupted': the core was stopped (killed, power cut) while the job ran; see the event log for what was cleaned up. */
export type JobState = 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';

/**
 * A long operation: storage work, or a VM's own (a clone, a live snapshot, Save state, ...;
 * those carry `vm`). Methods that start storage work answer at once with it; its progress and
 * its end arrive as `job.progress` events to every client, and `jobs.wait` resolves with the
 * finished job (result or error).
 */
export interface JobInfo {
  readonly id: string;
  readonly kind: JobKind;
  /** What a progress line says, e.g. "Converting disk.vdi to qcow2". */
  readonly title: string;
  readonly state: JobState;
  /** 0–100. */
  readonly percent: number;
  readonly startedAt: string;
  readonly finishedAt?: string;
  /** The medium (or VM) the job is about. */
  readonly target?: string;
  /** The UUID of the VM a VM operation works on (no other long operation of it runs meanwhile). */
  readonly vm?: string;
  /** False for work that cannot be stopped midway (jobs.cancel and vms.cancel refuse it). */
  readonly cancellable?: boolean;
  /** For RAM streamed to a file (Save state, live snapshot): bytes written so far, of about this many. */
  readonly bytesDone?: number;
  readonly bytesTotal?: number;
  readonly error?: ErrorShape;
  /** On success: MediumInfo for media jobs, CheckResult for check, VmInfo for import, {file} for export, MigrateResult for migrate. */
  readonly result?: unknown;
  /** A migration's data figures as it goes. */
  readonly migration?: MigrateProgressInfo;
}

export interface PortForwardSpec {
  readonly name?: string;
  readonly protocol?: 'tcp' | 'udp';
  /** Defaults to 127.0.0.1. */
  readonly hostAddress?: string;
  readonly hostPort: number;
  readonly guestAddress?: string;
  readonly guestPort: number;
}

/** Changes to one network adapter; what is left out stays as it is. */
export interface NicSpec {
  readonly mode?: NicMode;
  readonly model?: NicModel;
  /** A unicast MAC such as 52:54:00:12:34:56, or 'auto' for a new one unique in the inventory. */
  readonly mac?: string;
  /** NAT subnet, e.g. 10.0.3.0/24 (default 10.0.2.0/24). */
  readonly natNetwork?: string;
  /** NAT without outbound access. */
  readonly restrict?: boolean;
  /** Count the adapter's frames by mirroring them to the core (costs throughput; for guests without an agent). */
  readonly mirrorCounters?: boolean;
  readonly bridge?: string;
  readonly bridgeVia?: BridgeVia;
  readonly tap?: string;
  /** Internal network name. */
  readonly network?: string;
}

/** Whether the host lets a VM attach somewhere, and if not why and how to fix it. */
export interface HostPermission {
  readonly ok: boolean;
  readonly reason?: string;
  /** Commands an administrator runs to allow it. */
  readonly fix?: readonly string[];
  readonly warning?: string;
}

export interface HostBridgeInfo {
  readonly name: string;
  readonly state: string;
  readonly members: readonly string[];
  /** May a VM attach to it through qemu-bridge-helper? */
  readonly helper: HostPermission;
  /** VMs with an adapter bridged to it. */
  readonly vms: readonly { readonly uuid: string; readonly name: string; readonly nic: string }[];
}

export interface InternalNetworkInfo {
  readonly name: string;
  readonly vms: readonly {
    readonly uuid: string;
    readonly name: string;
    readonly nic: string;
    readonly state: VmState;
    /** The core's switch is connected to this adapter now. */
    readonly connected: boolean;
  }[];
}

export interface NetworkHostInfo {
  readonly bridges: readonly HostBridgeInfo[];
  readonly helper: { readonly path: string | null; readonly permitted: boolean; readonly reason?: string; readonly fix?: readonly string[] };
  readonly internalNetworks: readonly InternalNetworkInfo[];
  /** Bridges that VMs name but the host does not have. */
  readonly missingBridges: readonly string[];
}

export interface SnapshotInfo {
  readonly id: string;
  readonly parentId: string | null;
  readonly name: string;
  readonly description: string;
  readonly createdAt: string;
  /** Taken while running: restoring it resumes the guest where it was. */
  readonly withRam: boolean;
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly hasThumbnail: boolean;
  /** The VM's configuration when the snapshot was taken (restoring brings it back). */
  readonly config: VmConfig;
  /** Taken automatically before a start; pruned by the VM's retention count. */
  readonly auto: boolean;
  /**
   * A live snapshot: whether the guest's file systems were frozen through its agent when the
   * disks were snapshotted, so the disks are consistent even without the RAM. Absent for
   * snapshots taken while off (nothing ran) and older ones.
   */
  readonly frozen?: boolean;
  /** Why they were not frozen (the agent did not answer in time, the VM was paused, ...). */
  readonly freezeNote?: string;
}

export interface SnapshotList {
  readonly vm: string;
  /** The snapshot "Current state" hangs under (null: before the first snapshot). */
  readonly current: string | null;
  readonly snapshots: readonly SnapshotInfo[];
}

export type ConsoleChannel = 'serial' | 'vnc';

export interface SerialLog {
  readonly path: string;
  readonly size: number;
  /** The tail of the log (no query) or the matching lines with their line numbers. */
  readonly text: string;
  readonly matches: readonly { readonly line: number; readonly text: string }[];
  readonly truncated: boolean;
}

/** Key names QMP's send-key accepts that the UI offers (qcode names). */
export const SEND_KEY_COMBOS: readonly { readonly label: string; readonly keys: readonly string[] }[] = [
  { label: 'Ctrl+Alt+Del', keys: ['ctrl', 'alt', 'delete'] },
  { label: 'Ctrl+Alt+Backspace', keys: ['ctrl', 'alt', 'backspace'] },
  ...Array.from({ length: 12 }, (_, i) => ({ label: `Ctrl+Alt+F${i + 1}`, keys: ['ctrl', 'alt', `f${i + 1}`] })),
  { label: 'Print Screen', keys: ['print'] },
  { label: 'Alt+Tab', keys: ['alt', 'tab'] },
  { label: 'Alt+F4', keys: ['alt', 'f4'] },
  { label: 'Windows key', keys: ['meta_l'] },
];

export interface LogEntry {
  readonly id: number;
  readonly ts: string;
  readonly vmUuid: string | null;
  readonly level: 'info' | 'warning' | 'error';
  readonly kind: string;
  readonly message: string;
}

/** Method name → params and result. One typed map, as GitHub Desktop does for IPC. */
export interface ApiMethods {
  'host.info': { params: Record<string, never>; result: HostInfo };
  /**
   * Every VM: this computer's, then each libvirt host's (`host` set), optionally of one host
   * ('local' for this computer). `wait`: first let hosts still making their first connection
   * finish it (a short-lived client such as the CLI; bounded), rather than list them as connecting.
   */
  'vms.list': { params: { host?: string; wait?: boolean }; result: readonly VmSummary[] };
  /** libvirt hosts Nestbox knows, with their status (`wait` as for `vms.list`). */
  'hosts.list': { params: { wait?: boolean }; result: readonly HostSummary[] };
  /** Adds a host after connecting to it once (nothing is stored when that fails). */
  'hosts.add': { params: HostSpec; result: HostSummary };
  /** Renames a host or changes how it is reached (checked by connecting, as when adding). */
  'hosts.update': { params: { name: string; changes: Partial<HostSpec> }; result: HostSummary };
  /** Forgets a host; nothing on the host is touched. */
  'hosts.remove': { params: { name: string }; result: null };
  'hosts.info': { params: { name: string; wait?: boolean }; result: HostDetail };
  /** A host's storage pools and the ISO volumes in them (for creating a VM there). */
  'hosts.pools': { params: { name: string }; result: readonly HostPool[] };
  /** Copies an ISO from the core's machine into a host's pool (`virsh vol-upload`), as a job; its result is the HostIsoVolume. */
  'hosts.uploadIso': { params: HostIsoUpload; result: JobInfo };
  /** Starts a migration between libvirt hosts as a job (`job.progress`, `jobs.cancel` / `vms.cancel`). */
  'vms.migrate': { params: MigrateSpec; result: JobInfo };
  /** Moves a powered-off VM between this computer and a host as a job (`job.progress`, `jobs.cancel`). */
  'vms.move': { params: MoveSpec; result: JobInfo };
  'vms.info': { params: { ref: string }; result: VmInfo };
  'vms.create': { params: CreateVmSpec; result: OpResult };
  'vms.modify': { params: { ref: string; changes: ModifyVmSpec }; result: OpResult };
  'vms.start': { params: { ref: string }; result: OpResult };
  'vms.pause': { params: { ref: string }; result: OpResult };
  'vms.resume': { params: { ref: string }; result: OpResult };
  'vms.reset': { params: { ref: string }; result: OpResult };
  'vms.shutdown': { params: { ref: string; timeoutS?: number }; result: OpResult };
  'vms.powerOff': { params: { ref: string }; result: OpResult };
  'vms.saveState': { params: { ref: string }; result: OpResult };
  'vms.discardState': { params: { ref: string }; result: OpResult };
  'vms.delete': { params: { ref: string; keepFiles?: boolean }; result: { uuid: string; removedDir: boolean } };
  'vms.screenshot': { params: { ref: string }; result: { pngBase64: string; width: number; height: number } };
  /** ISOs and disk images Nestbox knows: its media folder (uploads land there) and what VMs use. */
  'media.list': { params: Record<string, never>; result: readonly MediaItem[] };
  /** The media registry: every disk and ISO Nestbox knows, with sizes and where it is used. */
  'media.registry': { params: Record<string, never>; result: readonly MediumInfo[] };
  /** Inspects an image (our header inspector and qemu-img must agree) and registers it. */
  'media.info': { params: { path: string }; result: MediumInfo };
  /** Deletes a medium from the registry, and its file with `deleteFile`; refused while anything uses it. */
  'media.delete': { params: { path: string; deleteFile?: boolean }; result: null };
  /**
   * Deletes an unused upload (web mode) from the media folder: a plain file directly in it,
   * not made by Nestbox, used by no VM or snapshot, worked on by no job.
   */
  'media.discardUpload': { params: { path: string }; result: null };
  'media.create': { params: CreateMediumSpec; result: JobInfo };
  'media.convert': { params: ConvertMediumSpec; result: JobInfo };
  /** Grows a disk; making it smaller needs `shrink: true` (data past the new end is lost). */
  'media.resize': { params: { path: string; size: string; shrink?: boolean }; result: JobInfo };
  /** Rewrites a disk without its unused space (not while a VM runs it or it has snapshots). */
  'media.compact': { params: { path: string }; result: JobInfo };
  /** qemu-img check; `repair` fixes leaked clusters only (never "repairs" corruption). */
  'media.check': { params: { path: string; repair?: boolean }; result: JobInfo };
  /** A disk image or OVA/OVF becomes a new VM (see ImportSpec). */
  'vms.import': { params: ImportSpec; result: JobInfo };
  /** What `vms.import` would create from this file (`nestbox import --dry-run`); creates nothing. */
  'vms.importPlan': { params: ImportSpec; result: ImportPlan };
  /** Exports a powered-off VM as an OVA (OVF 1.0, streamOptimized VMDK disks, SHA256 manifest). */
  'vms.export': { params: { ref: string; file: string }; result: JobInfo };
  /** Attaches an existing image (inspected first) to a powered-off VM as a new disk. */
  'vms.attachDisk': { params: { ref: string; path: string; bus?: DiskBus; readOnly?: boolean }; result: OpResult };
  /** Detaches a disk from a powered-off VM; the file stays where it is. */
  'vms.detachDisk': { params: { ref: string; disk: string }; result: OpResult };
  'jobs.list': { params: Record<string, never>; result: readonly JobInfo[] };
  /** Cancels a running job; its partial output is removed. Answers with the job as it ended. */
  'jobs.cancel': { params: { id: string }; result: JobInfo };
  /** Resolves when the job has ended (whatever its outcome); it does not throw the job's error. */
  'jobs.wait': { params: { id: string }; result: JobInfo };
  /** NAT port forwarding; applied at once when the VM runs. `nic` defaults to the first NAT adapter. */
  'network.addForward': { params: { ref: string; nic?: string; rule: PortForwardSpec }; result: OpResult };
  'network.removeForward': { params: { ref: string; nic?: string; name: string }; result: OpResult };
  /** Plug or unplug the virtual cable of a running VM's adapter. */
  'network.setLink': { params: { ref: string; nic?: string; connected: boolean }; result: OpResult };
  /** Host bridges (with whether qemu-bridge-helper may use them) and internal networks with their VMs. */
  'network.host': { params: Record<string, never>; result: NetworkHostInfo };
  /** Changes an adapter (`nic` is its id, e.g. net0, or its number 1-8). The VM must be off. */
  'network.setNic': { params: { ref: string; nic: string; changes: NicSpec }; result: OpResult };
  /** Adds an adapter (up to 8); NAT with a new MAC unless `spec` says otherwise. */
  'network.addNic': { params: { ref: string; spec?: NicSpec }; result: OpResult };
  'network.removeNic': { params: { ref: string; nic: string }; result: OpResult };
  /** A MAC no adapter in the inventory has. */
  'network.newMac': { params: Record<string, never>; result: { mac: string } };
  /** A VM's shared folders (host folder, tag, read-only), as its config holds them. */
  'shares.list': { params: { ref: string }; result: readonly ShareConfig[] };
  /**
   * Shares a host folder with the VM; stored by its real path (a warning says so when a
   * symlink led there). On a running VM the change applies at its next start (a warning).
   */
  'shares.add': { params: { ref: string } & ShareSpec; result: OpResult };
  'shares.remove': { params: { ref: string; tag: string }; result: OpResult };
  'snapshots.list': { params: { ref: string }; result: SnapshotList };
  'snapshots.take': { params: { ref: string; name: string; description?: string }; result: SnapshotInfo };
  /** `id` is a snapshot id or name. */
  'snapshots.restore': { params: { ref: string; id: string }; result: OpResult };
  'snapshots.delete': { params: { ref: string; id: string }; result: SnapshotList };
  /** Deletes a snapshot and everything below it. */
  'snapshots.deleteBranch': { params: { ref: string; id: string }; result: SnapshotList };
  /** What `snapshots.delete` (branch false) or `snapshots.deleteBranch` (true) would remove and free. */
  'snapshots.previewDelete': { params: { ref: string; id: string; branch?: boolean }; result: SnapshotDeletePreview };
  /** A new VM from a snapshot or the current state: a full copy or a linked clone. */
  'vms.clone': { params: { ref: string } & CloneSpec; result: OpResult };
  /**
   * Converts a disk that cannot hold snapshots (raw, VDI, VMDK, ...) into a new qcow2 in the
   * VM's folder and swaps it in once it is converted and checked; the original stays where
   * it is (named in the result's warnings) until the user deletes it.
   */
  'vms.convertDisk': { params: { ref: string; disk?: string }; result: OpResult };
  /**
   * Cancels the VM's running job (the one `jobs.list` shows with this VM's uuid) when it can
   * be stopped midway: a clone or disk conversion that is still copying, a running VM's live
   * snapshot or a Save state still writing RAM, shutdown's wait (it fails with CANCELLED and
   * leaves nothing behind; the guest runs as before). A job listed with `cancellable: false`
   * (a paused VM's snapshot is QEMU's one-step snapshot-save, a restore, a snapshot delete)
   * cannot be stopped: `cancelled: false`.
   */
  'vms.cancel': { params: { ref: string }; result: { cancelled: boolean } };
  'snapshots.update': { params: { ref: string; id: string; name?: string; description?: string }; result: SnapshotInfo };
  'snapshots.thumbnail': { params: { id: string }; result: { pngBase64: string } | null };
  /** Host-wide settings: `accel` (auto, kvm, hvf, whpx, tcg) and `snapshotBandwidth` (MiB/s, 1..9999999; null = unlimited). */
  'settings.get': { params: { key: string }; result: string | null };
  'settings.set': { params: { key: string; value: string | null }; result: null };
  'events.recent': { params: { ref?: string; limit?: number }; result: readonly LogEntry[] };
  /**
   * Opens a console channel of a running VM for this client: `serial` (the guest's first
   * serial port, shared by every viewer) or `vnc` (the raw RFB byte stream of the guest's
   * screen; one VNC connection per viewer, so several viewers work at once). Bytes flow as
   * base64 in `console.data` events and `console.write` calls; the stream closes with
   * `console.closed` when the VM stops or the viewer closes it.
   *
   * The client names the stream (`stream`, 8-64 characters of [A-Za-z0-9_-]) and subscribes
   * to `console.data` before calling, because the guest's first bytes (the RFB greeting)
   * can arrive in the same breath as the reply.
   */
  'console.open': { params: { ref: string; channel: ConsoleChannel; stream: string }; result: { stream: string } };
  'console.write': { params: { stream: string; data: string }; result: null };
  'console.close': { params: { stream: string }; result: null };
  /** The serial log on disk (kept after the VM stops): its tail, or the lines matching `query`. */
  'console.serialLog': { params: { ref: string; query?: string; maxBytes?: number }; result: SerialLog };
  /**
   * Monitoring. `stats.subscribe` makes the core push `vm.stats` for one VM (or every VM when
   * `ref` is left out, plus `host.stats`) to this client each second until unsubscribed.
   */
  'stats.subscribe': { params: { ref?: string }; result: null };
  'stats.unsubscribe': { params: { ref?: string }; result: null };
  /** The latest sample of every running VM and the host's totals. */
  'stats.current': { params: Record<string, never>; result: { host: HostStats; vms: readonly VmStatsSample[] } };
  /** The running VM's samples of the last ten minutes (kept in memory by the core), oldest first. */
  'stats.recent': { params: { ref: string }; result: readonly VmStatsSample[] };
  /** Per-minute history (kept a week); `since` in ms since the epoch (default: the last hour). */
  'stats.history': { params: { ref: string; since?: number }; result: readonly MinuteAggregate[] };
  /** Sets a running VM's balloon target (the memory the guest keeps), in MiB. */
  'vms.balloon': { params: { ref: string; targetMiB: number }; result: OpResult };
  /** QEMU's own log of this VM (its stderr), the tail or the lines matching `query`. */
  'vms.qemuLog': { params: { ref: string; query?: string; maxBytes?: number }; result: SerialLog };
  /** Presses a key combination in the guest (QMP send-key), e.g. ['ctrl', 'alt', 'delete']. */
  'vms.sendKeys': { params: { ref: string; keys: readonly string[] }; result: null };
}

export type MethodName = keyof ApiMethods;
export type Params<M extends MethodName> = ApiMethods[M]['params'];
export type Result<M extends MethodName> = ApiMethods[M]['result'];

/** Events pushed to every client (except `console.*`, which go to the stream's owner). */
export interface ApiEvents {
  'vm.state': { uuid: string; name: string; state: VmState; reason?: string };
  'vm.changed': { uuid: string };
  'vm.removed': { uuid: string };
  /** A libvirt host was added, changed, removed (`removed`), connected or lost. */
  'host.changed': { name: string; removed?: boolean; status?: HostStatus };
  'log': LogEntry;
  /** A job (storage work or a VM's long operation) started, progressed or ended (every client hears it). */
  'job.progress': JobInfo;
  /** The media registry changed (added, removed, resized, usage changed). */
  'media.changed': { path: string };
  /** Console bytes (serial text or RFB), base64, for the client that opened the stream. */
  'console.data': { stream: string; data: string };
  'console.closed': { stream: string; reason: string };
  /** Pushed only to clients that called `stats.subscribe`. */
  'vm.stats': VmStatsSample;
  'host.stats': HostStats;
}

export type EventName = keyof ApiEvents;

/** The wire protocol shared by every transport. */
export type WireMessage =
  | { readonly t: 'req'; readonly id: number; readonly method: string; readonly params: unknown }
  | { readonly t: 'res'; readonly id: number; readonly result: unknown }
  | { readonly t: 'err'; readonly id: number; readonly error: ErrorShape }
  | { readonly t: 'evt'; readonly name: string; readonly data: unknown };

export const PROTOCOL_VERSION = 1;
