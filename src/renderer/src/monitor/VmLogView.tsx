/**
 * The VM's log, searchable: Nestbox's own events for the VM (kept current by `log` events)
 * and QEMU's output (its stderr, the tail or the lines matching the search).
 */
import { useEffect, useMemo, useState } from 'react';
import Box from '@mui/material/Box';
import Chip from '@mui/material/Chip';
import InputAdornment from '@mui/material/InputAdornment';
import Paper from '@mui/material/Paper';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import SearchIcon from '@mui/icons-material/Search';
import type { SerialLog, VmInfo } from '../../../core/api/contract';
import { useVmEvents } from '../hooks/data';
import { formatTime } from '../util/format';
import { useVmActions } from '../actions/useVmActions';

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

export function VmLogView({ vm }: { readonly vm: VmInfo }) {
  const vmActions = useVmActions();
  const [query, setQuery] = useState('');
  const q = useDebounced(query.trim(), 250);
  const events = useVmEvents(vm.uuid, 500);
  const [qemu, setQemu] = useState<SerialLog | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let gone = false;
    vmActions.qemuLog({ ref: vm.uuid, ...(q ? { query: q } : {}), maxBytes: 64 * 1024 }).then(
      (l) => {
        if (!gone) {
          setQemu(l);
          setError(null);
        }
      },
      (err: unknown) => !gone && setError((err as Error).message),
    );
    return () => {
      gone = true;
    };
    // Reload QEMU's log when the VM's state changes (a start appends to it).
  }, [vmActions, vm.uuid, vm.state, q]);

  const shown = useMemo(() => {
    const needle = q.toLowerCase();
    return needle ? events.filter((e) => `${e.kind} ${e.message}`.toLowerCase().includes(needle)) : events;
  }, [events, q]);

  return (
    <Box sx={{ p: 2, flex: 1, minWidth: 0, overflow: 'auto', display: 'flex', flexDirection: 'column', gap: 1.5 }} data-testid="vm-log-view">
      <TextField
        size="small"
        placeholder="Search the log"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        inputProps={{ 'aria-label': 'Search the log' }}
        InputProps={{ startAdornment: <InputAdornment position="start"><SearchIcon fontSize="small" /></InputAdornment> }}
        sx={{ maxWidth: 420 }}
      />
      <Paper variant="outlined" sx={{ p: 1.5 }}>
        <Typography variant="subtitle2" gutterBottom>Nestbox events {q && `matching “${q}”`}</Typography>
        {shown.length === 0 && <Typography variant="body2" color="text.secondary">Nothing {q ? 'matches' : 'yet'}.</Typography>}
        <Stack spacing={0.5} aria-label="Nestbox events">
          {shown.map((e) => (
            <Stack key={e.id} direction="row" spacing={1} alignItems="baseline">
              <Typography variant="caption" color="text.secondary" sx={{ minWidth: 80, fontVariantNumeric: 'tabular-nums' }}>{formatTime(e.ts)}</Typography>
              <Chip size="small" label={e.level} color={e.level === 'error' ? 'error' : e.level === 'warning' ? 'warning' : 'default'} variant="outlined" sx={{ height: 18, fontSize: '0.65rem' }} />
              <Typography variant="body2">{e.message}</Typography>
            </Stack>
          ))}
        </Stack>
      </Paper>
      <Paper variant="outlined" sx={{ p: 1.5 }}>
        <Typography variant="subtitle2" gutterBottom>QEMU output {qemu && <Typography component="span" variant="caption" color="text.secondary">({qemu.path})</Typography>}</Typography>
        {error && <Typography variant="body2" color="error">{error}</Typography>}
        <Box
          component="pre"
          aria-label="QEMU output"
          sx={{ m: 0, fontFamily: 'monospace', fontSize: '0.75rem', whiteSpace: 'pre-wrap', wordBreak: 'break-all', maxHeight: 360, overflow: 'auto' }}
        >
          {qemu ? (q ? qemu.matches.map((m) => `${m.line}: ${m.text}`).join('\n') || 'No line matches.' : qemu.text || 'QEMU has written nothing yet.') : '…'}
        </Box>
      </Paper>
    </Box>
  );
}
