/** Disk images and ISOs: the registry, storage jobs, import/export and a VM's disks. */
import type { HandlerGroup } from './types';

export const mediaHandlers = {
  'media.list': (_p, { core }) => core.media.listMedia(),
  'media.registry': (_p, { core }) => core.media.registry(),
  'media.info': ({ path }, { core }) => core.media.info(path),
  'media.delete': ({ path, deleteFile }, { core }) => core.media.delete(path, deleteFile === true),
  'media.discardUpload': ({ path }, { core }) => core.media.discardUpload(path),
  'media.discardUploadSet': ({ path }, { core }) => core.media.discardUploadSet(path),
  'media.create': (spec, { core }) => core.media.create(spec),
  'media.convert': (spec, { core }) => core.media.convert(spec),
  'media.resize': ({ path, size, shrink }, { core }) => core.media.resize(path, size, shrink === true),
  'media.compact': ({ path }, { core }) => core.media.compact(path),
  'media.check': ({ path, repair }, { core }) => core.media.check(path, repair !== false),
  'vms.import': (spec, { core }) => core.ova.import(spec),
  'vms.importPlan': (spec, { core }) => core.ova.importPlan(spec),
  'vms.export': ({ ref, file }, { core }) => core.ova.exportOva(ref, file),
  'vms.attachDisk': ({ ref, path, bus, readOnly }, { core }) => core.disks.attachDisk(ref, path, bus, readOnly === true),
  'vms.detachDisk': ({ ref, disk }, { core }) => core.disks.detachDisk(ref, disk),
} satisfies HandlerGroup;
