/**
 * What each OS needs at least, as its maker states it, so the wizard and `nestbox create` can
 * say why a VM is too small before its installer stops or crawls. Kept apart from the presets
 * (ostypes.ts): a preset is a comfortable default, a minimum is the floor.
 */

export interface OsMinimum {
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly diskGiB: number;
  /** Whose figures these are, shown with a shortfall. */
  readonly source: string;
}

export const OS_MINIMUMS: Readonly<Record<string, OsMinimum>> = {
  'windows-11': { memoryMiB: 4096, cpus: 2, diskGiB: 64, source: "Microsoft's Windows 11 requirements (its installer refuses less)" },
  'windows-10': { memoryMiB: 2048, cpus: 1, diskGiB: 32, source: "Microsoft's Windows 10 (64-bit) requirements" },
  'windows-server-2022': { memoryMiB: 2048, cpus: 1, diskGiB: 32, source: "Microsoft's Windows Server 2022 requirements (Desktop Experience)" },
  'windows-server-2025': { memoryMiB: 2048, cpus: 1, diskGiB: 32, source: "Microsoft's Windows Server 2025 requirements (Desktop Experience)" },
  'windows-7': { memoryMiB: 1024, cpus: 1, diskGiB: 16, source: "Microsoft's Windows 7 requirements (32-bit; the 64-bit edition needs 2 GiB and 20 GB)" },
  'linux-debian': { memoryMiB: 512, cpus: 1, diskGiB: 4, source: "the Debian installation guide (installer without a desktop)" },
  'linux-ubuntu': { memoryMiB: 1536, cpus: 1, diskGiB: 5, source: "Ubuntu Server's installer, which runs from memory" },
  'linux-fedora': { memoryMiB: 2048, cpus: 1, diskGiB: 15, source: "Fedora Workstation's minimum requirements" },
  'linux-arch': { memoryMiB: 512, cpus: 1, diskGiB: 2, source: 'the Arch Linux installation guide' },
  'linux-alpine': { memoryMiB: 128, cpus: 1, diskGiB: 1, source: "Alpine Linux's installation notes" },
  'bsd-freebsd': { memoryMiB: 256, cpus: 1, diskGiB: 2, source: "the FreeBSD Handbook's minimums" },
};

export interface MinimumShortfall {
  readonly field: 'memoryMiB' | 'cpus' | 'diskGiB';
  readonly message: string;
}

/** What falls short of the OS's minimum; `diskBytes` null means no new disk (an image or none). */
export function checkMinimums(osType: string, hw: { readonly memoryMiB: number; readonly cpus: number; readonly diskBytes: number | null }): readonly MinimumShortfall[] {
  const m = OS_MINIMUMS[osType];
  if (!m) return [];
  const out: MinimumShortfall[] = [];
  if (hw.memoryMiB < m.memoryMiB) out.push({ field: 'memoryMiB', message: `${hw.memoryMiB} MiB of memory is less than the ${m.memoryMiB} MiB this OS needs (${m.source})` });
  if (hw.cpus < m.cpus) out.push({ field: 'cpus', message: `${hw.cpus} CPU${hw.cpus > 1 ? 's is' : ' is'} fewer than the ${m.cpus} this OS needs (${m.source})` });
  if (hw.diskBytes !== null && hw.diskBytes < m.diskGiB * 1024 ** 3) {
    out.push({ field: 'diskGiB', message: `a ${Math.round((hw.diskBytes / 1024 ** 3) * 10) / 10} GiB disk is smaller than the ${m.diskGiB} GiB this OS needs (${m.source})` });
  }
  return out;
}
