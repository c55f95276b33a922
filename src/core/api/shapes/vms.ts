/** What the API says about this computer's VMs: summaries, details, the specs to create, change and clone them, their snapshots, consoles and logs. */
import type { DiskBus, DisplayAdapter, Firmware, NicMode, ResourceConfig, VmConfig } from '../../domain/config';
import type { VmOperation, VmState } from '../../domain/lifecycle';
import type { Accelerator, SettingStatus } from './host';
import type { HostDomainDetails } from './hosts';

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
