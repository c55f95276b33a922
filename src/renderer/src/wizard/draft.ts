/**
 * The New VM wizard's state as one plain value, with the rules that drive it: presets fill
 * what the user has not touched, each step has one blocking problem (or none), and the
 * draft turns into the core's CreateVmSpec. Kept free of React so the rules read in one place.
 */
import type { CreateVmSpec, HostInfo, OsType } from '../../../core/api/contract';
import { assertNever } from '../../../core/api/errors';
import type { Firmware } from '../model/labels';
import { checkMinimums, type MinimumShortfall } from '../../../core/domain/osminimums';
import { checkPassword, parseIdentity, seedKindFor, UnattendedError } from '../../../core/domain/unattended';
import { cpusProblem, groupProblem, isAbsolutePath, memoryProblem, pathProblem, vmNameProblem } from '../util/validation';

export type DiskMode = 'new' | 'existing' | 'none';
export type PresetField = 'memory' | 'cpus' | 'firmware' | 'diskSize' | 'secureBoot' | 'tpm';

export interface Draft {
  readonly name: string;
  readonly osType: string;
  readonly group: string;
  /** Path of the ISO on the host, '' for none. */
  readonly iso: string;
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly firmware: Firmware;
  /** UEFI Secure Boot (sent only with UEFI). */
  readonly secureBoot: boolean;
  /** A TPM 2.0 (swtpm). */
  readonly tpm: boolean;
  readonly diskMode: DiskMode;
  /** As typed, in GiB; decimals allowed. */
  readonly diskSizeGiB: string;
  readonly diskPath: string;
  /** Fields the user changed by hand; a new OS type no longer overwrites them. */
  readonly touched: ReadonlySet<PresetField>;
  /** "Install automatically" (unattended install or cloud-image setup). */
  readonly unattended: UnattendedDraft;
  /** Clipboard text between the console and the guest's desktop. */
  readonly clipboard: boolean;
  /** A host folder to share with the guest ('' for none), and whether the guest may only read it. */
  readonly share: string;
  readonly shareReadOnly: boolean;
}

export interface UnattendedDraft {
  readonly enabled: boolean;
  readonly user: string;
  /** Kept only in the wizard's memory until Finish sends it to the core. */
  readonly password: string;
  readonly hostname: string;
  readonly timezone: string;
  readonly locale: string;
  readonly productKey: string;
}

export const NO_UNATTENDED: UnattendedDraft = { enabled: false, user: '', password: '', hostname: '', timezone: 'UTC', locale: 'en_US', productKey: '' };

export const STEPS = ['Name and operating system', 'Installation media', 'Hardware', 'Hard disk', 'Summary'] as const;
export type StepIndex = 0 | 1 | 2 | 3 | 4;

/** The type the wizard starts with: a common Linux, else whatever the host lists first. */
export function defaultOsType(types: readonly OsType[]): OsType | undefined {
  return types.find((t) => t.id === 'linux-debian') ?? types.find((t) => t.family === 'linux') ?? types[0];
}

export function initialDraft(host: HostInfo): Draft {
  const base: Draft = {
    name: '',
    osType: '',
    group: '',
    iso: '',
    memoryMiB: 1024,
    cpus: 1,
    firmware: 'bios',
    secureBoot: false,
    tpm: false,
    diskMode: 'new',
    diskSizeGiB: '20',
    diskPath: '',
    touched: new Set(),
    unattended: NO_UNATTENDED,
    clipboard: true,
    share: '',
    shareReadOnly: false,
  };
  const t = defaultOsType(host.osTypes);
  return t ? withOsType(base, t, host) : base;
}

/** Picks a type and applies its preset to every field the user has not edited. */
export function withOsType(d: Draft, t: OsType, host: HostInfo): Draft {
  const p = t.preset;
  const keep = (f: PresetField) => d.touched.has(f);
  return {
    ...d,
    osType: t.id,
    memoryMiB: keep('memory') ? d.memoryMiB : Math.max(16, Math.min(p.memoryMiB, host.memoryMiB)),
    cpus: keep('cpus') ? d.cpus : Math.max(1, Math.min(p.cpus, host.cpus)),
    firmware: keep('firmware') ? d.firmware : p.firmware === 'uefi' && host.firmware.uefi === null ? 'bios' : p.firmware,
    diskSizeGiB: keep('diskSize') ? d.diskSizeGiB : String(p.diskGiB),
    // What the host cannot give is left off here; the Hardware step says why.
    secureBoot: keep('secureBoot') ? d.secureBoot : p.secureBoot === true && (host.firmware.secureBoot ?? null) !== null,
    tpm: keep('tpm') ? d.tpm : p.tpm === true && (host.swtpm ?? null) !== null,
  };
}

export function touch<K extends keyof Draft>(d: Draft, key: K, value: Draft[K], field?: PresetField): Draft {
  return { ...d, [key]: value, touched: field ? new Set([...d.touched, field]) : d.touched };
}

/** Disk size in GiB, or NaN when the text is not a usable size. */
export function diskSizeValue(text: string): number {
  return /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : Number.NaN;
}

const MAX_DISK_GIB = 64 * 1024;

export interface StepContext {
  readonly host: HostInfo;
  readonly takenNames: readonly string[];
}

