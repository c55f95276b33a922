/**
 * The Manager's first answers (host.info, vms.list, hosts.list), asked for the moment the
 * connection opens instead of after React has rendered the window that shows them: the core
 * works on them while the page renders its toolbar, list and status bar. Each answer is handed
 * once to the hook that would have asked for it. An event that would have made that hook ask
 * again (a VM or host changed) marks the early lists stale, and the hook then asks itself.
 */
import type { MethodName, Result } from '../../../core/api/contract';
import type { RpcClient } from '../../../core/api/rpc';

type Early = 'host.info' | 'vms.list' | 'hosts.list';

interface Asked {
  readonly answers: Map<Early, Promise<unknown>>;
  readonly offs: readonly (() => void)[];
}

const asked = new WeakMap<RpcClient, Asked>();

/** Asks the core for what the Manager shows first; for a window that shows the Manager. */
export function askEarly(client: RpcClient): void {
  const answers = new Map<Early, Promise<unknown>>();
  for (const method of ['host.info', 'vms.list', 'hosts.list'] as const) {
    const p = client.call(method, {});
    // Whoever takes it sees a failure; one nobody takes is not an unhandled rejection.
    p.catch(() => undefined);
    answers.set(method, p);
  }
  const stale = () => {
    answers.delete('vms.list');
    answers.delete('hosts.list');
  };
  const offs = [client.on('vm.state', stale), client.on('vm.changed', stale), client.on('vm.removed', stale), client.on('host.changed', stale)];
  asked.set(client, { answers, offs });
}

/** The early answer to `method` on this connection, once; null when there is none (or it may be stale). */
export function takeEarly<M extends Early & MethodName>(client: RpcClient, method: M): Promise<Result<M>> | null {
  const a = asked.get(client);
  const p = a?.answers.get(method);
  if (!a || !p) return null;
  a.answers.delete(method);
  if (a.answers.size === 0) for (const off of a.offs) off();
  return p as Promise<Result<M>>;
}
