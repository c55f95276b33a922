/**
 * Formatting for the UI. These mirror the core's own wording (binary units, the state
 * names VirtualBox users know) but live here because the renderer may import only the api
 * and domain *types*, never domain code.
 */

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

export function formatBytes(bytes: number): string {
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = v >= 10 || i === 0 || Number.isInteger(v) ? 0 : 1;
  return `${v.toFixed(digits)} ${BYTE_UNITS[i] ?? 'B'}`;
}

/** Memory as people read it: "512 MiB", "2 GiB", "1.5 GiB". */
export function formatMiB(mib: number): string {
  return formatBytes(mib * 1024 * 1024);
}

/** The last path segment, for either separator (the host may be Windows). */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay
    ? d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function pluralize(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}
