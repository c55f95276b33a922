/**
 * The snapshot list of one VM, fetched when the VM is selected and again (debounced)
 * whenever the core says the VM changed: every take, restore, delete and rename fires
 * `vm.changed`, whoever did it (this window, another one, the CLI).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { SnapshotList } from '../../../core/api/contract';
import { useClient } from '../hooks/client';
import { Debouncer } from '../util/debounce';

export interface SnapshotsState {
  /** null until the first answer for this VM arrives. */
  readonly list: SnapshotList | null;
  readonly error: string | null;
  readonly reload: () => void;
  /** Shows a list an operation returned, without waiting for the event. */
  readonly replace: (list: SnapshotList) => void;
}

export function useSnapshots(uuid: string): SnapshotsState {
  const client = useClient();
  const [list, setList] = useState<SnapshotList | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reloadRef = useRef<() => void>(() => undefined);

  useEffect(() => {
    setList((prev) => (prev?.vm === uuid ? prev : null));
    setError(null);
    let disposed = false;
    let seq = 0;
    const load = (): void => {
      const mine = ++seq;
      client.call('snapshots.list', { ref: uuid }).then(
        (l) => {
          if (disposed || mine !== seq) return;
          setList(l);
          setError(null);
        },
        (err: unknown) => {
          if (!disposed && mine === seq && !client.closed) setError(err instanceof Error ? err.message : String(err));
        },
      );
    };
    const debouncer = new Debouncer(load, 80, 500);
    const off = client.on('vm.changed', (e) => {
      if (e.uuid === uuid) debouncer.trigger();
    });
    reloadRef.current = () => debouncer.trigger();
    load();
    return () => {
      disposed = true;
      debouncer.cancel();
      off();
    };
  }, [client, uuid]);

  const reload = useCallback(() => reloadRef.current(), []);
  const replace = useCallback(
    (l: SnapshotList) => {
      if (l.vm === uuid) setList(l);
    },
    [uuid],
  );
  return { list: list?.vm === uuid ? list : null, error, reload, replace };
}
