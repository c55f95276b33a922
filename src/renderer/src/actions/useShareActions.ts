/** The shared-folder actions components call. */
import { useActions } from './bind';

const SHARE_ACTIONS = {
  add: 'shares.add',
  remove: 'shares.remove',
} as const;

export function useShareActions() {
  return useActions(SHARE_ACTIONS);
}
