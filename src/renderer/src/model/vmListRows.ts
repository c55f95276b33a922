/**
 * The rows of the machine list, apart from drawing them: which rows there are (host and group
 * headers, VMs in natural order, filtered), how tall each kind is, which row a scroll position
 * falls on, and the VM the list shows first. Pure, so the windowed list (components/VmList.tsx)
 * and the Manager's default selection share it and unit tests reach it without React.
 */
import type { HostSummary, OsType, VmSummary } from '../../../core/api/contract';
import { hostLine } from '../hosts/useHosts';
import { stateLabel } from './vmState';

export const GROUP_HEIGHT = 30;
export const HOST_HEIGHT = 48;
export const ROW_HEIGHT = 50;
export const OVERSCAN_PX = 400;

export type Row =
  | { readonly kind: 'group'; readonly key: string; readonly label: string; readonly count: number }
  /** A host's header: "This computer" (host null) or a libvirt host with its status line. */
  | { readonly kind: 'host'; readonly key: string; readonly label: string; readonly host: HostSummary | null; readonly line: string; readonly count: number }
  | { readonly kind: 'vm'; readonly key: string; readonly vm: VmSummary; readonly pos: number };

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/**
 * Ungrouped VMs first (no header), then each group under its header, names in natural order.
 * With libvirt hosts, this computer's VMs come under "This computer" and each host's VMs
 * under the host's header (its status, versions, CPUs and memory, or why it is unreachable).
 */
export function buildRows(vms: readonly VmSummary[], filter: string, osTypes: readonly OsType[] | undefined, hosts?: readonly HostSummary[]): readonly Row[] {
  const q = filter.trim().toLowerCase();
  const label = (id: string) => osTypes?.find((t) => t.id === id)?.label ?? id;
  const matches = q
    ? vms.filter((v) => v.name.toLowerCase().includes(q) || v.group.toLowerCase().includes(q) || label(v.osType).toLowerCase().includes(q) || stateLabel(v.state).toLowerCase().includes(q) || (v.host ?? '').toLowerCase().includes(q))
    : vms;
  const hostNames = [...new Set([...(hosts ?? []).map((h) => h.name), ...vms.flatMap((v) => (v.host !== undefined ? [v.host] : []))])].sort((a, b) => collator.compare(a, b));
  if (hostNames.length === 0) return localRows(matches, 0);
  const local = matches.filter((v) => v.host === undefined);
  const rows: Row[] = [{ kind: 'host', key: 'h:', label: 'This computer', host: null, line: '', count: local.length }];
  rows.push(...localRows(local, 0));
  let pos = local.length;
  for (const name of hostNames) {
    const h = hosts?.find((x) => x.name === name) ?? null;
    const members = matches.filter((v) => v.host === name).sort((a, b) => collator.compare(a.name, b.name));
    rows.push({ kind: 'host', key: `h:${name}`, label: name, host: h, line: h ? hostLine(h) : '', count: members.length });
    // Keyed by host too: while a VM migrates, both hosts list it under the same UUID.
    for (const vm of members) rows.push({ kind: 'vm', key: `${name}:${vm.uuid}`, vm, pos: ++pos });
  }
  return rows;
}

/**
 * The VM the list shows first, in one pass over the inventory instead of the sort buildRows
 * makes (the Manager's default selection, at every list update): this computer's VMs before
 * any host's, ungrouped before grouped, then group, host and name in natural order.
 */
export function firstInListOrder(vms: readonly VmSummary[]): VmSummary | null {
  // Groups (and hosts) whose names collate alike ("Prod", "prod") keep the order they first appear in, as in buildRows.
  const seen = new Map<string, number>();
  let best: VmSummary | null = null;
  for (const v of vms) {
    const key = v.host !== undefined ? `h:${v.host}` : `g:${v.group}`;
    if (!seen.has(key)) seen.set(key, seen.size);
    if (best === null || listsBefore(v, best, seen)) best = v;
  }
  return best;
}

/** True when the list shows `a` before `b` (strictly: a tie keeps the earlier one, as the stable sort does). */
function listsBefore(a: VmSummary, b: VmSummary, seen: ReadonlyMap<string, number>): boolean {
  if ((a.host === undefined) !== (b.host === undefined)) return a.host === undefined;
  if (a.host !== undefined && b.host !== undefined) {
    const h = collator.compare(a.host, b.host);
    if (h !== 0) return h < 0;
    if (a.host !== b.host) return (seen.get(`h:${a.host}`) ?? 0) < (seen.get(`h:${b.host}`) ?? 0);
  } else {
    if ((a.group === '') !== (b.group === '')) return a.group === '';
    const g = collator.compare(a.group, b.group);
    if (g !== 0) return g < 0;
    if (a.group !== b.group) return (seen.get(`g:${a.group}`) ?? 0) < (seen.get(`g:${b.group}`) ?? 0);
  }
  return collator.compare(a.name, b.name) < 0;
}

function localRows(matches: readonly VmSummary[], start: number): Row[] {
  const groups = new Map<string, VmSummary[]>();
  for (const v of matches) {
    const g = groups.get(v.group);
    if (g) g.push(v);
    else groups.set(v.group, [v]);
  }
  const names = [...groups.keys()].sort((a, b) => (a === '' ? -1 : b === '' ? 1 : collator.compare(a, b)));
  const rows: Row[] = [];
  let pos = start;
  for (const name of names) {
    const members = (groups.get(name) ?? []).sort((a, b) => collator.compare(a.name, b.name));
    if (name !== '') rows.push({ kind: 'group', key: `g:${name}`, label: name, count: members.length });
    for (const vm of members) rows.push({ kind: 'vm', key: vm.uuid, vm, pos: ++pos });
  }
  return rows;
}

export function rowHeight(r: Row): number {
  return r.kind === 'group' ? GROUP_HEIGHT : r.kind === 'host' ? (r.host ? HOST_HEIGHT : GROUP_HEIGHT) : ROW_HEIGHT;
}

/** Index of the last row whose top is at or above `y`. */
export function rowAt(tops: readonly number[], y: number): number {
  let lo = 0;
  let hi = tops.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((tops[mid] ?? 0) <= y) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
