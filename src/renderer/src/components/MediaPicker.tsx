/**
 * Picks an ISO or a disk image on the host. On the desktop the native file dialog does it
 * ("Choose…"); in a browser the files live on another machine, so the page offers the
 * host's media library, an upload into it, and a plain path field for anything else.
 */
import { useId, useRef, useState } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import FormControl from '@mui/material/FormControl';
import InputLabel from '@mui/material/InputLabel';
import LinearProgress from '@mui/material/LinearProgress';
import ListSubheader from '@mui/material/ListSubheader';
import MenuItem from '@mui/material/MenuItem';
import Select from '@mui/material/Select';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import FolderOpenOutlinedIcon from '@mui/icons-material/FolderOpenOutlined';
import UploadFileOutlinedIcon from '@mui/icons-material/UploadFileOutlined';
import type { MediaItem } from '../../../core/api/contract';
import { baseName, formatBytes } from '../util/format';
import { isAbsolutePath } from '../util/validation';
import { ProblemAlert, type Problem } from './ErrorAlert';

export type MediaKind = MediaItem['kind'];

const NONE = '__none__';
const CUSTOM = '__custom__';

interface Upload {
  readonly name: string;
  readonly loaded: number;
  readonly total: number;
  readonly xhr: XMLHttpRequest;
}

/** PUTs a file to the web server's upload endpoint; resolves with the path on the host. */
function uploadFile(file: File, onProgress: (loaded: number, total: number) => void, xhr: XMLHttpRequest): Promise<string> {
  return new Promise((resolve, reject) => {
    xhr.open('PUT', `/upload?name=${encodeURIComponent(file.name)}`);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      let body: { path?: unknown; error?: unknown } = {};
      try {
        body = JSON.parse(xhr.responseText) as typeof body;
      } catch {
        // not JSON: fall through to the status message
      }
      if (xhr.status >= 200 && xhr.status < 300 && typeof body.path === 'string') resolve(body.path);
      else reject(new Error(typeof body.error === 'string' ? body.error : `the server answered ${xhr.status} ${xhr.statusText}`));
    };
    xhr.onerror = () => reject(new Error('the upload failed (network error)'));
    xhr.onabort = () => reject(new Error('the upload was cancelled'));
    xhr.send(file);
  });
}

export interface MediaPickerProps {
  readonly kind: MediaKind;
  /** The chosen path, or '' for none. */
  readonly value: string;
  readonly onChange: (path: string) => void;
  readonly media: readonly MediaItem[] | null;
  readonly reloadMedia: () => Promise<void>;
  /** Offer "No ISO"/"None" in the library list. */
  readonly allowNone?: boolean;
  readonly disabled?: boolean;
  readonly pathError?: string | null;
  /** Where the files are, in the labels ('the host' unless a libvirt host makes that ambiguous). */
  readonly place?: string;
  /** The path field's help in place of the default. */
  readonly pathHelp?: string;
}

