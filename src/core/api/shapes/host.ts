/** What the API says about this computer: its accelerators, firmware, cgroups, KSM, and the live figures of it and its VMs. */
import type { OsType } from '../../domain/ostypes';

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
