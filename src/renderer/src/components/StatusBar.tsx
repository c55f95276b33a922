/**
 * The one status bar: the strip at the bottom of the Manager and of a console. Each window
 * fills it with items; this file owns how it looks and that it is a polite live region.
 */
import type { ReactNode } from 'react';
import Box from '@mui/material/Box';
import type { SxProps, Theme } from '@mui/material/styles';

export function StatusBar({ label, children }: { readonly label: string; readonly children: ReactNode }) {
  return (
    <Box
      component="footer"
      role="status"
      aria-label={label}
      sx={{
        display: 'flex',
        alignItems: 'center',
        gap: 2,
        px: 1.5,
        height: 26,
        flex: 'none',
        borderTop: 1,
        borderColor: 'divider',
        bgcolor: 'chrome.statusBar',
        color: 'text.secondary',
        fontSize: '0.72rem',
        userSelect: 'none',
        whiteSpace: 'nowrap',
        overflow: 'hidden',
      }}
    >
      {children}
    </Box>
  );
}

/** One item: an optional icon before the words; `warn` colours what needs attention. */
export function StatusItem({
  icon,
  warn = false,
  title,
  sx,
  children,
  ...data
}: {
  readonly icon?: ReactNode;
  readonly warn?: boolean;
  readonly title?: string;
  readonly sx?: SxProps<Theme>;
  readonly children: ReactNode;
  readonly [data: `data-${string}`]: string | boolean | undefined;
}) {
  return (
    <Box
      component="span"
      {...data}
      {...(title ? { title } : {})}
      sx={[{ display: 'inline-flex', alignItems: 'center', gap: 0.5, color: warn ? 'warning.main' : 'inherit' }, ...(Array.isArray(sx) ? sx : sx ? [sx] : [])]}
    >
      {icon}
      {children}
    </Box>
  );
}

/** The flexible gap that pushes the following items to the right. */
export function StatusSpacer() {
  return <Box sx={{ flex: 1 }} />;
}
