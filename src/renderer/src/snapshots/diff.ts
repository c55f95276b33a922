/**
 * What a snapshot's configuration was, in words, next to what it is now. Restoring brings
 * the old configuration back, so the user sees beforehand which settings will change.
 */
import type { VmConfig } from '../../../core/api/contract';
import { bootLabel, busLabel, displayLabel, firmwareLabel, formatLabel, machineLabel, nicModeLabel, nicModelLabel } from '../model/labels';
import { baseName, formatMiB } from '../util/format';

export interface ConfigRow {
  /** Stable across both configs (a disk is matched by its id, not its position). */
  readonly key: string;
  readonly label: string;
  /** The value at snapshot time; null when the device did not exist then. */
  readonly then: string | null;
  /** The value now; null when the device is gone now. */
  readonly now: string | null;
  readonly changed: boolean;
}

interface Entry {
  readonly key: string;
  readonly label: string;
  readonly value: string;
}

function entries(c: VmConfig): Entry[] {
  const out: Entry[] = [
    { key: 'memory', label: 'Memory', value: formatMiB(c.memoryMiB) },
    { key: 'cpus', label: 'Processors', value: String(c.cpus) },
    { key: 'firmware', label: 'Firmware', value: firmwareLabel(c.firmware) },
    { key: 'machine', label: 'Chipset', value: machineLabel(c.machine) },
  ];
  c.disks.forEach((d, i) =>
    out.push({
      key: `disk:${d.id}`,
      label: c.disks.length > 1 ? `Disk ${i + 1}` : 'Disk',
      value: `${baseName(d.file)} (${formatLabel(d.format)}, ${busLabel(d.bus)}${d.readOnly ? ', read-only' : ''})`,
    }),
  );
  c.cdroms.forEach((cd, i) =>
    out.push({ key: `cdrom:${cd.id}`, label: c.cdroms.length > 1 ? `CD/DVD ${i + 1}` : 'CD/DVD', value: cd.iso ? baseName(cd.iso) : 'Empty' }),
  );
  c.nics.forEach((n, i) =>
    out.push({ key: `nic:${n.id}`, label: c.nics.length > 1 ? `Network ${i + 1}` : 'Network', value: `${nicModeLabel(n.mode)}, ${nicModelLabel(n.model)}` }),
  );
  out.push(
    { key: 'display', label: 'Display', value: displayLabel(c.display.adapter) },
    { key: 'boot', label: 'Boot order', value: c.bootOrder.length ? c.bootOrder.map(bootLabel).join(', ') : 'Default' },
    { key: 'serial', label: 'Serial port', value: c.serial.enabled ? 'Enabled' : 'Disabled' },
  );
  return out;
}

/** The snapshot's settings row by row, each marked where it differs from now. */
export function configRows(then: VmConfig, now: VmConfig): ConfigRow[] {
  const a = entries(then);
  const b = entries(now);
  const nowByKey = new Map(b.map((e) => [e.key, e]));
  const rows: ConfigRow[] = a.map((e) => {
    const n = nowByKey.get(e.key);
    return { key: e.key, label: e.label, then: e.value, now: n?.value ?? null, changed: n?.value !== e.value };
  });
  // Devices added since the snapshot come after the rest, in the order they have now.
  const thenKeys = new Set(a.map((e) => e.key));
  for (const e of b) if (!thenKeys.has(e.key)) rows.push({ key: e.key, label: e.label, then: null, now: e.value, changed: true });
  if (then.osType !== now.osType) rows.push({ key: 'os', label: 'Type', then: then.osType, now: now.osType, changed: true });
  return rows;
}

export function changedRows(then: VmConfig, now: VmConfig): ConfigRow[] {
  return configRows(then, now).filter((r) => r.changed);
}

/** One line per change, as "Memory: 256 MiB → 320 MiB now". */
export function changeText(r: ConfigRow): string {
  return `${r.label}: ${r.then ?? 'none'} → ${r.now ?? 'removed'} now`;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * True when the virtual hardware differs (name, description and group aside). The core
 * then refuses a live restore, because QEMU cannot load RAM into a different machine.
 */
export function hardwareDiffers(then: VmConfig, now: VmConfig): boolean {
  const strip = (c: VmConfig) => ({ ...c, name: '', description: '', group: '' });
  return !deepEqual(strip(then), strip(now));
}
