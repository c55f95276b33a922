/** Snapshots: the tree, take (live with RAM when running), restore, delete. */
import type { SnapshotInfo } from '../../core/api/contract';
import { NestboxError } from '../../core/api/errors';
import type { RpcClient } from '../../core/api/rpc';
import { describeState } from '../../core/domain/lifecycle';
import { formatBytes } from '../../core/domain/units';
import { command, type CommandGroup, req } from '../command';
import { formatMiB, out } from '../format';
import { progressLine } from '../progress';

/**
 * Takes a snapshot with a progress line on stderr while a running VM's memory is saved
 * (the core's `job.progress` for the VM's snapshot job), and Ctrl+C stopping it through `vms.cancel`: the take then
 * fails with the core's CANCELLED message (nothing kept, the VM keeps running), and so does
 * the command. A save that cannot be stopped (a paused VM's, or one that has just ended)
 * runs on to its end and the command says so.
 */
async function takeSnapshot(client: RpcClient, ref: string, name: string, description: string | undefined): Promise<SnapshotInfo> {
  const vm = await client.call('vms.info', { ref });
  const title = `Taking snapshot '${name}' of '${vm.name}'`;
  const line = progressLine();
  const off = client.on('job.progress', (e) => {
    if (e.vm !== vm.uuid || e.kind !== 'snapshot' || e.state !== 'running') return;
    const bytes = e.bytesTotal !== undefined && e.bytesTotal > 0 ? `memory ${formatBytes(Math.min(e.bytesDone ?? 0, e.bytesTotal))} of ${formatBytes(e.bytesTotal)}` : undefined;
    line.show(title, e.percent, bytes);
  });
  let outcome = 'failed';
  const onSigint = () => {
    process.stderr.write(`\nnestbox: stopping snapshot '${name}' of '${vm.name}'...\n`);
    client.call('vms.cancel', { ref: vm.uuid }).then(
      (r) => {
        if (!r.cancelled) process.stderr.write(`nestbox: it cannot be stopped at this point; waiting for it to finish\n`);
      },
      (err: unknown) => process.stderr.write(`nestbox: could not stop it: ${NestboxError.from(err).message}\n`),
    );
  };
  process.on('SIGINT', onSigint);
  try {
    const s = await client.call('snapshots.take', { ref: vm.uuid, name, ...(description ? { description } : {}) });
    outcome = '100%';
    return s;
  } catch (err) {
    if ((err as { code?: string }).code === 'CANCELLED') outcome = 'stopped';
    throw err;
  } finally {
    line.end(title, outcome);
    off();
    process.off('SIGINT', onSigint);
  }
}

const json = { type: 'boolean', help: 'machine-readable output' } as const;

/** Whether a live snapshot's disks are consistent on their own (nothing for one taken while off). */
export function freezeText(s: Pick<SnapshotInfo, 'frozen' | 'freezeNote'>): string {
  if (s.frozen === undefined) return '';
  return s.frozen ? ', consistent (file systems frozen)' : `, file systems not frozen${s.freezeNote ? ` (${s.freezeNote})` : ''}`;
}

const list = command({
  name: 'snapshot list',
  lead: 1,
  args: [req('NAME')],
  options: { json },
  summary: "the snapshot tree ('*' marks where the current state hangs)",
  async handler(ctx, [vm], o) {
    const l = await (await ctx.client()).call('snapshots.list', { ref: vm });
    if (o.json) out(JSON.stringify(l, null, 2));
    else if (l.snapshots.length === 0) out(`'${vm}' has no snapshots`);
    else {
      const print = (parent: string | null, depth: number) => {
        for (const s of l.snapshots.filter((x) => x.parentId === parent)) {
          out(`${'  '.repeat(depth)}${s.id === l.current ? '* ' : '- '}${s.name}  (${s.createdAt}${s.withRam ? ', with RAM' : ''}${freezeText(s)}${s.auto ? ', automatic' : ''})  ${s.id}`);
          print(s.id, depth + 1);
        }
      };
      print(null, 0);
    }
  },
});

const take = command({
  name: 'snapshot take',
  lead: 1,
  args: [req('NAME'), req('SNAP')],
  options: { description: { type: 'string', value: 'TEXT', help: 'a description' } },
  summary: 'live with RAM when running, disk only when off',
  details: "while a running VM's memory is saved: progress on stderr, Ctrl+C stops it (nothing is kept)",
  async handler(ctx, [vm, snap], o) {
    const s = await takeSnapshot(await ctx.client(), vm, snap, o.description);
    out(`Took snapshot '${s.name}' (${s.id})${s.withRam ? ' with RAM' : ''}${freezeText(s)}`);
  },
});

const restore = command({
  name: 'snapshot restore',
  lead: 1,
  args: [req('NAME'), req('SNAP')],
  options: {},
  summary: 'go back to a snapshot',
  async handler(ctx, [vm, snap]) {
    const r = await (await ctx.client()).call('snapshots.restore', { ref: vm, id: snap });
    out(`Restored '${snap}'; '${r.vm.name}' is ${describeState(r.vm.state)}`);
  },
});

const del = command({
  name: 'snapshot delete',
  lead: 1,
  args: [req('NAME'), req('SNAP')],
  options: {
    branch: { type: 'boolean', help: 'with everything below it' },
    'dry-run': { type: 'boolean', help: 'only show what goes' },
    json,
  },
  summary: 'delete a snapshot (its data merges into its children)',
  async handler(ctx, [vm, snap], o) {
    const c = await ctx.client();
    const branch = o.branch === true;
    if (branch || o['dry-run']) {
      const p = await c.call('snapshots.previewDelete', { ref: vm, id: snap, branch });
      if (o.json && o['dry-run']) {
        out(JSON.stringify(p, null, 2));
        return 0;
      }
      const names = p.snapshots.map((x) => `'${x.name}'`).join(', ');
      out(`${o['dry-run'] ? 'Would delete' : 'Deleting'} ${p.snapshots.length} snapshot${p.snapshots.length > 1 ? 's' : ''}: ${names}; frees about ${formatMiB(p.approxBytes)} (${formatMiB(p.ramBytes)} of it saved memory)`);
      if (o['dry-run']) return 0;
    }
    await c.call(branch ? 'snapshots.deleteBranch' : 'snapshots.delete', { ref: vm, id: snap });
    out(branch ? `Deleted the branch of '${snap}'` : `Deleted snapshot '${snap}'`);
    return 0;
  },
});

export const snapshotCommands: CommandGroup = {
  name: 'snapshots',
  title: 'Snapshots',
  commands: [list, take, restore, del],
};
