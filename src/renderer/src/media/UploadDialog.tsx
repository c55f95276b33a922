/**
 * Web mode: an ISO dropped on the window is uploaded to the host's media folder first (with
 * progress and Cancel); the wizard opens once the host has it. On the desktop its path is
 * known at once and this dialog passes it on without showing itself.
 */
import { useEffect } from 'react';
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import { ProblemAlert, toProblem } from '../components/ErrorAlert';
import { UploadProgressBar } from './JobProgress';
import type { HostFile } from './hostPath';
import { useHostFile } from './useHostFile';

export function UploadDialog({ file, onReady, onClose }: { readonly file: File; readonly onReady: (file: HostFile) => void; readonly onClose: () => void }) {
  const state = useHostFile(file);
  useEffect(() => {
    if (state.phase === 'ready') onReady(state.file);
  }, [state, onReady]);
  if (state.phase === 'ready') return null;
  return (
    <Dialog open onClose={onClose} maxWidth="sm" fullWidth aria-labelledby="upload-title">
      <DialogTitle id="upload-title">Preparing {file.name}</DialogTitle>
      <DialogContent dividers sx={{ display: 'grid', gap: 2 }}>
        {state.phase === 'uploading' && <UploadProgressBar name={file.name} loaded={state.progress.loaded} total={state.progress.total} />}
        {state.phase === 'failed' && <ProblemAlert problem={toProblem(state.error, `Could not use ${file.name}`)} />}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>{state.phase === 'failed' ? 'Close' : 'Cancel'}</Button>
      </DialogActions>
    </Dialog>
  );
}
