/**
 * The three snapshot dialogs: Take (name, description, progress), Restore (what will
 * happen, and a snapshot of the current state first, checked by default as in VirtualBox)
 * and Delete (where the children go). Each shows its own progress and errors and stays
 * open until the core answers; none can be dismissed halfway.
 */
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Checkbox from '@mui/material/Checkbox';
import CircularProgress from '@mui/material/CircularProgress';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import FormControlLabel from '@mui/material/FormControlLabel';
import FormHelperText from '@mui/material/FormHelperText';
import LinearProgress from '@mui/material/LinearProgress';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import AddAPhotoOutlinedIcon from '@mui/icons-material/AddAPhotoOutlined';
import DeleteOutlineRoundedIcon from '@mui/icons-material/DeleteOutlineRounded';
import RestoreRoundedIcon from '@mui/icons-material/RestoreRounded';
import type { SnapshotDeletePreview, SnapshotInfo, SnapshotList, VmInfo } from '../../../core/api/contract';
import { NestboxError } from '../../../core/api/errors';
import { formatBytes } from '../util/format';
import { ProblemAlert, toProblem, type Problem } from '../components/ErrorAlert';
import { useCopyProgress } from './CloneDialog';
import { useVmProgress, type VmProgress } from './progress';
import { useNotify } from '../components/Notifications';
import { useClient } from '../hooks/client';
import { changedRows } from './diff';
import { runSnapshotOp, usePendingSnapshotOp } from './pending';
import { RamChip } from './RamChip';
import { restoreReason, storageReason } from './reasons';
import { SnapshotThumb } from './SnapshotThumb';
import { absoluteTime, relativeTime } from './time';
import { MAX_DESCRIPTION, MAX_NAME, beforeRestoringName, defaultSnapshotName } from './tree';

const isLive = (vm: VmInfo) => vm.state === 'running' || vm.state === 'paused';

/** Ids of `id` and everything below it, top down. */
function subtree(all: readonly SnapshotInfo[], id: string): string[] {
  const out: string[] = [];
  const walk = (x: string) => {
    out.push(x);
    for (const n of all) if (n.parentId === x) walk(n.id);
  };
  if (all.some((n) => n.id === id)) walk(id);
  return out;
}

function useMounted() {
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  return mounted;
}

/** Seconds since `since`, ticking while an operation runs. */
function useElapsed(since: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (since === null) return undefined;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, [since]);
  return since === null ? 0 : Math.max(0, Math.floor((now - since) / 1000));
}

/**
 * The live progress line of the VM's snapshot operation: words, elapsed time, a bar. The bar
 * is determinate once the core reports a percentage (`progress`), with the bytes of memory
 * saved so far when it names them; `note` replaces the words (e.g. "Stopping…").
 */
function Progress({
  vm,
  fallback,
  progress = null,
  note = null,
  label,
}: {
  readonly vm: VmInfo;
  readonly fallback: string;
  readonly progress?: VmProgress | null;
  readonly note?: string | null;
  readonly label?: string;
}) {
  const op = usePendingSnapshotOp(vm.uuid);
  const elapsed = useElapsed(op?.since ?? null);
  const text = note ?? op?.text ?? fallback;
  const pct = progress ? Math.min(100, Math.max(0, Math.round(progress.percent))) : null;
  const bytes =
    progress?.bytesTotal !== undefined && progress.bytesTotal > 0
      ? `Saving memory: ${formatBytes(Math.min(progress.bytesDone ?? 0, progress.bytesTotal))} of ${formatBytes(progress.bytesTotal)}`
      : null;
  const figures = [pct !== null ? `${pct}%` : null, elapsed >= 1 ? `${elapsed} s` : null].filter((x) => x !== null).join(' · ');
  return (
    <Box role="status" aria-live="polite" sx={{ mt: 2 }}>
      <Box sx={{ display: 'flex', justifyContent: 'space-between', gap: 2, mb: 0.75 }}>
        <Typography variant="body2" color="text.secondary">
          {text}
        </Typography>
        {figures && (
          <Typography variant="body2" color="text.secondary" sx={{ fontVariantNumeric: 'tabular-nums', whiteSpace: 'nowrap' }} data-testid="progress-figures">
            {figures}
          </Typography>
        )}
      </Box>
      <LinearProgress
        // A fresh bar when it turns determinate, so it does not slide over from the moving one.
        key={pct !== null ? 'determinate' : 'indeterminate'}
        aria-label={label ?? text}
        aria-valuetext={pct !== null ? `${pct}%${bytes ? `, ${bytes.replace(/^Saving memory: /, '')}` : ''}` : undefined}
        variant={pct !== null ? 'determinate' : 'indeterminate'}
        value={pct ?? 0}
      />
      {bytes && (
        <Typography variant="caption" color="text.secondary" component="div" sx={{ mt: 0.5, fontVariantNumeric: 'tabular-nums' }} data-testid="progress-bytes">
          {bytes}
        </Typography>
      )}
    </Box>
  );
}

