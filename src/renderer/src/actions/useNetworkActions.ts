/** The network actions components call: adapters, port forwarding, the host's networks. */
import { useActions } from './bind';

const NETWORK_ACTIONS = {
  host: 'network.host',
  addNic: 'network.addNic',
  setNic: 'network.setNic',
  removeNic: 'network.removeNic',
  setLink: 'network.setLink',
  newMac: 'network.newMac',
  addForward: 'network.addForward',
  removeForward: 'network.removeForward',
} as const;

export function useNetworkActions() {
  return useActions(NETWORK_ACTIONS);
}
