/** A VM's shared folders. */
import type { HandlerGroup } from './types';

export const shareHandlers = {
  'shares.list': ({ ref }, { core }) => core.shares.list(ref),
  'shares.add': ({ ref, path, tag, readOnly }, { core }) => core.shares.add(ref, { path, ...(tag !== undefined ? { tag } : {}), ...(readOnly !== undefined ? { readOnly } : {}) }),
  'shares.remove': ({ ref, tag }, { core }) => core.shares.remove(ref, tag),
} satisfies HandlerGroup;
