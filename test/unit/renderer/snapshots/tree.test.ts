/** The snapshot tree as rows: order, levels, connectors, collapsing, and a damaged tree. */
import { describe, expect, it } from 'vitest';
import type { SnapshotInfo, SnapshotList } from '../../../../src/core/api/contract';
import { ancestorsOf, beforeRestoringName, CURRENT_STATE, defaultSnapshotName, MAX_NAME, visibleRows } from '../../../../src/renderer/src/snapshots/tree';

const snap = (id: string, parentId: string | null, createdAt: string, name = id): SnapshotInfo => ({ id, parentId, createdAt, name }) as unknown as SnapshotInfo;
const list = (snapshots: SnapshotInfo[], current: string | null): SnapshotList => ({ snapshots, current }) as unknown as SnapshotList;

//  a ─┬─ b ── d
//     └─ c ── (current)
const tree = list(
  [snap('d', 'b', '2026-01-04'), snap('c', 'a', '2026-01-03'), snap('b', 'a', '2026-01-02'), snap('a', null, '2026-01-01')],
  'c',
);

describe('visibleRows', () => {
  it('puts snapshots under their parents, oldest first, and the current state under the snapshot it hangs from', () => {
    const rows = visibleRows(tree, new Set());
    expect(rows.map((r) => [r.id, r.level, r.parentId])).toEqual([
      ['a', 1, null],
      ['b', 2, 'a'],
      ['d', 3, 'b'],
      ['c', 2, 'a'],
      [CURRENT_STATE, 3, 'c'],
    ]);
    expect(rows.find((r) => r.id === CURRENT_STATE)!.snapshot).toBeNull();
  });

  it('gives the ARIA set size, position and the connector of the last sibling', () => {
    const rows = visibleRows(tree, new Set());
    const b = rows.find((r) => r.id === 'b')!;
    const c = rows.find((r) => r.id === 'c')!;
    expect([b.setSize, b.posInSet, b.last]).toEqual([2, 1, false]);
    expect([c.setSize, c.posInSet, c.last]).toEqual([2, 2, true]);
    // d sits below b, which has a sibling after it: a guide line passes through d's column.
    expect(rows.find((r) => r.id === 'd')!.guides).toEqual([true]);
    expect(rows.find((r) => r.id === CURRENT_STATE)!.guides).toEqual([false]);
  });

  it('hides what is under a collapsed snapshot, which says it has children', () => {
    const rows = visibleRows(tree, new Set(['b']));
    expect(rows.map((r) => r.id)).toEqual(['a', 'b', 'c', CURRENT_STATE]);
    const b = rows.find((r) => r.id === 'b')!;
    expect([b.hasChildren, b.expanded]).toEqual([true, false]);
  });

  it('shows only the current state for a VM without snapshots', () => {
    expect(visibleRows(list([], null), new Set()).map((r) => [r.id, r.level])).toEqual([[CURRENT_STATE, 1]]);
  });

  it('keeps a snapshot whose parent is missing, at the root', () => {
    const rows = visibleRows(list([snap('a', null, '1'), snap('orphan', 'gone', '2')], 'a'), new Set());
    expect(rows.filter((r) => r.level === 1).map((r) => r.id)).toEqual(['a', 'orphan']);
  });

  it('does not hang on a cycle, and shows each snapshot at most once', () => {
    const rows = visibleRows(list([snap('x', 'y', '1'), snap('y', 'x', '2'), snap('r', null, '0')], null), new Set());
    const ids = rows.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain(CURRENT_STATE);
  });

  it('orders snapshots taken at the same time by name', () => {
    const rows = visibleRows(list([snap('2', null, 't', 'Beta'), snap('1', null, 't', 'Alpha')], null), new Set());
    expect(rows.map((r) => r.snapshot?.name ?? 'current')).toEqual(['Alpha', 'Beta', 'current']);
  });
});

describe('ancestorsOf', () => {
  it('lists the ancestors nearest first, for a snapshot and for the current state', () => {
    expect(ancestorsOf(tree, 'd')).toEqual(['b', 'a']);
    expect(ancestorsOf(tree, CURRENT_STATE)).toEqual(['c', 'a']);
    expect(ancestorsOf(tree, 'a')).toEqual([]);
  });
  it('stops on a cycle and knows nothing of an unknown id', () => {
    expect(ancestorsOf(list([snap('x', 'y', '1'), snap('y', 'x', '2')], null), 'x')).toEqual(['y', 'x']);
    expect(ancestorsOf(tree, 'nope')).toEqual([]);
  });
});

describe('names', () => {
  it('proposes "Snapshot N" one past the count, skipping names in use', () => {
    expect(defaultSnapshotName(null)).toBe('Snapshot 1');
    expect(defaultSnapshotName(list([snap('a', null, '1', 'Snapshot 2')], null))).toBe('Snapshot 3');
    expect(defaultSnapshotName(list([snap('a', null, '1', 'base')], null))).toBe('Snapshot 2');
  });
  it('names the pre-restore snapshot within the core limit', () => {
    expect(beforeRestoringName('clean')).toBe('Before restoring clean');
    const long = beforeRestoringName('n'.repeat(200));
    expect(long).toHaveLength(MAX_NAME);
    expect(long.startsWith('Before restoring nnn')).toBe(true);
    expect(long.endsWith('…')).toBe(true);
  });
});
