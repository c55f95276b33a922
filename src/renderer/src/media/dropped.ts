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

/** A file the browser gave, with its path inside what was dropped or chosen (`MyVM/Snapshots/{…}.vdi`; a lone file: its name). */
export interface PickedFile {
  readonly file: File;
  readonly rel: string;
}

/**
 * What one drop (or choice) becomes: single files as before, and machines whose files belong
 * together (web mode uploads them into one folder, in the layout the descriptor names):
 * `descriptor` is its path inside that folder (a `.vbox`/`.xml` file, or the `.utm` folder).
 */
export type DropItem =
  | { readonly kind: 'file'; readonly file: File }
  | { readonly kind: 'machine'; readonly descriptor: string; readonly descriptorFile: File | null; readonly files: readonly PickedFile[] };

/**
 * Files of a machine's folder that no import reads and that can be large or many: VirtualBox
 * logs, saved states and backup copies of the .vbox, UTM's screenshot, ISOs (CD drives come
 * empty), hidden files (`.DS_Store`, editors' files).
 */
function notNeeded(rel: string): boolean {
  const parts = rel.split('/');
  if (parts.some((p) => p.startsWith('.'))) return true;
  if (parts.slice(0, -1).some((p) => p === 'Logs')) return true;
  return /\.(log(\.\d+)?|sav|vbox-prev|vbox-tmp|png|iso)$/i.test(rel);
}

const dirOf = (rel: string): string => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
const under = (rel: string, folder: string): boolean => folder === '' || rel.startsWith(`${folder}/`);
const below = (rel: string, folder: string): string => (folder === '' ? rel : rel.slice(folder.length + 1));

/**
 * Groups what was dropped: every file inside a `.utm` folder is that bundle; a `.vbox` or a
 * domain `.xml` takes the files in its folder and below (the disks it names are there), minus
 * those no import reads; the rest are single files. Paths inside a machine are relative to the
 * descriptor's folder (the `.utm` folder's parent). A `.vbox` or `.xml` dropped with nothing
 * beside it is a machine of one file (the import says which disk files it misses).
 */
export function groupDrop(picked: readonly PickedFile[]): DropItem[] {
  const items: DropItem[] = [];
  const taken = new Set<PickedFile>();
  const bundles = new Map<string, PickedFile[]>();
  for (const p of picked) {
    const parts = p.rel.split('/');
    const i = parts.slice(0, -1).findIndex((x) => /\.utm$/i.test(x));
    if (i < 0) continue;
    const root = parts.slice(0, i + 1).join('/');
    bundles.set(root, [...(bundles.get(root) ?? []), p]);
    taken.add(p);
  }
  for (const [root, files] of bundles) {
    const parent = dirOf(root);
    items.push({
      kind: 'machine',
      descriptor: below(root, parent),
      descriptorFile: null,
      files: files.filter((f) => !notNeeded(below(f.rel, root))).map((f) => ({ file: f.file, rel: below(f.rel, parent) })),
    });
  }
  const descriptors = picked.filter((p) => !taken.has(p) && /\.(vbox|xml)$/i.test(p.rel));
  for (const d of descriptors) taken.add(d);
  // The deepest descriptor whose folder holds a file owns it.
  const folders = descriptors.map((d) => dirOf(d.rel)).sort((a, b) => b.length - a.length);
  const owned = new Map<string, PickedFile[]>();
  for (const p of picked) {
    if (taken.has(p)) continue;
    const folder = folders.find((f) => under(p.rel, f));
    if (folder === undefined) continue;
    if (notNeeded(below(p.rel, folder))) {
      // An ISO or appliance dropped beside the machine file (not from inside a dropped folder) is the user's own item.
      if (!p.rel.includes('/') && classifyDrop(p.rel) !== 'unknown') continue;
      taken.add(p);
      continue;
    }
    taken.add(p);
    owned.set(folder, [...(owned.get(folder) ?? []), p]);
  }
  for (const d of descriptors) {
    const folder = dirOf(d.rel);
    const files = [d, ...(owned.get(folder) ?? [])].map((f) => ({ file: f.file, rel: below(f.rel, folder) }));
    items.push({ kind: 'machine', descriptor: below(d.rel, folder), descriptorFile: d.file, files });
  }
  for (const p of picked) if (!taken.has(p)) items.push({ kind: 'file', file: p.file });
  return items;
}

/** The name a drop item goes by in dialogs and messages. */
export function dropItemName(item: DropItem): string {
  return item.kind === 'file' ? item.file.name : (item.descriptor.split('/').pop() ?? item.descriptor);
}
