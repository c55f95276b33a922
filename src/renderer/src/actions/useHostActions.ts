/** libvirt hosts and migration between them: the Add/Edit Host and Migrate dialogs' actions. */
import { useActions } from './bind';

const HOST_ACTIONS = {
  list: 'hosts.list',
  add: 'hosts.add',
  update: 'hosts.update',
  remove: 'hosts.remove',
  migrate: 'vms.migrate',
  move: 'vms.move',
  waitJob: 'jobs.wait',
  cancelJob: 'jobs.cancel',
} as const;

export function useHostActions() {
  return useActions(HOST_ACTIONS);
}
