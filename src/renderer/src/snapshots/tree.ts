/**
 * The snapshot tree as the view shows it: a flat list of visible rows in display order,
 * each with its ARIA position (level, set size, position) and the connector lines to draw.
 * A flat list with `aria-level` is one of the two tree shapes WAI-ARIA allows, and it keeps
 * keyboard navigation a matter of moving through an array.
 */
import type { SnapshotInfo, SnapshotList } from '../../../core/api/contract';

/** The id of the "Current state" node; snapshot ids are UUIDs, so it cannot collide. */
export const CURRENT_STATE = 'current-state';

interface Node {
  readonly id: string;
  readonly snapshot: SnapshotInfo | null;
  readonly children: Node[];
}

export interface TreeRow {
  readonly id: string;
  /** null for the "Current state" row. */
  readonly snapshot: SnapshotInfo | null;
  /** 1-based, as aria-level. */
  readonly level: number;
  readonly setSize: number;
  readonly posInSet: number;
  readonly parentId: string | null;
  readonly hasChildren: boolean;
  readonly expanded: boolean;
  /** The last of its siblings: its connector ends here. */
  readonly last: boolean;
  /** For each connector column left of its own (levels 2 .. level-1): does a line pass through? */
  readonly guides: readonly boolean[];
}

const byTime = (a: Node, b: Node): number => {
  const ta = a.snapshot?.createdAt ?? '';
  const tb = b.snapshot?.createdAt ?? '';
  return ta < tb ? -1 : ta > tb ? 1 : (a.snapshot?.name ?? '').localeCompare(b.snapshot?.name ?? '');
};

/**
 * Snapshots under their parents, oldest first; "Current state" last under the snapshot it
 * hangs from (at the root before the first snapshot). A snapshot whose parent is missing
 * is shown at the root rather than lost.
 */
function buildNodes(list: SnapshotList): Node[] {
  const nodes = new Map<string, Node>();
  for (const s of list.snapshots) nodes.set(s.id, { id: s.id, snapshot: s, children: [] });
  const roots: Node[] = [];
  for (const n of nodes.values()) {
    const parent = n.snapshot?.parentId != null ? nodes.get(n.snapshot.parentId) : undefined;
    if (parent && parent !== n) parent.children.push(n);
    else roots.push(n);
  }
  for (const n of nodes.values()) n.children.sort(byTime);
  roots.sort(byTime);
  const current: Node = { id: CURRENT_STATE, snapshot: null, children: [] };
  const anchor = list.current !== null ? nodes.get(list.current) : undefined;
  (anchor ? anchor.children : roots).push(current);
  return roots;
}

export function visibleRows(list: SnapshotList, collapsed: ReadonlySet<string>): TreeRow[] {
  const out: TreeRow[] = [];
  const seen = new Set<string>();
  const visit = (siblings: readonly Node[], level: number, parentId: string | null, chain: readonly boolean[]): void => {
    siblings.forEach((n, i) => {
      // A corrupt tree with a cycle must not hang the window.
      if (seen.has(n.id)) return;
      seen.add(n.id);
      const last = i === siblings.length - 1;
      const hasChildren = n.children.length > 0;
      const expanded = hasChildren && !collapsed.has(n.id);
      out.push({ id: n.id, snapshot: n.snapshot, level, setSize: siblings.length, posInSet: i + 1, parentId, hasChildren, expanded, last, guides: chain });
      if (expanded) visit(n.children, level + 1, n.id, level >= 2 ? [...chain, !last] : []);
    });
  };
  visit(buildNodes(list), 1, null, []);
  return out;
}

/** The ids of a snapshot's ancestors, nearest first (to reveal a row inside collapsed branches). */
export function ancestorsOf(list: SnapshotList, id: string): string[] {
  const byId = new Map(list.snapshots.map((s) => [s.id, s]));
  const out: string[] = [];
  let cur = id === CURRENT_STATE ? list.current : (byId.get(id)?.parentId ?? null);
  while (cur !== null && !out.includes(cur)) {
    out.push(cur);
    cur = byId.get(cur)?.parentId ?? null;
  }
  return out;
}

/** VirtualBox's default name: "Snapshot N", N one past the count, skipping names in use. */
export function defaultSnapshotName(list: SnapshotList | null): string {
  const used = new Set(list?.snapshots.map((s) => s.name) ?? []);
  let n = (list?.snapshots.length ?? 0) + 1;
  while (used.has(`Snapshot ${n}`)) n++;
  return `Snapshot ${n}`;
}

export const MAX_NAME = 128;
export const MAX_DESCRIPTION = 10_000;

/** The pre-restore snapshot's name, kept within the core's 128 characters. */
export function beforeRestoringName(name: string): string {
  const prefix = 'Before restoring ';
  const room = MAX_NAME - prefix.length;
  return prefix + (name.length > room ? `${name.slice(0, room - 1)}…` : name);
}
