/** VM inventory and lifecycle. */
import { NestboxError } from '../../api/errors';
import { LOCAL_HOST } from '../../domain/hosts';
import type { HandlerGroup } from './types';

export const vmHandlers = {
  'host.info': (_p, { core }) => core.hostInfo(),
  'vms.list': ({ host, wait }, { core }) => core.listVms(host, wait === true),
  'vms.info': async ({ ref }, { core }) => {
    const r = await core.route(ref);
    return r.engine.info(r.vm);
  },
  // On a libvirt host (`host`) the HostService defines it there; else this computer's VM service.
  'vms.create': async ({ host, pool, isoVolume, ...spec }, { core }) => {
    if (host !== undefined && host.toLowerCase() !== LOCAL_HOST) {
      await core.hosts.settled(host);
      return core.hosts.createVm({ ...spec, host, ...(pool !== undefined ? { pool } : {}), ...(isoVolume !== undefined ? { isoVolume } : {}) });
    }
    if (pool !== undefined || isoVolume !== undefined) throw new NestboxError('INVALID_ARGUMENT', `'${pool !== undefined ? 'pool' : 'isoVolume'}' is for a VM on a libvirt host (give 'host')`);
    return core.vms.create(spec);
  },
  'vms.modify': ({ ref, changes }, { core }) => core.vms.modify(ref, changes),
  // The lifecycle verbs go to the engine the ref names: this computer (the local engine, which
  // also checks that no storage job holds the VM's disks) or a libvirt host (`HOST:VM`).
  'vms.start': async ({ ref }, { core }) => {
    const r = await core.route(ref);
    return r.engine.start(r.vm);
  },
  'vms.pause': async ({ ref }, { core }) => {
    const r = await core.route(ref);
    return r.engine.pause(r.vm);
  },
  'vms.resume': async ({ ref }, { core }) => {
    const r = await core.route(ref);
    return r.engine.resume(r.vm);
  },
  'vms.reset': async ({ ref }, { core }) => {
    const r = await core.route(ref);
    return r.engine.reset(r.vm);
  },
  'vms.shutdown': async ({ ref, timeoutS }, { core }) => {
    const r = await core.route(ref);
    return r.engine.shutdown(r.vm, timeoutS);
  },
  'vms.powerOff': async ({ ref }, { core }) => {
    const r = await core.route(ref);
    return r.engine.powerOff(r.vm);
  },
  'vms.saveState': async ({ ref }, { core }) => {
    const r = await core.route(ref);
    return r.engine.saveState(r.vm);
  },
  'vms.discardState': ({ ref }, { core }) => core.vms.discardState(ref),
  'vms.delete': async ({ ref, keepFiles }, { core }) => {
    const r = await core.route(ref);
    return r.engine.delete(r.vm, { keepStorage: keepFiles === true });
  },
  'vms.screenshot': async ({ ref }, { core }) => {
    const r = await core.route(ref);
    return r.engine.screenshot(r.vm);
  },
  'vms.clone': ({ ref, name, snapshot, linked, keepMacs }, { core }) =>
    core.clones.clone(ref, { name, ...(snapshot ? { snapshot } : {}), linked: linked === true, keepMacs: keepMacs === true }),
  'vms.cancel': async ({ ref }, { core }) => {
    const r = await core.route(ref);
    return r.engine.cancel(r.vm);
  },
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
