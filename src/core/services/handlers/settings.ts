/** Host-wide settings and the event log. */
import type { HandlerGroup } from './types';

export const settingsHandlers = {
  'settings.get': ({ key }, { core }) => core.getSetting(key),
  'settings.set': ({ key, value }, { core }) => {
    core.setSetting(key, value);
    return null;
  },
  'events.recent': ({ ref, limit }, { core }) => core.recentEvents(ref, limit),
} satisfies HandlerGroup;
