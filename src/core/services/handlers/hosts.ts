/** libvirt hosts, migration between them, and moving VMs between this computer and a host. */
import type { HandlerGroup } from './types';

export const hostHandlers = {
  'hosts.list': async ({ wait }, { core }) => {
    if (wait === true) await core.hosts.settled();
    return core.hosts.list();
  },
  'hosts.add': (spec, { core }) => core.hosts.add(spec),
  'hosts.update': ({ name, changes }, { core }) => core.hosts.update(name, changes),
  'hosts.remove': ({ name }, { core }) => {
    core.hosts.remove(name);
    return null;
  },
  'hosts.info': async ({ name, wait }, { core }) => {
    if (wait === true) await core.hosts.settled(name);
    return core.hosts.info(name);
  },
  'hosts.pools': async ({ name }, { core }) => {
    await core.hosts.settled(name);
    return core.hosts.pools(name);
  },
  'hosts.uploadIso': async (spec, { core }) => {
    await core.hosts.settled(spec.name);
    return core.hosts.uploadIso(spec);
  },
  'vms.migrate': async (spec, { core }) => {
    await core.hosts.settled();
    return core.hosts.migrate(spec);
  },
  'vms.move': (spec, { core }) => core.moves.move(spec),
} satisfies HandlerGroup;
