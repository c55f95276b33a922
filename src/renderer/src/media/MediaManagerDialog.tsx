/**
 * The Virtual Media Manager (VirtualBox's File → Tools → Virtual Media Manager): every disk
 * and optical image the core's registry knows, with format, sizes and which VMs and
 * snapshots use it; create, copy/convert, resize, compact, check/repair and remove. Long
 * operations run as core jobs whose progress bars follow `job.progress` (so a conversion
 * started from the CLI or another window shows here too) and can be cancelled.
 */
import { useMemo, useState, type FormEvent, type ReactNode } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Checkbox from '@mui/material/Checkbox';
import Chip from '@mui/material/Chip';
import CircularProgress from '@mui/material/CircularProgress';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import FormControlLabel from '@mui/material/FormControlLabel';
import MenuItem from '@mui/material/MenuItem';
import Tab from '@mui/material/Tab';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Tabs from '@mui/material/Tabs';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import Alert from '@mui/material/Alert';
import type { HostInfo, JobInfo, MediumFormat, MediumInfo, VmSummary } from '../../../core/api/contract';
import type { DiskFormat } from '../../../core/domain/config';
import { ProblemAlert, toProblem, type Problem } from '../components/ErrorAlert';
import { useClient } from '../hooks/client';
import { baseName, formatBytes } from '../util/format';
import { JobProgress } from './JobProgress';
import { useJobs, useRegistry } from './useJobs';

const FORMAT_LABELS: Record<MediumFormat, string> = {
  qcow2: 'QCOW2',
  raw: 'Raw',
  vdi: 'VDI',
  vmdk: 'VMDK',
  vpc: 'VHD',
  vhdx: 'VHDX',
  iso: 'ISO 9660',
};
const FORMAT_EXT: Record<DiskFormat, string> = { qcow2: 'qcow2', raw: 'img', vdi: 'vdi', vmdk: 'vmdk', vpc: 'vhd', vhdx: 'vhdx' };
const TARGET_FORMATS: readonly DiskFormat[] = ['qcow2', 'raw', 'vdi', 'vmdk', 'vpc', 'vhdx'];

type Action = 'create' | 'convert' | 'resize' | 'delete' | 'attach';

function dirOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i > 0 ? p.slice(0, i) : p;
}

function stemOf(p: string): string {
  return baseName(p).replace(/\.[A-Za-z0-9]+$/, '');
}

/** Why the core would refuse to delete this medium, in words, or null. */
export function deleteBlocker(m: MediumInfo): string | null {
  if (m.usedBy.length === 0) return null;
  const parts = m.usedBy.map((u) => (u.current ? `${u.vm} (${u.device})` : `snapshots of ${u.vm}: ${u.snapshots.join(', ')}`));
  return `In use by ${parts.join('; ')}.`;
}

