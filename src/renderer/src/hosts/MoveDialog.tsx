/**
 * Move to…: a powered-off VM between this computer and a libvirt host. From here, the host
 * and its storage pool; from a host, back to this computer. Whether the VM stays where it was
 * is the user's choice (kept unless they tick the box). The job's progress, Stop (nothing
 * half-made is left at either end) and the result run in the shared OperationDialog shell.
 */
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Checkbox from '@mui/material/Checkbox';
import FormControlLabel from '@mui/material/FormControlLabel';
import MenuItem from '@mui/material/MenuItem';
import TextField from '@mui/material/TextField';
import type { HostSummary, JobInfo, MoveResult, MoveSpec, VmSummary } from '../../../core/api/contract';
import { OperationButton, OperationDialog, OperationProgress, useOperation } from '../components/OperationDialog';
import { useHostActions } from '../actions/useHostActions';
import { useJob } from '../media/useJobs';
import { formatBytes } from '../util/format';
import { jobOutcome } from './MigrateDialog';

export interface MoveDialogProps {
  readonly vm: VmSummary;
  readonly hosts: readonly HostSummary[];
  readonly onClose: () => void;
}

export function MoveDialog({ vm, hosts, onClose }: MoveDialogProps) {
  const actions = useHostActions();
  const op = useOperation();
  const fromHost = vm.host;
  const targets = fromHost === undefined ? hosts : [];
  const [to, setTo] = useState(fromHost !== undefined ? 'local' : (targets.find((h) => h.status === 'connected')?.name ?? ''));
  const [pool, setPool] = useState('default');
  const [name, setName] = useState(vm.name);
  const [deleteSource, setDeleteSource] = useState(false);
  const [started, setStarted] = useState<JobInfo | null>(null);
  const job = useJob(started);
  const [result, setResult] = useState<MoveResult | null>(null);


  const off = vm.state === 'poweredOff' || (fromHost === undefined && vm.state === 'aborted');
  const ready = off && to !== '' && name.trim() !== '' && pool.trim() !== '' && !op.running && result === null;
  const where = fromHost !== undefined ? `host '${fromHost}'` : 'this computer';

  const start = () => {
    if (!ready) return;
    const spec: MoveSpec = {
      ref: fromHost !== undefined ? `${fromHost}:${vm.name}` : vm.uuid,
      to,
      ...(fromHost === undefined && pool.trim() !== 'default' ? { pool: pool.trim() } : {}),
      ...(name.trim() !== vm.name ? { name: name.trim() } : {}),
      ...(deleteSource ? { deleteSource: true } : {}),
    };
    op.run(
      async () => {
        const j = await actions.move(spec);
        if (op.mounted.current) setStarted(j);
        return (await jobOutcome(await actions.waitJob({ id: j.id }))) as MoveResult;
      },
      { failure: `Could not move '${vm.name}'`, onDone: (r) => setResult(r) },
    );
  };

  return (
    <OperationDialog
      open
      running={op.running}
      onClose={onClose}
      titleId="move-title"
      title={`Move '${vm.name}' from ${fromHost ?? 'this computer'}`}
      onSubmit={start}
      progress={<OperationProgress text={job?.title ?? 'Starting…'} percent={job ? job.percent : null} label="Move progress" />}
      stopped={op.stopped ? `Stopped: nothing was left half-made; '${vm.name}' is unchanged on ${where}.` : null}
      problem={op.problem}
      stop={op.running && job ? { onStop: () => void actions.cancelJob({ id: job.id }).catch(() => undefined), label: 'Stop the move' } : null}
      actions={
        result ? (
          <Button variant="contained" onClick={onClose}>
            Close
          </Button>
        ) : (
          <OperationButton type="submit" busy={op.running} disabled={!ready}>
            Move
          </OperationButton>
        )
      }
    >
      {result ? (
        <Alert severity={result.warnings.length ? 'warning' : 'success'} data-testid="move-result">
          Moved to {result.to === 'local' ? 'this computer' : result.to} as {result.ref}: {formatBytes(result.bytesCopied)} copied in {(result.elapsedMs / 1000).toFixed(1)} s
          {result.deletedSource ? `; removed from ${where}.` : `; still on ${where} too.`}
          {result.warnings.map((w) => (
            <div key={w}>{w}</div>
          ))}
        </Alert>
      ) : (
        <Box sx={{ display: 'flex', flexDirection: 'column', gap: 2, pt: 1 }}>
          {!off && <Alert severity="info">Power &apos;{vm.name}&apos; off first: its disks must not change while they are copied.</Alert>}
          {fromHost === undefined ? (
            <>
              {targets.length === 0 && <Alert severity="info">Add a libvirt host to move VMs to.</Alert>}
              <TextField select label="Destination host" value={to} onChange={(e) => setTo(e.target.value)} disabled={targets.length === 0 || op.running}>
                {targets.map((h) => (
                  <MenuItem key={h.name} value={h.name} disabled={h.status !== 'connected'}>
                    {h.name} {h.status !== 'connected' ? `(${h.status})` : ''}
                  </MenuItem>
                ))}
              </TextField>
              <TextField label="Storage pool" value={pool} onChange={(e) => setPool(e.target.value)} helperText="The host's pool that receives the disks" disabled={op.running} />
            </>
          ) : (
            <TextField select label="Destination" value={to} onChange={(e) => setTo(e.target.value)} disabled={op.running}>
              <MenuItem value="local">This computer</MenuItem>
            </TextField>
          )}
          <TextField label="Name there" value={name} onChange={(e) => setName(e.target.value)} disabled={op.running} />
          <FormControlLabel
            control={<Checkbox checked={deleteSource} onChange={(e) => setDeleteSource(e.target.checked)} disabled={op.running} />}
            label={`Delete it (and its disks) from ${where} once the move succeeded`}
          />
        </Box>
      )}
    </OperationDialog>
  );
}
