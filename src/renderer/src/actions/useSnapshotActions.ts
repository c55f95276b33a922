/** The snapshot actions components call. */
import { useActions } from './bind';

const SNAPSHOT_ACTIONS = {
  list: 'snapshots.list',
  take: 'snapshots.take',
  restore: 'snapshots.restore',
  update: 'snapshots.update',
  previewDelete: 'snapshots.previewDelete',
  delete: 'snapshots.delete',
  deleteBranch: 'snapshots.deleteBranch',
} as const;

export function useSnapshotActions() {
  return useActions(SNAPSHOT_ACTIONS);
}