export function usageText(m: MediumInfo): string {
  if (m.usedBy.length === 0) return '—';
  return m.usedBy
    .map((u) => {
      const snaps = u.snapshots.length > 0 ? ` [${u.snapshots.length === 1 ? `snapshot ${u.snapshots[0]}` : `${u.snapshots.length} snapshots`}]` : '';
      return `${u.vm}${u.current ? '' : ' (snapshot only)'}${snaps}`;
    })
    .join(', ');
}

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
  const client = useClient();
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
      const end = await client.call('jobs.wait', { id: j.id });
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
              onClick={() => current && void startJob('Compact', () => client.call('media.compact', { path: current.path }))}
            >
              Compact
            </Button>
            <Button
              size="small"
              variant="outlined"
              disabled={!current || current.missing || runningOn(current)}
              onClick={() => current && void startJob('Check', () => client.call('media.check', { path: current.path, repair: true }))}
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
                ? client.call('vms.modify', { ref: use.uuid, changes: { iso: null } })
                : client.call('vms.detachDisk', { ref: use.uuid, disk: use.device });
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
              <JobProgress key={j.id} job={j} onCancel={() => void client.call('jobs.cancel', { id: j.id }).catch((err: unknown) => setProblem(toProblem(err, 'Could not cancel')))} />
            ))}
          </Box>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Close</Button>
      </DialogActions>

      {action === 'create' && (
        <CreateDialog
          defaultDir={defaultDir}
          onClose={() => setAction(null)}
          onStart={(spec) => {
            setAction(null);
            void startJob('Create', () => client.call('media.create', spec));
          }}
        />
      )}
      {action === 'convert' && current && (
        <ConvertDialog
          medium={current}
          onClose={() => setAction(null)}
          onStart={(target, format) => {
            setAction(null);
            void startJob('Conversion', () => client.call('media.convert', { source: current.path, target, format }));
          }}
        />
      )}
      {action === 'resize' && current && (
        <ResizeDialog
          medium={current}
          onClose={() => setAction(null)}
          onStart={(size, shrink) => {
            setAction(null);
            void startJob('Resize', () => client.call('media.resize', { path: current.path, size, ...(shrink ? { shrink } : {}) }));
          }}
        />
      )}
      {action === 'attach' && current && (
        <AttachDialog
          medium={current}
          vms={vms}
          onClose={() => setAction(null)}
          onAttach={(vm) => {
            setAction(null);
            setProblem(null);
            const call =
              current.kind === 'iso'
                ? client.call('vms.modify', { ref: vm.uuid, changes: { iso: current.path } })
                : client.call('vms.attachDisk', { ref: vm.uuid, path: current.path });
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

/** Sizes as the user types them ("20", "20G", "512M"), in the core's notation; null if unusable. */
export function sizeSpec(text: string): string | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT])?(?:i?B)?\s*$/i.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'G').toUpperCase();
  if (!(n > 0)) return null;
  if (Number.isInteger(n)) return `${n}${unit}`;
  const mult: Record<string, number> = { K: 1, M: 1024, G: 1024 * 1024, T: 1024 * 1024 * 1024 };
  return `${Math.round(n * mult[unit]!)}K`;
}

function SubDialog({ title, onClose, onSubmit, submitLabel, disabled, children, danger }: {
  readonly title: string;
  readonly onClose: () => void;
  readonly onSubmit: () => void;
  readonly submitLabel: string;
  readonly disabled?: boolean;
  readonly danger?: boolean;
  readonly children: ReactNode;
}) {
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!disabled) onSubmit();
  };
  return (
    <Dialog open onClose={onClose} maxWidth="sm" fullWidth aria-label={title}>
      <Box component="form" onSubmit={submit} noValidate sx={{ display: 'flex', flexDirection: 'column', minHeight: 0 }}>
        <DialogTitle>{title}</DialogTitle>
        <DialogContent dividers sx={{ display: 'grid', gap: 2 }}>
          {children}
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="contained" color={danger ? 'error' : 'primary'} disabled={disabled}>
            {submitLabel}
          </Button>
        </DialogActions>
      </Box>
    </Dialog>
  );
}

