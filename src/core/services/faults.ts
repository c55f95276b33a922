/**
 * Crash points for the reliability tests. With NESTBOX_FAULT=<name> in its environment the
 * core kills itself (SIGKILL, no cleanup) when it reaches the point of that name, so a test
 * can stop it between two exact steps of an operation and check what the next core makes of
 * it. Without the variable (always, outside those tests) this does nothing.
 */
export type CrashPoint =
  | 'snapshot:switchover'
  | 'delete:trashed'
  | 'delete:row-removed'
  | 'job:convert:progress'
  | 'job:import:progress'
  /** A move to a host with its first disk's volume copied there. */
  | 'move:volume-uploaded'
  /** Between the steps of one-transaction changes: a kill here must leave all or nothing. */
  | 'clone:vm-row'
  | 'clone:base-rows'
  | 'snapshot:row'
  | 'snapshot-restore:config'
  | 'snapshot-delete:row'
  | 'delete:base-rows';

export function crashPoint(name: CrashPoint): void {
  if (process.env['NESTBOX_FAULT'] === name) process.kill(process.pid, 'SIGKILL');
}
