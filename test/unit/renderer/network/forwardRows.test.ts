/** The Port Forwarding table's rows as data: what is shown, in what order, dirty or not, and the footer. */
import { describe, expect, it } from 'vitest';
import {
  cellKey,
  firstProblemField,
  footerStatus,
  ruleKey,
  shownProblem,
  tableRows,
  withEntry,
  without,
  type Busy,
  type Row,
  type RowEdit,
  type TableState,
} from '../../../../src/renderer/src/network/forwardRows';
import { draftOf, newDraft, type PortForward, type RuleDraft } from '../../../../src/renderer/src/network/rules';

const rule = (over: Partial<PortForward> = {}): PortForward => ({ name: 'ssh', protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestAddress: '', guestPort: 22, ...over });
const ssh = rule();
const web = rule({ name: 'web', hostPort: 8080, guestPort: 80 });
const state = (over: Partial<TableState> = {}): TableState => ({
  saved: [ssh, web],
  ghosts: new Map(),
  order: [],
  edits: new Map(),
  newKeys: [],
  busy: new Map(),
  ...over,
});
const edit = (draft: RuleDraft, attempted = false): RowEdit => ({ draft, attempted });

describe('tableRows', () => {
  it('lists saved rules clean, keyed by name, in the core order', () => {
    const rows = tableRows(state());
    expect(rows.map((r) => r.key)).toEqual(['rule:ssh', 'rule:web']);
    expect(rows.every((r) => !r.dirty && !r.attempted)).toBe(true);
    expect(rows[0]!.draft).toEqual(draftOf(ssh));
  });

  it('keeps the order the user saw and puts unknown rules after it', () => {
    const extra = rule({ name: 'dns', protocol: 'udp', hostPort: 5353, guestPort: 53 });
    const rows = tableRows(state({ saved: [ssh, web, extra], order: ['web', 'ssh'] }));
    expect(rows.map((r) => r.saved?.name)).toEqual(['web', 'ssh', 'dns']);
  });

  it('marks a saved rule dirty only when its draft really differs (spaces do not count)', () => {
    const same = edit({ ...draftOf(ssh), hostPort: ' 2222 ' });
    expect(tableRows(state({ edits: new Map([[ruleKey('ssh'), same]]) }))[0]!.dirty).toBe(false);
    const changed = edit({ ...draftOf(ssh), hostPort: '2223' }, true);
    const row = tableRows(state({ edits: new Map([[ruleKey('ssh'), changed]]) }))[0]!;
    expect(row).toMatchObject({ dirty: true, attempted: true, draft: { hostPort: '2223' } });
  });

  it('shows a ghost (a rule taken out for an edit) where it was, once', () => {
    const rows = tableRows(state({ saved: [web], ghosts: new Map([['ssh', ssh]]), order: ['ssh', 'web'] }));
    expect(rows.map((r) => r.key)).toEqual(['rule:ssh', 'rule:web']);
    const both = tableRows(state({ ghosts: new Map([['ssh', ssh]]) }));
    expect(both.map((r) => r.key)).toEqual(['rule:ssh', 'rule:web']);
  });

  it('appends new rows, dirty, and drops a key that has no edit', () => {
    const d = newDraft(['ssh', 'web']);
    const rows = tableRows(state({ edits: new Map([['new:1', edit(d)]]), newKeys: ['new:1', 'new:2'] }));
    expect(rows.map((r) => r.key)).toEqual(['rule:ssh', 'rule:web', 'new:1']);
    expect(rows[2]).toEqual({ key: 'new:1', saved: null, draft: d, dirty: true, attempted: false });
  });

  it('hides the saved rule a new row is saving, so it is not shown twice', () => {
    const d: RuleDraft = { ...draftOf(web), name: 'web' };
    const busy = new Map<string, Busy>([['new:1', 'save']]);
    const rows = tableRows(state({ edits: new Map([['new:1', edit(d)]]), newKeys: ['new:1'], busy }));
    expect(rows.map((r) => r.key)).toEqual(['rule:ssh', 'new:1']);
    const removing = new Map<string, Busy>([['new:1', 'remove']]);
    expect(tableRows(state({ edits: new Map([['new:1', edit(d)]]), newKeys: ['new:1'], busy: removing })).map((r) => r.key)).toEqual([
      'rule:ssh',
      'rule:web',
      'new:1',
    ]);
  });
});

describe('cells and problems', () => {
  const row = (draft: RuleDraft, attempted: boolean): Row => ({ key: 'new:1', saved: null, draft, dirty: true, attempted });

  it('names a cell by row and field', () => {
    expect(cellKey(ruleKey('ssh'), 'hostPort')).toBe('rule:ssh|hostPort');
    expect(cellKey('new:3', 'remove')).toBe('new:3|remove');
  });

  it('finds the first problem in the table order', () => {
    expect(firstProblemField({ guestPort: 'x', hostPort: 'y' })).toBe('hostPort');
    expect(firstProblemField({ name: 'x', guestPort: 'y' })).toBe('name');
    expect(firstProblemField({})).toBeUndefined();
  });

  it('holds back "required" until a save was tried, but says a wrong value at once', () => {
    const d = { ...newDraft([]), hostPort: '', guestPort: 'abc' };
    const problems = { hostPort: 'Enter a port.', guestPort: 'Whole numbers only.' };
    expect(shownProblem(row(d, false), problems, 'hostPort')).toBeUndefined();
    expect(shownProblem(row(d, true), problems, 'hostPort')).toBe('Enter a port.');
    expect(shownProblem(row(d, false), problems, 'guestPort')).toBe('Whole numbers only.');
    expect(shownProblem(row(d, true), problems, 'name')).toBeUndefined();
  });
});

describe('footerStatus', () => {
  it('counts unsaved rows first, then rules', () => {
    expect(footerStatus(1, 3)).toBe('1 row is not saved yet — press Enter in the row or click ✓ to apply; Esc discards.');
    expect(footerStatus(2, 0)).toBe('2 rows are not saved yet — press Enter in the row or click ✓ to apply; Esc discards.');
    expect(footerStatus(0, 0)).toBe('No rules · Tab moves between cells, Enter saves a row, Esc discards its changes.');
    expect(footerStatus(0, 1)).toBe('1 rule · Tab moves between cells, Enter saves a row, Esc discards its changes.');
    expect(footerStatus(0, 4)).toBe('4 rules · Tab moves between cells, Enter saves a row, Esc discards its changes.');
  });
});

describe('map helpers', () => {
  it('return a new map on change and the same one when nothing is removed', () => {
    const m: ReadonlyMap<string, number> = new Map([['a', 1]]);
    expect(without(m, 'b')).toBe(m);
    const n = without(m, 'a');
    expect(n).not.toBe(m);
    expect(n.size).toBe(0);
    expect(m.size).toBe(1);
    const w = withEntry(m, 'b', 2);
    expect([...w]).toEqual([['a', 1], ['b', 2]]);
    expect(m.has('b')).toBe(false);
  });
});
