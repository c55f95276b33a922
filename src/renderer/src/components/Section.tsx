import { useId, type ReactElement, type ReactNode } from 'react';
import Box from '@mui/material/Box';
import Paper from '@mui/material/Paper';
import Typography from '@mui/material/Typography';

/** A VirtualBox-style details section: an icon, a title, and label/value rows. */
export function Section({ title, icon, children, action }: { readonly title: string; readonly icon: ReactElement; readonly children: ReactNode; readonly action?: ReactNode }) {
  const id = useId();
  return (
    <Paper component="section" aria-labelledby={id} variant="outlined" sx={{ borderRadius: 2, overflow: 'hidden', minWidth: 0 }}>
      <Box sx={{ display: 'flex', alignItems: 'center', gap: 1, px: 1.75, py: 1, borderBottom: 1, borderColor: 'divider', bgcolor: 'action.hover' }}>
        <Box sx={{ display: 'flex', color: 'primary.main', '& svg': { fontSize: 18 } }}>{icon}</Box>
        <Typography id={id} variant="subtitle2" component="h3" sx={{ flex: 1 }}>
          {title}
        </Typography>
        {action}
      </Box>
      <Box sx={{ px: 1.75, py: 1.25 }}>{children}</Box>
    </Paper>
  );
}

/** Label/value pairs as a definition list; values are selectable so paths can be copied. */
export function Fields({ children }: { readonly children: ReactNode }) {
  return (
    <Box component="dl" sx={{ m: 0, display: 'grid', gridTemplateColumns: 'minmax(96px, max-content) minmax(0, 1fr)', columnGap: 2, rowGap: 0.6 }}>
      {children}
    </Box>
  );
}

export function Field({ label, children, mono }: { readonly label: string; readonly children: ReactNode; readonly mono?: boolean }) {
  return (
    <>
      <Typography component="dt" variant="body2" color="text.secondary" noWrap>
        {label}
      </Typography>
      <Typography
        component="dd"
        variant="body2"
        sx={{ m: 0, minWidth: 0, overflowWrap: 'anywhere', userSelect: 'text', ...(mono ? { fontFamily: 'monospace', fontSize: '0.78rem' } : {}) }}
      >
        {children}
      </Typography>
    </>
  );
}
