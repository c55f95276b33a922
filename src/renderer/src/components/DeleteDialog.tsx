/**
 * Deleting asks first, and offers the two things people mean by it (VirtualBox's "Delete
 * all files" / "Remove only"): the machine and its folder, or just the list entry.
 */
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import CircularProgress from '@mui/material/CircularProgress';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import Typography from '@mui/material/Typography';
import WarningAmberRoundedIcon from '@mui/icons-material/WarningAmberRounded';
import type { VmInfo } from '../../../core/api/contract';
import { ProblemAlert, toProblem, type Problem } from './ErrorAlert';

export interface DeleteDialogProps {
  readonly vm: VmInfo | null;
  readonly open: boolean;
  readonly onClose: () => void;
  readonly onDelete: (vm: VmInfo, keepFiles: boolean) => Promise<void>;
}

export function DeleteDialog({ vm, open, onClose, onDelete }: DeleteDialogProps) {
  const [pending, setPending] = useState<'all' | 'keep' | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const go = (keepFiles: boolean) => {
    if (!vm || pending) return;
    setPending(keepFiles ? 'keep' : 'all');
    setProblem(null);
    onDelete(vm, keepFiles).then(
      () => setPending(null),
      (err: unknown) => {
        setPending(null);
        setProblem(toProblem(err, `Could not delete '${vm.name}'`));
      },
    );
  };
  const ownedDisks = vm?.config.disks.filter((d) => d.owned).length ?? 0;
  const dependents = vm?.linkedClones ?? [];
  const held = dependents.length > 0;
  return (
    <Dialog
      open={open && vm !== null}
      onClose={() => {
        if (!pending) onClose();
      }}
      aria-labelledby="delete-title"
      aria-describedby="delete-text"
      maxWidth="xs"
      fullWidth
      slotProps={{ transition: { onExited: () => setProblem(null) } }}
    >
      {vm && (
        <>
          <DialogTitle id="delete-title" sx={{ display: 'flex', alignItems: 'center', gap: 1.25 }}>
            <WarningAmberRoundedIcon color="error" />
            Delete &apos;{vm.name}&apos;?
          </DialogTitle>
          <DialogContent>
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
                &apos;{vm.name}&apos; cannot be deleted while linked clones stand on its disks:{' '}
                {dependents.map((n) => `'${n}'`).join(', ')}. Delete {dependents.length > 1 ? 'them' : 'it'} first.
              </Alert>
            )}
            {problem && <ProblemAlert problem={problem} sx={{ mt: 2 }} />}
          </DialogContent>
          <DialogActions>
            <Button onClick={onClose} disabled={pending !== null} autoFocus>
              Cancel
            </Button>
            <Box sx={{ flex: 1 }} />
            <Button variant="outlined" onClick={() => go(true)} disabled={pending !== null || held} startIcon={pending === 'keep' ? <CircularProgress size={14} color="inherit" /> : undefined}>
              Keep files
            </Button>
            <Button
              variant="contained"
              color="error"
              onClick={() => go(false)}
              disabled={pending !== null || held}
              startIcon={pending === 'all' ? <CircularProgress size={14} color="inherit" /> : undefined}
            >
              Delete all files
            </Button>
          </DialogActions>
        </>
      )}
    </Dialog>
  );
}
