/**
 * Live statistics from the core's `vm.stats` / `host.stats` events. The core pushes them only
 * to clients that subscribed, so subscriptions are counted here: the Performance tab and the
 * Activity Overview can watch the same VM, and the last one to stop watching unsubscribes.
 * Nothing polls: samples arrive once a second by themselves.
 */
import { useEffect, useState } from 'react';
import type { HostStats, VmStatsSample } from '../../../core/api/contract';
import type { RpcClient } from '../../../core/api/rpc';
import { useClient } from '../hooks/client';

/** Ten minutes of one-second samples. */
export const WINDOW_MS = 10 * 60 * 1000;

const counts = new WeakMap<RpcClient, Map<string, number>>();

function subscribe(client: RpcClient, key: string): () => void {
  let m = counts.get(client);
  if (!m) {
    m = new Map();
    counts.set(client, m);
  }
  const n = m.get(key) ?? 0;
  m.set(key, n + 1);
  if (n === 0) void client.call('stats.subscribe', key === '*' ? {} : { ref: key }).catch(() => undefined);
  return () => {
    const cur = m.get(key) ?? 1;
    if (cur <= 1) {
      m.delete(key);
      if (!client.closed) void client.call('stats.unsubscribe', key === '*' ? {} : { ref: key }).catch(() => undefined);
      // Unsubscribing everything ('*' with no ref) clears per-VM ones too; put those back.
      if (key === '*') for (const k of m.keys()) void client.call('stats.subscribe', { ref: k }).catch(() => undefined);
    } else m.set(key, cur - 1);
  };
}

/** The samples of one VM over the last ten minutes, oldest first. */
export function useVmStats(uuid: string | null): readonly VmStatsSample[] {
  const client = useClient();
  const [samples, setSamples] = useState<readonly VmStatsSample[]>([]);
  useEffect(() => {
    setSamples([]);
    if (!uuid) return undefined;
    let disposed = false;
    // Start with what the core kept of the last ten minutes; live samples follow.
    client.call('stats.recent', { ref: uuid }).then(
      (list) => {
        if (disposed) return;
        setSamples((live) => {
          const firstLive = live[0]?.ts ?? Infinity;
          return [...list.filter((s) => s.ts < firstLive), ...live];
        });
      },
      () => undefined,
    );
    const off = client.on('vm.stats', (s) => {
      if (s.uuid !== uuid) return;
      setSamples((prev) => {
        const cutoff = s.ts - WINDOW_MS;
        const keep = prev.length && prev[0]!.ts < cutoff ? prev.filter((p) => p.ts >= cutoff) : prev;
        return [...keep, s];
      });
    });
    const unsub = subscribe(client, uuid);
    return () => {
      disposed = true;
      off();
      unsub();
    };
  }, [client, uuid]);
  return samples;
}

/** The latest sample of every running VM, and the host's totals. */
export function useAllStats(active: boolean): { vms: ReadonlyMap<string, VmStatsSample>; host: HostStats | null } {
  const client = useClient();
  const [vms, setVms] = useState<ReadonlyMap<string, VmStatsSample>>(new Map());
  const [host, setHost] = useState<HostStats | null>(null);
  useEffect(() => {
    if (!active) return undefined;
    let disposed = false;
    client.call('stats.current', {}).then(
      (cur) => {
        if (disposed) return;
        setHost(cur.host);
        setVms(new Map(cur.vms.map((s) => [s.uuid, s])));
      },
      () => undefined,
    );
    const offVm = client.on('vm.stats', (s) => setVms((prev) => new Map(prev).set(s.uuid, s)));
    const offHost = client.on('host.stats', (h) => {
      setHost(h);
      // A VM that stopped sends no more samples: drop it after a few quiet seconds.
      setVms((prev) => {
        const stale = [...prev.values()].filter((s) => h.ts - s.ts > 5000);
        if (!stale.length) return prev;
        const next = new Map(prev);
        for (const s of stale) next.delete(s.uuid);
        return next;
      });
    });
    const offRemoved = client.on('vm.removed', (e) =>
      setVms((prev) => {
        const next = new Map(prev);
        next.delete(e.uuid);
        return next;
      }),
    );
    const unsub = subscribe(client, '*');
    return () => {
      disposed = true;
      offVm();
      offHost();
      offRemoved();
      unsub();
    };
  }, [client, active]);
  return { vms, host };
}

export const sumBy = <T,>(xs: readonly T[], f: (x: T) => number): number => xs.reduce((a, x) => a + f(x), 0);

export function diskRates(s: VmStatsSample): { read: number; write: number } {
  return { read: sumBy(s.disks, (d) => d.rdBytesPerS), write: sumBy(s.disks, (d) => d.wrBytesPerS) };
}

/** Network rates, or null when no adapter has counters. */
export function netRates(s: VmStatsSample): { rx: number; tx: number } | null {
  const nics = s.nics.filter((n) => n.available);
  if (!nics.length) return null;
  return { rx: sumBy(nics, (n) => n.rxBytesPerS), tx: sumBy(nics, (n) => n.txBytesPerS) };
}