export function MediaPicker({ kind, value, onChange, media, reloadMedia, allowNone = true, disabled = false, pathError = null, place = 'the host', pathHelp }: MediaPickerProps) {
  const desktop = window.nestboxDesktop;
  const selectLabelId = useId();
  const fileInput = useRef<HTMLInputElement>(null);
  const [upload, setUpload] = useState<Upload | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const items = (media ?? []).filter((m) => m.kind === kind);
  const iso = kind === 'iso';
  const selectLabel = iso ? 'ISO image' : 'Disk image';
  const pathLabel = iso ? `ISO path on ${place}` : 'Disk image path';
  const noneLabel = iso ? 'No ISO' : 'None';
  const selectValue = value === '' ? (allowNone ? NONE : '') : items.some((m) => m.path === value) ? value : CUSTOM;

  const choose = async () => {
    if (!desktop) return;
    const path = await desktop.chooseFile({
      title: iso ? 'Choose an ISO image' : 'Choose a disk image',
      filters: iso
        ? [{ name: 'ISO images', extensions: ['iso'] }]
        : [{ name: 'Disk images', extensions: ['qcow2', 'img', 'raw', 'vdi', 'vmdk', 'vhd', 'vhdx'] }],
    });
    if (path) onChange(path);
  };

  const startUpload = async (file: File) => {
    setProblem(null);
    const xhr = new XMLHttpRequest();
    setUpload({ name: file.name, loaded: 0, total: file.size, xhr });
    try {
      const path = await uploadFile(file, (loaded, total) => setUpload((u) => (u ? { ...u, loaded, total } : u)), xhr);
      await reloadMedia();
      onChange(path);
    } catch (err) {
      setProblem({ title: `Could not upload ${file.name}`, message: err instanceof Error ? err.message : String(err) });
    } finally {
      setUpload(null);
    }
  };

  return (
    <Box sx={{ display: 'grid', gap: 2 }}>
      <Box sx={{ display: 'flex', gap: 1, alignItems: 'flex-start' }}>
        <FormControl sx={{ flex: 1, minWidth: 0 }} disabled={disabled || upload !== null}>
          <InputLabel id={selectLabelId}>{selectLabel}</InputLabel>
          <Select
            labelId={selectLabelId}
            label={selectLabel}
            value={selectValue}
            onChange={(e) => {
              const v = e.target.value;
              if (v === NONE) onChange('');
              else if (v !== CUSTOM) onChange(v);
            }}
            renderValue={(v) => (v === NONE ? noneLabel : v === CUSTOM ? `Other: ${baseName(value)}` : baseName(v))}
            MenuProps={{ slotProps: { paper: { sx: { maxHeight: 360 } } } }}
          >
            {allowNone && <MenuItem value={NONE}>{noneLabel}</MenuItem>}
            {items.length > 0 && <ListSubheader>{iso ? `ISO images on ${place}` : `Disk images on ${place}`}</ListSubheader>}
            {items.map((m) => (
              <MenuItem key={m.path} value={m.path} title={m.path}>
                <Box sx={{ display: 'flex', width: '100%', gap: 2, minWidth: 0 }}>
                  <Box component="span" sx={{ flex: 1, overflow: 'hidden', textOverflow: 'ellipsis' }}>
                    {m.name}
                  </Box>
                  <Typography component="span" variant="caption" color="text.secondary" sx={{ flex: 'none' }}>
                    {formatBytes(m.size)}
                    {m.usedBy.length ? ` · used by ${m.usedBy.join(', ')}` : ''}
                  </Typography>
                </Box>
              </MenuItem>
            ))}
            {media !== null && items.length === 0 && (
              <MenuItem disabled value="__empty__">
                {iso ? `No ISO images on ${place} yet` : 'No disk images known yet'}
              </MenuItem>
            )}
            {selectValue === CUSTOM && <MenuItem value={CUSTOM}>Other: {baseName(value)}</MenuItem>}
          </Select>
        </FormControl>
        {desktop ? (
          <Button variant="outlined" startIcon={<FolderOpenOutlinedIcon />} onClick={() => void choose()} disabled={disabled} sx={{ height: 37, flex: 'none' }}>
            Choose…
          </Button>
        ) : (
          iso && (
            <>
              <Button
                variant="outlined"
                startIcon={<UploadFileOutlinedIcon />}
                onClick={() => fileInput.current?.click()}
                disabled={disabled || upload !== null}
                sx={{ height: 37, flex: 'none' }}
              >
                Upload ISO…
              </Button>
              <input
                ref={fileInput}
                type="file"
                accept=".iso,application/x-iso9660-image"
                hidden
                onChange={(e) => {
                  const f = e.target.files?.[0];
                  e.target.value = '';
                  if (f) void startUpload(f);
                }}
              />
            </>
          )
        )}
      </Box>
      {upload && (
        <Box role="status" aria-live="polite">
          <Box sx={{ display: 'flex', justifyContent: 'space-between', alignItems: 'center', mb: 0.5 }}>
            <Typography variant="caption" color="text.secondary" noWrap>
              Uploading {upload.name} — {formatBytes(upload.loaded)} of {formatBytes(upload.total)}
            </Typography>
            <Button size="small" onClick={() => upload.xhr.abort()} sx={{ minHeight: 22, py: 0 }}>
              Cancel upload
            </Button>
          </Box>
          <LinearProgress variant="determinate" value={upload.total ? (upload.loaded / upload.total) * 100 : 0} aria-label={`Uploading ${upload.name}`} />
        </Box>
      )}
      {problem && <ProblemAlert problem={problem} onClose={() => setProblem(null)} />}
      <TextField
        label={pathLabel}
        value={value}
        disabled={disabled || upload !== null}
        onChange={(e) => onChange(e.target.value)}
        placeholder={iso ? '/path/to/installer.iso' : '/path/to/disk.qcow2'}
        error={Boolean(pathError) || (value !== '' && !isAbsolutePath(value))}
        helperText={
          pathError ??
          (value !== '' && !isAbsolutePath(value)
            ? `Enter an absolute path on ${place}.`
            : pathHelp !== undefined
              ? pathHelp
              : iso
              ? `An ISO already on ${place}. Leave empty for no ISO.`
              : 'The image is used in place; Nestbox checks its format before using it.')
        }
        slotProps={{ htmlInput: { spellCheck: false, autoComplete: 'off' } }}
      />
    </Box>
  );
}
