/**
 * Files dragged over the Manager window: a full-window overlay saying what a drop does, and
 * the dropped files handed up in order. Only drags that carry files count (text or links
 * dragged around the page do not light it up).
 */
import { useEffect, useRef, useState } from 'react';
import Box from '@mui/material/Box';
import Typography from '@mui/material/Typography';
import FileDownloadOutlinedIcon from '@mui/icons-material/FileDownloadOutlined';
import { ACCEPTED_DESCRIPTION, type PickedFile } from './dropped';

function carriesFiles(e: DragEvent): boolean {
  return Array.from(e.dataTransfer?.types ?? []).includes('Files');
}

/** A folder dropped in web mode is read this far and no further (the server takes a few dozen files of a machine anyway). */
const MAX_ENTRIES = 2_000;
const MAX_DEPTH = 12;

function readAll(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => {
    const out: FileSystemEntry[] = [];
    // readEntries answers in batches (about 100 in Chromium) until an empty one.
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0 || out.length >= MAX_ENTRIES) resolve(out);
        else {
          out.push(...batch);
          next();
        }
      }, reject);
    next();
  });
}

/**
 * The files under dropped entries, each with its path inside the drop (`Debian.utm/Data/disk.qcow2`).
 * Symlinks are not followed by the browser's entries API; only files are collected.
 */
async function collect(entries: readonly FileSystemEntry[]): Promise<PickedFile[]> {
  const out: PickedFile[] = [];
  let seen = 0;
  const walk = async (entry: FileSystemEntry, prefix: string, depth: number): Promise<void> => {
    if (++seen > MAX_ENTRIES || depth > MAX_DEPTH) return;
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
      out.push({ file, rel });
    } else if (entry.isDirectory) {
      for (const child of await readAll((entry as FileSystemDirectoryEntry).createReader())) await walk(child, rel, depth + 1);
    }
  };
  for (const e of entries) await walk(e, '', 0);
  return out;
}

/**
 * What a drop holds. On the desktop: the files (and folders, such as a .utm bundle) as they are,
 * used where they lie. In web mode a dropped folder is read through (its files are uploaded
 * with their layout); the entries must be taken while the drop event runs.
 */
function droppedFiles(dt: DataTransfer | null): Promise<PickedFile[]> {
  const files = Array.from(dt?.files ?? []);
  if (window.nestboxDesktop || !dt) return Promise.resolve(files.map((file) => ({ file, rel: file.name })));
  const entries = Array.from(dt.items)
    .filter((i) => i.kind === 'file')
    .map((i) => i.webkitGetAsEntry?.() ?? null);
  if (entries.some((e) => e === null) || !entries.some((e) => e?.isDirectory)) return Promise.resolve(files.map((file) => ({ file, rel: file.name })));
  // A folder that cannot be read (permissions): the plain files of the drop still count.
  return collect(entries as FileSystemEntry[]).catch(() => files.map((file) => ({ file, rel: file.name })));
}

export function DropOverlay({ onFiles, disabled = false }: { readonly onFiles: (files: readonly PickedFile[]) => void; readonly disabled?: boolean }) {
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
      void droppedFiles(e.dataTransfer).then((files) => {
        if (files.length > 0) cb.current(files);
      });
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
