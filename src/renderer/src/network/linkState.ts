/**
 * Whether each adapter's virtual cable is plugged in. The core plugs and unplugs it
 * (QMP set_link) but does not report it back, and QEMU starts every run with the cable in,
 * so the window remembers what it set per run of the VM (its start time), which survives
 * closing and reopening Settings and forgets itself when the VM starts again.
 */
import { useCallback, useSyncExternalStore } from 'react';
import type { VmInfo } from '../../../core/api/contract';

const unplugged = new Set<string>();
const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function keyOf(vm: VmInfo, nicId: string): string | null {
  return vm.runtime ? `${vm.uuid}/${vm.runtime.startedAt}/${nicId}` : null;
}

export function useCableConnected(vm: VmInfo, nicId: string): { readonly connected: boolean; readonly remember: (connected: boolean) => void } {
  const key = keyOf(vm, nicId);
  const connected = useSyncExternalStore(subscribe, () => key === null || !unplugged.has(key));
  const remember = useCallback(
    (c: boolean) => {
      if (key === null) return;
      if (c) unplugged.delete(key);
      else unplugged.add(key);
      for (const l of listeners) l();
    },
    [key],
  );
  return { connected, remember };
}
