/**
 * Take a snapshot. Mounted afresh for each opening (the parent keys it), so the defaults are
 * computed once. A live snapshot of a running VM streams its memory out while the guest
 * keeps running; the bar follows the core's progress and Stop (`vms.cancel`) ends it with
 * nothing kept.
 */
import { useEffect, useRef, useState } from 'react';
import Box from '@mui/material/Box';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import AddAPhotoOutlinedIcon from '@mui/icons-material/AddAPhotoOutlined';
import type { SnapshotInfo, SnapshotList, VmInfo } from '../../../core/api/contract';
import { toProblem, type Problem } from '../components/ErrorAlert';
import { useNotify } from '../components/Notifications';
import { OperationButton, OperationDialog, useMounted } from '../components/OperationDialog';
import { useSnapshotActions } from '../actions/useSnapshotActions';
import { isLive, SnapshotProgress, useStopSave } from './dialogParts';
import { runSnapshotOp } from './pending';
import { useVmProgress } from './progress';
import { storageReason } from './reasons';
import { MAX_DESCRIPTION, MAX_NAME, defaultSnapshotName } from './tree';

export interface TakeSnapshotDialogProps {
  readonly open: boolean;
  readonly vm: VmInfo;
  readonly list: SnapshotList | null;
  readonly onClose: () => void;
  readonly onTaken: (snapshot: SnapshotInfo) => void;
}

/** What the dialog says once a take was stopped on request (the core answered CANCELLED). */
const STOPPED_TEXT = 'Taking the snapshot was stopped; nothing was kept and the VM kept running.';

export function TakeSnapshotDialog({ open, vm, list, onClose, onTaken }: TakeSnapshotDialogProps) {
  const snapshots = useSnapshotActions();
  const notify = useNotify();
  const mounted = useMounted();
  const [name, setName] = useState(() => defaultSnapshotName(list));
  const [description, setDescription] = useState('');
  const [running, setRunning] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const save = useStopSave(vm.uuid, mounted, setProblem, 'taking the snapshot');
  const [stopped, setStopped] = useState(false);
  const progress = useVmProgress(vm.uuid, 'takeSnapshot', running);
  const stopRef = useRef<HTMLButtonElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const trimmed = name.trim();
  const nameError = trimmed.length === 0 ? 'Give the snapshot a name' : trimmed.length > MAX_NAME ? `At most ${MAX_NAME} characters` : null;
  const descError = description.length > MAX_DESCRIPTION ? `At most ${MAX_DESCRIPTION.toLocaleString()} characters` : null;
  const live = isLive(vm);
  const blocked = storageReason(vm);
  const showStop = running && save.stoppable && vm.state === 'running';

  // Take is disabled once pressed: keyboard focus moves on to Stop, and back to Cancel after.
  useEffect(() => {
    if (showStop) stopRef.current?.focus();
  }, [showStop]);
  useEffect(() => {
    if (stopped) cancelRef.current?.focus();
  }, [stopped]);

  const submit = () => {
    if (running || nameError || descError || blocked) return;
    const target = { uuid: vm.uuid, name: vm.name };
    setRunning(true);
    setProblem(null);
    setStopped(false);
    save.begin(vm.state === 'running');
    runSnapshotOp(target.uuid, 'take', live ? `Saving the memory and disks of '${target.name}'…` : `Saving the disks of '${target.name}'…`, () =>
      snapshots.take({ ref: target.uuid, name: trimmed, ...(description.trim() ? { description: description.trim() } : {}) }),
    ).then(
      (info) => {
        notify.success(`Took snapshot '${info.name}' of '${target.name}'.`);
        if (!mounted.current) return;
        setRunning(false);
        save.end();
        onTaken(info);
      },
      (err: unknown) => {
        const cancelled = (err as { code?: string }).code === 'CANCELLED';
        if (!mounted.current) {
          if (cancelled) notify.warning((err as Error).message || STOPPED_TEXT, `'${target.name}'`);
          else notify.error(err, `Could not take a snapshot of '${target.name}'`);
          return;
        }
        setRunning(false);
        save.end();
        if (cancelled) setStopped(true);
        else setProblem(toProblem(err, 'Could not take the snapshot'));
      },
    );
  };

  const vmWords =
    vm.state === 'paused'
      ? `'${vm.name}' is paused: the snapshot keeps its memory as well as its disks and settings, so restoring it resumes the guest exactly at this moment. Its memory is saved in one step.`
      : `'${vm.name}' is running: the snapshot keeps its memory as well as its disks and settings, so restoring it resumes the guest exactly at this moment. The guest keeps running while its memory is saved, and you can stop the save midway.`;

  return (
    <OperationDialog
      blocked={blocked}
      open={open}
      running={running}
      onClose={onClose}
      titleId="take-snapshot-title"
      icon={<AddAPhotoOutlinedIcon color="primary" aria-hidden />}
      title={`Take Snapshot of ${vm.name}`}
      onSubmit={submit}
      progress={<SnapshotProgress vm={vm} fallback="Taking the snapshot…" label="Taking the snapshot" progress={progress} note={save.note} />}
      stopped={stopped ? STOPPED_TEXT : null}
      problem={problem}
      stop={showStop ? { onStop: save.stop, disabled: save.stopping || save.unstoppable, label: 'Stop taking the snapshot', ref: stopRef } : null}
      cancelRef={cancelRef}
      actions={
        <OperationButton type="submit" busy={running} disabled={running || nameError !== null || descError !== null || blocked !== null}>
          Take
        </OperationButton>
      }
    >
      <Typography variant="body2" color="text.secondary" sx={{ mb: 2 }}>
        {live ? vmWords : `'${vm.name}' is not running: the snapshot keeps its disks and settings. Restoring it later boots from them.`}
      </Typography>
      <Box sx={{ display: 'grid', gap: 2 }}>
        <TextField
          label="Snapshot name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          error={nameError !== null}
          helperText={nameError ?? undefined}
          disabled={running}
          autoFocus
          onFocus={(e) => e.target.select()}
          slotProps={{ htmlInput: { maxLength: MAX_NAME + 1, spellCheck: false } }}
        />
        <TextField
          label="Description"
          value={description}
          onChange={(e) => setDescription(e.target.value)}
          error={descError !== null}
          helperText={descError ?? 'Optional: what is in this state, why you took it.'}
          disabled={running}
          multiline
          minRows={3}
          maxRows={8}
        />
      </Box>
    </OperationDialog>
  );
}
