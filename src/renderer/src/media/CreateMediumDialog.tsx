/** Create a new hard disk image. */
import { useState } from 'react';
import MenuItem from '@mui/material/MenuItem';
import TextField from '@mui/material/TextField';
import { sizeSpec } from './mediaFormats';
import { MediumSubDialog } from './MediumSubDialog';

export function CreateMediumDialog({ defaultDir, onClose, onStart }: {
  readonly defaultDir: string;
  readonly onClose: () => void;
  readonly onStart: (spec: { path: string; format: 'qcow2' | 'raw'; size: string; preallocation?: 'off' | 'metadata' | 'falloc' | 'full' }) => void;
}) {
  const [format, setFormat] = useState<'qcow2' | 'raw'>('qcow2');
  const [path, setPath] = useState(`${defaultDir}/new-disk.qcow2`);
  const [size, setSize] = useState('20');
  const [prealloc, setPrealloc] = useState<'off' | 'metadata' | 'falloc' | 'full'>('off');
  const spec = sizeSpec(size);
  const pathOk = path.startsWith('/') && !path.endsWith('/');
  return (
    <MediumSubDialog titleId="create-medium-title" title="Create a hard disk" submitLabel="Create" onClose={onClose} disabled={!spec || !pathOk} onSubmit={() => spec && onStart({ path, format, size: spec, preallocation: prealloc })}>
      <TextField
        select
        label="Format"
        value={format}
        onChange={(e) => {
          const f = e.target.value === 'raw' ? 'raw' : 'qcow2';
          setFormat(f);
          setPath((p) => p.replace(/\.(qcow2|img|raw)$/, f === 'raw' ? '.img' : '.qcow2'));
        }}
      >
        <MenuItem value="qcow2">QCOW2 (grows as written; snapshots)</MenuItem>
        <MenuItem value="raw">Raw</MenuItem>
      </TextField>
      <TextField label="File on the host" value={path} onChange={(e) => setPath(e.target.value)} error={!pathOk} helperText={pathOk ? ' ' : 'An absolute path to the new file.'} />
      <TextField label="Size" value={size} onChange={(e) => setSize(e.target.value)} error={!spec} helperText={spec ? `${spec} (GiB unless you write M or T)` : 'For example 20, 20G or 512M.'} />
      <TextField select label="Preallocation" value={prealloc} onChange={(e) => setPrealloc(e.target.value as typeof prealloc)}>
        <MenuItem value="off">Off (sparse)</MenuItem>
        <MenuItem value="metadata">Metadata</MenuItem>
        <MenuItem value="falloc">Reserve space (falloc)</MenuItem>
        <MenuItem value="full">Full (write zeros)</MenuItem>
      </TextField>
    </MediumSubDialog>
  );
}
