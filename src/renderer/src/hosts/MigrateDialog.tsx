/**
 * Migrate a libvirt host's VM to another host: the destination, live or offline, copy the
 * storage or it is shared, maximum downtime and bandwidth; then the job's progress (data sent,
 * remaining, dirty rate), Cancel (the VM keeps running on the source), and the result with
 * the total time and libvirt's own downtime figure.
 */
import { useEffect, useState } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Checkbox from '@mui/material/Checkbox';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import FormControlLabel from '@mui/material/FormControlLabel';
import LinearProgress from '@mui/material/LinearProgress';
import MenuItem from '@mui/material/MenuItem';
import Radio from '@mui/material/Radio';
import RadioGroup from '@mui/material/RadioGroup';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import Alert from '@mui/material/Alert';
import type { HostSummary, JobInfo, MigrateResult, MigrateSpec, VmSummary } from '../../../core/api/contract';
import { ProblemAlert, toProblem, type Problem } from '../components/ErrorAlert';
import { useClient } from '../hooks/client';
import { useHostActions } from '../actions/useHostActions';
import { formatBytes } from '../util/format';

export interface MigrateDialogProps {
  readonly vm: VmSummary & { readonly host: string };
  readonly hosts: readonly HostSummary[];
  readonly onClose: () => void;
}

function optInt(v: string): number | undefined | null {
  if (v.trim() === '') return undefined;
  return /^\d+$/.test(v.trim()) && Number(v) >= 1 ? Number(v) : null;
}

