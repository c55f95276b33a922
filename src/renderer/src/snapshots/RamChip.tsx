/** The marker of a snapshot that holds the guest's memory (restoring it resumes the guest). */
import Box from '@mui/material/Box';
import { alpha } from '@mui/material/styles';

export function RamChip({ long = false }: { readonly long?: boolean }) {
  return (
    <Box
      component="span"
      sx={(t) => {
        const c = t.palette.stateColors.info;
        return {
          flex: 'none',
          display: 'inline-flex',
          alignItems: 'center',
          height: 18,
          px: 0.75,
          borderRadius: 10,
          fontSize: '0.66rem',
          fontWeight: 700,
          letterSpacing: '0.04em',
          color: c,
          bgcolor: alpha(c, 0.12),
          border: `1px solid ${alpha(c, 0.3)}`,
          lineHeight: 1,
        };
      }}
    >
      {long ? 'With RAM' : 'RAM'}
    </Box>
  );
}
