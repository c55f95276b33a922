/**
 * The rows of the Port Forwarding table as pure data: which saved rules, ghosts of rules
 * taken out for an edit, and rows not saved yet are shown, in what order, and what each one's
 * draft and state are. The dialog keeps the React state and the calls; everything here is a
 * function of that state, so it can be tested without a browser.
 */
import { arrange, draftOf, sameDraft, type PortForward, type RuleDraft, type RuleField, type RuleProblems } from './rules';

/** A row's edit in progress; `attempted` turns on "required" messages after a first Save. */
export interface RowEdit {
  readonly draft: RuleDraft;
  readonly attempted: boolean;
}

export type Busy = 'save' | 'remove';

export interface Row {
  /** `rule:NAME` for a saved rule, `new:N` for one not saved yet. */
  readonly key: string;
  readonly saved: PortForward | null;
  readonly draft: RuleDraft;
  readonly dirty: boolean;
  readonly attempted: boolean;
}

export const ruleKey = (name: string) => `rule:${name}`;
export const cellKey = (row: string, field: RuleField | 'remove') => `${row}|${field}`;
export const FIELD_ORDER: readonly RuleField[] = ['name', 'protocol', 'hostAddress', 'hostPort', 'guestAddress', 'guestPort'];

export function without<K, V>(m: ReadonlyMap<K, V>, k: K): ReadonlyMap<K, V> {
  if (!m.has(k)) return m;
  const n = new Map(m);
  n.delete(k);
  return n;
}

export function withEntry<K, V>(m: ReadonlyMap<K, V>, k: K, v: V): ReadonlyMap<K, V> {
  const n = new Map(m);
  n.set(k, v);
  return n;
}

export interface TableState {
  /** The adapter's rules as the core last answered. */
  readonly saved: readonly PortForward[];
  /** Rules taken out for an edit and not back yet: their rows stay put meanwhile. */
  readonly ghosts: ReadonlyMap<string, PortForward>;
  /** The names in the order the user has been looking at them. */
  readonly order: readonly string[];
  readonly edits: ReadonlyMap<string, RowEdit>;
  /** Keys of rows not saved yet, in the order they were added. */
  readonly newKeys: readonly string[];
  readonly busy: ReadonlyMap<string, Busy>;
}

/**
 * The rows to show: saved rules (and ghosts) in the user's order, then the new rows. A new
 * row being saved hides the saved rule of its name that the core may already list, so the
 * rule is not shown twice while the answer is on its way.
 */
export function tableRows({ saved, ghosts, order, edits, newKeys, busy }: TableState): readonly Row[] {
  const savingNames = new Set(newKeys.filter((k) => busy.get(k) === 'save').map((k) => edits.get(k)?.draft.name));
  const all = [...saved, ...[...ghosts.values()].filter((g) => !saved.some((s) => s.name === g.name))];
  const savedRows = arrange(all, order)
    .filter((r) => !savingNames.has(r.name))
    .map((r): Row => {
      const key = ruleKey(r.name);
      const e = edits.get(key);
      const base = draftOf(r);
      return { key, saved: r, draft: e?.draft ?? base, dirty: e !== undefined && !sameDraft(e.draft, base), attempted: e?.attempted ?? false };
    });
  const fresh = newKeys.flatMap((key): Row[] => {
    const e = edits.get(key);
    return e ? [{ key, saved: null, draft: e.draft, dirty: true, attempted: e.attempted }] : [];
  });
  return [...savedRows, ...fresh];
}

/** The first cell (in the table's order) that has a problem: where focus goes after a refused save. */
export function firstProblemField(problems: RuleProblems): RuleField | undefined {
  return FIELD_ORDER.find((f) => problems[f] !== undefined);
}

/** The problem a cell shows: "Enter a port" waits for a save attempt; a wrong value is said as it is typed. */
export function shownProblem(row: Row, problems: RuleProblems, field: RuleField): string | undefined {
  const p = problems[field];
  if (p === undefined) return undefined;
  const empty = row.draft[field].trim() === '';
  return empty && !row.attempted ? undefined : p;
}

/** The footer's line: what is not saved yet, or how many rules there are and the keys. */
export function footerStatus(unsaved: number, savedCount: number): string {
  return unsaved > 0
    ? `${unsaved === 1 ? '1 row is' : `${unsaved} rows are`} not saved yet — press Enter in the row or click ✓ to apply; Esc discards.`
    : `${savedCount === 0 ? 'No rules' : savedCount === 1 ? '1 rule' : `${savedCount} rules`} · Tab moves between cells, Enter saves a row, Esc discards its changes.`;
}
