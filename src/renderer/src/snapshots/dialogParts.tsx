/**
 * What the snapshot dialogs share beyond the operation shell: the snapshot card, the live
 * progress line of a snapshot operation, and Stop for a live snapshot's memory save.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import Box from '@mui/material/Box';
import Typography from '@mui/material/Typography';
import type { SnapshotInfo, VmInfo } from '../../../core/api/contract';
import { OperationProgress } from '../components/OperationDialog';
import { toProblem, type Problem } from '../components/ErrorAlert';
import { useVmActions } from '../actions/useVmActions';
import { formatBytes } from '../util/format';
import { usePendingSnapshotOp } from './pending';
import type { VmProgress } from './progress';
import { RamChip } from './RamChip';
import { SnapshotThumb } from './SnapshotThumb';
import { absoluteTime, relativeTime } from './time';

export const isLive = (vm: VmInfo) => vm.state === 'running' || vm.state === 'paused';

/** Ids of `id` and everything below it, top down. */
export function subtree(all: readonly SnapshotInfo[], id: string): string[] {
  const out: string[] = [];
  const walk = (x: string) => {
    out.push(x);
    for (const n of all) if (n.parentId === x) walk(n.id);
  };
  if (all.some((n) => n.id === id)) walk(id);
  return out;
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
export function SnapshotProgress({
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
    <OperationProgress
      text={text}
      percent={pct}
      label={label ?? text}
      figures={figures}
      {...(pct !== null ? { valueText: `${pct}%${bytes ? `, ${bytes.replace(/^Saving memory: /, '')}` : ''}` } : {})}
      caption={bytes}
    />
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

export function Para({ children }: { readonly children: ReactNode }) {
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
export function useStopSave(vmUuid: string, mounted: { readonly current: boolean }, onProblem: (p: Problem) => void, what: string) {
  const vms = useVmActions();
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
    vms.cancel({ ref: vmUuid }).then(
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
