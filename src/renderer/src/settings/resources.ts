/**
 * The Resources settings as a form draft, and the diff that becomes `vms.modify`'s
 * `resources` (only what changed; null clears a setting).
 */
import type { ModifyVmSpec, ResourceConfig } from '../../../core/api/contract';

/** The form's values: text for numbers (empty = not set). */
export interface ResourceDraft {
  readonly cpuShares: string;
  readonly cpuLimitPct: string;
  readonly pinCpus: readonly number[];
  readonly memoryMaxMiB: string;
  readonly balloon: boolean;
  readonly memMerge: 'default' | 'on' | 'off';
  readonly sockets: string;
  readonly cores: string;
  readonly threads: string;
}

const str = (v: number | undefined) => (v === undefined ? '' : String(v));

export function resourceDraftOf(r: ResourceConfig | undefined): ResourceDraft {
  return {
    cpuShares: str(r?.cpuShares),
    cpuLimitPct: str(r?.cpuLimitPct),
    pinCpus: r?.pinCpus ?? [],
    memoryMaxMiB: str(r?.memoryMaxMiB),
    balloon: r?.balloon ?? false,
    memMerge: r?.memMerge === undefined ? 'default' : r.memMerge ? 'on' : 'off',
    sockets: str(r?.sockets),
    cores: str(r?.cores),
    threads: str(r?.threads),
  };
}

/** The `resources` part of a modify: only what differs; null clears. */
export function resourceChangesOf(cur: ResourceConfig | undefined, d: ResourceDraft): ModifyVmSpec['resources'] | undefined {
  const out: Record<string, unknown> = {};
  const num = (k: 'cpuShares' | 'cpuLimitPct' | 'memoryMaxMiB' | 'sockets' | 'cores' | 'threads') => {
    const v = d[k].trim() === '' ? undefined : Number(d[k]);
    if (v !== cur?.[k]) out[k] = v === undefined ? null : v;
  };
  num('cpuShares');
  num('cpuLimitPct');
  num('memoryMaxMiB');
  num('sockets');
  num('cores');
  num('threads');
  const pins = [...d.pinCpus].sort((a, b) => a - b);
  if (pins.join(',') !== (cur?.pinCpus ?? []).join(',')) out['pinCpus'] = pins.length ? pins : null;
  if (d.balloon !== (cur?.balloon ?? false)) out['balloon'] = d.balloon ? true : null;
  const mm = d.memMerge === 'default' ? undefined : d.memMerge === 'on';
  if (mm !== cur?.memMerge) out['memMerge'] = mm === undefined ? null : mm;
  return Object.keys(out).length ? (out as ModifyVmSpec['resources']) : undefined;
}

/** A message for the first invalid field, or null. */
export function resourceProblem(d: ResourceDraft, cpus: number, memoryMiB: number): string | null {
  const intIn = (v: string, lo: number, hi: number) => v.trim() === '' || (/^\d+$/.test(v.trim()) && Number(v) >= lo && Number(v) <= hi);
  if (!intIn(d.cpuShares, 1, 10000)) return 'CPU priority must be a whole number from 1 to 10000.';
  if (!intIn(d.cpuLimitPct, 1, 100)) return 'The CPU limit must be 1 to 100 percent of the host.';
  if (!intIn(d.memoryMaxMiB, memoryMiB, 4 * 1024 * 1024)) return `The memory ceiling must be at least the VM's memory (${memoryMiB} MiB).`;
  for (const k of ['sockets', 'cores', 'threads'] as const) if (!intIn(d[k], 1, 255)) return `${k} must be a whole number from 1 to 255.`;
  if (d.sockets || d.cores || d.threads) {
    const n = Number(d.sockets || 1) * Number(d.cores || 1) * Number(d.threads || 1);
    if (n !== cpus) return `Sockets × cores × threads is ${n}, but the VM has ${cpus} CPU${cpus > 1 ? 's' : ''}.`;
  }
  return null;
}

