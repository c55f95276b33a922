/**
 * Deleting asks first, and offers the two things people mean by it (VirtualBox's "Delete
 * all files" / "Remove only"): the machine and its folder, or just the list entry.
 */
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Typography from '@mui/material/Typography';
import WarningAmberRoundedIcon from '@mui/icons-material/WarningAmberRounded';
import type { VmInfo } from '../../../core/api/contract';
import { OperationButton, OperationDialog, useOperation } from './OperationDialog';

export interface DeleteDialogProps {
  readonly vm: VmInfo | null;
  readonly open: boolean;
  readonly onClose: () => void;
  readonly onDelete: (vm: VmInfo, keepFiles: boolean) => Promise<void>;
}

export function DeleteDialog({ vm, open, onClose, onDelete }: DeleteDialogProps) {
  const op = useOperation();
  const [which, setWhich] = useState<'all' | 'keep' | null>(null);
  const go = (keepFiles: boolean) => {
    if (!vm || op.running) return;
    setWhich(keepFiles ? 'keep' : 'all');
    op.run(() => onDelete(vm, keepFiles), { failure: `Could not delete '${vm.name}'` });
  };
  const pending = op.running ? which : null;
  const ownedDisks = vm?.config.disks.filter((d) => d.owned).length ?? 0;
  const dependents = vm?.linkedClones ?? [];
  const held = dependents.length > 0;
  if (!vm) return null;
  return (
    <OperationDialog
      open={open}
      running={op.running}
      onClose={onClose}
      titleId="delete-title"
      describedBy="delete-text"
      maxWidth="xs"
      icon={<WarningAmberRoundedIcon color="error" />}
      title={`Delete '${vm.name}'?`}
      problem={op.problem}
      onExited={() => op.setProblem(null)}
      cancelAutoFocus
      actions={
        <>
          <Box sx={{ flex: 1 }} />
          <OperationButton variant="outlined" onClick={() => go(true)} disabled={pending !== null || held} busy={pending === 'keep'}>
            Keep files
          </OperationButton>
          <OperationButton color="error" onClick={() => go(false)} disabled={pending !== null || held} busy={pending === 'all'}>
            Delete all files
          </OperationButton>
        </>
      }
    >
      <Box id="delete-text">
        <Typography variant="body2" sx={{ mb: 1.5 }}>
          <strong>Delete all files</strong> removes the machine and its folder
          {ownedDisks > 0 ? `, including ${ownedDisks === 1 ? 'its disk image' : `its ${ownedDisks} disk images`}` : ''}. This cannot be undone.
        </Typography>
        <Typography variant="body2" sx={{ mb: 1.5 }}>
          <strong>Keep files</strong> only removes it from the list; its folder stays on the host:
        </Typography>
        <Typography
          variant="caption"
          component="div"
          sx={{ fontFamily: 'monospace', bgcolor: 'action.hover', px: 1, py: 0.75, borderRadius: 1, overflowWrap: 'anywhere', userSelect: 'text' }}
        >
          {vm.dir}
        </Typography>
      </Box>
      {held && (
        <Alert severity="warning" sx={{ mt: 2 }}>
          &apos;{vm.name}&apos; cannot be deleted while linked clones stand on its disks: {dependents.map((n) => `'${n}'`).join(', ')}. Delete{' '}
          {dependents.length > 1 ? 'them' : 'it'} first.
        </Alert>
      )}
    </OperationDialog>
  );
}
