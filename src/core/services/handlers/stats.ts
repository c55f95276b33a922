/** Monitoring: the calling client's subscriptions and the samples kept in memory and on disk. */
import type { HandlerGroup } from './types';

export const statsHandlers = {
  'stats.subscribe': ({ ref }, { core, session }) => session.stats.subscribe(ref ? core.vms.resolve(ref).uuid : undefined),
  'stats.unsubscribe': ({ ref }, { core, session }) => session.stats.unsubscribe(ref ? core.vms.resolve(ref).uuid : undefined),
  'stats.current': (_p, { core }) => core.monitor.current(),
  'stats.recent': ({ ref }, { core }) => core.monitor.recent(core.vms.resolve(ref).uuid),
  'stats.history': ({ ref, since }, { core }) => core.statsHistory(ref, since),
} satisfies HandlerGroup;
