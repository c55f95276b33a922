/** A VM's network adapters and port forwards, and the host's networks. */
import type { HandlerGroup } from './types';

export const networkHandlers = {
  'network.addForward': ({ ref, nic, rule }, { core }) => core.network.addForward(ref, nic, rule),
  'network.removeForward': ({ ref, nic, name }, { core }) => core.network.removeForward(ref, nic, name),
  'network.setLink': ({ ref, nic, connected }, { core }) => core.network.setLink(ref, nic, connected),
  'network.host': (_p, { core }) => core.network.hostInfo(),
  'network.setNic': ({ ref, nic, changes }, { core }) => core.network.setNic(ref, nic, changes),
  'network.addNic': ({ ref, spec }, { core }) => core.network.addNic(ref, spec),
  'network.removeNic': ({ ref, nic }, { core }) => core.network.removeNic(ref, nic),
  'network.newMac': (_p, { core }) => core.network.newMac(),
} satisfies HandlerGroup;
