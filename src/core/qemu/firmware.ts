/**
 * UEFI firmware chosen from QEMU's firmware descriptors (docs/interop/firmware.json), as
 * libvirt chooses: the descriptor directories are read in priority order (a file in
 * /etc/qemu/firmware or the user's config shadows one of the same name in
 * /usr/share/qemu/firmware, an empty one hides it), files are taken in name order, and the
 * first descriptor that fits the machine and has (or lacks) the wanted features wins. Paths
 * are never guessed: each distribution's package says where its images are and what they need.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface FirmwareImage {
  readonly filename: string;
  readonly format: 'raw' | 'qcow2';
}

export interface UefiFirmware {
  /** The descriptor file it came from (shown to users, so they can tell which one). */
  readonly descriptor: string;
  readonly description: string;
  readonly code: FirmwareImage;
  readonly varsTemplate: FirmwareImage;
  readonly features: readonly string[];
  /** Machine globs from the descriptor's x86_64 target (e.g. `pc-q35-*`). */
  readonly machines: readonly string[];
}

export interface FirmwareChoice {
  /** Plain UEFI: no Secure Boot, no SMM needed. */
  readonly plain: UefiFirmware | null;
  /** Secure Boot with keys enrolled (Microsoft's, so Windows and shim boot). */
  readonly secure: UefiFirmware | null;
}

/** The directories QEMU's firmware descriptors live in, highest priority first. */
export function descriptorDirs(): string[] {
  const forced = process.env['NESTBOX_FIRMWARE_DIRS'];
  if (forced !== undefined) return forced.split(path.delimiter).filter(Boolean);
  const config = process.env['XDG_CONFIG_HOME'] ?? path.join(os.homedir(), '.config');
  return ['/etc/qemu/firmware', path.join(config, 'qemu', 'firmware'), '/usr/share/qemu/firmware', '/opt/homebrew/share/qemu/firmware', '/usr/local/share/qemu/firmware'];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function image(v: unknown): FirmwareImage | null {
  if (!isObj(v) || typeof v['filename'] !== 'string') return null;
  const format = v['format'] ?? 'raw';
  if (format !== 'raw' && format !== 'qcow2') return null;
  return { filename: v['filename'], format };
}

/**
 * One descriptor's JSON as a UEFI flash firmware for x86_64, or null when it is anything
 * else (BIOS, another architecture, a memory-mapped or stateless image, malformed).
 */
export function parseDescriptor(file: string, text: string): UefiFirmware | null {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObj(j) || !strings(j['interface-types']).includes('uefi')) return null;
  const m = j['mapping'];
  if (!isObj(m) || m['device'] !== 'flash') return null;
  if (m['mode'] !== undefined && m['mode'] !== 'split') return null;
  const code = image(m['executable']);
  const varsTemplate = image(m['nvram-template']);
  if (!code || !varsTemplate) return null;
  const targets = Array.isArray(j['targets']) ? j['targets'].filter(isObj) : [];
  const x86 = targets.find((t) => t['architecture'] === 'x86_64');
  if (!x86) return null;
  return {
    descriptor: file,
    description: typeof j['description'] === 'string' ? j['description'] : path.basename(file),
    code,
    varsTemplate,
    features: strings(j['features']),
    machines: strings(x86['machines']),
  };
}

/** Matches a machine glob of a descriptor (`pc-q35-*`) against a machine type name. */
export function machineMatches(glob: string, machine: string): boolean {
  const re = new RegExp(`^${glob.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(machine);
}

/**
 * Picks the plain and the Secure Boot firmware from descriptors already in priority order.
 * The `q35` alias resolves to `pc-q35-<version>`, so descriptors are matched against that.
 */
export function chooseFirmware(list: readonly UefiFirmware[], exists: (f: string) => boolean = fs.existsSync): FirmwareChoice {
  const q35 = list.filter((f) => f.machines.some((g) => machineMatches(g, 'pc-q35-99.0')) && exists(f.code.filename) && exists(f.varsTemplate.filename));
  const has = (f: UefiFirmware, feature: string) => f.features.includes(feature);
  return {
    plain: q35.find((f) => !has(f, 'secure-boot') && !has(f, 'requires-smm') && !has(f, 'amd-sev-es') && !has(f, 'intel-tdx')) ?? null,
    secure: q35.find((f) => has(f, 'secure-boot') && has(f, 'enrolled-keys')) ?? null,
  };
}

/** Reads the descriptor directories (shadowing by file name, as QEMU's spec says). */
export function readDescriptors(dirs: readonly string[] = descriptorDirs()): UefiFirmware[] {
  const byName = new Map<string, string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) if (n.endsWith('.json') && !byName.has(n)) byName.set(n, path.join(dir, n));
  }
  const out: UefiFirmware[] = [];
  for (const name of [...byName.keys()].sort()) {
    const file = byName.get(name)!;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    // An empty file hides the descriptor of that name in lower-priority directories.
    if (text.trim() === '') continue;
    const fw = parseDescriptor(file, text);
    if (fw) out.push(fw);
  }
  return out;
}

/** What the host offers, from its descriptors. */
export function findUefiFirmware(): FirmwareChoice {
  return chooseFirmware(readDescriptors());
}
