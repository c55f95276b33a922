/**
 * The Activity Overview (VirtualBox's "VM Activity Overview"): every running VM with what it
 * uses right now, sortable by any column, and the host's totals above it. Live from events.
 */
import { useMemo, useState } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import TableSortLabel from '@mui/material/TableSortLabel';
import Typography from '@mui/material/Typography';
import type { VmStatsSample } from '../../../core/api/contract';
import { formatBytes } from '../util/format';
import { diskRates, netRates, useAllStats } from './useStats';

interface Column {
  readonly id: string;
  readonly label: string;
  readonly value: (s: VmStatsSample) => number | string | null;
  readonly show: (s: VmStatsSample) => string;
  readonly numeric: boolean;
}

const rate = (v: number) => `${formatBytes(Math.round(v))}/s`;

const COLUMNS: readonly Column[] = [
  { id: 'name', label: 'VM', value: (s) => s.name.toLowerCase(), show: (s) => s.name, numeric: false },
  { id: 'cpu', label: 'CPU (% of host)', value: (s) => s.cpu.hostPct, show: (s) => `${s.cpu.hostPct.toFixed(1)} %`, numeric: true },
  { id: 'rss', label: 'Resident', value: (s) => s.memory.rssBytes, show: (s) => formatBytes(s.memory.rssBytes), numeric: true },
  { id: 'assigned', label: 'Assigned', value: (s) => s.memory.balloonBytes ?? s.memory.assignedBytes, show: (s) => formatBytes(s.memory.balloonBytes ?? s.memory.assignedBytes), numeric: true },
  { id: 'guest', label: 'Guest used', value: (s) => s.memory.guest?.usedBytes ?? null, show: (s) => (s.memory.guest ? formatBytes(s.memory.guest.usedBytes) : '—'), numeric: true },
  { id: 'diskR', label: 'Disk read', value: (s) => diskRates(s).read, show: (s) => rate(diskRates(s).read), numeric: true },
  { id: 'diskW', label: 'Disk write', value: (s) => diskRates(s).write, show: (s) => rate(diskRates(s).write), numeric: true },
  { id: 'netRx', label: 'Net in', value: (s) => netRates(s)?.rx ?? null, show: (s) => (netRates(s) ? rate(netRates(s)!.rx) : 'n/a'), numeric: true },
  { id: 'netTx', label: 'Net out', value: (s) => netRates(s)?.tx ?? null, show: (s) => (netRates(s) ? rate(netRates(s)!.tx) : 'n/a'), numeric: true },
];

export function ActivityOverview({ open, onClose }: { readonly open: boolean; readonly onClose: () => void }) {
  const { vms, host } = useAllStats(open);
  const [sort, setSort] = useState<{ col: string; dir: 'asc' | 'desc' }>({ col: 'cpu', dir: 'desc' });
  const rows = useMemo(() => {
    const col = COLUMNS.find((c) => c.id === sort.col) ?? COLUMNS[1]!;
    const sign = sort.dir === 'asc' ? 1 : -1;
    return [...vms.values()].sort((a, b) => {
      const x = col.value(a);
      const y = col.value(b);
      if (x === y) return a.name.localeCompare(b.name);
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * sign;
    });
  }, [vms, sort]);
  const totals = useMemo(() => {
    const list = [...vms.values()];
    return {
      cpu: list.reduce((a, s) => a + s.cpu.hostPct, 0),
      rss: list.reduce((a, s) => a + s.memory.rssBytes, 0),
    };
  }, [vms]);

  return (
    <Dialog open={open} onClose={onClose} maxWidth="lg" fullWidth aria-labelledby="activity-title">
      <DialogTitle id="activity-title">Activity Overview</DialogTitle>
      <DialogContent dividers>
        <Stack direction="row" spacing={4} sx={{ mb: 2, flexWrap: 'wrap' }} data-testid="host-totals">
          <Box>
            <Typography variant="caption" color="text.secondary">Host CPU ({host?.cpus ?? '…'} CPUs)</Typography>
            <Typography variant="h6">{host ? `${host.cpuPct.toFixed(1)} %` : '…'}</Typography>
            <Typography variant="caption" color="text.secondary">VMs: {totals.cpu.toFixed(1)} %</Typography>
          </Box>
          <Box>
            <Typography variant="caption" color="text.secondary">Host memory</Typography>
            <Typography variant="h6">{host ? `${formatBytes(host.memTotalBytes - host.memAvailableBytes)} of ${formatBytes(host.memTotalBytes)}` : '…'}</Typography>
            <Typography variant="caption" color="text.secondary">VMs resident: {formatBytes(totals.rss)}</Typography>
          </Box>
          <Box>
            <Typography variant="caption" color="text.secondary">Page sharing (KSM)</Typography>
            <Typography variant="h6">{host ? (host.ksm.available ? (host.ksm.running ? `on · saves ${formatBytes(host.ksm.savedBytes)}` : 'off') : 'not available') : '…'}</Typography>
            {host?.ksm.reason && <Typography variant="caption" color="text.secondary">{host.ksm.reason}</Typography>}
          </Box>
          <Box>
            <Typography variant="caption" color="text.secondary">Running VMs</Typography>
            <Typography variant="h6">{host?.runningVms ?? vms.size}</Typography>
          </Box>
        </Stack>
        <Table size="small" aria-label="Running virtual machines">
          <TableHead>
            <TableRow>
              {COLUMNS.map((c) => (
                <TableCell key={c.id} align={c.numeric ? 'right' : 'left'} sortDirection={sort.col === c.id ? sort.dir : false}>
                  <TableSortLabel
                    active={sort.col === c.id}
                    direction={sort.col === c.id ? sort.dir : c.numeric ? 'desc' : 'asc'}
                    onClick={() => setSort((s) => ({ col: c.id, dir: s.col === c.id ? (s.dir === 'asc' ? 'desc' : 'asc') : c.numeric ? 'desc' : 'asc' }))}
                  >
                    {c.label}
                  </TableSortLabel>
                </TableCell>
              ))}
            </TableRow>
          </TableHead>
          <TableBody>
            {rows.map((s) => (
              <TableRow key={s.uuid} hover data-testid={`activity-row-${s.name}`}>
                {COLUMNS.map((c) => (
                  <TableCell key={c.id} align={c.numeric ? 'right' : 'left'} sx={{ fontVariantNumeric: 'tabular-nums' }}>
                    {c.show(s)}
                  </TableCell>
                ))}
              </TableRow>
            ))}
            {rows.length === 0 && (
              <TableRow>
                <TableCell colSpan={COLUMNS.length}>
                  <Typography variant="body2" color="text.secondary">No VM is running.</Typography>
                </TableCell>
              </TableRow>
            )}
          </TableBody>
        </Table>
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Close</Button>
      </DialogActions>
    </Dialog>
  );
}
