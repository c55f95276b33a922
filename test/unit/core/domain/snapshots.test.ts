import { describe, expect, it } from 'vitest';
import { deletionOrder, isWellFormed, reparentOnDelete, subtree, type SnapshotNode } from '../../../../src/core/domain/snapshots';

const n = (id: string, parentId: string | null): SnapshotNode => ({ id, parentId, name: id, createdAt: '2026-01-01T00:00:00Z' });
//   a ─ b ─ d
//    └─ c
const tree = [n('a', null), n('b', 'a'), n('c', 'a'), n('d', 'b')];

describe('snapshot tree', () => {
  it('re-parents the children of a deleted snapshot onto its parent', () => {
    expect(reparentOnDelete(tree, 'b').updates).toEqual([{ id: 'd', parentId: 'a' }]);
    expect(reparentOnDelete(tree, 'a').updates).toEqual([
      { id: 'b', parentId: null },
      { id: 'c', parentId: null },
    ]);
    expect(reparentOnDelete(tree, 'd').updates).toEqual([]);
    expect(reparentOnDelete(tree, 'zz').updates).toEqual([]);
  });

  it('finds a branch and orders its deletion children first', () => {
    expect(subtree(tree, 'a').sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(subtree(tree, 'b')).toEqual(['b', 'd']);
    const order = deletionOrder(tree, 'a');
    expect(order.indexOf('d')).toBeLessThan(order.indexOf('b'));
    expect(order.at(-1)).toBe('a');
  });

  it('stays well formed after any single deletion with re-parenting', () => {
    for (const victim of tree) {
      const { updates } = reparentOnDelete(tree, victim.id);
      const after = tree.filter((x) => x.id !== victim.id).map((x) => ({ ...x, parentId: updates.some((u) => u.id === x.id) ? updates.find((u) => u.id === x.id)!.parentId : x.parentId }));
      expect(isWellFormed(after)).toBe(true);
    }
    expect(isWellFormed([n('x', 'y')])).toBe(false);
    expect(isWellFormed([n('x', 'y'), n('y', 'x')])).toBe(false);
  });
});
