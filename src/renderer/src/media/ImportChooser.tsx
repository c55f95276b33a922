/**
 * Web mode's way to pick what to import without dragging: files (a `.vbox` or domain `.xml`
 * with its disks, an OVA, a disk image, an ISO) or a whole folder (a UTM `.utm` bundle, a
 * VirtualBox machine's folder). What is chosen is handled exactly like a drop: grouped into
 * machines and single files (dropped.ts), uploaded, and shown in the same import dialog.
 */
import { useRef } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import Typography from '@mui/material/Typography';
import DriveFolderUploadOutlinedIcon from '@mui/icons-material/DriveFolderUploadOutlined';
import UploadFileOutlinedIcon from '@mui/icons-material/UploadFileOutlined';
import type { PickedFile } from './dropped';

/** The files an input gave, each with its path inside a chosen folder (or its name). */
export function pickedFromInput(list: FileList | null): PickedFile[] {
  return Array.from(list ?? []).map((file) => ({ file, rel: file.webkitRelativePath || file.name }));
}

export function ImportChooser({ onPicked, onClose }: { readonly onPicked: (files: readonly PickedFile[]) => void; readonly onClose: () => void }) {
  const files = useRef<HTMLInputElement>(null);
  const folder = useRef<HTMLInputElement>(null);
  const take = (input: HTMLInputElement) => {
    const picked = pickedFromInput(input.files);
    input.value = '';
    if (picked.length > 0) onPicked(picked);
  };
  return (
    <Dialog open onClose={onClose} maxWidth="sm" fullWidth aria-labelledby="import-chooser-title">
      <DialogTitle id="import-chooser-title">Import</DialogTitle>
      <DialogContent dividers sx={{ display: 'grid', gap: 2 }}>
        <Typography variant="body2" color="text.secondary">
          Choose a machine file together with its disks — a VirtualBox <b>.vbox</b> and its <b>.vdi</b> (or VMDK, VHD) files, a libvirt domain <b>.xml</b> and its disk
          images — or an OVA, a disk image or an ISO. For a UTM machine (a <b>.utm</b> folder) or a VirtualBox machine’s folder with its snapshots, choose the folder.
          The files are uploaded to the host, into a folder of their own, and imported from there; you can also drop them on the window.
        </Typography>
        <Box sx={{ display: 'flex', gap: 1.5, flexWrap: 'wrap' }}>
          <Button variant="outlined" startIcon={<UploadFileOutlinedIcon />} onClick={() => files.current?.click()}>
            Choose files…
          </Button>
          <Button variant="outlined" startIcon={<DriveFolderUploadOutlinedIcon />} onClick={() => folder.current?.click()}>
            Choose a folder…
          </Button>
        </Box>
        <input ref={files} data-testid="import-files" type="file" multiple hidden onChange={(e) => take(e.target)} />
        <input
          ref={(el) => {
            folder.current = el;
            // React does not know the attribute; the browser then gives every file in the folder with its path.
            el?.setAttribute('webkitdirectory', '');
          }}
          data-testid="import-folder"
          type="file"
          hidden
          onChange={(e) => take(e.target)}
        />
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Cancel</Button>
      </DialogActions>
    </Dialog>
  );
}
