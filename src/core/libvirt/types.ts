/** The shapes Nestbox reads from and gives to a libvirt host (see LIBVIRT-INTERFACE.md). */

export interface LibvirtVersions {
  readonly libvirt: string;
  readonly hypervisor: string | null;
}

export interface NodeInfo {
  readonly cpus: number;
  readonly memoryKiB: number;
  readonly model: string;
  readonly hostname: string;
}

export const DOMAIN_STATES = ['running', 'paused', 'shutoff', 'crashed', 'pmsuspended', 'blocked', 'shutdown', 'unknown'] as const;
export type DomainState = (typeof DOMAIN_STATES)[number];

export interface DomainSummary {
  readonly uuid: string;
  readonly name: string;
  readonly state: DomainState;
  readonly persistent: boolean;
  readonly memoryKiB: number;
  readonly vcpus: number;
  readonly hasManagedSave: boolean;
  /** libosinfo id from <metadata>, if any. */
  readonly osId: string | null;
}

export interface DomainDisk {
  readonly device: 'disk' | 'cdrom';
  readonly bus: string;
  readonly target: string;
  readonly source: string | null;
  readonly format: string | null;
  readonly pool?: string;
  readonly volume?: string;
  readonly readOnly: boolean;
}

export interface DomainNic {
  readonly type: string;
  readonly source: string | null;
  readonly model: string | null;
  readonly mac: string | null;
}

export interface DomainGraphics {
  readonly type: string;
  readonly port: number | null;
  readonly listen: string | null;
  readonly socket: string | null;
}

export interface DomainDescription {
  readonly uuid: string;
  readonly name: string;
  readonly type: string;
  readonly memoryKiB: number;
  readonly vcpus: number;
  readonly firmware: 'bios' | 'uefi';
  readonly machine: string | null;
  readonly arch: string | null;
  readonly disks: readonly DomainDisk[];
  readonly nics: readonly DomainNic[];
  readonly graphics: readonly DomainGraphics[];
  readonly serials: number;
  readonly osId: string | null;
  readonly description: string | null;
  /** Serial ports as the host describes them (type, and the unix socket/pty path when there is one). */
  readonly serialPorts?: readonly { readonly type: string; readonly path: string | null }[];
  /** UEFI: the file on the host holding the domain's variable store, when the XML names one. */
  readonly nvram?: string | null;
}

/** One line of `virsh event --all --loop --timestamp`. */
export interface DomainEvent {
  readonly domain: string;
  readonly event: string;
  readonly detail: string;
  /** ms since the epoch, from libvirt's timestamp (0 when it had none). */
  readonly at?: number;
  /**
   * The `key: value` lines virsh prints under events that carry parameters (job-completed:
   * time_elapsed, downtime, data_processed, ...), at most 64.
   */
  readonly fields?: ReadonlyMap<string, string>;
}

export interface MigrateOptions {
  readonly live: boolean;
  readonly copyStorage: boolean;
  readonly unsafe?: boolean;
  readonly maxDowntimeMs?: number;
  readonly bandwidthMiBps?: number;
  /** e.g. tcp://10.0.0.2 (the data connection, as the source daemon dials it). */
  readonly migrateUri?: string;
  readonly persistent: boolean;
  readonly undefineSource: boolean;
  /**
   * How *this* process reaches the destination (its own host URI, e.g. the qemu+ssh:// URI the
   * user added), to read libvirt's completed-job figures there and to remove what a failed
   * migration left. Default: `destUri` (right when both sides reach the destination the same way).
   */
  readonly destClientUri?: string;
  /**
   * libvirt's figures for the finished job as the caller already has them (the destination's
   * job-completed event), asked once virsh returns; null (or none given) reads them with
   * `domjobinfo --completed` on the destination.
   */
  readonly completedJob?: () => Promise<MigrateResult | null>;
}

export interface MigrateProgress {
  readonly dataTotal: number;
  readonly dataProcessed: number;
  readonly dataRemaining: number;
  readonly dirtyRate: number | null;
  readonly elapsedMs: number;
}

export interface MigrateResult {
  readonly elapsedMs: number;
  readonly downtimeMs: number | null;
  readonly dataBytes: number | null;
}

export interface SnapshotEntry {
  readonly name: string;
  readonly parent: string | null;
  readonly current: boolean;
  readonly createdAt: number;
  readonly state: string;
  readonly description: string;
  readonly hasMemory: boolean;
}

export interface PoolInfo {
  readonly name: string;
  readonly active: boolean;
  readonly path: string | null;
  readonly capacity: number;
  readonly available: number;
}

export interface VolumeInfo {
  readonly name: string;
  readonly path: string;
  readonly capacity: number;
  readonly allocation: number;
  readonly format: string | null;
}

/** A duplex byte stream (serial console, VNC) reached through the host connection. */
export interface ByteStream {
  write(b: Buffer): void;
  onData(cb: (b: Buffer) => void): void;
  onClose(cb: (reason: string) => void): void;
  close(): void;
}
