/** Grow (or, acknowledged, shrink) an image. */
import { useState } from 'react';
import Alert from '@mui/material/Alert';
import Checkbox from '@mui/material/Checkbox';
import FormControlLabel from '@mui/material/FormControlLabel';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import type { MediumInfo } from '../../../core/api/contract';
import { formatBytes } from '../util/format';
import { parseSpecBytes, sizeSpec } from './mediaFormats';
import { MediumSubDialog } from './MediumSubDialog';

export function ResizeMediumDialog({ medium, onClose, onStart }: { readonly medium: MediumInfo; readonly onClose: () => void; readonly onStart: (size: string, shrink: boolean) => void }) {
  const gib = medium.virtualSize / 1024 ** 3;
  const [size, setSize] = useState(String(Math.ceil(gib * 2)));
  const [shrinkOk, setShrinkOk] = useState(false);
  const spec = sizeSpec(size);
  const bytes = spec ? parseSpecBytes(spec) : Number.NaN;
  const shrinking = Number.isFinite(bytes) && bytes < medium.virtualSize;
  return (
    <MediumSubDialog titleId="resize-medium-title"
      title={`Resize ${medium.name}`}
      submitLabel={shrinking ? 'Shrink' : 'Resize'}
      danger={shrinking}
      onClose={onClose}
      disabled={!spec || bytes === medium.virtualSize || (shrinking && !shrinkOk)}
      onSubmit={() => spec && onStart(spec, shrinking)}
    >
      <Typography variant="body2" color="text.secondary">
        Now {formatBytes(medium.virtualSize)}. The guest’s partitions do not grow by themselves; extend them inside the guest afterwards.
      </Typography>
      <TextField label="New size" value={size} onChange={(e) => setSize(e.target.value)} error={!spec} helperText={spec ? `${formatBytes(bytes)}` : 'For example 40, 40G or 512M.'} />
      {shrinking && (
        <>
          <Alert severity="warning">Shrinking cuts off everything past the new end. Shrink the guest’s file system and partitions first, or data is lost.</Alert>
          <FormControlLabel control={<Checkbox checked={shrinkOk} onChange={(e) => setShrinkOk(e.target.checked)} />} label="I understand that data past the new size is lost" />
        </>
      )}
    </MediumSubDialog>
  );
}
