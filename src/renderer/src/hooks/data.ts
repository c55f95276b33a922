/**
 * Live data from the core. The list is fetched once and then kept fresh by events: a
 * `vm.state` event patches the row at once (so the state text is live), and every event
 * also schedules one debounced `vms.list`, so a burst of 1,000 events costs one fetch.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { HostInfo, LogEntry, MediaItem, VmInfo, VmSummary } from '../../../core/api/contract';
import { Debouncer } from '../util/debounce';
import { useNotify } from '../components/Notifications';
import { useClient } from './client';
import { takeEarly } from './early';

const LIST_DEBOUNCE_MS = 120;
const LIST_MAX_WAIT_MS = 800;

export function useHostInfo(): HostInfo | null {
  const client = useClient();
  const notify = useNotify();
  const [host, setHost] = useState<HostInfo | null>(null);
  useEffect(() => {
    let cancelled = false;
    (takeEarly(client, 'host.info') ?? client.call('host.info', {})).then(
      (h) => {
        if (!cancelled) setHost(h);
      },
      (err: unknown) => {
        if (!cancelled) notify.error(err, 'Could not read the host’s capabilities');
      },
    );
    return () => {
      cancelled = true;
    };
  }, [client, notify]);
  return host;
}

export interface VmListState {
  /** null until the first answer arrives. */
  readonly vms: readonly VmSummary[] | null;
  readonly refresh: () => void;
  /**
   * Puts a VM we just got back from an operation into the list now, so a new or renamed
   * VM can be selected before the debounced refresh lands.
   */
  readonly upsert: (vm: VmSummary) => void;
}

/** Only the summary fields: a VmInfo passed in must not keep its whole config in the list. */
function summaryOf(v: VmSummary): VmSummary {
  return {
    uuid: v.uuid,
    name: v.name,
    osType: v.osType,
    group: v.group,
    state: v.state,
    ...(v.stateReason !== undefined ? { stateReason: v.stateReason } : {}),
    ...(v.inaccessible !== undefined ? { inaccessible: v.inaccessible } : {}),
    memoryMiB: v.memoryMiB,
    cpus: v.cpus,
    ...(v.host !== undefined ? { host: v.host } : {}),
    ...(v.unreachable !== undefined ? { unreachable: v.unreachable } : {}),
  };
}

export function useVmList(): VmListState {
  const client = useClient();
  const notify = useNotify();
  const [vms, setVms] = useState<readonly VmSummary[] | null>(null);
  const refreshRef = useRef<() => void>(() => undefined);

  useEffect(() => {
    let disposed = false;
    let inFlight = false;
    let again = false;
    let failedOnce = false;
    const patches = new Map<string, Pick<VmSummary, 'state' | 'stateReason'>>();
    let patchTimer: ReturnType<typeof setTimeout> | null = null;

    const fetchList = async (): Promise<void> => {
      // One request at a time; events that arrive meanwhile ask for exactly one more.
      if (inFlight) {
        again = true;
        return;
      }
      inFlight = true;
      try {
        const list = await (takeEarly(client, 'vms.list') ?? client.call('vms.list', {}));
        if (disposed) return;
        patches.clear();
        failedOnce = false;
        setVms(list);
      } catch (err) {
        if (!disposed && !failedOnce && !client.closed) notify.error(err, 'Could not list the virtual machines');
        failedOnce = true;
      } finally {
        inFlight = false;
        if (again && !disposed) {
          again = false;
          debouncer.trigger();
        }
      }
    };
    const debouncer = new Debouncer(() => void fetchList(), LIST_DEBOUNCE_MS, LIST_MAX_WAIT_MS);

    const flushPatches = (): void => {
      patchTimer = null;
      if (patches.size === 0) return;
      const batch = new Map(patches);
      patches.clear();
      setVms((prev) =>
        prev
          ? prev.map((v) => {
              const p = batch.get(v.uuid);
              if (!p) return v;
              const { stateReason: _old, ...rest } = v;
              return { ...rest, state: p.state, ...(p.stateReason !== undefined ? { stateReason: p.stateReason } : {}) };
            })
          : prev,
      );
    };

    const offs = [
      client.on('vm.state', (e) => {
        patches.set(e.uuid, { state: e.state, ...(e.reason !== undefined ? { stateReason: e.reason } : {}) });
        patchTimer ??= setTimeout(flushPatches, 16);
        debouncer.trigger();
      }),
      client.on('vm.changed', () => debouncer.trigger()),
      // A host connected, was lost or removed: its VMs' rows change with it.
      client.on('host.changed', () => debouncer.trigger()),
      client.on('vm.removed', (e) => {
        setVms((prev) => (prev ? prev.filter((v) => v.uuid !== e.uuid) : prev));
        debouncer.trigger();
      }),
    ];
    refreshRef.current = () => debouncer.trigger();
    void fetchList();
    return () => {
      disposed = true;
      debouncer.cancel();
      if (patchTimer !== null) clearTimeout(patchTimer);
      for (const off of offs) off();
    };
  }, [client, notify]);

  const refresh = useCallback(() => refreshRef.current(), []);
  const upsert = useCallback((vm: VmSummary) => {
    const row = summaryOf(vm);
    setVms((prev) => {
      if (!prev) return prev;
      const i = prev.findIndex((v) => v.uuid === row.uuid);
      return i < 0 ? [...prev, row] : prev.map((v, k) => (k === i ? row : v));
    });
  }, []);
  return { vms, refresh, upsert };
}

