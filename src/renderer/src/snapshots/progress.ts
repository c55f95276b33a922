/**
 * The core's `vm.progress` events for one operation of one VM, as a hook: the clone, disk
 * conversion and live snapshot dialogs draw their bars from it.
 */
import { useEffect, useState } from 'react';
import type { ApiEvents } from '../../../core/api/contract';
import { useClient } from '../hooks/client';

export type VmProgress = ApiEvents['vm.progress'];
export type VmProgressOp = VmProgress['operation'];

/**
 * The latest progress the core reported for `operation` on the VM while `active` (null
 * until the first event, and again once inactive). The final `done` event is not kept: the
 * caller learns the end from its own call.
 */
export function useVmProgress(uuid: string, operation: VmProgressOp, active: boolean): VmProgress | null {
  const client = useClient();
  const [progress, setProgress] = useState<VmProgress | null>(null);
  useEffect(() => {
    if (!active) {
      setProgress(null);
      return undefined;
    }
    return client.on('vm.progress', (e) => {
      if (e.uuid === uuid && e.operation === operation && !e.done) setProgress(e);
    });
  }, [client, uuid, operation, active]);
  return progress;
}
