/** The snapshot tree of a VM. */
import type { HandlerGroup } from './types';

export const snapshotHandlers = {
  'snapshots.list': ({ ref }, { core }) => core.snapshots.list(ref),
  'snapshots.take': ({ ref, name, description }, { core }) => core.snapshots.take(ref, name, description ?? ''),
  'snapshots.restore': ({ ref, id }, { core }) => core.snapshots.restore(ref, id),
  'snapshots.delete': ({ ref, id }, { core }) => core.snapshots.delete(ref, id),
  'snapshots.deleteBranch': ({ ref, id }, { core }) => core.snapshots.deleteBranch(ref, id),
  'snapshots.previewDelete': ({ ref, id, branch }, { core }) => core.snapshots.previewDelete(ref, id, branch === true),
  'snapshots.update': ({ ref, id, name, description }, { core }) =>
    core.snapshots.update(ref, id, { ...(name !== undefined ? { name } : {}), ...(description !== undefined ? { description } : {}) }),
  'snapshots.thumbnail': ({ id }, { core }) => core.snapshots.thumbnail(id),
} satisfies HandlerGroup;