/** The snapshot a dialog is about, as the tree shows it but larger. */
export function SnapshotCard({ snapshot, now }: { readonly snapshot: SnapshotInfo; readonly now: number }) {
  return (
    <Box sx={{ display: 'flex', alignItems: 'center', gap: 1.5, p: 1.25, border: 1, borderColor: 'divider', borderRadius: 1.5, bgcolor: 'action.hover' }}>
      <SnapshotThumb snapshot={snapshot} width={96} height={60} lazy={false} />
      <Box sx={{ minWidth: 0 }}>
        <Box sx={{ display: 'flex', alignItems: 'center', gap: 1 }}>
          <Typography variant="body2" sx={{ fontWeight: 600, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>
            {snapshot.name}
          </Typography>
          {snapshot.withRam && <RamChip />}
        </Box>
        <Typography variant="caption" color="text.secondary" component="div">
          Taken {relativeTime(snapshot.createdAt, now)} · {absoluteTime(snapshot.createdAt)}
        </Typography>
        <Typography variant="caption" color="text.secondary" component="div">
          {snapshot.withRam ? 'Memory and disks (taken while running)' : 'Disks only (taken while powered off)'}
        </Typography>
      </Box>
    </Box>
  );
}

function Para({ children }: { readonly children: ReactNode }) {
  return (
    <Typography variant="body2" sx={{ mb: 1.25, '&:last-child': { mb: 0 } }}>
      {children}
    </Typography>
  );
}

/**
 * Stop for a live snapshot's memory save (`vms.cancel`), shared by Take and by Restore's
 * snapshot of the current state. `begin` arms it when a save starts (stoppable only for a
 * running VM: a paused one is saved in one step); `end` when the core has answered.
 */
function useStopSave(vmUuid: string, mounted: { readonly current: boolean }, onProblem: (p: Problem) => void, what: string) {
  const client = useClient();
  const [stoppable, setStoppable] = useState(false);
  const [stopping, setStopping] = useState(false);
  /** Stop was pressed but the core had nothing it could stop any more. */
  const [unstoppable, setUnstoppable] = useState(false);
  /** Stop was pressed for the current run (whatever the core answered). */
  const requested = useRef(false);
  const begin = (canStop: boolean) => {
    requested.current = false;
    setStopping(false);
    setUnstoppable(false);
    setStoppable(canStop);
  };
  const end = () => {
    setStopping(false);
    setStoppable(false);
  };
  const stop = () => {
    if (!stoppable || stopping) return;
    requested.current = true;
    setStopping(true);
    client.call('vms.cancel', { ref: vmUuid }).then(
      (r) => {
        if (!mounted.current || r.cancelled) return;
        // Nothing to stop: the save has just ended (or runs in one piece); it finishes on its own.
        setStopping(false);
        setUnstoppable(true);
      },
      (err: unknown) => {
        if (!mounted.current) return;
        setStopping(false);
        onProblem(toProblem(err, `Could not stop ${what}`));
      },
    );
  };
  const note = stopping ? 'Stopping…' : unstoppable ? 'It can no longer be stopped; it finishes on its own…' : null;
  return { stoppable, stopping, unstoppable, requested, begin, end, stop, note };
}

// ---------------------------------------------------------------------------------- take

export interface TakeSnapshotDialogProps {
  readonly open: boolean;
  readonly vm: VmInfo;
  readonly list: SnapshotList | null;
  readonly onClose: () => void;
  readonly onTaken: (snapshot: SnapshotInfo) => void;
}

/** What the dialog says once a take was stopped on request (the core answered CANCELLED). */
const STOPPED_TEXT = 'Taking the snapshot was stopped; nothing was kept and the VM kept running.';

/**
 * Mounted afresh for each opening (the parent keys it), so the defaults are computed once.
 * A live snapshot of a running VM streams its memory out while the guest keeps running; the
 * bar follows the core's `job.progress` and Stop (`vms.cancel`) ends it with nothing kept.
 */
export function TakeSnapshotDialog({ open, vm, list, onClose, onTaken }: TakeSnapshotDialogProps) {
  const client = useClient();
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

  const submit = (e?: FormEvent) => {
    e?.preventDefault();
    if (running || nameError || descError || blocked) return;
    const target = { uuid: vm.uuid, name: vm.name };
    setRunning(true);
    setProblem(null);
    setStopped(false);
    save.begin(vm.state === 'running');
    runSnapshotOp(target.uuid, 'take', live ? `Saving the memory and disks of '${target.name}'…` : `Saving the disks of '${target.name}'…`, () =>
      client.call('snapshots.take', { ref: target.uuid, name: trimmed, ...(description.trim() ? { description: description.trim() } : {}) }),
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
    <Dialog
      open={open}
      onClose={() => {
        if (!running) onClose();
      }}
      aria-labelledby="take-snapshot-title"
      maxWidth="sm"
      fullWidth
    >
      <form onSubmit={submit} noValidate>
        <DialogTitle id="take-snapshot-title" sx={{ display: 'flex', alignItems: 'center', gap: 1.25 }}>
          <AddAPhotoOutlinedIcon color="primary" aria-hidden />
          Take Snapshot of {vm.name}
        </DialogTitle>
        <DialogContent>
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
          {blocked && (
            <Alert severity="warning" sx={{ mt: 2 }}>
              {blocked}
            </Alert>
          )}
          {running && (
            <Progress
              vm={vm}
              fallback="Taking the snapshot…"
              label="Taking the snapshot"
              progress={progress}
              note={save.note}
            />
          )}
          {stopped && (
            <Alert severity="info" sx={{ mt: 2 }}>
              {STOPPED_TEXT}
            </Alert>
          )}
          {problem && <ProblemAlert problem={problem} sx={{ mt: 2 }} />}
        </DialogContent>
        <DialogActions>
          {showStop ? (
            <Button ref={stopRef} onClick={save.stop} disabled={save.stopping || save.unstoppable} aria-label="Stop taking the snapshot">
              Stop
            </Button>
          ) : (
            <Button ref={cancelRef} onClick={onClose} disabled={running}>
              Cancel
            </Button>
          )}
          <Button
            type="submit"
            variant="contained"
            disabled={running || nameError !== null || descError !== null || blocked !== null}
            startIcon={running ? <CircularProgress size={14} color="inherit" /> : undefined}
          >
            Take
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}

// ------------------------------------------------------------------------------- restore

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
  const client = useClient();
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
          const s = await client.call('snapshots.take', { ref: target.uuid, name: preName, description: `Taken before restoring '${snap.name}'.` });
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
      return client.call('snapshots.restore', { ref: target.uuid, id: snap.id });
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
    <Dialog
      open={open}
      onClose={() => {
        if (!running) onClose();
      }}
      aria-labelledby="restore-snapshot-title"
      aria-describedby="restore-snapshot-text"
      maxWidth="sm"
      fullWidth
    >
      <DialogTitle id="restore-snapshot-title" sx={{ display: 'flex', alignItems: 'center', gap: 1.25 }}>
        <RestoreRoundedIcon color="primary" aria-hidden />
        Restore snapshot &apos;{snapshot.name}&apos;?
      </DialogTitle>
      <DialogContent>
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
        {blocked && (
          <Alert severity="warning" sx={{ mt: 2 }}>
            {blocked}
          </Alert>
        )}
        {running && <Progress vm={vm} fallback={`Restoring '${snapshot.name}'…`} progress={preTaking ? preProgress : null} note={preTaking ? save.note : null} />}
        {stopped && (
          <Alert severity="info" sx={{ mt: 2 }}>
            {stoppedText(snapshot.name, stopped.kept)}
          </Alert>
        )}
        {problem && <ProblemAlert problem={problem} sx={{ mt: 2 }} />}
      </DialogContent>
      <DialogActions>
        {showStop ? (
          <Button ref={stopRef} onClick={save.stop} disabled={save.stopping || save.unstoppable} aria-label="Stop taking the snapshot">
            Stop
          </Button>
        ) : (
          <Button onClick={onClose} disabled={running}>
            Cancel
          </Button>
        )}
        <Button
          variant="contained"
          onClick={go}
          disabled={running || blocked !== null}
          autoFocus
          startIcon={running ? <CircularProgress size={14} color="inherit" /> : undefined}
        >
          Restore
        </Button>
      </DialogActions>
    </Dialog>
  );
}

// -------------------------------------------------------------------------------- delete

export interface DeleteSnapshotDialogProps {
  readonly open: boolean;
  readonly vm: VmInfo;
  readonly snapshot: SnapshotInfo;
  readonly list: SnapshotList | null;
  readonly now: number;
  readonly onClose: () => void;
  readonly onDeleted: (list: SnapshotList) => void;
}

export function DeleteSnapshotDialog({ open, vm, snapshot, list, now, onClose, onDeleted }: DeleteSnapshotDialogProps) {
  const client = useClient();
  const notify = useNotify();
  const mounted = useMounted();
  const [running, setRunning] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [branch, setBranch] = useState(false);
  const [preview, setPreview] = useState<{ readonly branch: boolean; readonly p: SnapshotDeletePreview } | null>(null);
  const all = list?.snapshots ?? [];
  const children = all.filter((s) => s.parentId === snapshot.id);
  const below = subtree(all, snapshot.id).length - 1;
  const parent = all.find((s) => s.id === snapshot.parentId);
  const dest = parent ? `its parent '${parent.name}'` : 'the top of the tree';

  useEffect(() => {
    let live = true;
    client.call('snapshots.previewDelete', { ref: vm.uuid, id: snapshot.id, branch }).then(
      (p) => {
        if (live) setPreview({ branch, p });
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [client, vm.uuid, snapshot.id, branch]);
  const shown = preview && preview.branch === branch ? preview.p : null;

  const go = () => {
    if (running) return;
    const target = { uuid: vm.uuid, name: vm.name };
    const snap = snapshot;
    const whole = branch && below > 0;
    setRunning(true);
    setProblem(null);
    runSnapshotOp(target.uuid, 'delete', whole ? `Deleting '${snap.name}' and the ${below} below it…` : `Deleting snapshot '${snap.name}'…`, () =>
      client.call(whole ? 'snapshots.deleteBranch' : 'snapshots.delete', { ref: target.uuid, id: snap.id }),
    ).then(
      (l) => {
        notify.success(whole ? `Deleted '${snap.name}' and everything below it from '${target.name}'.` : `Deleted snapshot '${snap.name}' of '${target.name}'.`);
        if (!mounted.current) return;
        setRunning(false);
        onDeleted(l);
      },
      (err: unknown) => {
        const title = `Could not delete snapshot '${snap.name}'`;
        if (!mounted.current) {
          notify.error(err, title);
          return;
        }
        setRunning(false);
        setProblem(toProblem(err, title));
      },
    );
  };

  const names = children.map((c) => `'${c.name}'`);
  const listed = names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
  return (
    <Dialog
      open={open}
      onClose={() => {
        if (!running) onClose();
      }}
      aria-labelledby="delete-snapshot-title"
      aria-describedby="delete-snapshot-text"
      maxWidth="sm"
      fullWidth
    >
      <DialogTitle id="delete-snapshot-title" sx={{ display: 'flex', alignItems: 'center', gap: 1.25 }}>
        <DeleteOutlineRoundedIcon color="error" aria-hidden />
        Delete snapshot &apos;{snapshot.name}&apos;?
      </DialogTitle>
      <DialogContent>
        <SnapshotCard snapshot={snapshot} now={now} />
        {below > 0 && (
          <Box sx={{ mt: 1.5 }}>
            <FormControlLabel
              control={<Checkbox checked={branch} onChange={(e) => setBranch(e.target.checked)} disabled={running} />}
              label={`Delete everything below it too (${below} more snapshot${below > 1 ? 's' : ''})`}
            />
          </Box>
        )}
        <Box id="delete-snapshot-text" sx={{ mt: 2 }}>
          {branch && below > 0 ? (
            <Para>
              The whole branch goes:{' '}
              {(shown?.snapshots ?? subtree(all, snapshot.id).map((id) => all.find((x) => x.id === id)!)).map((x) => `'${x.name}'`).join(', ')}.
              {list?.current && subtree(all, snapshot.id).includes(list.current)
                ? ` The current state will then be based on ${parent ? `'${parent.name}'` : 'no snapshot'}.`
                : ''}
            </Para>
          ) : null}
          <Para>
            <Box component="span" data-testid="delete-frees">
              {shown
                ? `Frees about ${formatBytes(shown.approxBytes)}${shown.ramBytes > 0 ? ` (${formatBytes(shown.ramBytes)} of it saved memory)` : ''}.`
                : 'Working out how much space this frees…'}
            </Box>
          </Para>
          <Para>
            {!(branch && below > 0) && children.length > 0 &&
              `${children.length === 1 ? 'Its child' : `Its ${children.length} children`} ${listed} ${children.length === 1 ? 'moves' : 'move'} up to ${dest}. `}
            {!(branch && below > 0) && list?.current === snapshot.id ? `The current state will then be based on ${parent ? `'${parent.name}'` : 'no snapshot'}. ` : ''}
            No data of other snapshots is lost; only the disk space {branch && below > 0 ? 'these snapshots alone use' : 'this snapshot alone uses'} is freed.
          </Para>
          <Para>
            <Box component="span" sx={{ color: 'text.secondary' }}>
              This cannot be undone{isLive(vm) ? `; '${vm.name}' keeps running` : ''}.
            </Box>
          </Para>
        </Box>
        {running && <Progress vm={vm} fallback={branch ? `Deleting '${snapshot.name}' and everything below it…` : `Deleting snapshot '${snapshot.name}'…`} />}
        {problem && <ProblemAlert problem={problem} sx={{ mt: 2 }} />}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose} disabled={running} autoFocus>
          Cancel
        </Button>
        <Button
          variant="contained"
          color="error"
          onClick={go}
          disabled={running}
          startIcon={running ? <CircularProgress size={14} color="inherit" /> : undefined}
        >
          Delete
        </Button>
      </DialogActions>
    </Dialog>
  );
}

// ---------------------------------------------------------------------------- convert disk

export interface ConvertDiskDialogProps {
  readonly open: boolean;
  readonly vm: VmInfo;
  readonly onClose: () => void;
  readonly onConverted: () => void;
}

/**
 * Converts the first disk that cannot hold snapshots into qcow2 (`vms.convertDisk`): the VM
 * uses the copy only once it is made and checked; the original file stays for the user.
 */
export function ConvertDiskDialog({ open, vm, onClose, onConverted }: ConvertDiskDialogProps) {
  const client = useClient();
  const notify = useNotify();
  const mounted = useMounted();
  const [running, setRunning] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [stopped, setStopped] = useState(false);
  const pct = useCopyProgress(vm.uuid, 'convertDisk', running);
  const disk = vm.config.disks.find((d) => !d.readOnly && d.format !== 'qcow2');
  const off = vm.allowed.includes('modifyHardware');
  const go = () => {
    if (running || !disk || !off) return;
    setRunning(true);
    setProblem(null);
    setStopped(false);
    client.call('vms.convertDisk', { ref: vm.uuid, disk: disk.id }).then(
      (res) => {
        notify.success(`Converted disk '${disk.id}' of '${vm.name}' to QCOW2.`);
        for (const w of res.warnings) notify.warning(w, `'${vm.name}'`);
        if (!mounted.current) return;
        setRunning(false);
        onConverted();
      },
      (err: unknown) => {
        if (!mounted.current) return;
        setRunning(false);
        if ((err as { code?: string }).code === 'CANCELLED') setStopped(true);
        else setProblem(toProblem(err, `Could not convert disk '${disk.id}'`));
      },
    );
  };
  return (
    <Dialog open={open} onClose={() => (running ? undefined : onClose())} aria-labelledby="convert-disk-title" maxWidth="sm" fullWidth>
      <DialogTitle id="convert-disk-title">Convert the disk of {vm.name} to QCOW2?</DialogTitle>
      <DialogContent>
        {disk && (
          <>
            <Para>
              Disk &apos;{disk.id}&apos; ({disk.file}) is {disk.format.toUpperCase()}, which cannot hold snapshots. Nestbox copies it into a
              new QCOW2 image in the VM&apos;s folder, checks the copy, and only then switches &apos;{vm.name}&apos; over to it.
            </Para>
            <Para>The original file is not changed or deleted: delete it yourself once you no longer need it.</Para>
          </>
        )}
        {!off && (
          <Alert severity="warning" sx={{ mt: 1 }}>
            Power &apos;{vm.name}&apos; off first (or discard its saved state): a disk in use cannot be converted.
          </Alert>
        )}
        {running && (
          <Box role="status" aria-live="polite" sx={{ mt: 2 }}>
            <Typography variant="body2" color="text.secondary" sx={{ mb: 0.75 }}>
              Converting and checking…{pct !== null ? ` ${pct}%` : ''}
            </Typography>
            <LinearProgress aria-label="Converting" variant={pct !== null ? 'determinate' : 'indeterminate'} value={pct ?? 0} />
          </Box>
        )}
        {stopped && (
          <Alert severity="info" sx={{ mt: 2 }}>
            The conversion was stopped; the disk is unchanged.
          </Alert>
        )}
        {problem && <ProblemAlert problem={problem} sx={{ mt: 2 }} />}
      </DialogContent>
      <DialogActions>
        {running ? (
          <Button onClick={() => void client.call('vms.cancel', { ref: vm.uuid }).catch(() => undefined)}>Stop</Button>
        ) : (
          <Button onClick={onClose}>Cancel</Button>
        )}
        <Button variant="contained" onClick={go} disabled={running || !disk || !off} startIcon={running ? <CircularProgress size={14} color="inherit" /> : undefined}>
          Convert
        </Button>
      </DialogActions>
    </Dialog>
  );
}
