/**
 * Runs lifecycle actions without blocking the window. Each action marks its VM busy (the
 * list row shows a spinner, the details a progress bar) until the core answers, which for
 * a shutdown can be a minute; meanwhile the user can select and drive other VMs.
 */
import { useCallback, useMemo, useState } from 'react';
import type { MethodName, OpResult, VmInfo } from '../../../core/api/contract';
import { assertNever } from '../../../core/api/errors';
import { useNotify } from '../components/Notifications';
import { actionFailure, type LifecycleAction } from '../model/vmState';
import { useClient } from './client';

export type BusyKind = LifecycleAction | 'modify' | 'delete';

export interface VmRef {
  readonly uuid: string;
  readonly name: string;
}

export interface Operations {
  readonly busy: ReadonlyMap<string, BusyKind>;
  run(vm: VmRef, action: LifecycleAction): Promise<void>;
  /** Marks the VM busy for an operation whose errors the caller shows itself (a dialog). */
  track<T>(vm: VmRef, kind: BusyKind, work: () => Promise<T>): Promise<T>;
}

function methodFor(a: LifecycleAction) {
  switch (a) {
    case 'start':
      return 'vms.start' as const;
    case 'pause':
      return 'vms.pause' as const;
    case 'resume':
      return 'vms.resume' as const;
    case 'reset':
      return 'vms.reset' as const;
    case 'shutdown':
      return 'vms.shutdown' as const;
    case 'powerOff':
      return 'vms.powerOff' as const;
    case 'saveState':
      return 'vms.saveState' as const;
    case 'discardState':
      return 'vms.discardState' as const;
    default:
      return assertNever(a, 'action');
  }
}

export function useOperations(onResult: (vm: VmInfo) => void): Operations {
  const client = useClient();
  const notify = useNotify();
  const [busy, setBusy] = useState<ReadonlyMap<string, BusyKind>>(new Map());

  const mark = useCallback((uuid: string, kind: BusyKind | null) => {
    setBusy((prev) => {
      const next = new Map(prev);
      if (kind === null) next.delete(uuid);
      else next.set(uuid, kind);
      return next;
    });
  }, []);

  const track = useCallback(
    async <T,>(vm: VmRef, kind: BusyKind, work: () => Promise<T>): Promise<T> => {
      mark(vm.uuid, kind);
      try {
        return await work();
      } finally {
        mark(vm.uuid, null);
      }
    },
    [mark],
  );

  const run = useCallback(
    async (vm: VmRef, action: LifecycleAction): Promise<void> => {
      const method: MethodName = methodFor(action);
      try {
        const result = (await track(vm, action, () => client.call(method as ReturnType<typeof methodFor>, { ref: vm.uuid }))) as OpResult;
        onResult(result.vm);
        for (const w of result.warnings) notify.warning(w, `'${vm.name}'`);
      } catch (err) {
        notify.error(err, actionFailure(action, vm.name));
      }
    },
    [client, notify, onResult, track],
  );

  return useMemo(() => ({ busy, run, track }), [busy, run, track]);
}
