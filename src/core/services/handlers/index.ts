/**
 * The API handler table: for every method of the contract, its params schema and its handler.
 * The dispatcher (Core.session) looks a method up here, checks its params against the schema
 * and calls the handler; no business rule lives in between.
 */
import type { MethodName, Params, Result } from '../../api/contract';
import { PARAM_SCHEMAS, parseParams, type ParamSchemas } from '../../api/schemas';
import { consoleHandlers } from './console';
import { hostHandlers } from './hosts';
import { mediaHandlers } from './media';
import { networkHandlers } from './network';
import { settingsHandlers } from './settings';
import { shareHandlers } from './shares';
import { snapshotHandlers } from './snapshots';
import { statsHandlers } from './stats';
import type { Handler, HandlerContext, Handlers } from './types';
import { vmHandlers } from './vms';

export type { Handler, HandlerContext, HandlerGroup } from './types';

/** Typed as every method: one missing from the groups fails to compile here. */
const HANDLERS: Handlers = {
  ...vmHandlers,
  ...mediaHandlers,
  ...snapshotHandlers,
  ...networkHandlers,
  ...consoleHandlers,
  ...statsHandlers,
  ...settingsHandlers,
  ...shareHandlers,
  ...hostHandlers,
};

export interface ApiEntry<M extends MethodName> {
  readonly params: ParamSchemas[M];
  readonly handle: Handler<M>;
}

export type ApiTable = { readonly [M in MethodName]: ApiEntry<M> };

export const API_TABLE: ApiTable = Object.freeze(
  Object.fromEntries((Object.keys(HANDLERS) as MethodName[]).map((m) => [m, Object.freeze({ params: PARAM_SCHEMAS[m], handle: HANDLERS[m] })])),
) as ApiTable;

export function isMethod(name: string): name is MethodName {
  return Object.hasOwn(API_TABLE, name);
}

/**
 * Checks `params` against the method's schema (INVALID_ARGUMENT naming the field) and runs its
 * handler; `admit` sees the checked params first (the core refuses a host's VM there for
 * methods only this computer has), so a misspelt field is always reported as such.
 */
export function dispatch<M extends MethodName>(
  method: M,
  params: unknown,
  ctx: HandlerContext,
  admit?: (params: Params<M>) => void,
): Promise<Result<M>> | Result<M> {
  const entry: ApiEntry<M> = API_TABLE[method];
  const checked = parseParams(method, params);
  admit?.(checked);
  return entry.handle(checked, ctx);
}
