/**
 * Why a snapshot action cannot be done right now, in words the user can act on. The core
 * refuses the same things; saying so up front (as a tooltip on the disabled button, or a
 * note in the view) beats an error after the click.
 */
import type { SnapshotInfo, VmInfo, VmState } from '../../../core/api/contract';
import { assertNever } from '../../../core/api/errors';
import type { BusyKind } from '../hooks/operations';
import { formatLabel } from '../model/labels';
import { actionProgress } from '../model/vmState';
import { baseName } from '../util/format';
import { hardwareDiffers } from './diff';
import type { PendingOp } from './pending';

/** The state-machine part: what each state forbids. */
function stateReason(vm: VmInfo, state: VmState): string {
  switch (state) {
    case 'saved':
      return `'${vm.name}' has a saved machine state: start it, or discard the saved state, first`;
    case 'starting':
      return `'${vm.name}' is starting; wait until it runs`;
    case 'saving':
      return `'${vm.name}' is saving its machine state; wait until it is done`;
    case 'stopping':
      return `'${vm.name}' is shutting down; wait until it is off`;
    case 'poweredOff':
    case 'running':
    case 'paused':
    case 'aborted':
      return `Not possible while '${vm.name}' is in this state`;
    default:
      return assertNever(state, 'VM state');
  }
}

function busyReason(pending: PendingOp | undefined, busy: BusyKind | undefined): string | null {
  if (pending) return `Wait until the current snapshot operation is done (${pending.text.replace(/…$/, '')})`;
  if (busy) return `Wait until '${actionProgress(busy).replace(/…$/, '')}' is done`;
  return null;
}

/**
 * What keeps any snapshot from being taken of this VM as it is configured (not a passing
 * state): no disk, or a disk format without internal snapshots.
 */
export function storageReason(vm: VmInfo): string | null {
  const writable = vm.config.disks.filter((d) => !d.readOnly);
  if (writable.length === 0) return `'${vm.name}' has no hard disk, so there is nothing to snapshot; add a QCOW2 disk in Settings`;
  const bad = writable.find((d) => d.format !== 'qcow2');
  if (bad) return `Disk ${baseName(bad.file)} is ${formatLabel(bad.format)}, which cannot hold snapshots; convert it to QCOW2 first`;
  return null;
}

/** Why no snapshot can be taken now, apart from operations in flight: shown as a note in the view. */
export function takeNotice(vm: VmInfo): string | null {
  const storage = storageReason(vm);
  if (storage) return `${storage}.`;
  if (vm.allowed.includes('takeSnapshot')) return null;
  switch (vm.state) {
    case 'saved':
      return `To take a snapshot, start '${vm.name}' (it continues from its saved state) or discard the saved state. Restoring and deleting snapshots still work.`;
    case 'starting':
      return `'${vm.name}' is starting; snapshots can be taken once it runs.`;
    case 'saving':
      return `'${vm.name}' is saving its machine state; snapshot actions wait until it is done.`;
    case 'stopping':
      return `'${vm.name}' is shutting down; snapshot actions wait until it is off.`;
    default:
      return `${stateReason(vm, vm.state)}.`;
  }
}

export function takeReason(vm: VmInfo, pending: PendingOp | undefined, busy: BusyKind | undefined, offline: boolean): string | null {
  if (offline) return 'The connection to the Nestbox core was lost';
  return busyReason(pending, busy) ?? takeNotice(vm);
}

const LIVE: readonly VmState[] = ['running', 'paused'];

export function restoreReason(vm: VmInfo, snap: SnapshotInfo | null, pending: PendingOp | undefined, busy: BusyKind | undefined, offline: boolean): string | null {
  if (offline) return 'The connection to the Nestbox core was lost';
  if (!snap) return 'Select a snapshot to restore';
  const b = busyReason(pending, busy);
  if (b) return b;
  if (!vm.allowed.includes('restoreSnapshot')) return stateReason(vm, vm.state);
  if (LIVE.includes(vm.state)) {
    if (!snap.withRam) return `'${snap.name}' was taken while '${vm.name}' was off: power the VM off to restore it`;
    if (hardwareDiffers(snap.config, vm.config)) return `The hardware of '${vm.name}' changed since '${snap.name}' was taken: power the VM off to restore it`;
  }
  return null;
}

export function deleteReason(vm: VmInfo, snap: SnapshotInfo | null, pending: PendingOp | undefined, busy: BusyKind | undefined, offline: boolean): string | null {
  if (offline) return 'The connection to the Nestbox core was lost';
  if (!snap) return 'Select a snapshot to delete';
  return busyReason(pending, busy) ?? (vm.allowed.includes('deleteSnapshot') ? null : stateReason(vm, vm.state));
}
