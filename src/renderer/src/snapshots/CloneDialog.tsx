/**
 * Clone a VM, from its current state or one of its snapshots, as VirtualBox's Clone wizard
 * does in one page: the new name, where to clone from, and full or linked. A linked clone
 * stands on a base image made from the source; the dialog says what that means for
 * deleting the source later.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import CircularProgress from '@mui/material/CircularProgress';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import FormControl from '@mui/material/FormControl';
import FormControlLabel from '@mui/material/FormControlLabel';
import FormLabel from '@mui/material/FormLabel';
import LinearProgress from '@mui/material/LinearProgress';
import MenuItem from '@mui/material/MenuItem';
import Radio from '@mui/material/Radio';
import RadioGroup from '@mui/material/RadioGroup';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import ContentCopyOutlinedIcon from '@mui/icons-material/ContentCopyOutlined';
import type { OpResult, SnapshotList, VmInfo, VmSummary } from '../../../core/api/contract';
import { ProblemAlert, toProblem, type Problem } from '../components/ErrorAlert';
import { useNotify } from '../components/Notifications';
import { useClient } from '../hooks/client';
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
  const client = useClient();
  const notify = useNotify();
  const [name, setName] = useState(() => freeName(vm.name, vms));
  const [source, setSource] = useState<string>(snapshotId ?? CURRENT);
  const [linked, setLinked] = useState(false);
  const [snapshots, setSnapshots] = useState<SnapshotList | null>(list);
  const [running, setRunning] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [stopping, setStopping] = useState(false);
  const [cancelled, setCancelled] = useState(false);
  const pct = useCopyProgress(vm.uuid, 'clone', running);
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  useEffect(() => {
    if (snapshots !== null) return;
    client.call('snapshots.list', { ref: vm.uuid }).then(
      (l) => {
        if (mounted.current) setSnapshots(l);
      },
      () => undefined,
    );
  }, [client, vm.uuid, snapshots]);

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

  const submit = (e?: FormEvent) => {
    e?.preventDefault();
    if (running || nameError || blocked) return;
    setRunning(true);
    setProblem(null);
    setCancelled(false);
    const target = { uuid: vm.uuid, name: vm.name };
    client.call('vms.clone', { ref: target.uuid, name: trimmed, ...(source !== CURRENT ? { snapshot: source } : {}), linked }).then(
      (res) => {
        notify.success(`Created '${res.vm.name}', a ${linked ? 'linked' : 'full'} clone of '${target.name}'.`);
        for (const w of res.warnings) notify.warning(w, `'${res.vm.name}'`);
        if (!mounted.current) return;
        setRunning(false);
        onCloned(res);
      },
      (err: unknown) => {
        if (!mounted.current) {
          notify.error(err, `Could not clone '${target.name}'`);
          return;
        }
        setRunning(false);
        setStopping(false);
        if ((err as { code?: string }).code === 'CANCELLED') setCancelled(true);
        else setProblem(toProblem(err, `Could not clone '${target.name}'`));
      },
    );
  };

  const live = vm.state === 'running' || vm.state === 'paused';
  return (
    <Dialog
      open={open}
      onClose={() => {
        if (!running) onClose();
      }}
      aria-labelledby="clone-title"
      maxWidth="sm"
      fullWidth
    >
      <form onSubmit={submit} noValidate>
        <DialogTitle id="clone-title" sx={{ display: 'flex', alignItems: 'center', gap: 1.25 }}>
          <ContentCopyOutlinedIcon color="primary" aria-hidden />
          Clone {vm.name}
        </DialogTitle>
        <DialogContent>
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
          </Box>
          {blocked && (
            <Alert severity="warning" sx={{ mt: 2 }}>
              {blocked}
            </Alert>
          )}
          {running && (
            <Box role="status" aria-live="polite" sx={{ mt: 2 }}>
              <Typography variant="body2" color="text.secondary" sx={{ mb: 0.75 }}>
                {stopping ? 'Stopping…' : `Copying the disks of '${vm.name}'…${pct !== null ? ` ${pct}%` : ''}`}
              </Typography>
              <LinearProgress aria-label="Cloning" variant={pct !== null ? 'determinate' : 'indeterminate'} value={pct ?? 0} />
            </Box>
          )}
          {cancelled && (
            <Alert severity="info" sx={{ mt: 2 }}>
              Cloning was stopped; nothing of the clone was kept.
            </Alert>
          )}
          {problem && <ProblemAlert problem={problem} sx={{ mt: 2 }} />}
        </DialogContent>
        <DialogActions>
          {running ? (
            <Button
              disabled={stopping}
              onClick={() => {
                setStopping(true);
                client.call('vms.cancel', { ref: vm.uuid }).catch(() => setStopping(false));
              }}
            >
              Stop
            </Button>
          ) : (
            <Button onClick={onClose}>Cancel</Button>
          )}
          <Button
            type="submit"
            variant="contained"
            disabled={running || nameError !== null || blocked !== null}
            startIcon={running ? <CircularProgress size={14} color="inherit" /> : undefined}
          >
            Clone
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}
