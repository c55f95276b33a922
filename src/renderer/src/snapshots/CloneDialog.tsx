/**
 * Clone a VM, from its current state or one of its snapshots, as VirtualBox's Clone wizard
 * does in one page: the new name, where to clone from, and full or linked. A linked clone
 * stands on a base image made from the source; the dialog says what that means for
 * deleting the source later.
 */
import { useEffect, useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import FormControl from '@mui/material/FormControl';
import FormControlLabel from '@mui/material/FormControlLabel';
import FormLabel from '@mui/material/FormLabel';
import MenuItem from '@mui/material/MenuItem';
import Radio from '@mui/material/Radio';
import RadioGroup from '@mui/material/RadioGroup';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import ContentCopyOutlinedIcon from '@mui/icons-material/ContentCopyOutlined';
import type { OpResult, SnapshotList, VmInfo, VmSummary } from '../../../core/api/contract';
import { useNotify } from '../components/Notifications';
import { OperationButton, OperationDialog, OperationProgress, useOperation } from '../components/OperationDialog';
import { useSnapshotActions } from '../actions/useSnapshotActions';
import { useVmActions } from '../actions/useVmActions';
import { useVmProgress } from './progress';

const CURRENT = '__current__';

/** The percentage the core reports for a VM's clone or conversion, while `active`. */
export function useCopyProgress(uuid: string, operation: 'clone' | 'convertDisk', active: boolean): number | null {
  return useVmProgress(uuid, operation, active)?.percent ?? null;
}

export interface CloneDialogProps {
  readonly open: boolean;
  readonly vm: VmInfo;
  /** The VM's snapshots, when known (the Manager fetches them itself otherwise). */
  readonly list: SnapshotList | null;
  /** Preselected source: a snapshot id, or null for the current state. */
  readonly snapshotId: string | null;
  readonly vms: readonly VmSummary[];
  readonly onClose: () => void;
  readonly onCloned: (result: OpResult) => void;
}

function freeName(base: string, vms: readonly VmSummary[]): string {
  const taken = new Set(vms.map((v) => v.name.toLowerCase()));
  const first = `${base} Clone`.slice(0, 64);
  if (!taken.has(first.toLowerCase())) return first;
  for (let i = 2; ; i++) {
    const n = `${base} Clone ${i}`.slice(0, 64);
    if (!taken.has(n.toLowerCase())) return n;
  }
}

export function CloneDialog({ open, vm, list, snapshotId, vms, onClose, onCloned }: CloneDialogProps) {
  const vmActions = useVmActions();
  const snapshotActions = useSnapshotActions();
  const notify = useNotify();
  const [name, setName] = useState(() => freeName(vm.name, vms));
  const [source, setSource] = useState<string>(snapshotId ?? CURRENT);
  const [linked, setLinked] = useState(false);
  const [snapshots, setSnapshots] = useState<SnapshotList | null>(list);
  const op = useOperation();
  const { running, mounted } = op;
  const [stopping, setStopping] = useState(false);
  const pct = useCopyProgress(vm.uuid, 'clone', running);
  useEffect(() => {
    if (snapshots !== null) return;
    snapshotActions.list({ ref: vm.uuid }).then(
      (l) => {
        if (mounted.current) setSnapshots(l);
      },
      () => undefined,
    );
  }, [snapshotActions, vm.uuid, snapshots, mounted]);

  const trimmed = name.trim();
  const nameError =
    trimmed.length === 0
      ? 'Give the clone a name'
      : trimmed.length > 64
        ? 'At most 64 characters'
        : vms.some((v) => v.name.toLowerCase() === trimmed.toLowerCase())
          ? `A VM named '${trimmed}' already exists`
          : null;
  const snap = snapshots?.snapshots.find((s) => s.id === source) ?? null;
  const busyState = vm.state === 'starting' || vm.state === 'saving' || vm.state === 'stopping';
  const blocked = busyState ? `'${vm.name}' is ${vm.state}; wait until it is done` : null;

  const submit = () => {
    if (running || nameError || blocked) return;
    const target = { uuid: vm.uuid, name: vm.name };
    setStopping(false);
    op.run(() => vmActions.clone({ ref: target.uuid, name: trimmed, ...(source !== CURRENT ? { snapshot: source } : {}), linked }), {
      failure: `Could not clone '${target.name}'`,
      onSuccess: (res) => {
        notify.success(`Created '${res.vm.name}', a ${linked ? 'linked' : 'full'} clone of '${target.name}'.`);
        for (const w of res.warnings) notify.warning(w, `'${res.vm.name}'`);
      },
      onDone: onCloned,
      onFailedClosed: (err) => notify.error(err, `Could not clone '${target.name}'`),
    });
  };

  const live = vm.state === 'running' || vm.state === 'paused';
  return (
    <OperationDialog
      blocked={blocked}
      open={open}
      running={running}
      onClose={onClose}
      titleId="clone-title"
      icon={<ContentCopyOutlinedIcon color="primary" aria-hidden />}
      title={`Clone ${vm.name}`}
      onSubmit={submit}
      progress={
        <OperationProgress
          text={stopping ? 'Stopping…' : `Copying the disks of '${vm.name}'…${pct !== null ? ` ${pct}%` : ''}`}
          percent={pct}
          label="Cloning"
        />
      }
      stopped={op.stopped ? 'Cloning was stopped; nothing of the clone was kept.' : null}
      problem={op.problem}
      stop={
        running
          ? {
              disabled: stopping,
              onStop: () => {
                setStopping(true);
                vmActions.cancel({ ref: vm.uuid }).catch(() => setStopping(false));
              },
            }
          : null
      }
      actions={
        <OperationButton type="submit" busy={running} disabled={running || nameError !== null || blocked !== null}>
          Clone
        </OperationButton>
      }
    >
      <Box sx={{ display: 'grid', gap: 2, pt: 0.5 }}>
        <TextField
          label="Name of the clone"
          value={name}
          onChange={(e) => setName(e.target.value)}
          error={nameError !== null}
          helperText={nameError ?? 'The clone gets its own UUID and new MAC addresses.'}
          disabled={running}
          autoFocus
          onFocus={(e) => e.target.select()}
          slotProps={{ htmlInput: { maxLength: 65, spellCheck: false } }}
        />
        <TextField
          select
          label="Clone from"
          value={source}
          onChange={(e) => setSource(e.target.value)}
          disabled={running}
          helperText={
            source === CURRENT
              ? live
                ? `The disks as they are now; '${vm.name}' keeps running. Its memory is not copied: the clone boots afresh.`
                : `The disks and settings of '${vm.name}' as they are now.`
              : snap?.withRam
                ? `The disks and settings of '${snap.name}'; the clone boots from them (the memory stays with the snapshot).`
                : `The disks and settings of '${snap?.name ?? 'the snapshot'}'.`
          }
        >
          <MenuItem value={CURRENT}>Current state</MenuItem>
          {(snapshots?.snapshots ?? []).map((s) => (
            <MenuItem key={s.id} value={s.id}>
              Snapshot: {s.name}
            </MenuItem>
          ))}
        </TextField>
        <FormControl disabled={running}>
          <FormLabel id="clone-type-label">Clone type</FormLabel>
          <RadioGroup aria-labelledby="clone-type-label" value={linked ? 'linked' : 'full'} onChange={(e) => setLinked(e.target.value === 'linked')}>
            <FormControlLabel value="full" control={<Radio />} label="Full clone" />
            <Typography variant="caption" color="text.secondary" sx={{ ml: 4, mt: -0.75, mb: 0.5 }}>
              An independent copy of every disk. Takes as much space as the source and works on its own.
            </Typography>
            <FormControlLabel value="linked" control={<Radio />} label="Linked clone" />
            <Typography variant="caption" color="text.secondary" sx={{ ml: 4, mt: -0.75 }}>
              Its disks only keep what differs from a base image made from &apos;{vm.name}&apos;; linked clones of the same snapshot
              share it. &apos;{vm.name}&apos; cannot be deleted while linked clones stand on it.
            </Typography>
          </RadioGroup>
        </FormControl>
        {vm.config.tpm === true && (
          <Alert severity="info" sx={{ mt: 2 }}>
            The clone gets a copy of the TPM as it is now (keys, BitLocker and Windows Hello secrets), even when cloning from a snapshot: both
            VMs start with the same TPM identity.
          </Alert>
        )}
      </Box>
    </OperationDialog>
  );
}
