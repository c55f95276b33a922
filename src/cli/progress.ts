/** Progress of long operations on stderr, shared by the commands that start jobs. */
import type { JobInfo } from '../core/api/contract';
import { NestboxError } from '../core/api/errors';
import type { RpcClient } from '../core/api/rpc';

/**
 * A progress line on stderr: rewritten in place on a terminal, one line each 10% otherwise
 * (so logs stay short). `end` closes it with the outcome, on a terminal only once it showed.
 */
export function progressLine(): { show(title: string, percent: number, detail?: string): void; end(title: string, outcome: string): void } {
  const tty = process.stderr.isTTY === true;
  let lastShown = -1;
  return {
    show(title, percent, detail) {
      const pct = Math.max(0, Math.min(100, Math.round(percent)));
      if (tty) process.stderr.write(`\r${title}: ${String(pct).padStart(3)}%${detail ? ` (${detail})` : ''}\x1b[K`);
      else if (Math.floor(pct / 10) > Math.floor(lastShown / 10)) process.stderr.write(`${title}: ${pct}%${detail ? ` (${detail})` : ''}\n`);
      lastShown = pct;
    },
    end(title, outcome) {
      if (tty && lastShown >= 0) process.stderr.write(`\r${title}: ${outcome}\x1b[K\n`);
    },
  };
}

/**
 * Starts a job, shows its progress on stderr until it ends, and cancels it on Ctrl+C.
 * `detail` adds figures to the line (a migration's data sent); `cancelling` is what Ctrl+C says.
 */
export async function followJob(
  client: RpcClient,
  start: () => Promise<JobInfo>,
  opts: { readonly detail?: (j: JobInfo) => string | undefined; readonly cancelling?: string } = {},
): Promise<JobInfo> {
  const line = progressLine();
  let id: string | null = null;
  let title = '';
  const show = (j: JobInfo) => {
    if (j.id !== id || j.state !== 'running') return;
    line.show(j.title, j.percent, opts.detail?.(j));
  };
  const early: JobInfo[] = [];
  const off = client.on('job.progress', (j) => (id === null ? early.push(j) : show(j)));
  const onSigint = () => {
    if (id) {
      process.stderr.write(`\nnestbox: ${opts.cancelling ?? `cancelling ${title}`}...\n`);
      client.call('jobs.cancel', { id }).catch(() => undefined);
    }
  };
  process.on('SIGINT', onSigint);
  try {
    const job = await start();
    id = job.id;
    title = job.title;
    for (const j of early) show(j);
    const end = await client.call('jobs.wait', { id });
    line.end(end.title, end.state === 'done' ? '100%' : end.state);
    if (end.state !== 'done') throw end.error ? NestboxError.fromShape(end.error) : new NestboxError('INTERNAL', `${end.title}: ${end.state}`);
    return end;
  } finally {
    off();
    process.off('SIGINT', onSigint);
  }
}
