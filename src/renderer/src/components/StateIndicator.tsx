import Box from '@mui/material/Box';
import Typography from '@mui/material/Typography';
import { alpha, keyframes, useTheme } from '@mui/material/styles';
import type { VmState } from '../../../core/api/contract';
import { stateLabel, stateTone } from '../model/vmState';

const pulse = keyframes`
  0% { opacity: 1; }
  50% { opacity: 0.35; }
  100% { opacity: 1; }
`;

export function useStateColor(state: VmState): string {
  return useTheme().palette.stateColors[stateTone(state)];
}

export function StateDot({ state, size = 8 }: { readonly state: VmState; readonly size?: number }) {
  const color = useStateColor(state);
  const busy = stateTone(state) === 'busy';
  return (
    <Box
      component="span"
      aria-hidden
      sx={{
        width: size,
        height: size,
        borderRadius: '50%',
        flex: 'none',
        bgcolor: color,
        boxShadow: `0 0 0 2px ${alpha(color, 0.22)}`,
        animation: busy ? `${pulse} 1.2s ease-in-out infinite` : 'none',
      }}
    />
  );
}

/** Dot plus the state in words; colour is never the only signal. */
export function StateText({ state, id, variant = 'caption' }: { readonly state: VmState; readonly id?: string; readonly variant?: 'caption' | 'body2' }) {
  return (
    <Box component="span" sx={{ display: 'inline-flex', alignItems: 'center', gap: 0.75, minWidth: 0 }}>
      <StateDot state={state} />
      <Typography id={id} component="span" variant={variant} color="text.secondary" noWrap data-vm-state={state}>
        {stateLabel(state)}
      </Typography>
    </Box>
  );
}

/** The pill in the details header. */
export function StateChip({ state }: { readonly state: VmState }) {
  const color = useStateColor(state);
  return (
    <Box
      component="span"
      sx={{
        display: 'inline-flex',
        alignItems: 'center',
        gap: 0.75,
        px: 1.1,
        py: 0.3,
        borderRadius: 10,
        fontSize: '0.75rem',
        fontWeight: 600,
        color,
        bgcolor: alpha(color, 0.12),
        border: `1px solid ${alpha(color, 0.28)}`,
        lineHeight: 1.4,
      }}
    >
      <StateDot state={state} size={7} />
      {stateLabel(state)}
    </Box>
  );
}
