/**
 * The service contract, defined once. Every transport (in-memory, unix socket, MessagePort,
 * WebSocket) carries exactly these methods and events. `api` may import *types* from
 * `domain` (the plain model shapes) and nothing else of ours.
 */
import type { VmConfig, Firmware, NicMode, DiskBus, DisplayAdapter } from '../domain/config';
import type { VmState, VmOperation } from '../domain/lifecycle';
import type { OsType } from '../domain/ostypes';
import type { ErrorShape } from './errors';

export type { VmConfig, VmState, VmOperation, OsType };

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
  readonly firmware: { readonly bios: boolean; readonly uefi: string | null };
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly osTypes: readonly OsType[];
}

export interface VmSummary {
  readonly uuid: string;
  readonly name: string;
  readonly osType: string;
  readonly group: string;
  readonly state: VmState;
  readonly stateReason?: string;
  readonly memoryMiB: number;
  readonly cpus: number;
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
  /** Names of the linked clones that stand on this VM's disks: it cannot be deleted while there are any. */
  readonly linkedClones: readonly string[];
  /** Names of the VMs this linked clone's disks stand on (empty unless it is a linked clone). */
  readonly linkedTo: readonly string[];
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
  readonly display?: DisplayAdapter;
  readonly description?: string;
  readonly group?: string;
  /** Automatic snapshots before each start: how many to keep (0 or absent: off). */
  readonly autoSnapshots?: number;
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
  /** Automatic snapshots before each start: how many to keep (0 turns them off). */
  readonly autoSnapshots?: number;
}

export interface CloneSpec {
  /** The new VM's name. */
  readonly name: string;
  /** Clone from this snapshot (id or name); the current state when absent. */
  readonly snapshot?: string;
  /** A linked clone: qcow2 overlays on base images of the source instead of full copies. */
  readonly linked?: boolean;
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

export interface PortForwardSpec {
  readonly name?: string;
  readonly protocol?: 'tcp' | 'udp';
  /** Defaults to 127.0.0.1. */
  readonly hostAddress?: string;
  readonly hostPort: number;
  readonly guestAddress?: string;
  readonly guestPort: number;
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
  'vms.list': { params: Record<string, never>; result: readonly VmSummary[] };
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
  /** NAT port forwarding; applied at once when the VM runs. `nic` defaults to the first NAT adapter. */
  'network.addForward': { params: { ref: string; nic?: string; rule: PortForwardSpec }; result: OpResult };
  'network.removeForward': { params: { ref: string; nic?: string; name: string }; result: OpResult };
  /** Plug or unplug the virtual cable of a running VM's adapter. */
  'network.setLink': { params: { ref: string; nic?: string; connected: boolean }; result: OpResult };
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
   * Stops a clone or disk conversion of the VM that is still copying (it fails with
   * CANCELLED and leaves nothing behind). QEMU's live snapshot save itself runs in one piece
   * and cannot be stopped midway.
   */
  'vms.cancel': { params: { ref: string }; result: { cancelled: boolean } };
  'snapshots.update': { params: { ref: string; id: string; name?: string; description?: string }; result: SnapshotInfo };
  'snapshots.thumbnail': { params: { id: string }; result: { pngBase64: string } | null };
  /** Host-wide settings; today only `accel` (auto, kvm, hvf, whpx, tcg). */
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
  /** Progress of a long operation (saving or restoring a state, ...); `percent` 0–100. */
  'vm.progress': {
    uuid: string;
    operation: 'saveState' | 'restoreState' | 'takeSnapshot' | 'restoreSnapshot' | 'deleteSnapshot' | 'clone' | 'convertDisk';
    percent: number;
    done: boolean;
  };
  'log': LogEntry;
  /** Console bytes (serial text or RFB), base64, for the client that opened the stream. */
  'console.data': { stream: string; data: string };
  'console.closed': { stream: string; reason: string };
}

export type EventName = keyof ApiEvents;

/** The wire protocol shared by every transport. */
export type WireMessage =
  | { readonly t: 'req'; readonly id: number; readonly method: string; readonly params: unknown }
  | { readonly t: 'res'; readonly id: number; readonly result: unknown }
  | { readonly t: 'err'; readonly id: number; readonly error: ErrorShape }
  | { readonly t: 'evt'; readonly name: string; readonly data: unknown };

export const PROTOCOL_VERSION = 1;
