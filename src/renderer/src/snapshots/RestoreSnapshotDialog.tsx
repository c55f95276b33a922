/**
 * Restore a snapshot, optionally keeping a snapshot of the current state first (with its
 * own progress and Stop while that one's memory is saved).
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import Box from '@mui/material/Box';
import Checkbox from '@mui/material/Checkbox';
import FormControlLabel from '@mui/material/FormControlLabel';
import FormHelperText from '@mui/material/FormHelperText';
import RestoreRoundedIcon from '@mui/icons-material/RestoreRounded';
import type { SnapshotInfo, VmInfo } from '../../../core/api/contract';
import { NestboxError } from '../../../core/api/errors';
import { toProblem, type Problem } from '../components/ErrorAlert';
import { useNotify } from '../components/Notifications';
import { OperationButton, OperationDialog, useMounted } from '../components/OperationDialog';
import { useSnapshotActions } from '../actions/useSnapshotActions';
import { changedRows } from './diff';
import { isLive, Para, SnapshotCard, SnapshotProgress, useStopSave } from './dialogParts';
import { runSnapshotOp } from './pending';
import { useVmProgress } from './progress';
import { restoreReason, storageReason } from './reasons';
import { beforeRestoringName } from './tree';

/** What the Restore dialog says once Stop ended it during the snapshot of the current state. */
function stoppedText(snapName: string, kept: string | null): string {
  return kept
    ? `Stopped: the snapshot of the current state ('${kept}') was already taken and is kept, but '${snapName}' was not restored.`
    : `Stopped: nothing was restored and nothing was kept; the VM kept running as it was.`;
}

export interface RestoreSnapshotDialogProps {
  readonly open: boolean;
  readonly vm: VmInfo;
  readonly snapshot: SnapshotInfo;
  readonly now: number;
  readonly onClose: () => void;
  readonly onRestored: () => void;
}