function CreateDialog({ defaultDir, onClose, onStart }: {
  readonly defaultDir: string;
  readonly onClose: () => void;
  readonly onStart: (spec: { path: string; format: 'qcow2' | 'raw'; size: string; preallocation?: 'off' | 'metadata' | 'falloc' | 'full' }) => void;
}) {
  const [format, setFormat] = useState<'qcow2' | 'raw'>('qcow2');
  const [path, setPath] = useState(`${defaultDir}/new-disk.qcow2`);
  const [size, setSize] = useState('20');
  const [prealloc, setPrealloc] = useState<'off' | 'metadata' | 'falloc' | 'full'>('off');
  const spec = sizeSpec(size);
  const pathOk = path.startsWith('/') && !path.endsWith('/');
  return (
    <SubDialog title="Create a hard disk" submitLabel="Create" onClose={onClose} disabled={!spec || !pathOk} onSubmit={() => spec && onStart({ path, format, size: spec, preallocation: prealloc })}>
      <TextField
        select
        label="Format"
        value={format}
        onChange={(e) => {
          const f = e.target.value === 'raw' ? 'raw' : 'qcow2';
          setFormat(f);
          setPath((p) => p.replace(/\.(qcow2|img|raw)$/, f === 'raw' ? '.img' : '.qcow2'));
        }}
      >
        <MenuItem value="qcow2">QCOW2 (grows as written; snapshots)</MenuItem>
        <MenuItem value="raw">Raw</MenuItem>
      </TextField>
      <TextField label="File on the host" value={path} onChange={(e) => setPath(e.target.value)} error={!pathOk} helperText={pathOk ? ' ' : 'An absolute path to the new file.'} />
      <TextField label="Size" value={size} onChange={(e) => setSize(e.target.value)} error={!spec} helperText={spec ? `${spec} (GiB unless you write M or T)` : 'For example 20, 20G or 512M.'} />
      <TextField select label="Preallocation" value={prealloc} onChange={(e) => setPrealloc(e.target.value as typeof prealloc)}>
        <MenuItem value="off">Off (sparse)</MenuItem>
        <MenuItem value="metadata">Metadata</MenuItem>
        <MenuItem value="falloc">Reserve space (falloc)</MenuItem>
        <MenuItem value="full">Full (write zeros)</MenuItem>
      </TextField>
    </SubDialog>
  );
}

function ConvertDialog({ medium, onClose, onStart }: { readonly medium: MediumInfo; readonly onClose: () => void; readonly onStart: (target: string, format: DiskFormat) => void }) {
  const [format, setFormat] = useState<DiskFormat>(medium.format === 'qcow2' ? 'vdi' : 'qcow2');
  const [target, setTarget] = useState(() => `${dirOf(medium.path)}/${stemOf(medium.path)}-copy.${FORMAT_EXT[medium.format === 'qcow2' ? 'vdi' : 'qcow2']}`);
  const ok = target.startsWith('/') && target !== medium.path;
  return (
    <SubDialog title={`Copy or convert ${medium.name}`} submitLabel="Convert" onClose={onClose} disabled={!ok} onSubmit={() => onStart(target, format)}>
      <Typography variant="body2" color="text.secondary">
        The source ({FORMAT_LABELS[medium.format]}, {formatBytes(medium.virtualSize)}) stays as it is; a new image is written.
      </Typography>
      <TextField
        select
        label="Target format"
        value={format}
        onChange={(e) => {
          const f = e.target.value as DiskFormat;
          setFormat(f);
          setTarget((t) => t.replace(/\.[A-Za-z0-9]+$/, `.${FORMAT_EXT[f]}`));
        }}
      >
        {TARGET_FORMATS.map((f) => (
          <MenuItem key={f} value={f}>
            {FORMAT_LABELS[f]}
          </MenuItem>
        ))}
      </TextField>
      <TextField label="New file on the host" value={target} onChange={(e) => setTarget(e.target.value)} error={!ok} helperText={ok ? ' ' : 'An absolute path other than the source.'} />
    </SubDialog>
  );
}

function ResizeDialog({ medium, onClose, onStart }: { readonly medium: MediumInfo; readonly onClose: () => void; readonly onStart: (size: string, shrink: boolean) => void }) {
  const gib = medium.virtualSize / 1024 ** 3;
  const [size, setSize] = useState(String(Math.ceil(gib * 2)));
  const [shrinkOk, setShrinkOk] = useState(false);
  const spec = sizeSpec(size);
  const bytes = spec ? parseSpecBytes(spec) : Number.NaN;
  const shrinking = Number.isFinite(bytes) && bytes < medium.virtualSize;
  return (
    <SubDialog
      title={`Resize ${medium.name}`}
      submitLabel={shrinking ? 'Shrink' : 'Resize'}
      danger={shrinking}
      onClose={onClose}
      disabled={!spec || bytes === medium.virtualSize || (shrinking && !shrinkOk)}
      onSubmit={() => spec && onStart(spec, shrinking)}
    >
      <Typography variant="body2" color="text.secondary">
        Now {formatBytes(medium.virtualSize)}. The guest’s partitions do not grow by themselves; extend them inside the guest afterwards.
      </Typography>
      <TextField label="New size" value={size} onChange={(e) => setSize(e.target.value)} error={!spec} helperText={spec ? `${formatBytes(bytes)}` : 'For example 40, 40G or 512M.'} />
      {shrinking && (
        <>
          <Alert severity="warning">Shrinking cuts off everything past the new end. Shrink the guest’s file system and partitions first, or data is lost.</Alert>
          <FormControlLabel control={<Checkbox checked={shrinkOk} onChange={(e) => setShrinkOk(e.target.checked)} />} label="I understand that data past the new size is lost" />
        </>
      )}
    </SubDialog>
  );
}

