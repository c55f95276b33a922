/** How the Media Manager says who uses a medium. */
import type { MediumInfo } from '../../../core/api/contract';

/** Why the core would refuse to delete this medium, in words, or null. */
export function deleteBlocker(m: MediumInfo): string | null {
  if (m.usedBy.length === 0) return null;
  const parts = m.usedBy.map((u) => (u.current ? `${u.vm} (${u.device})` : `snapshots of ${u.vm}: ${u.snapshots.join(', ')}`));
  return `In use by ${parts.join('; ')}.`;
}

export function usageText(m: MediumInfo): string {
  if (m.usedBy.length === 0) return '—';
  return m.usedBy
    .map((u) => {
      const snaps = u.snapshots.length > 0 ? ` [${u.snapshots.length === 1 ? `snapshot ${u.snapshots[0]}` : `${u.snapshots.length} snapshots`}]` : '';
      return `${u.vm}${u.current ? '' : ' (snapshot only)'}${snaps}`;
    })
    .join(', ');
}