export function MigrateDialog({ vm, hosts, onClose }: MigrateDialogProps) {
  const client = useClient();
  const actions = useHostActions();
  const targets = hosts.filter((h) => h.name !== vm.host);
  const active = vm.state === 'running' || vm.state === 'paused';
  const [to, setTo] = useState(targets.find((h) => h.status === 'connected')?.name ?? targets[0]?.name ?? '');
  const [live, setLive] = useState(active);
  const [storage, setStorage] = useState<'copy' | 'shared'>('copy');
  const [unsafe, setUnsafe] = useState(false);
  const [downtime, setDowntime] = useState('');
  const [bandwidth, setBandwidth] = useState('');
  const [job, setJob] = useState<JobInfo | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [starting, setStarting] = useState(false);

  const jobId = job?.id ?? null;
  useEffect(() => {
    if (jobId === null) return undefined;
    const off = client.on('job.progress', (j) => {
      if (j.id === jobId) setJob(j);
    });
    // The end may have come before we subscribed.
    void actions.waitJob({ id: jobId }).then((j) => setJob(j), () => undefined);
    return off;
  }, [client, actions, jobId]);

  const dt = optInt(downtime);
  const bw = optInt(bandwidth);
  const running = job !== null && job.state === 'running';
  const finished = job !== null && job.state !== 'running';
  const ready = to !== '' && dt !== null && bw !== null && !starting && job === null && (live ? active : vm.state === 'poweredOff');

  const start = () => {
    if (!ready) return;
    const spec: MigrateSpec = {
      ref: `${vm.host}:${vm.name}`,
      to,
      live,
      ...(storage === 'copy' ? { copyStorage: true } : {}),
      ...(storage === 'shared' && unsafe ? { unsafe: true } : {}),
      ...(dt !== undefined && dt !== null ? { maxDowntimeMs: dt } : {}),
      ...(bw !== undefined && bw !== null ? { bandwidthMiBps: bw } : {}),
    };
    setStarting(true);
    setProblem(null);
    actions.migrate(spec).then(
      (j) => {
        setStarting(false);
        setJob(j);
      },
      (err: unknown) => {
        setStarting(false);
        setProblem(toProblem(err, `Could not migrate '${vm.name}'`));
      },
    );
  };

  const cancel = () => {
    if (job && running) void actions.cancelJob({ id: job.id }).catch(() => undefined);
  };

  const m = job?.migration;
  const result = job?.state === 'done' ? (job.result as MigrateResult) : null;
  const failed = job && (job.state === 'failed' || job.state === 'interrupted') ? job.error : null;
  // libvirt's refusal of a shared-storage migration: offer copying instead.
  const suggestCopy = failed && storage === 'shared' && /shared|unsafe|storage/i.test(failed.message);

  return (
    <Dialog open onClose={() => !running && !starting && onClose()} aria-labelledby="migrate-title" maxWidth="sm" fullWidth>
      <DialogTitle id="migrate-title">
        Migrate &apos;{vm.name}&apos; from {vm.host}
      </DialogTitle>
      <DialogContent>
        {job === null && (
          <Box sx={{ display: 'flex', flexDirection: 'column', gap: 2, pt: 1 }}>
            {targets.length === 0 && <Alert severity="info">Add another host to migrate to.</Alert>}
            <TextField select label="Destination host" value={to} onChange={(e) => setTo(e.target.value)} disabled={targets.length === 0}>
              {targets.map((h) => (
                <MenuItem key={h.name} value={h.name} disabled={h.status !== 'connected'}>
                  {h.name} {h.status !== 'connected' ? `(${h.status})` : ''}
                </MenuItem>
              ))}
            </TextField>
            <RadioGroup row value={live ? 'live' : 'offline'} onChange={(e) => setLive(e.target.value === 'live')} aria-label="Migration kind">
              <FormControlLabel value="live" control={<Radio />} label="Live (keeps running)" disabled={!active} />
              <FormControlLabel value="offline" control={<Radio />} label="Offline (powered off)" disabled={vm.state !== 'poweredOff'} />
            </RadioGroup>
            <RadioGroup value={storage} onChange={(e) => setStorage(e.target.value as 'copy' | 'shared')} aria-label="Storage">
              <FormControlLabel value="copy" control={<Radio />} label="Copy the storage to the destination" />
              <FormControlLabel value="shared" control={<Radio />} label="The storage is shared (both hosts see the disks)" />
            </RadioGroup>
            {storage === 'shared' && (
              <FormControlLabel
                sx={{ ml: 3 }}
                control={<Checkbox checked={unsafe} onChange={(e) => setUnsafe(e.target.checked)} />}
                label="libvirt cannot tell it is shared (a plain directory both hosts mount): migrate anyway"
              />
            )}
            <Box sx={{ display: 'flex', gap: 1.5 }}>
              <TextField label="Maximum downtime (ms)" value={downtime} onChange={(e) => setDowntime(e.target.value)} error={dt === null} helperText={dt === null ? 'a whole number' : 'empty: libvirt’s default'} sx={{ flex: 1 }} />
              <TextField label="Bandwidth (MiB/s)" value={bandwidth} onChange={(e) => setBandwidth(e.target.value)} error={bw === null} helperText={bw === null ? 'a whole number' : 'empty: unlimited'} sx={{ flex: 1 }} />
            </Box>
          </Box>
        )}
        {job !== null && (
          <Box sx={{ pt: 1 }} aria-live="polite">
            <Typography variant="body2" sx={{ mb: 1 }}>
              {job.title}
            </Typography>
            <LinearProgress variant={m ? 'determinate' : 'indeterminate'} value={job.percent} aria-label="Migration progress" />
            {m && (
              <Typography variant="caption" color="text.secondary" component="div" sx={{ mt: 1 }} data-testid="migrate-figures">
                Sent {formatBytes(m.dataProcessed)} · remaining {formatBytes(m.dataRemaining)}
                {m.dirtyRate !== null ? ` · dirtying ${formatBytes(m.dirtyRate)}/s` : ''} · {(m.elapsedMs / 1000).toFixed(1)} s
              </Typography>
            )}
            {result && (
              <Alert severity="success" sx={{ mt: 2 }} data-testid="migrate-result">
                Migrated to {result.to} in {(result.elapsedMs / 1000).toFixed(1)} s; downtime{' '}
                {result.downtimeMs !== null ? `${result.downtimeMs} ms` : 'not reported by libvirt'}.
              </Alert>
            )}
            {job.state === 'cancelled' && (
              <Alert severity="info" sx={{ mt: 2 }}>
                Cancelled: &apos;{vm.name}&apos; keeps running on {vm.host}.
              </Alert>
            )}
            {failed && <ProblemAlert problem={toProblem(failed, 'The migration failed')} sx={{ mt: 2 }} />}
            {suggestCopy && (
              <Alert severity="info" sx={{ mt: 1 }}>
                Choose “Copy the storage” to migrate without shared storage.
              </Alert>
            )}
          </Box>
        )}
        {problem && <ProblemAlert problem={problem} sx={{ mt: 2 }} />}
      </DialogContent>
      <DialogActions>
        {running ? (
          <Button onClick={cancel} color="warning">
            Cancel migration
          </Button>
        ) : (
          <Button onClick={onClose}>{finished ? 'Close' : 'Cancel'}</Button>
        )}
        {job === null && (
          <Button variant="contained" onClick={start} disabled={!ready}>
            Migrate
          </Button>
        )}
        {suggestCopy && (
          <Button
            variant="contained"
            onClick={() => {
              setStorage('copy');
              setJob(null);
            }}
          >
            Back
          </Button>
        )}
      </DialogActions>
    </Dialog>
  );
}
