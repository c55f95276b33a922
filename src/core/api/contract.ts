/**
 * The service contract, defined once. Every transport (in-memory, unix socket, MessagePort,
 * WebSocket) carries exactly these methods and events. `api` may import *types* from
 * `domain` (the plain model shapes) and nothing else of ours.
 *
 * `ApiMethods` is one type, in this file, so that a reader (or a client author) finds every
 * method with its params and result in one place, and the schemas (schemas.ts) and the handler
 * table are checked against it. The shapes those methods carry live beside it in `shapes/`, by
 * area (this computer, its VMs, libvirt hosts, media, jobs, networking), and are re-exported
 * here: everything else imports them from this module.
 */
import type { VmConfig, ShareConfig, DiskBus, ResourceConfig } from '../domain/config';
import type { MinuteAggregate } from '../domain/stats';
import type { VmState, VmOperation } from '../domain/lifecycle';
import type { OsType } from '../domain/ostypes';
import type { ErrorShape } from './errors';

export type { VmConfig, VmState, VmOperation, OsType, ResourceConfig, MinuteAggregate };
import type { HostInfo, HostStats, VmStatsSample } from './shapes/host';
import type { HostDetail, HostIsoUpload, HostPool, HostSpec, HostStatus, HostSummary, MigrateSpec, MoveSpec } from './shapes/hosts';
import type { JobInfo } from './shapes/jobs';
import type { ConvertMediumSpec, CreateMediumSpec, ImportPlan, ImportSpec, MediaItem, MediumInfo } from './shapes/media';
import type { NetworkHostInfo, NicSpec, PortForwardSpec } from './shapes/networking';
import type { CloneSpec, ConsoleChannel, CreateVmSpec, LogEntry, ModifyVmSpec, OpResult, SerialLog, ShareSpec, SnapshotDeletePreview, SnapshotInfo, SnapshotList, VmInfo, VmSummary } from './shapes/vms';

export * from './shapes/host';
export * from './shapes/hosts';
export * from './shapes/jobs';
export * from './shapes/media';
export * from './shapes/networking';
export * from './shapes/vms';

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
  /** Web mode: removes a machine upload's folder (`.import-…` in the media folder) unless a VM or job uses a file in it. */
  'media.discardUploadSet': { params: { path: string }; result: null };
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
