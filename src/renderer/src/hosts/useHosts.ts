/**
 * The libvirt hosts Nestbox knows, kept fresh by `host.changed` events (one debounced
 * `hosts.list` per burst).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { HostSummary } from '../../../core/api/contract';
import { useClient } from '../hooks/client';
import { takeEarly } from '../hooks/early';
import { Debouncer } from '../util/debounce';

export interface HostsState {
  /** null until the first answer. */
  readonly hosts: readonly HostSummary[] | null;
  readonly refresh: () => void;
}

export function useHosts(): HostsState {
  const client = useClient();
  const [hosts, setHosts] = useState<readonly HostSummary[] | null>(null);
  const refreshRef = useRef<() => void>(() => undefined);
  useEffect(() => {
    let disposed = false;
    const fetchHosts = () => {
      (takeEarly(client, 'hosts.list') ?? client.call('hosts.list', {})).then(
        (h) => {
          if (!disposed) setHosts(h);
        },
        () => {
          // An older core without hosts, or a lost connection: the list shows this computer only.
          if (!disposed) setHosts((prev) => prev ?? []);
        },
      );
    };
    const debouncer = new Debouncer(fetchHosts, 100, 600);
    const off = client.on('host.changed', () => debouncer.trigger());
    refreshRef.current = () => debouncer.trigger();
    fetchHosts();
    return () => {
      disposed = true;
      debouncer.cancel();
      off();
    };
  }, [client]);
  const refresh = useCallback(() => refreshRef.current(), []);
  return { hosts, refresh };
}

/** One line about a host for its header: status, versions, CPUs and memory, or why it is unreachable. */
export function hostLine(h: HostSummary): string {
  switch (h.status) {
    case 'connected': {
      const parts = [
        'Connected',
        h.libvirtVersion ? `libvirt ${h.libvirtVersion}` : null,
        h.hypervisorVersion ? `QEMU ${h.hypervisorVersion}` : null,
        h.cpus !== undefined ? `${h.cpus} CPU${h.cpus === 1 ? '' : 's'}` : null,
        h.memoryMiB !== undefined ? (h.memoryMiB >= 1024 ? `${(h.memoryMiB / 1024).toFixed(1)} GiB` : `${h.memoryMiB} MiB`) : null,
      ];
      return parts.filter((p) => p !== null).join(' · ');
    }
    case 'connecting':
      return 'Connecting…';
    case 'unreachable':
      return `Unreachable${h.reason ? `: ${h.reason}` : ''}`;
    default:
      return h.status;
  }
}