export function RestoreSnapshotDialog({ open, vm, snapshot, now, onClose, onRestored }: RestoreSnapshotDialogProps) {
  const snapshots = useSnapshotActions();
  const notify = useNotify();
  const mounted = useMounted();
  const preBlocked = storageReason(vm) ?? (vm.allowed.includes('takeSnapshot') ? null : vm.state === 'saved' ? 'not possible while the machine state is saved' : 'not possible in this state');
  const [pre, setPre] = useState(preBlocked === null);
  const [running, setRunning] = useState(false);
  /** The snapshot of the current state is being taken (the first step, with its own progress). */
  const [preTaking, setPreTaking] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const preProgress = useVmProgress(vm.uuid, 'takeSnapshot', preTaking);
  /** The snapshot of the current state was stopped: nothing restored; `kept` names it if it got taken anyway. */
  const [stopped, setStopped] = useState<{ readonly kept: string | null } | null>(null);
  const save = useStopSave(vm.uuid, mounted, setProblem, 'taking the snapshot of the current state');
  const stopRef = useRef<HTMLButtonElement>(null);
  const showStop = running && preTaking && save.stoppable && vm.state === 'running';
  useEffect(() => {
    if (showStop) stopRef.current?.focus();
  }, [showStop]);
  const live = isLive(vm);
  const blocked = running ? null : restoreReason(vm, snapshot, undefined, undefined, false);
  const preName = beforeRestoringName(snapshot.name);
  const changes = changedRows(snapshot.config, vm.config);
  const takePre = pre && preBlocked === null;

  const go = () => {
    if (running || blocked) return;
    const target = { uuid: vm.uuid, name: vm.name };
    const snap = snapshot;
    const withPre = takePre;
    let took: string | null = null;
    /** Stop was pressed while the current state was saved: the restore does not go ahead. */
    let halted = false;
    setRunning(true);
    setProblem(null);
    setStopped(null);
    runSnapshotOp(target.uuid, 'restore', withPre ? `Taking snapshot '${preName}' of the current state…` : `Restoring '${snap.name}'…`, async (step) => {
      if (withPre) {
        setPreTaking(true);
        save.begin(vm.state === 'running');
        try {
          const s = await snapshots.take({ ref: target.uuid, name: preName, description: `Taken before restoring '${snap.name}'.` });
          took = s.name;
        } catch (err) {
          if ((err as { code?: string }).code === 'CANCELLED') halted = true;
          throw err;
        } finally {
          if (mounted.current) {
            setPreTaking(false);
            save.end();
          }
        }
        // Stop came too late to stop the save, but the user asked not to go on: nothing is restored.
        if (save.requested.current) {
          halted = true;
          throw new NestboxError('CANCELLED', `stopped before restoring '${snap.name}'`);
        }
        step(`Restoring '${snap.name}'…`);
      }
      return snapshots.restore({ ref: target.uuid, id: snap.id });
    }).then(
      (res) => {
        const resumes = res.vm.state === 'saved' && snap.withRam;
        notify.success(`Restored '${target.name}' to '${snap.name}'.${resumes ? ' It resumes from that moment at its next start.' : ''}`);
        for (const w of res.warnings) notify.warning(w, `'${target.name}'`);
        if (!mounted.current) return;
        setRunning(false);
        onRestored();
      },
      (err: unknown) => {
        if (halted) {
          if (!mounted.current) {
            notify.warning(stoppedText(snap.name, took), `'${target.name}'`);
            return;
          }
          setRunning(false);
          if (took) setPre(false);
          setStopped({ kept: took });
          return;
        }
        const title = took ? `Snapshot '${took}' was taken, but restoring '${snap.name}' failed` : `Could not restore '${snap.name}'`;
        if (!mounted.current) {
          notify.error(err, title);
          return;
        }
        setRunning(false);
        // The current state is already kept: a second try must not take it again.
        if (took) setPre(false);
        setProblem(toProblem(err, title));
      },
    );
  };

  let what: ReactNode;
  if (live) {
    what = (
      <Para>
        &apos;{vm.name}&apos; returns immediately to the moment this snapshot was taken: the guest continues from the memory, disks and
        settings saved then. <strong>The current state is lost</strong> unless you keep a snapshot of it.
      </Para>
    );
  } else if (snapshot.withRam) {
    what = (
      <Para>
        The disks and settings go back to that moment, and &apos;{vm.name}&apos; <strong>will resume from that moment at its next start</strong>{' '}
        (its memory was saved with the snapshot). The current state of the disks is lost unless you keep a snapshot of it.
      </Para>
    );
  } else {
    what = (
      <Para>
        The disks and settings go back to that moment; &apos;{vm.name}&apos; boots from them at its next start. The current state of the disks is
        lost unless you keep a snapshot of it.
      </Para>
    );
  }

  return (
    <OperationDialog
      blocked={blocked}
      open={open}
      running={running}
      onClose={onClose}
      titleId="restore-snapshot-title"
      describedBy="restore-snapshot-text"
      icon={<RestoreRoundedIcon color="primary" aria-hidden />}
      title={`Restore snapshot '${snapshot.name}'?`}
      progress={<SnapshotProgress vm={vm} fallback={`Restoring '${snapshot.name}'…`} progress={preTaking ? preProgress : null} note={preTaking ? save.note : null} />}
      stopped={stopped ? stoppedText(snapshot.name, stopped.kept) : null}
      problem={problem}
      stop={showStop ? { onStop: save.stop, disabled: save.stopping || save.unstoppable, label: 'Stop taking the snapshot', ref: stopRef } : null}
      actions={
        <OperationButton onClick={go} busy={running} disabled={running || blocked !== null} autoFocus>
          Restore
        </OperationButton>
      }
    >
      <SnapshotCard snapshot={snapshot} now={now} />
      <Box id="restore-snapshot-text" sx={{ mt: 2 }}>
        {what}
        {vm.state === 'saved' && <Para>The saved machine state of &apos;{vm.name}&apos; is discarded.</Para>}
        {changes.length > 0 && (
          <>
            <Para>Settings go back too:</Para>
            <Box component="ul" sx={{ m: 0, mb: 1.25, pl: 2.5, '& li': { fontSize: '0.8125rem', mb: 0.25 } }}>
              {changes.map((r) => (
                <li key={r.key}>
                  {r.label}: {r.now ?? 'none'} → {r.then ?? 'none'}
                </li>
              ))}
            </Box>
          </>
        )}
      </Box>
      <Box sx={{ mt: 1 }}>
        <FormControlLabel
          control={<Checkbox checked={takePre} onChange={(e) => setPre(e.target.checked)} disabled={running || preBlocked !== null} />}
          label="Take a snapshot of the current state first"
        />
        <FormHelperText sx={{ mt: -0.5, ml: 3.75 }}>
          {preBlocked !== null
            ? `Not available: ${preBlocked.replace(/^./, (c) => c.toLowerCase())}.`
            : takePre
              ? `Kept as '${preName}', so you can come back to it.`
              : 'Without it, the current state cannot be brought back.'}
        </FormHelperText>
      </Box>
    </OperationDialog>
  );
}
