/**
 * The pattern of the per-feature action hooks: a feature names the core methods it uses
 * once, as a table, and its components get typed functions instead of `client.call` with a
 * method string. A new feature (hosts, migration) adds a table and a hook the same way.
 */
import { useMemo } from 'react';
import type { MethodName, Params, Result } from '../../../core/api/contract';
import type { RpcClient } from '../../../core/api/rpc';
import { useClient } from '../hooks/client';

/** One typed action: the method's params in, its result out. */
export type Action<M extends MethodName> = (params: Params<M>) => Promise<Result<M>>;

export type Actions<T extends Readonly<Record<string, MethodName>>> = { readonly [K in keyof T]: Action<T[K]> };

/** The table bound to one client (pure, so a hook or a test can use it). */
export function bindActions<const T extends Readonly<Record<string, MethodName>>>(client: RpcClient, table: T): Actions<T> {
  const out: Record<string, (params: never) => Promise<unknown>> = {};
  for (const [name, method] of Object.entries(table)) out[name] = (params: never) => client.call(method, params);
  return out as unknown as Actions<T>;
}

/** The table bound to this window's client; stable while the client is (`table` must be a module constant). */
export function useActions<const T extends Readonly<Record<string, MethodName>>>(table: T): Actions<T> {
  const client = useClient();
  return useMemo(() => bindActions(client, table), [client, table]);
}
