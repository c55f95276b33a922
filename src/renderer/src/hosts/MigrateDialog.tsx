/**
 * Migrate a libvirt host's VM to another host: the destination, live or offline, copy the
 * storage or it is shared, maximum downtime and bandwidth; then the job's progress (data sent,
 * remaining, dirty rate), Stop (the VM keeps running on the source), and the result with
 * the total time and libvirt's own downtime figure. Runs in the shared OperationDialog shell.
 */
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Checkbox from '@mui/material/Checkbox';
import FormControlLabel from '@mui/material/FormControlLabel';
import MenuItem from '@mui/material/MenuItem';
import Radio from '@mui/material/Radio';
import RadioGroup from '@mui/material/RadioGroup';
import TextField from '@mui/material/TextField';
import type { HostSummary, JobInfo, MigrateResult, MigrateSpec, VmSummary } from '../../../core/api/contract';
import { OperationButton, OperationDialog, OperationProgress, useOperation } from '../components/OperationDialog';
import { useHostActions } from '../actions/useHostActions';
import { useJob } from '../media/useJobs';
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

/** Runs a job to its end: its result, or its error thrown (CANCELLED for a stopped one). */
export async function jobOutcome(end: JobInfo): Promise<unknown> {
  if (end.state === 'done') return end.result;
  throw end.error ?? { code: end.state === 'cancelled' ? 'CANCELLED' : 'INTERNAL', message: `${end.title}: ${end.state}` };
}

export function MigrateDialog({ vm, hosts, onClose }: MigrateDialogProps) {
  const actions = useHostActions();
  const op = useOperation();
  const targets = hosts.filter((h) => h.name !== vm.host);
  const active = vm.state === 'running' || vm.state === 'paused';
  const [to, setTo] = useState(targets.find((h) => h.status === 'connected')?.name ?? targets[0]?.name ?? '');
  const [live, setLive] = useState(active);
  const [storage, setStorage] = useState<'copy' | 'shared'>('copy');
  const [unsafe, setUnsafe] = useState(false);
  const [downtime, setDowntime] = useState('');
  const [bandwidth, setBandwidth] = useState('');
  const [started, setStarted] = useState<JobInfo | null>(null);
  const job = useJob(started);
  const [result, setResult] = useState<MigrateResult | null>(null);


  const dt = optInt(downtime);
  const bw = optInt(bandwidth);
  const ready = to !== '' && dt !== null && bw !== null && !op.running && result === null && (live ? active : vm.state === 'poweredOff');

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
    op.run(
      async () => {
        const j = await actions.migrate(spec);
        if (op.mounted.current) setStarted(j);
        return (await jobOutcome(await actions.waitJob({ id: j.id }))) as MigrateResult;
      },
      { failure: `Could not migrate '${vm.name}'`, onDone: (r) => setResult(r) },
    );
  };

  const m = job?.migration;
  // libvirt's refusal of a shared-storage migration: offer copying instead.
  const suggestCopy = op.problem !== null && storage === 'shared' && /shared|unsafe|storage/i.test(`${op.problem.title} ${JSON.stringify(op.problem)}`);

  return (
    <OperationDialog
      open
      running={op.running}
      onClose={onClose}
      titleId="migrate-title"
      title={`Migrate '${vm.name}' from ${vm.host}`}
      onSubmit={start}
      progress={
        <OperationProgress
          text={job?.title ?? 'Starting the migration…'}
          percent={m ? (job?.percent ?? 0) : null}
          label="Migration progress"
          caption={
            m
              ? `Sent ${formatBytes(m.dataProcessed)} · remaining ${formatBytes(m.dataRemaining)}${m.dirtyRate !== null ? ` · dirtying ${formatBytes(m.dirtyRate)}/s` : ''} · ${(m.elapsedMs / 1000).toFixed(1)} s`
              : null
          }
        />
      }
      stopped={op.stopped ? `Cancelled: '${vm.name}' keeps running on ${vm.host}.` : null}
      problem={op.problem}
      stop={op.running && job ? { onStop: () => void actions.cancelJob({ id: job.id }).catch(() => undefined), label: 'Cancel migration' } : null}
      actions={
        result ? (
          <Button variant="contained" onClick={onClose}>
            Close
          </Button>
        ) : (
          <>
            {suggestCopy && <Button onClick={() => setStorage('copy')}>Copy the storage instead</Button>}
            <OperationButton type="submit" busy={op.running} disabled={!ready}>
              Migrate
            </OperationButton>
          </>
        )
      }
    >
      {result ? (
        <Alert severity="success" data-testid="migrate-result">
          Migrated to {result.to} in {(result.elapsedMs / 1000).toFixed(1)} s; downtime {result.downtimeMs !== null ? `${result.downtimeMs} ms` : 'not reported by libvirt'}.
        </Alert>
      ) : (
        <Box sx={{ display: 'flex', flexDirection: 'column', gap: 2, pt: 1 }}>
          {targets.length === 0 && <Alert severity="info">Add another host to migrate to.</Alert>}
          <TextField select label="Destination host" value={to} onChange={(e) => setTo(e.target.value)} disabled={targets.length === 0 || op.running}>
            {targets.map((h) => (
              <MenuItem key={h.name} value={h.name} disabled={h.status !== 'connected'}>
                {h.name} {h.status !== 'connected' ? `(${h.status})` : ''}
              </MenuItem>
            ))}
          </TextField>
          <RadioGroup row value={live ? 'live' : 'offline'} onChange={(e) => setLive(e.target.value === 'live')} aria-label="Migration kind">
            <FormControlLabel value="live" control={<Radio />} label="Live (keeps running)" disabled={!active || op.running} />
            <FormControlLabel value="offline" control={<Radio />} label="Offline (powered off)" disabled={vm.state !== 'poweredOff' || op.running} />
          </RadioGroup>
          <RadioGroup value={storage} onChange={(e) => setStorage(e.target.value as 'copy' | 'shared')} aria-label="Storage">
            <FormControlLabel value="copy" control={<Radio />} label="Copy the storage to the destination" disabled={op.running} />
            <FormControlLabel value="shared" control={<Radio />} label="The storage is shared (both hosts see the disks)" disabled={op.running} />
          </RadioGroup>
          {storage === 'shared' && (
            <FormControlLabel
              sx={{ ml: 3 }}
              control={<Checkbox checked={unsafe} onChange={(e) => setUnsafe(e.target.checked)} disabled={op.running} />}
              label="libvirt cannot tell it is shared (a plain directory both hosts mount): migrate anyway"
            />
          )}
          <Box sx={{ display: 'flex', gap: 1.5 }}>
            <TextField label="Maximum downtime (ms)" value={downtime} onChange={(e) => setDowntime(e.target.value)} error={dt === null} helperText={dt === null ? 'a whole number' : 'empty: libvirt’s default'} sx={{ flex: 1 }} disabled={op.running} />
            <TextField label="Bandwidth (MiB/s)" value={bandwidth} onChange={(e) => setBandwidth(e.target.value)} error={bw === null} helperText={bw === null ? 'a whole number' : 'empty: unlimited'} sx={{ flex: 1 }} disabled={op.running} />
          </Box>
        </Box>
      )}
    </OperationDialog>
  );
}
