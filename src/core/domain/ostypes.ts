import type { DiskBus, DisplayAdapter, Firmware, MachineType, NicModel } from './config';

/**
 * OS types with the defaults a wizard fills in, as VirtualBox's "Type/Version" does. The
 * family decides what the guest can drive without extra drivers (Windows has no virtio
 * drivers on its install media, so it gets e1000 and SATA).
 */
export type OsFamily = 'linux' | 'windows' | 'bsd' | 'other';

export interface OsPreset {
  readonly memoryMiB: number;
  readonly diskGiB: number;
  readonly cpus: number;
  readonly nicModel: NicModel;
  readonly diskBus: DiskBus;
  readonly firmware: Firmware;
  readonly machine: MachineType;
  readonly display: DisplayAdapter;
  /** UEFI Secure Boot on by default (needs firmware with enrolled keys). */
  readonly secureBoot?: boolean;
  /** A TPM 2.0 by default. */
  readonly tpm?: boolean;
}

export interface OsType {
  readonly id: string;
  readonly family: OsFamily;
  readonly label: string;
  readonly preset: OsPreset;
}

const linux: OsPreset = {
  memoryMiB: 2048, diskGiB: 20, cpus: 2, nicModel: 'virtio-net-pci', diskBus: 'virtio',
  firmware: 'bios', machine: 'q35', display: 'vga',
};
const windows: OsPreset = {
  memoryMiB: 4096, diskGiB: 64, cpus: 2, nicModel: 'e1000', diskBus: 'sata',
  firmware: 'uefi', machine: 'q35', display: 'vga',
};
/**
 * Windows 11 and Server 2022/2025: their installers refuse a PC without UEFI Secure Boot and
 * a TPM 2.0, and carry drivers for SATA (AHCI) and the Intel 82574 (e1000e), not virtio.
 */
const windows11: OsPreset = { ...windows, nicModel: 'e1000e', secureBoot: true, tpm: true };
const bsd: OsPreset = {
  memoryMiB: 1024, diskGiB: 16, cpus: 1, nicModel: 'virtio-net-pci', diskBus: 'virtio',
  firmware: 'bios', machine: 'q35', display: 'vga',
};
const other: OsPreset = {
  memoryMiB: 512, diskGiB: 8, cpus: 1, nicModel: 'e1000', diskBus: 'sata',
  firmware: 'bios', machine: 'q35', display: 'vga',
};

export const OS_TYPES: readonly OsType[] = [
  { id: 'linux-debian', family: 'linux', label: 'Debian', preset: linux },
  { id: 'linux-ubuntu', family: 'linux', label: 'Ubuntu', preset: { ...linux, diskGiB: 25, memoryMiB: 4096 } },
  { id: 'linux-fedora', family: 'linux', label: 'Fedora', preset: { ...linux, diskGiB: 25, memoryMiB: 4096, firmware: 'uefi' } },
  { id: 'linux-arch', family: 'linux', label: 'Arch Linux', preset: linux },
  { id: 'linux-alpine', family: 'linux', label: 'Alpine Linux', preset: { ...linux, memoryMiB: 512, diskGiB: 8, cpus: 1 } },
  { id: 'linux-other', family: 'linux', label: 'Other Linux', preset: { ...linux, memoryMiB: 1024, diskGiB: 16 } },
  { id: 'windows-11', family: 'windows', label: 'Windows 11', preset: windows11 },
  { id: 'windows-10', family: 'windows', label: 'Windows 10', preset: { ...windows, memoryMiB: 2048, diskGiB: 50 } },
  { id: 'windows-server-2022', family: 'windows', label: 'Windows Server 2022', preset: windows11 },
  { id: 'windows-server-2025', family: 'windows', label: 'Windows Server 2025', preset: windows11 },
  { id: 'windows-7', family: 'windows', label: 'Windows 7', preset: { ...windows, memoryMiB: 1024, diskGiB: 32, firmware: 'bios', diskBus: 'ide' } },
  { id: 'bsd-freebsd', family: 'bsd', label: 'FreeBSD', preset: bsd },
  { id: 'bsd-openbsd', family: 'bsd', label: 'OpenBSD', preset: { ...bsd, nicModel: 'e1000' } },
  { id: 'bsd-netbsd', family: 'bsd', label: 'NetBSD', preset: bsd },
  { id: 'other', family: 'other', label: 'Other', preset: other },
];

export function findOsType(id: string): OsType | undefined {
  return OS_TYPES.find((t) => t.id === id);
}

/** Lower case, runs of spaces, dots and underscores as one '-': 'Windows 11' → 'windows-11'. */
const squash = (s: string) => s.trim().toLowerCase().replace(/[\s._]+/g, '-');

/**
 * What a person typed for an OS type, as `nestbox ostypes` lists it: the id, its name in any
 * case ('Windows 11', 'arch linux'), or the id without its family ('debian', 'server-2022').
 * Undefined when nothing, or more than one type, answers to it.
 */
export function matchOsType(input: string): OsType | undefined {
  const exact = findOsType(input);
  if (exact) return exact;
  const q = squash(input);
  if (q === '') return undefined;
  const byName = OS_TYPES.filter((t) => t.id === q || squash(t.label) === q);
  if (byName.length === 1) return byName[0];
  const bySuffix = OS_TYPES.filter((t) => t.id.slice(t.id.indexOf('-') + 1) === q || t.id.endsWith(`-${q}`));
  return bySuffix.length === 1 ? bySuffix[0] : undefined;
}

/** The OS types whose id or name contains what was typed: what an error may suggest. */
export function similarOsTypes(input: string): OsType[] {
  const q = squash(input);
  if (q.length < 2) return [];
  return OS_TYPES.filter((t) => t.id.includes(q) || squash(t.label).includes(q));
}

/** Error text for an OS type nothing answers to, with the near ones when there are some. */
export function unknownOsTypeMessage(input: string): string {
  const near = similarOsTypes(input);
  const hint = near.length ? `did you mean ${near.map((t) => `'${t.id}'`).join(', ')}? ` : '';
  return `unknown OS type '${input}' (${hint}see 'nestbox ostypes')`;
}
