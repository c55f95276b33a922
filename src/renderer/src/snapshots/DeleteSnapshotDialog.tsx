/**
 * Delete a snapshot, or it and everything below it, saying first what goes, what moves up
 * and how much space it frees (the core's preview).
 */
import { useEffect, useState } from 'react';
import Box from '@mui/material/Box';
import Checkbox from '@mui/material/Checkbox';
import FormControlLabel from '@mui/material/FormControlLabel';
import DeleteOutlineRoundedIcon from '@mui/icons-material/DeleteOutlineRounded';
import type { SnapshotDeletePreview, SnapshotInfo, SnapshotList, VmInfo } from '../../../core/api/contract';
import { useNotify } from '../components/Notifications';
import { OperationButton, OperationDialog, useOperation } from '../components/OperationDialog';
import { useSnapshotActions } from '../actions/useSnapshotActions';
import { formatBytes } from '../util/format';
import { isLive, Para, SnapshotCard, SnapshotProgress, subtree } from './dialogParts';
import { runSnapshotOp } from './pending';

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
  const snapshots = useSnapshotActions();
  const notify = useNotify();
  const op = useOperation();
  const [branch, setBranch] = useState(false);
  const [preview, setPreview] = useState<{ readonly branch: boolean; readonly p: SnapshotDeletePreview } | null>(null);
  const all = list?.snapshots ?? [];
  const children = all.filter((s) => s.parentId === snapshot.id);
  const below = subtree(all, snapshot.id).length - 1;
  const parent = all.find((s) => s.id === snapshot.parentId);
  const dest = parent ? `its parent '${parent.name}'` : 'the top of the tree';

  useEffect(() => {
    let live = true;
    snapshots.previewDelete({ ref: vm.uuid, id: snapshot.id, branch }).then(
      (p) => {
        if (live) setPreview({ branch, p });
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [snapshots, vm.uuid, snapshot.id, branch]);
  const shown = preview && preview.branch === branch ? preview.p : null;

  const go = () => {
    const target = { uuid: vm.uuid, name: vm.name };
    const snap = snapshot;
    const whole = branch && below > 0;
    const title = `Could not delete snapshot '${snap.name}'`;
    op.run(
      () =>
        runSnapshotOp(target.uuid, 'delete', whole ? `Deleting '${snap.name}' and the ${below} below it…` : `Deleting snapshot '${snap.name}'…`, () =>
          whole ? snapshots.deleteBranch({ ref: target.uuid, id: snap.id }) : snapshots.delete({ ref: target.uuid, id: snap.id }),
        ),
      {
        failure: title,
        onSuccess: () =>
          notify.success(whole ? `Deleted '${snap.name}' and everything below it from '${target.name}'.` : `Deleted snapshot '${snap.name}' of '${target.name}'.`),
        onDone: onDeleted,
        onFailedClosed: (err) => notify.error(err, title),
      },
    );
  };

  const names = children.map((c) => `'${c.name}'`);
  const listed = names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
  const running = op.running;
  return (
    <OperationDialog
      open={open}
      running={running}
      onClose={onClose}
      titleId="delete-snapshot-title"
      describedBy="delete-snapshot-text"
      icon={<DeleteOutlineRoundedIcon color="error" aria-hidden />}
      title={`Delete snapshot '${snapshot.name}'?`}
      progress={<SnapshotProgress vm={vm} fallback={branch ? `Deleting '${snapshot.name}' and everything below it…` : `Deleting snapshot '${snapshot.name}'…`} />}
      problem={op.problem}
      cancelAutoFocus
      actions={
        <OperationButton color="error" onClick={go} busy={running} disabled={running}>
          Delete
        </OperationButton>
      }
    >
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
    </OperationDialog>
  );
}
