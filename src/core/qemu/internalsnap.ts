/**
 * qcow2 internal snapshots of a running VM's disks through QMP, without RAM: taken on every
 * node in one transaction (all or none), deleted node by node, and listed per node.
 */
import { qemuCommands } from './commands';
import type { QmpClient } from './qmp';

/** Snapshots every node under one tag, atomically. */
export async function snapshotNodes(qmp: QmpClient, nodes: readonly string[], tag: string): Promise<void> {
  await qemuCommands(qmp).blockdevSnapshotInternal(nodes, tag);
}

/** Deletes the tag from every node that has it; errors (a node without it) are ignored. */
export async function dropNodeSnapshots(qmp: QmpClient, nodes: readonly string[], tag: string): Promise<void> {
  const cmd = qemuCommands(qmp);
  for (const node of nodes) await cmd.blockdevSnapshotDeleteInternal(node, tag).catch(() => undefined);
}

/** Internal snapshot tags per qcow2 node. */
export async function nodeTags(qmp: QmpClient): Promise<Map<string, Set<string>>> {
  const nodes = await qmp.execute<{ 'node-name': string; drv: string; image?: { snapshots?: { name: string }[] } }[]>('query-named-block-nodes', { flat: true });
  const out = new Map<string, Set<string>>();
  for (const n of nodes) if (n.drv === 'qcow2') out.set(n['node-name'], new Set((n.image?.snapshots ?? []).map((s) => s.name)));
  return out;
}
