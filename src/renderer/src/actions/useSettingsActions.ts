/** Preferences and the host-wide reads the settings and logs views make. */
import { useActions } from './bind';

const SETTINGS_ACTIONS = {
  get: 'settings.get',
  set: 'settings.set',
  hostInfo: 'host.info',
  recentEvents: 'events.recent',
} as const;

export function useSettingsActions() {
  return useActions(SETTINGS_ACTIONS);
}
