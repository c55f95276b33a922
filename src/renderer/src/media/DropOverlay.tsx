/**
 * Files dragged over the Manager window: a full-window overlay saying what a drop does, and
 * the dropped files handed up in order. Only drags that carry files count (text or links
 * dragged around the page do not light it up).
 */
import { useEffect, useRef, useState } from 'react';
import Box from '@mui/material/Box';
import Typography from '@mui/material/Typography';
import FileDownloadOutlinedIcon from '@mui/icons-material/FileDownloadOutlined';
import { ACCEPTED_DESCRIPTION } from './dropped';

function carriesFiles(e: DragEvent): boolean {
  return Array.from(e.dataTransfer?.types ?? []).includes('Files');
}

export function DropOverlay({ onFiles, disabled = false }: { readonly onFiles: (files: readonly File[]) => void; readonly disabled?: boolean }) {
  const [over, setOver] = useState(false);
  const depth = useRef(0);
  const cb = useRef(onFiles);
  cb.current = onFiles;

  useEffect(() => {
    const enter = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      depth.current++;
      if (!disabled) setOver(true);
    };
    const overFn = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = disabled ? 'none' : 'copy';
    };
    const leave = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      depth.current = Math.max(0, depth.current - 1);
      if (depth.current === 0) setOver(false);
    };
    const drop = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      // Never let the browser navigate to the file.
      e.preventDefault();
      depth.current = 0;
      setOver(false);
      if (disabled) return;
      const files = Array.from(e.dataTransfer?.files ?? []);
      if (files.length > 0) cb.current(files);
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragover', overFn);
    window.addEventListener('dragleave', leave);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragover', overFn);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('drop', drop);
    };
  }, [disabled]);

  if (!over) return null;
  return (
    <Box
      role="status"
      aria-label="Drop files here"
      sx={{
        position: 'fixed',
        inset: 0,
        zIndex: (t) => t.zIndex.modal + 10,
        p: 2,
        pointerEvents: 'none',
        bgcolor: (t) => (t.palette.mode === 'dark' ? 'rgba(10, 14, 20, 0.72)' : 'rgba(240, 244, 250, 0.78)'),
        backdropFilter: 'blur(2px)',
      }}
    >
      <Box
        sx={{
          height: '100%',
          border: 2,
          borderStyle: 'dashed',
          borderColor: 'primary.main',
          borderRadius: 3,
          display: 'grid',
          placeItems: 'center',
          textAlign: 'center',
        }}
      >
        <Box sx={{ display: 'grid', justifyItems: 'center', gap: 1, maxWidth: 520, px: 3 }}>
          <FileDownloadOutlinedIcon color="primary" sx={{ fontSize: 56 }} />
          <Typography variant="h6" component="p">
            Drop to create or import virtual machines
          </Typography>
          <Typography variant="body2" color="text.secondary">
            An ISO opens the New VM wizard with it inserted; a disk image becomes a new VM (or another disk of the selected one); an OVA or OVF, or a VirtualBox, libvirt or UTM
            machine, is imported with its hardware. Accepted: {ACCEPTED_DESCRIPTION}.
          </Typography>
        </Box>
      </Box>
    </Box>
  );
}
