/**
 * What a file dropped on the Manager becomes, decided from its name alone (the core inspects
 * the content and refuses what is not what the name says): an ISO opens the New VM wizard,
 * a disk image the import dialog, an OVA/OVF or another manager's machine (a VirtualBox
 * `.vbox`, a libvirt domain `.xml`, a UTM `.utm` bundle) the import dialog as an appliance. Also the VM
 * name and OS type a file name suggests. Pure, so the rules read (and test) in one place.
 */
import type { OsType } from '../../../core/api/contract';

export type DropKind = 'iso' | 'disk' | 'appliance' | 'unknown';

const DISK_EXTENSIONS = new Set(['qcow2', 'qcow', 'raw', 'img', 'vdi', 'vmdk', 'vhd', 'vhdx']);
/** Machine files of other managers; the core reads their content and refuses what is not one. */
const MACHINE_EXTENSIONS = new Set(['vbox', 'xml', 'utm']);

export function extensionOf(fileName: string): string {
  const m = /\.([A-Za-z0-9]+)$/.exec(fileName);
  return m ? m[1]!.toLowerCase() : '';
}

export function classifyDrop(fileName: string): DropKind {
  const ext = extensionOf(fileName);
  if (ext === 'iso') return 'iso';
  if (ext === 'ova' || ext === 'ovf' || MACHINE_EXTENSIONS.has(ext)) return 'appliance';
  if (DISK_EXTENSIONS.has(ext)) return 'disk';
  return 'unknown';
}

/** The extensions the drop overlay names, for the message about an unknown file. */
export const ACCEPTED_DESCRIPTION = 'ISO, QCOW2, raw/IMG, VDI, VMDK, VHD, VHDX, OVA, OVF, VirtualBox .vbox, libvirt domain .xml or UTM .utm';

/**
 * A VM name from a file name: the extension dropped, characters a VM name may not hold
 * replaced, unique against the names taken ("debian-12.iso" → "debian-12", then "debian-12 (2)").
 */
export function vmNameFromFile(fileName: string, taken: readonly string[], maxLength = 64): string {
  const stem = fileName.replace(/\.[A-Za-z0-9]+$/, '');
  let base = stem
    .replace(/[^A-Za-z0-9 ._()+-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .trim()
    .slice(0, maxLength - 5)
    .trim();
  if (base === '') base = 'Imported VM';
  const lower = new Set(taken.map((t) => t.toLowerCase()));
  if (!lower.has(base.toLowerCase())) return base;
  for (let i = 2; ; i++) {
    const candidate = `${base} (${i})`;
    if (!lower.has(candidate.toLowerCase())) return candidate;
  }
}

/** Words in file names and volume labels, most specific first, and the OS type each means. */
const OS_HINTS: readonly (readonly [RegExp, string])[] = [
  [/win(dows)?[ _.-]?11|win11/i, 'windows-11'],
  [/win(dows)?[ _.-]?10|win10/i, 'windows-10'],
  [/win(dows)?[ _.-]?7\b|win7/i, 'windows-7'],
  [/server[ _.-]?2022|srv2022|^SSS_X64FRE/i, 'windows-server-2022'],
  [/^(CCCOMA|CPBA|CCSA)_X64FRE/i, 'windows-11'],
  [/ubuntu|kubuntu|xubuntu|lubuntu/i, 'linux-ubuntu'],
  [/debian/i, 'linux-debian'],
  [/fedora/i, 'linux-fedora'],
  [/archlinux|\barch[ _.-]|^ARCH_\d/i, 'linux-arch'],
  [/alpine/i, 'linux-alpine'],
  [/freebsd/i, 'bsd-freebsd'],
  [/openbsd|^install\d{2}\.iso$/i, 'bsd-openbsd'],
  [/netbsd/i, 'bsd-netbsd'],
  [/linux|mint|centos|rocky|alma|opensuse|manjaro|kali|gentoo|slackware|nixos/i, 'linux-other'],
  [/windows|\bwin\b/i, 'windows-11'],
];

/** The OS type a file name (or an ISO's volume label) suggests, among those the host offers; undefined when nothing fits. */
export function guessOsType(hint: string, types: readonly OsType[]): OsType | undefined {
  for (const [re, id] of OS_HINTS) {
    if (re.test(hint)) {
      const t = types.find((x) => x.id === id);
      if (t) return t;
    }
  }
  return undefined;
}
