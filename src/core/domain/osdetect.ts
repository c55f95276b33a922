/**
 * Which OS an installer ISO holds, from the ISO's own metadata: its volume id, Debian and
 * Ubuntu's `.disk/info`, Windows' `sources/idwbinfo.txt` (readable only on ISOs that carry it
 * outside UDF) and the boot menu in `boot/grub/grub.cfg`. Pure: the storage layer reads these
 * (bounded) and hands them over. Used only where the person did not pick an OS type.
 */

export interface IsoFacts {
  readonly volumeId: string;
  readonly diskInfo: string | null;
  readonly idwbinfo: string | null;
  readonly grubCfg: string | null;
}

export interface OsGuess {
  readonly osType: string;
  /** What gave it away, for the person to judge ("volume id 'Debian 12.5.0 amd64 n'"). */
  readonly evidence: string;
}

interface Rule {
  readonly osType: string;
  readonly volume?: RegExp;
  readonly diskInfo?: RegExp;
  readonly grub?: RegExp;
}

/** Most specific first: Ubuntu before Debian (Ubuntu's grub.cfg mentions neither, but be safe). */
const RULES: readonly Rule[] = [
  { osType: 'linux-ubuntu', volume: /^Ubuntu/i, diskInfo: /^Ubuntu/i, grub: /(Try or Install|Install) Ubuntu/i },
  { osType: 'linux-debian', volume: /^Debian\b/i, diskInfo: /^Debian GNU\/Linux/i, grub: /Debian GNU\/Linux/i },
  { osType: 'linux-fedora', volume: /^Fedora[-_ ]/i, grub: /\bFedora\b/i },
  { osType: 'linux-arch', volume: /^ARCH_\d{6}/, grub: /Arch Linux/i },
  { osType: 'linux-alpine', volume: /^alpine[- ]/i },
  { osType: 'bsd-freebsd', volume: /^\d+_\d+_RELEASE_/i },
  { osType: 'bsd-openbsd', volume: /^OpenBSD\//i },
  { osType: 'bsd-netbsd', volume: /^NETBSD_\d+/i },
  // Windows install media labels: Win 7 (GRMC…, GSP1RMC…, *_CCSA_…), Server (SSS_…),
  // Win 10 enterprise evaluation (CENA_…), client media (CCCOMA_/CPBA_…, Windows 10 and 11 alike).
  { osType: 'windows-7', volume: /^(GRMC|GSP1RMC|[A-Z]_CCSA_)/ },
  { osType: 'windows-server-2022', volume: /^SSS_X64FRE/ },
  { osType: 'windows-10', volume: /^CENA_X64FRE/ },
  { osType: 'windows-11', volume: /^(CCCOMA|CPBA|CCSA)_X64FRE/ },
];

/** Windows' build branch names the release: vb = Windows 10 20H1–22H2, co/ni/ge = Windows 11, fe = Server 2022. */
function fromIdwbinfo(text: string): OsGuess | null {
  const branch = /^\s*BuildBranch\s*=\s*([a-z0-9]+)_/im.exec(text)?.[1]?.toLowerCase();
  if (!branch) return null;
  const ev = `sources/idwbinfo.txt BuildBranch ${branch}`;
  if (branch === 'fe') return { osType: 'windows-server-2022', evidence: ev };
  if (['co', 'ni', 'zn', 'ge', 'dt', 'br'].includes(branch)) return { osType: 'windows-11', evidence: ev };
  if (['vb', 'rs1', 'rs2', 'rs3', 'rs4', 'rs5', '19h1', 'th1', 'th2'].includes(branch)) return { osType: 'windows-10', evidence: ev };
  if (branch === 'win7') return { osType: 'windows-7', evidence: ev };
  return null;
}

export function detectOsFromIso(f: IsoFacts): OsGuess | null {
  if (f.idwbinfo) {
    const w = fromIdwbinfo(f.idwbinfo);
    if (w) return w;
  }
  const info = f.diskInfo?.trim() ?? '';
  for (const r of RULES) if (r.diskInfo && info && r.diskInfo.test(info)) return { osType: r.osType, evidence: `.disk/info '${info.slice(0, 80)}'` };
  for (const r of RULES) if (r.volume && r.volume.test(f.volumeId)) return { osType: r.osType, evidence: `volume id '${f.volumeId}'` };
  if (f.grubCfg) for (const r of RULES) if (r.grub && r.grub.test(f.grubCfg)) return { osType: r.osType, evidence: 'its boot menu (boot/grub/grub.cfg)' };
  return null;
}
