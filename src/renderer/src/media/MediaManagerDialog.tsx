/**
 * The Virtual Media Manager (VirtualBox's File → Tools → Virtual Media Manager): every disk
 * and optical image the core's registry knows, with format, sizes and which VMs and
 * snapshots use it; create, copy/convert, resize, compact, check/repair and remove. Long
 * operations run as core jobs whose progress bars follow `job.progress` (so a conversion
 * started from the CLI or another window shows here too) and can be cancelled.
 */
import { useMemo, useState } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import CircularProgress from '@mui/material/CircularProgress';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import Tab from '@mui/material/Tab';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Tabs from '@mui/material/Tabs';
import Typography from '@mui/material/Typography';
import Alert from '@mui/material/Alert';
import type { HostInfo, JobInfo, MediumInfo, VmSummary } from '../../../core/api/contract';
import { ProblemAlert, toProblem, type Problem } from '../components/ErrorAlert';
import { useMediaActions } from '../actions/useMediaActions';
import { useVmActions } from '../actions/useVmActions';
import { baseName, formatBytes } from '../util/format';
import { AttachMediumDialog } from './AttachMediumDialog';
import { ConvertMediumDialog } from './ConvertMediumDialog';
import { CreateMediumDialog } from './CreateMediumDialog';
import { DeleteMediumDialog } from './DeleteMediumDialog';
import { FORMAT_LABELS, dirOf } from './mediaFormats';
import { ResizeMediumDialog } from './ResizeMediumDialog';
import { usageText } from './usage';
import { JobProgress } from './JobProgress';
import { useJobs, useRegistry } from './useJobs';

type Action = 'create' | 'convert' | 'resize' | 'delete' | 'attach';

export function MediaManagerDialog({ open, onClose, host, vms }: {
  readonly open: boolean;
  readonly onClose: () => void;
  readonly host?: HostInfo | null;
  readonly vms: readonly VmSummary[];
}) {
  return (
    <Dialog open={open} onClose={onClose} maxWidth="lg" fullWidth aria-labelledby="media-title" slotProps={{ paper: { sx: { height: 720, maxHeight: 'calc(100vh - 32px)' } } }}>
      {open && <Body onClose={onClose} host={host ?? null} vms={vms} />}
    </Dialog>
  );
}

