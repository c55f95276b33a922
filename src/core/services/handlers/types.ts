/**
 * The shape of the API handler table: one handler per method of the contract, typed against
 * its params and result. A method added to `ApiMethods` and missing here fails to compile.
 */
import type { MethodName, Params, Result } from '../../api/contract';
import type { Core } from '../core';
import type { ClientSession } from '../session';

/** What a handler may use: the core's services and the calling client's own state. */
export interface HandlerContext {
  readonly core: Core;
  readonly session: ClientSession;
}

/** Receives params already checked by the method's schema (api/schemas.ts). */
export type Handler<M extends MethodName> = (params: Params<M>, ctx: HandlerContext) => Promise<Result<M>> | Result<M>;

export type Handlers = { readonly [M in MethodName]: Handler<M> };

/** One concern's handlers (vms, media, ...); the table joins them and must cover every method. */
export type HandlerGroup = Partial<Handlers>;
