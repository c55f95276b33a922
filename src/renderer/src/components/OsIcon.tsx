/**
 * OS-family marks drawn inline: the CSP allows no remote images and the package ships no
 * logo assets, so each is a few SVG shapes that read at 16–40 px.
 */
import Box from '@mui/material/Box';
import { alpha, useTheme } from '@mui/material/styles';
import type { OsType } from '../../../core/api/contract';
import { assertNever } from '../../../core/api/errors';

export type OsFamily = OsType['family'];

/** The family of an OS type id ("linux-debian" → linux), for VMs whose type the host no longer lists. */
export function familyOf(osType: string, types: readonly OsType[] | undefined): OsFamily {
  const t = types?.find((x) => x.id === osType);
  if (t) return t.family;
  if (osType.startsWith('linux')) return 'linux';
  if (osType.startsWith('windows')) return 'windows';
  if (osType.startsWith('bsd')) return 'bsd';
  return 'other';
}

function Glyph({ family }: { readonly family: OsFamily }) {
  switch (family) {
    case 'linux':
      return (
        <>
          <ellipse cx="12" cy="13.4" rx="6.6" ry="8.6" fill="#23262d" />
          <ellipse cx="12" cy="15.6" rx="4.3" ry="5.9" fill="#ffffff" />
          <circle cx="10.1" cy="8.1" r="1.35" fill="#ffffff" />
          <circle cx="13.9" cy="8.1" r="1.35" fill="#ffffff" />
          <circle cx="10.3" cy="8.3" r="0.6" fill="#23262d" />
          <circle cx="13.7" cy="8.3" r="0.6" fill="#23262d" />
          <ellipse cx="12" cy="10.6" rx="2.1" ry="1.05" fill="#f4a51c" />
          <ellipse cx="8.4" cy="21.6" rx="2.9" ry="1.25" fill="#f4a51c" />
          <ellipse cx="15.6" cy="21.6" rx="2.9" ry="1.25" fill="#f4a51c" />
        </>
      );
    case 'windows':
      return (
        <g fill="#0a74da">
          <path d="M3 5.2 10.6 4.1v7.3H3z" />
          <path d="M11.6 3.95 21 2.6v8.8h-9.4z" />
          <path d="M3 12.6h7.6v7.3L3 18.8z" />
          <path d="M11.6 12.6H21v8.8l-9.4-1.35z" />
        </g>
      );
    case 'bsd':
      return (
        <>
          <path d="M5.2 7.6C3.4 5.6 3.2 3.2 4.4 2.4c1.1-.7 3.1.3 4.6 1.9" fill="#b71c1c" />
          <path d="M18.8 7.6c1.8-2 2-4.4.8-5.2-1.1-.7-3.1.3-4.6 1.9" fill="#b71c1c" />
          <circle cx="12" cy="13.2" r="8.4" fill="#d32f2f" />
          <ellipse cx="9.2" cy="10.2" rx="3" ry="2" fill="#ffffff" opacity="0.28" transform="rotate(-30 9.2 10.2)" />
        </>
      );
    case 'other':
      return (
        <g fill="none" stroke="#64748b" strokeWidth="1.8" strokeLinejoin="round">
          <rect x="3" y="4.5" width="18" height="12" rx="1.8" />
          <path d="M9 20.5h6M12 16.5v4" strokeLinecap="round" />
        </g>
      );
    default:
      return assertNever(family, 'OS family');
  }
}

const TINTS: Readonly<Record<OsFamily, string>> = {
  linux: '#f5b400',
  windows: '#0a74da',
  bsd: '#d32f2f',
  other: '#64748b',
};

/** The family mark on a softly tinted tile, as list rows and the details header show it. */
export function OsIcon({ family, size = 32, label }: { readonly family: OsFamily; readonly size?: number; readonly label?: string }) {
  const theme = useTheme();
  const dark = theme.palette.mode === 'dark';
  return (
    <Box
      role={label ? 'img' : undefined}
      aria-label={label}
      aria-hidden={label ? undefined : true}
      sx={{
        width: size,
        height: size,
        flex: 'none',
        borderRadius: `${Math.round(size * 0.24)}px`,
        display: 'grid',
        placeItems: 'center',
        bgcolor: alpha(TINTS[family], dark ? 0.2 : 0.13),
        boxShadow: `inset 0 0 0 1px ${alpha(TINTS[family], dark ? 0.3 : 0.18)}`,
      }}
    >
      <svg width={size * 0.66} height={size * 0.66} viewBox="0 0 24 24" focusable="false">
        <Glyph family={family} />
      </svg>
    </Box>
  );
}