/** The one thing that keeps a step from going on, in words, or null. */
export function stepProblem(step: StepIndex, d: Draft, ctx: StepContext): string | null {
  switch (step) {
    case 0:
      return vmNameProblem(d.name, ctx.takenNames) ?? (d.osType === '' ? 'Choose the type of operating system.' : null) ?? groupProblem(d.group);
    case 1:
      return (d.iso === '' || isAbsolutePath(d.iso.trim()) ? null : 'The ISO path must be absolute (for example /home/me/debian.iso).') ?? unattendedProblem(d);
    case 2:
      return (
        memoryProblem(d.memoryMiB, ctx.host.memoryMiB) ??
        cpusProblem(d.cpus, ctx.host.cpus) ??
        (d.firmware === 'uefi' && ctx.host.firmware.uefi === null ? 'UEFI firmware is not installed on this host.' : null) ??
        unattendedShortfall(d, ['memoryMiB', 'cpus'])
      );
    case 3:
      if (d.unattended.enabled) {
        const p = unattendedShortfall(d, ['diskGiB']) ?? unattendedProblem(d);
        if (p) return p;
        if (d.diskMode === 'none') return 'An automatic install needs a disk to install to.';
        if (d.iso.trim() === '' && d.diskMode !== 'existing') return 'An automatic install needs the installer ISO, or a cloud image chosen as an existing disk.';
      }
      switch (d.diskMode) {
        case 'new': {
          const g = diskSizeValue(d.diskSizeGiB);
          if (!Number.isFinite(g)) return 'Enter the disk size in GiB (for example 20).';
          if (g < 0.0625) return 'The disk must be at least 0.0625 GiB (64 MiB).';
          if (g > MAX_DISK_GIB) return `The disk can be at most ${MAX_DISK_GIB.toLocaleString()} GiB.`;
          return null;
        }
        case 'existing':
          return pathProblem(d.diskPath, 'disk image');
        case 'none':
          return null;
        default:
          return assertNever(d.diskMode, 'disk mode');
      }
    case 4:
      return d.share.trim() === '' || isAbsolutePath(d.share.trim()) ? null : 'The shared folder must be an absolute path (for example /home/me/shared).';
    default:
      return assertNever(step, 'wizard step');
  }
}

/** Where the draft falls short of its OS's minimums (shown as warnings; blocking for an automatic install). */
export function minimumShortfalls(d: Draft): readonly MinimumShortfall[] {
  const g = diskSizeValue(d.diskSizeGiB);
  return checkMinimums(d.osType, { memoryMiB: d.memoryMiB, cpus: d.cpus, diskBytes: d.diskMode === 'new' && Number.isFinite(g) ? g * 1024 ** 3 : null });
}

function unattendedShortfall(d: Draft, fields: readonly MinimumShortfall['field'][]): string | null {
  if (!d.unattended.enabled) return null;
  const s = minimumShortfalls(d).find((x) => fields.includes(x.field));
  return s ? `An automatic install needs more: ${s.message}.` : null;
}

/**
 * What is wrong with the "Install automatically" entries, in words (the core's own rules,
 * domain/unattended.ts, so the wizard and the core agree), or null. The ISO or disk decides the
 * kind: a disk image with no ISO is a cloud image.
 */
export function unattendedProblem(d: Draft): string | null {
  const u = d.unattended;
  if (!u.enabled) return null;
  // No ISO means a cloud image, picked as an existing disk on the next steps (checked there).
  const cloud = d.iso.trim() === '';
  try {
    const kind = seedKindFor(d.osType, cloud);
    if (u.user === '') return 'Enter the user name to create.';
    checkPassword(u.password);
    parseIdentity({ user: u.user, hostname: u.hostname || undefined, timezone: u.timezone || undefined, locale: u.locale || undefined, productKey: u.productKey || undefined }, kind, d.name || 'vm');
    return null;
  } catch (err) {
    if (err instanceof UnattendedError) return err.message.charAt(0).toUpperCase() + err.message.slice(1) + '.';
    throw err;
  }
}

/** Sizes go to the core in MiB so fractional GiB stay exact. */
function diskSizeSpec(gib: number): string {
  return `${Math.round(gib * 1024)}M`;
}

export function toSpec(d: Draft): CreateVmSpec {
  const disk: Pick<CreateVmSpec, 'diskSize' | 'disk' | 'noDisk'> =
    d.diskMode === 'new' ? { diskSize: diskSizeSpec(diskSizeValue(d.diskSizeGiB)) } : d.diskMode === 'existing' ? { disk: d.diskPath.trim() } : { noDisk: true };
  return {
    name: d.name,
    osType: d.osType,
    memoryMiB: d.memoryMiB,
    cpus: d.cpus,
    firmware: d.firmware,
    // Sent when on or changed by hand, so unticking a preset's Secure Boot/TPM sticks.
    ...(d.secureBoot || d.touched.has('secureBoot') ? { secureBoot: d.firmware === 'uefi' && d.secureBoot } : {}),
    ...(d.tpm || d.touched.has('tpm') ? { tpm: d.tpm } : {}),
    ...disk,
    ...(d.iso.trim() ? { iso: d.iso.trim() } : {}),
    ...(d.group.trim() ? { group: d.group.trim() } : {}),
    ...(d.clipboard ? {} : { clipboard: false }),
    ...(d.share.trim() ? { shares: [{ path: d.share.trim(), ...(d.shareReadOnly ? { readOnly: true } : {}) }] } : {}),
    ...(d.unattended.enabled
      ? {
          unattended: {
            user: d.unattended.user,
            password: d.unattended.password,
            ...(d.unattended.hostname ? { hostname: d.unattended.hostname } : {}),
            ...(d.unattended.timezone ? { timezone: d.unattended.timezone } : {}),
            ...(d.unattended.locale ? { locale: d.unattended.locale } : {}),
            ...(d.unattended.productKey ? { productKey: d.unattended.productKey } : {}),
          },
        }
      : {}),
  };
}
