/** Networking in the API: port forwards, adapters, this computer's bridges and internal networks. */
import type { BridgeVia, NicMode, NicModel } from '../../domain/config';
import type { VmState } from '../../domain/lifecycle';

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
