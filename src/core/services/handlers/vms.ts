/** VM inventory and lifecycle. */
import type { HandlerGroup } from './types';

export const vmHandlers = {
  'host.info': (_p, { core }) => core.hostInfo(),
  'vms.list': (_p, { core }) => core.vms.list(),
  'vms.info': ({ ref }, { core }) => core.vms.info(ref),
  'vms.create': (spec, { core }) => core.vms.create(spec),
  'vms.modify': ({ ref, changes }, { core }) => core.vms.modify(ref, changes),
  'vms.start': ({ ref }, { core }) => core.vms.start(ref),
  'vms.pause': ({ ref }, { core }) => core.vms.pause(ref),
  'vms.resume': ({ ref }, { core }) => core.vms.resume(ref),
  'vms.reset': ({ ref }, { core }) => core.vms.reset(ref),
  'vms.shutdown': ({ ref, timeoutS }, { core }) => core.vms.shutdown(ref, timeoutS),
  'vms.powerOff': ({ ref }, { core }) => core.vms.powerOff(ref),
  'vms.saveState': ({ ref }, { core }) => core.vms.saveState(ref),
  'vms.discardState': ({ ref }, { core }) => core.vms.discardState(ref),
  'vms.delete': ({ ref, keepFiles }, { core }) => core.vms.delete(ref, keepFiles === true),
  'vms.screenshot': ({ ref }, { core }) => core.vms.screenshot(ref),
  'vms.clone': ({ ref, name, snapshot, linked, keepMacs }, { core }) =>
    core.clones.clone(ref, { name, ...(snapshot ? { snapshot } : {}), linked: linked === true, keepMacs: keepMacs === true }),
  'vms.cancel': ({ ref }, { core }) => core.vms.cancel(ref),
  'vms.convertDisk': ({ ref, disk }, { core }) => core.media.convertDisk(ref, disk || undefined),
  'vms.balloon': ({ ref, targetMiB }, { core }) => core.vms.balloon(ref, targetMiB),
  'vms.sendKeys': async ({ ref, keys }, { core }) => {
    await core.vms.sendKeys(ref, keys);
    return null;
  },
  'jobs.list': (_p, { core }) => core.jobs.list(),
  'jobs.cancel': ({ id }, { core }) => core.jobs.cancel(id),
  'jobs.wait': ({ id }, { core }) => core.jobs.wait(id),
} satisfies HandlerGroup;
