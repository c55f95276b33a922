/** The VM actions components call (lifecycle runs through hooks/operations.ts, which marks VMs busy). */
import { useActions } from './bind';

const VM_ACTIONS = {
  list: 'vms.list',
  info: 'vms.info',
  create: 'vms.create',
  modify: 'vms.modify',
  delete: 'vms.delete',
  clone: 'vms.clone',
  import: 'vms.import',
  /** What an import would create, making nothing (the dialog's preview, the CLI's --dry-run). */
  importPlan: 'vms.importPlan',
  /** Stops the VM's running operation (clone, conversion, live snapshot, save). */
  cancel: 'vms.cancel',
  convertDisk: 'vms.convertDisk',
  attachDisk: 'vms.attachDisk',
  detachDisk: 'vms.detachDisk',
  balloon: 'vms.balloon',
  screenshot: 'vms.screenshot',
  sendKeys: 'vms.sendKeys',
  qemuLog: 'vms.qemuLog',
} as const;

export function useVmActions() {
  return useActions(VM_ACTIONS);
}