export interface VmInfoState {
  readonly info: VmInfo | null;
  /** The selected VM could not be read (removed meanwhile, or the core failed). */
  readonly error: string | null;
  /** Replaces the shown info with a fresher value (an operation's result). */
  readonly accept: (info: VmInfo) => void;
}

/** Full info of one VM, refetched (debounced) whenever the core says it changed. */
export function useVmInfo(uuid: string | null): VmInfoState {
  const client = useClient();
  const [info, setInfo] = useState<VmInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const current = useRef(uuid);
  current.current = uuid;

  useEffect(() => {
    setError(null);
    if (uuid === null) {
      setInfo(null);
      return undefined;
    }
    setInfo((prev) => (prev?.uuid === uuid ? prev : null));
    let disposed = false;
    let seq = 0;
    const load = (): void => {
      const mine = ++seq;
      client.call('vms.info', { ref: uuid }).then(
        (i) => {
          if (!disposed && mine === seq) {
            setInfo(i);
            setError(null);
          }
        },
        (err: unknown) => {
          if (!disposed && mine === seq && !client.closed) setError(err instanceof Error ? err.message : String(err));
        },
      );
    };
    const debouncer = new Debouncer(load, 60, 400);
    const offs = [
      client.on('vm.state', (e) => {
        if (e.uuid === uuid) debouncer.trigger();
      }),
      client.on('vm.changed', (e) => {
        if (e.uuid === uuid) debouncer.trigger();
      }),
    ];
    load();
    return () => {
      disposed = true;
      debouncer.cancel();
      for (const off of offs) off();
    };
  }, [client, uuid]);

  const accept = useCallback((i: VmInfo) => {
    if (i.uuid === current.current) setInfo(i);
  }, []);
  return { info, error, accept };
}

/** The host's media library (ISOs and disk images); fetched when a dialog needs it. */
export function useMedia(active: boolean): { readonly media: readonly MediaItem[] | null; readonly reload: () => Promise<void> } {
  const client = useClient();
  const [media, setMedia] = useState<readonly MediaItem[] | null>(null);
  const reload = useCallback(async () => {
    try {
      setMedia(await client.call('media.list', {}));
    } catch {
      // The library is a convenience; the path fields still work without it.
      setMedia((m) => m ?? []);
    }
  }, [client]);
  useEffect(() => {
    if (active) void reload();
  }, [active, reload]);
  return { media, reload };
}

/** The latest log entries of one VM, kept current by 'log' events. */
export function useVmEvents(uuid: string | null, limit = 8): readonly LogEntry[] {
  const client = useClient();
  const [entries, setEntries] = useState<readonly LogEntry[]>([]);
  useEffect(() => {
    setEntries([]);
    if (uuid === null) return undefined;
    let disposed = false;
    client.call('events.recent', { ref: uuid, limit }).then(
      (list) => {
        if (!disposed) setEntries(sortNewestFirst(list).slice(0, limit));
      },
      () => undefined,
    );
    const off = client.on('log', (e) => {
      if (e.vmUuid === uuid) setEntries((prev) => sortNewestFirst([e, ...prev.filter((p) => p.id !== e.id)]).slice(0, limit));
    });
    return () => {
      disposed = true;
      off();
    };
  }, [client, uuid, limit]);
  return entries;
}

function sortNewestFirst(list: readonly LogEntry[]): LogEntry[] {
  return [...list].sort((a, b) => b.id - a.id);
}
