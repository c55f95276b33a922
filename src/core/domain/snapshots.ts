/**
 * The snapshot tree as plain data. Every snapshot has a parent (or none, at the root); the
 * VM's "current state" hangs under the snapshot it was last taken after or restored from,
 * so taking a snapshot after a restore starts a branch, as in VirtualBox.
 */

export interface SnapshotNode {
  readonly id: string;
  readonly parentId: string | null;
  readonly name: string;
  readonly createdAt: string;
}

/** Children re-parented onto the deleted node's parent: the edges after deleting `id`. */
export function reparentOnDelete<T extends SnapshotNode>(nodes: readonly T[], id: string): { updates: { id: string; parentId: string | null }[] } {
  const victim = nodes.find((n) => n.id === id);
  if (!victim) return { updates: [] };
  return { updates: nodes.filter((n) => n.parentId === id).map((n) => ({ id: n.id, parentId: victim.parentId })) };
}

/** The ids of `id` and everything below it (for deleting a whole branch). */
export function subtree(nodes: readonly SnapshotNode[], id: string): string[] {
  const out: string[] = [];
  const walk = (x: string) => {
    out.push(x);
    for (const n of nodes) if (n.parentId === x) walk(n.id);
  };
  if (nodes.some((n) => n.id === id)) walk(id);
  return out;
}

/** Post-order (children first), so deleting in this order never orphans a node. */
export function deletionOrder(nodes: readonly SnapshotNode[], id: string): string[] {
  return subtree(nodes, id).reverse();
}

/** True when every referenced parent exists and there is no cycle. */
export function isWellFormed(nodes: readonly SnapshotNode[]): boolean {
  const ids = new Set(nodes.map((n) => n.id));
  for (const n of nodes) {
    if (n.parentId !== null && !ids.has(n.parentId)) return false;
    const seen = new Set<string>();
    for (let cur: SnapshotNode | undefined = n; cur && cur.parentId !== null; cur = nodes.find((m) => m.id === cur!.parentId)) {
      if (seen.has(cur.id)) return false;
      seen.add(cur.id);
    }
  }
  return true;
}
