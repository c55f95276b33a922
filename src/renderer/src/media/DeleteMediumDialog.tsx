/** Remove an image from the list, and its file if asked; refused while anything uses it. */
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Checkbox from '@mui/material/Checkbox';
import FormControlLabel from '@mui/material/FormControlLabel';
import Typography from '@mui/material/Typography';
import type { MediumInfo } from '../../../core/api/contract';
import { useMediaActions } from '../actions/useMediaActions';
import { useOperation } from '../components/OperationDialog';
import { formatBytes } from '../util/format';
import { deleteBlocker } from './usage';
import { MediumSubDialog } from './MediumSubDialog';

export function DeleteMediumDialog({ medium, onClose, onDeleted }: { readonly medium: MediumInfo; readonly onClose: () => void; readonly onDeleted: () => void }) {
  const media = useMediaActions();
  const op = useOperation();
  const [deleteFile, setDeleteFile] = useState(false);
  const blocker = deleteBlocker(medium);
  return (
    <MediumSubDialog titleId="delete-medium-title"
      title={`Remove ${medium.name}`}
      submitLabel={deleteFile ? 'Delete' : 'Remove'}
      danger
      onClose={onClose}
      disabled={blocker !== null}
      running={op.running}
      problem={op.problem}
      onSubmit={() => op.run(() => media.delete({ path: medium.path, deleteFile }), { failure: `Could not remove ${medium.name}`, onDone: onDeleted })}
    >
      {blocker !== null ? (
        <Alert severity="info">{blocker} Detach it (or delete those snapshots) first.</Alert>
      ) : (
        <>
          <Typography variant="body2">Remove {medium.name} from the media list?</Typography>
          <FormControlLabel
            control={<Checkbox checked={deleteFile} onChange={(e) => setDeleteFile(e.target.checked)} />}
            label={`Also delete the file ${medium.path} (${formatBytes(medium.actualSize)})`}
          />
        </>
      )}
    </MediumSubDialog>
  );
}
