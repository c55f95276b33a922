/**
 * QMP background jobs (snapshot-save, snapshot-load, snapshot-delete): start, wait for the
 * job to conclude (from events, no polling), read its error, dismiss it.
 */
import crypto from 'node:crypto';
import { NestboxError } from '../api/errors';
import { qemuCommands } from './commands';
import type { QmpClient } from './qmp';

export async function runJob(qmp: QmpClient, command: string, args: Record<string, unknown>, timeoutMs = 600_000): Promise<void> {
  const id = `nb-${command}-${crypto.randomBytes(4).toString('hex')}`;
  const concluded = qmp.waitEvent('JOB_STATUS_CHANGE', {
    timeoutMs,
    predicate: (ev) => ev.data['id'] === id && ev.data['status'] === 'concluded',
  });
  concluded.catch(() => undefined);
  await qmp.execute(command, { 'job-id': id, ...args });
  await concluded;
  const cmd = qemuCommands(qmp);
  const jobs = await cmd.queryJobs();
  const job = jobs.find((j) => j.id === id);
  await cmd.jobDismiss(id).catch(() => undefined);
  if (job?.error) throw new NestboxError('QEMU_FAILED', `${command} failed: ${job.error}`);
}
