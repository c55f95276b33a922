/**
 * What the Media Manager and its small dialogs share: format names, file-name helpers, and
 * the size notation the user types.
 */
import type { MediumFormat } from '../../../core/api/contract';
import type { DiskFormat } from '../../../core/domain/config';
import { baseName } from '../util/format';

export const FORMAT_LABELS: Record<MediumFormat, string> = {
  qcow2: 'QCOW2',
  raw: 'Raw',
  vdi: 'VDI',
  vmdk: 'VMDK',
  vpc: 'VHD',
  vhdx: 'VHDX',
  iso: 'ISO 9660',
};
export const FORMAT_EXT: Record<DiskFormat, string> = { qcow2: 'qcow2', raw: 'img', vdi: 'vdi', vmdk: 'vmdk', vpc: 'vhd', vhdx: 'vhdx' };
export const TARGET_FORMATS: readonly DiskFormat[] = ['qcow2', 'raw', 'vdi', 'vmdk', 'vpc', 'vhdx'];

export function dirOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i > 0 ? p.slice(0, i) : p;
}

export function stemOf(p: string): string {
  return baseName(p).replace(/\.[A-Za-z0-9]+$/, '');
}

/** Sizes as the user types them ("20", "20G", "512M"), in the core's notation; null if unusable. */
export function sizeSpec(text: string): string | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT])?(?:i?B)?\s*$/i.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'G').toUpperCase();
  if (!(n > 0)) return null;
  if (Number.isInteger(n)) return `${n}${unit}`;
  const mult: Record<string, number> = { K: 1, M: 1024, G: 1024 * 1024, T: 1024 * 1024 * 1024 };
  return `${Math.round(n * mult[unit]!)}K`;
}

export function parseSpecBytes(spec: string): number {
  const m = /^(\d+)([KMGT])$/.exec(spec);
  if (!m) return Number.NaN;
  const p = { K: 1, M: 2, G: 3, T: 4 }[m[2] as 'K' | 'M' | 'G' | 'T'];
  return Number(m[1]) * 1024 ** p;
}

