/** Copy an image into a new file, in the same or another format; the source stays as it is. */
import { useState } from 'react';
import MenuItem from '@mui/material/MenuItem';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import type { MediumInfo } from '../../../core/api/contract';
import type { DiskFormat } from '../../../core/domain/config';
import { formatBytes } from '../util/format';
import { dirOf, FORMAT_EXT, FORMAT_LABELS, stemOf, TARGET_FORMATS } from './mediaFormats';
import { MediumSubDialog } from './MediumSubDialog';

export function ConvertMediumDialog({ medium, onClose, onStart }: { readonly medium: MediumInfo; readonly onClose: () => void; readonly onStart: (target: string, format: DiskFormat) => void }) {
  const [format, setFormat] = useState<DiskFormat>(medium.format === 'qcow2' ? 'vdi' : 'qcow2');
  const [target, setTarget] = useState(() => `${dirOf(medium.path)}/${stemOf(medium.path)}-copy.${FORMAT_EXT[medium.format === 'qcow2' ? 'vdi' : 'qcow2']}`);
  const ok = target.startsWith('/') && target !== medium.path;
  return (
    <MediumSubDialog titleId="convert-medium-title" title={`Copy or convert ${medium.name}`} submitLabel="Convert" onClose={onClose} disabled={!ok} onSubmit={() => onStart(target, format)}>
      <Typography variant="body2" color="text.secondary">
        The source ({FORMAT_LABELS[medium.format]}, {formatBytes(medium.virtualSize)}) stays as it is; a new image is written.
      </Typography>
      <TextField
        select
        label="Target format"
        value={format}
        onChange={(e) => {
          const f = e.target.value as DiskFormat;
          setFormat(f);
          setTarget((t) => t.replace(/\.[A-Za-z0-9]+$/, `.${FORMAT_EXT[f]}`));
        }}
      >
        {TARGET_FORMATS.map((f) => (
          <MenuItem key={f} value={f}>
            {FORMAT_LABELS[f]}
          </MenuItem>
        ))}
      </TextField>
      <TextField label="New file on the host" value={target} onChange={(e) => setTarget(e.target.value)} error={!ok} helperText={ok ? ' ' : 'An absolute path other than the source.'} />
    </MediumSubDialog>
  );
}