function parseSpecBytes(spec: string): number {
  const m = /^(\d+)([KMGT])$/.exec(spec);
  if (!m) return Number.NaN;
  const p = { K: 1, M: 2, G: 3, T: 4 }[m[2] as 'K' | 'M' | 'G' | 'T'];
  return Number(m[1]) * 1024 ** p;
}

function DeleteMediumDialog({ medium, onClose, onDeleted }: { readonly medium: MediumInfo; readonly onClose: () => void; readonly onDeleted: () => void }) {
  const client = useClient();
  const [deleteFile, setDeleteFile] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const blocker = deleteBlocker(medium);
  return (
    <SubDialog
      title={`Remove ${medium.name}`}
      submitLabel={deleteFile ? 'Delete' : 'Remove'}
      danger
      onClose={onClose}
      disabled={blocker !== null}
      onSubmit={() => {
        setProblem(null);
        client.call('media.delete', { path: medium.path, deleteFile }).then(onDeleted, (err: unknown) => setProblem(toProblem(err, `Could not remove ${medium.name}`)));
      }}
    >
      {blocker !== null ? (
        <Alert severity="info">{blocker} Detach it (or delete those snapshots) first.</Alert>
      ) : (
        <>
          <Typography variant="body2">Remove {medium.name} from the media list?</Typography>
          <FormControlLabel
            control={<Checkbox checked={deleteFile} onChange={(e) => setDeleteFile(e.target.checked)} />}
            label={`Also delete the file ${medium.path} (${formatBytes(medium.actualSize)})`}
          />
        </>
      )}
      {problem && <ProblemAlert problem={problem} />}
    </SubDialog>
  );
}

function AttachDialog({ medium, vms, onClose, onAttach }: {
  readonly medium: MediumInfo;
  readonly vms: readonly VmSummary[];
  readonly onClose: () => void;
  readonly onAttach: (vm: VmSummary) => void;
}) {
  // Disks go to powered-off VMs only; an ISO can be inserted into a running VM's drive too.
  const targets = vms.filter((v) => (medium.kind === 'iso' ? true : v.state === 'poweredOff') && !medium.usedBy.some((u) => u.uuid === v.uuid && u.current));
  const [uuid, setUuid] = useState(targets[0]?.uuid ?? '');
  const vm = targets.find((v) => v.uuid === uuid);
  return (
    <SubDialog title={`Attach ${medium.name}`} submitLabel="Attach" onClose={onClose} disabled={!vm} onSubmit={() => vm && onAttach(vm)}>
      {targets.length === 0 ? (
        <Alert severity="info">{medium.kind === 'iso' ? 'There is no other virtual machine.' : 'A disk can only be attached to a powered-off virtual machine, and none is.'}</Alert>
      ) : (
        <TextField
          select
          label="Virtual machine"
          value={uuid}
          onChange={(e) => setUuid(e.target.value)}
          helperText={medium.kind === 'iso' ? 'The ISO goes into its CD/DVD drive (replacing what is there).' : 'Added as another disk; Nestbox inspects the image first.'}
        >
          {targets.map((v) => (
            <MenuItem key={v.uuid} value={v.uuid}>
              {v.name}
            </MenuItem>
          ))}
        </TextField>
      )}
    </SubDialog>
  );
}
