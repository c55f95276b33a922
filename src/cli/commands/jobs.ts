/** Jobs: the long operations in flight, and cancelling one. */
import { command, type CommandGroup, req } from '../command';
import { out, table } from '../format';

const list = command({
  name: 'jobs',
  args: [],
  options: { json: { type: 'boolean', help: 'machine-readable output' } },
  summary: 'storage jobs and VM operations in flight (clone, conversion, snapshot, save)',
  async handler(ctx, _args, o) {
    const jobs = await (await ctx.client()).call('jobs.list', {});
    if (o.json) out(JSON.stringify(jobs, null, 2));
    else if (jobs.length === 0) out('No jobs.');
    else out(table([['ID', 'STATE', 'PERCENT', 'TITLE'], ...jobs.map((j) => [j.id, j.state, `${j.percent}%`, j.title + (j.error ? ` (${j.error.message})` : '')])]));
  },
});

const cancel = command({
  name: 'jobs cancel',
  args: [req('ID')],
  options: {},
  summary: 'cancel a job (its partial output is removed)',
  async handler(ctx, [id]) {
    const j = await (await ctx.client()).call('jobs.cancel', { id });
    out(`${j.title}: ${j.state}`);
  },
});

export const jobCommands: CommandGroup = { name: 'jobs', title: 'Jobs', commands: [list, cancel] };
