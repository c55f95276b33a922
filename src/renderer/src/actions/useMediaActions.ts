/** The Media Manager's actions: media operations (each a core job) and the jobs themselves. */
import { useActions } from './bind';

const MEDIA_ACTIONS = {
  list: 'media.list',
  create: 'media.create',
  convert: 'media.convert',
  resize: 'media.resize',
  compact: 'media.compact',
  check: 'media.check',
  delete: 'media.delete',
  waitJob: 'jobs.wait',
  cancelJob: 'jobs.cancel',
} as const;

export function useMediaActions() {
  return useActions(MEDIA_ACTIONS);
}
