/** The snapshot tree of a VM. */
import type { HandlerGroup } from './types';

export const snapshotHandlers = {
  // List, take, restore and delete work on every engine (a libvirt host's VM by `HOST:VM`).
  'snapshots.list': async ({ ref }, { core }) => {
    const r = await core.route(ref);
    return r.engine.listSnapshots(r.vm);
  },
  'snapshots.take': async ({ ref, name, description }, { core }) => {
    const r = await core.route(ref);
    return r.engine.takeSnapshot(r.vm, name, description ?? '');
  },
  'snapshots.restore': async ({ ref, id }, { core }) => {
    const r = await core.route(ref);
    return r.engine.restoreSnapshot(r.vm, id);
  },
  'snapshots.delete': async ({ ref, id }, { core }) => {
    const r = await core.route(ref);
    return r.engine.deleteSnapshot(r.vm, id);
  },
  'snapshots.deleteBranch': ({ ref, id }, { core }) => core.snapshots.deleteBranch(ref, id),
  'snapshots.previewDelete': ({ ref, id, branch }, { core }) => core.snapshots.previewDelete(ref, id, branch === true),
  'snapshots.update': ({ ref, id, name, description }, { core }) =>
    core.snapshots.update(ref, id, { ...(name !== undefined ? { name } : {}), ...(description !== undefined ? { description } : {}) }),
  'snapshots.thumbnail': ({ id }, { core }) => core.snapshots.thumbnail(id),
} satisfies HandlerGroup;