function Body({ onClose, host, vms }: { readonly onClose: () => void; readonly host: HostInfo | null; readonly vms: readonly VmSummary[] }) {
  const mediaActions = useMediaActions();
  const vmActions = useVmActions();
  const { media, error } = useRegistry(true);
  const jobs = useJobs();
  const [tab, setTab] = useState<'disk' | 'iso'>('disk');
  const [selected, setSelected] = useState<string | null>(null);
  const [action, setAction] = useState<Action | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [note, setNote] = useState<string | null>(null);

  const rows = useMemo(() => (media ?? []).filter((m) => m.kind === tab), [media, tab]);
  const current = rows.find((m) => m.path === selected) ?? null;
  const runningOn = (m: MediumInfo | null) => m !== null && jobs.some((j) => j.state === 'running' && j.target === m.path);
  const visibleJobs = [...jobs.filter((j) => j.state === 'running'), ...jobs.filter((j) => j.state !== 'running').slice(0, 2)];
  const defaultDir = host ? `${host.dataDir}/media` : current ? dirOf(current.path) : '';

  const startJob = async (what: string, run: () => Promise<JobInfo>) => {
    setProblem(null);
    setNote(null);
    try {
      const j = await run();
      const end = await mediaActions.waitJob({ id: j.id });
      if (end.state === 'failed') setProblem(toProblem(end.error ?? new Error(`${what} failed`), `${what} failed`));
      else if (end.state === 'done' && end.kind === 'check') {
        const r = end.result as { corruptions?: number; leaks?: number; leaksFixed?: number } | undefined;
        setNote(
          r
            ? `Check of ${baseName(end.target ?? '')}: ${r.corruptions ?? 0} corruptions, ${r.leaks ?? 0} leaked clusters${r.leaksFixed ? ` (${r.leaksFixed} repaired)` : ''}.`
            : 'Check finished.',
        );
      }
    } catch (err) {
      setProblem(toProblem(err, `${what} failed`));
    }
  };

  return (
    <>
      <DialogTitle id="media-title" sx={{ pb: 0 }}>
        Media Manager
      </DialogTitle>
      <Box sx={{ px: 3, borderBottom: 1, borderColor: 'divider' }}>
        <Tabs value={tab} onChange={(_, v: 'disk' | 'iso') => setTab(v)} aria-label="Media kinds">
          <Tab value="disk" label={`Hard disks${media ? ` (${media.filter((m) => m.kind === 'disk').length})` : ''}`} />
          <Tab value="iso" label={`Optical disks${media ? ` (${media.filter((m) => m.kind === 'iso').length})` : ''}`} />
        </Tabs>
      </Box>
      <Box role="toolbar" aria-label="Medium actions" sx={{ display: 'flex', gap: 1, px: 3, py: 1.25, flexWrap: 'wrap', borderBottom: 1, borderColor: 'divider' }}>
        {tab === 'disk' && (
          <>
            <Button size="small" variant="outlined" onClick={() => setAction('create')}>
              Create…
            </Button>
            <Button size="small" variant="outlined" disabled={!current || current.missing} onClick={() => setAction('convert')}>
              Copy / Convert…
            </Button>
            <Button size="small" variant="outlined" disabled={!current || current.missing || runningOn(current)} onClick={() => setAction('resize')}>
              Resize…
            </Button>
            <Button
              size="small"
              variant="outlined"
              disabled={!current || current.missing || current.format !== 'qcow2' || runningOn(current)}
              onClick={() => current && void startJob('Compact', () => mediaActions.compact({ path: current.path }))}
            >
              Compact
            </Button>
            <Button
              size="small"
              variant="outlined"
              disabled={!current || current.missing || runningOn(current)}
              onClick={() => current && void startJob('Check', () => mediaActions.check({ path: current.path, repair: true }))}
            >
              Check / Repair
            </Button>
          </>
        )}
        <Button size="small" variant="outlined" disabled={!current || current.missing} onClick={() => setAction('attach')}>
          Attach…
        </Button>
        <Button
          size="small"
          variant="outlined"
          disabled={!current || !current.usedBy.some((u) => u.current)}
          onClick={() => {
            if (!current) return;
            const use = current.usedBy.find((u) => u.current);
            if (!use) return;
            setProblem(null);
            const call =
              current.kind === 'iso'
                ? vmActions.modify({ ref: use.uuid, changes: { iso: null } })
                : vmActions.detachDisk({ ref: use.uuid, disk: use.device });
            call.then(
              () => setNote(`Detached ${current.name} from '${use.vm}' (${use.device}); the file stays where it is.`),
              (err: unknown) => setProblem(toProblem(err, `Could not detach ${current.name} from '${use.vm}'`)),
            );
          }}
        >
          Detach
        </Button>
        <Box sx={{ flex: 1 }} />
        <Button size="small" color="error" variant="outlined" disabled={!current || runningOn(current)} onClick={() => setAction('delete')}>
          Remove…
        </Button>
      </Box>
      <DialogContent sx={{ display: 'flex', flexDirection: 'column', gap: 1.5, pt: '12px !important', minHeight: 0 }}>
        {problem && <ProblemAlert problem={problem} onClose={() => setProblem(null)} />}
        {note && (
          <Alert severity="success" onClose={() => setNote(null)}>
            {note}
          </Alert>
        )}
        {error !== null && !media && <ProblemAlert problem={toProblem(error, 'Could not read the media registry')} />}
        {!media && error === null ? (
          <Box sx={{ display: 'grid', placeItems: 'center', py: 6 }}>
            <CircularProgress size={22} aria-label="Loading media" />
          </Box>
        ) : (
          <TableContainer sx={{ flex: 1, minHeight: 160, border: 1, borderColor: 'divider', borderRadius: 1.5 }}>
            <Table size="small" stickyHeader aria-label={tab === 'disk' ? 'Hard disks' : 'Optical disks'}>
              <TableHead>
                <TableRow>
                  <TableCell>Name</TableCell>
                  <TableCell>Format</TableCell>
                  <TableCell align="right">Virtual size</TableCell>
                  <TableCell align="right">Actual size</TableCell>
                  <TableCell>Used by</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {rows.length === 0 && (
                  <TableRow>
                    <TableCell colSpan={5} sx={{ color: 'text.secondary', py: 4, textAlign: 'center' }}>
                      {tab === 'disk' ? 'No hard disk images yet. Create one, or drop an image on the Manager window.' : 'No optical disk images yet. Drop an ISO on the Manager window.'}
                    </TableCell>
                  </TableRow>
                )}
                {rows.map((m) => (
                  <TableRow
                    key={m.path}
                    hover
                    selected={m.path === selected}
                    onClick={() => setSelected(m.path)}
                    aria-selected={m.path === selected}
                    data-medium={m.name}
                    sx={{ cursor: 'pointer' }}
                  >
                    <TableCell title={m.path} sx={{ maxWidth: 280 }}>
                      <Typography variant="body2" noWrap sx={{ fontWeight: 500 }}>
                        {m.name}
                      </Typography>
                      <Typography variant="caption" color={m.missing || m.problem ? 'error' : 'text.secondary'} noWrap component="div" title={m.problem ?? m.path}>
                        {m.missing || m.problem ? (m.problem ?? 'The file is missing.') : dirOf(m.path)}
                      </Typography>
                    </TableCell>
                    <TableCell>
                      <Chip size="small" variant="outlined" label={FORMAT_LABELS[m.format]} />
                    </TableCell>
                    <TableCell align="right" sx={{ fontVariantNumeric: 'tabular-nums' }}>
                      {formatBytes(m.virtualSize)}
                    </TableCell>
                    <TableCell align="right" sx={{ fontVariantNumeric: 'tabular-nums' }}>
                      {formatBytes(m.actualSize)}
                    </TableCell>
                    <TableCell sx={{ maxWidth: 320 }}>
                      <Typography variant="body2" noWrap title={usageText(m)} color={m.usedBy.length ? 'text.primary' : 'text.secondary'}>
                        {usageText(m)}
                      </Typography>
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </TableContainer>
        )}
        {visibleJobs.length > 0 && (
          <Box
            component="section"
            aria-label="Jobs"
            sx={{ flex: 'none', display: 'grid', gap: 1.25, border: 1, borderColor: 'divider', borderRadius: 1.5, p: 1.5, maxHeight: 210, overflowY: 'auto' }}
          >
            <Typography variant="subtitle2" component="h3">
              Recent jobs
            </Typography>
            {visibleJobs.map((j) => (
              <JobProgress key={j.id} job={j} onCancel={() => void mediaActions.cancelJob({ id: j.id }).catch((err: unknown) => setProblem(toProblem(err, 'Could not cancel')))} />
            ))}
          </Box>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Close</Button>
      </DialogActions>

      {action === 'create' && (
        <CreateMediumDialog
          defaultDir={defaultDir}
          onClose={() => setAction(null)}
          onStart={(spec) => {
            setAction(null);
            void startJob('Create', () => mediaActions.create(spec));
          }}
        />
      )}
      {action === 'convert' && current && (
        <ConvertMediumDialog
          medium={current}
          onClose={() => setAction(null)}
          onStart={(target, format) => {
            setAction(null);
            void startJob('Conversion', () => mediaActions.convert({ source: current.path, target, format }));
          }}
        />
      )}
      {action === 'resize' && current && (
        <ResizeMediumDialog
          medium={current}
          onClose={() => setAction(null)}
          onStart={(size, shrink) => {
            setAction(null);
            void startJob('Resize', () => mediaActions.resize({ path: current.path, size, ...(shrink ? { shrink } : {}) }));
          }}
        />
      )}
      {action === 'attach' && current && (
        <AttachMediumDialog
          medium={current}
          vms={vms}
          onClose={() => setAction(null)}
          onAttach={(vm) => {
            setAction(null);
            setProblem(null);
            const call =
              current.kind === 'iso'
                ? vmActions.modify({ ref: vm.uuid, changes: { iso: current.path } })
                : vmActions.attachDisk({ ref: vm.uuid, path: current.path });
            call.then(
              () => setNote(`Attached ${current.name} to '${vm.name}'.`),
              (err: unknown) => setProblem(toProblem(err, `Could not attach ${current.name} to '${vm.name}'`)),
            );
          }}
        />
      )}
      {action === 'delete' && current && (
        <DeleteMediumDialog
          medium={current}
          onClose={() => setAction(null)}
          onDeleted={() => {
            setAction(null);
            setSelected(null);
          }}
        />
      )}
    </>
  );
}

