/**
 * Settings → Shared folders: host folders the guest mounts by tag. Added and removed at once
 * (not with the dialog's OK), like network adapters; on a running VM the change applies at its
 * next start, which the core says and this panel shows. The core checks the folder (exists,
 * a folder, its real path) and its refusal is shown as it words it.
 */
import { useState, type KeyboardEvent } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Checkbox from '@mui/material/Checkbox';
import FormControlLabel from '@mui/material/FormControlLabel';
import IconButton from '@mui/material/IconButton';
import List from '@mui/material/List';
import ListItem from '@mui/material/ListItem';
import ListItemText from '@mui/material/ListItemText';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import RemoveCircleOutlineIcon from '@mui/icons-material/RemoveCircleOutline';
import type { VmInfo } from '../../../core/api/contract';
import { ProblemAlert, toProblem, type Problem } from '../components/ErrorAlert';
import { useShareActions } from '../actions/useShareActions';
import { isAbsolutePath } from '../util/validation';
import { shareTagProblem } from './shares';

export function SharesSection({ vm }: { readonly vm: VmInfo }) {
  const shares = useShareActions();
  const [folder, setFolder] = useState('');
  const [tag, setTag] = useState('');
  const [readOnly, setReadOnly] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [notes, setNotes] = useState<readonly string[]>([]);
  const list = vm.config.shares ?? [];
  const locked = vm.state === 'saved' || vm.state === 'saving' || vm.state === 'starting';
  const pathProblem = folder.trim() !== '' && !isAbsolutePath(folder.trim()) ? 'The folder must be an absolute path.' : null;
  const tagProb = shareTagProblem(tag.trim());

  const run = (p: Promise<{ readonly warnings: readonly string[] }>, failed: string, done?: () => void) => {
    setBusy(true);
    setProblem(null);
    setNotes([]);
    p.then(
      (r) => {
        setBusy(false);
        setNotes(r.warnings);
        done?.();
      },
      (err: unknown) => {
        setBusy(false);
        setProblem(toProblem(err, failed));
      },
    );
  };

  const add = () => {
    if (busy || folder.trim() === '' || pathProblem || tagProb) return;
    run(
      shares.add({ ref: vm.uuid, path: folder.trim(), ...(tag.trim() ? { tag: tag.trim() } : {}), ...(readOnly ? { readOnly: true } : {}) }),
      'The folder was not shared',
      () => {
        setFolder('');
        setTag('');
        setReadOnly(false);
      },
    );
  };

  const onEnter = (e: KeyboardEvent) => {
    if (e.key !== 'Enter' || (e.target as HTMLElement).tagName !== 'INPUT') return;
    e.preventDefault();
    add();
  };

  return (
    <>
      <Typography variant="body2" color="text.secondary">
        In a Linux guest: <code>mount -t virtiofs TAG /mnt</code>. While the VM runs with a shared folder, its memory cannot be saved: no Save state or live snapshot.
      </Typography>
      {locked && (
        <Alert severity="info" role="note">
          Shared folders cannot change while '{vm.name}' is {vm.state === 'saved' ? 'saved — discard its saved state or start and shut it down first' : vm.state}.
        </Alert>
      )}
      {list.length === 0 ? (
        <Typography variant="body2">No shared folders.</Typography>
      ) : (
        <List dense aria-label="Shared folders">
          {list.map((s) => (
            <ListItem
              key={s.tag}
              secondaryAction={
                <IconButton edge="end" aria-label={`Remove shared folder ${s.tag}`} disabled={busy || locked} onClick={() => run(shares.remove({ ref: vm.uuid, tag: s.tag }), `'${s.tag}' was not removed`)}>
                  <RemoveCircleOutlineIcon />
                </IconButton>
              }
            >
              <ListItemText primary={`${s.tag}${s.readOnly ? ' (read-only)' : ''}`} secondary={s.path} />
            </ListItem>
          ))}
        </List>
      )}
      {/* Inside the dialog's own form: Enter here adds the folder rather than pressing OK. */}
      <Box role="group" aria-label="Add a shared folder" onKeyDown={onEnter} sx={{ display: 'grid', gap: 1.5 }}>
        <TextField
          label="Folder on this computer"
          value={folder}
          onChange={(e) => setFolder(e.target.value)}
          error={pathProblem !== null}
          helperText={pathProblem ?? 'An absolute path; a symlink is stored as the folder it leads to.'}
          disabled={locked}
          slotProps={{ htmlInput: { spellCheck: false, autoComplete: 'off' } }}
        />
        <TextField
          label="Tag"
          value={tag}
          onChange={(e) => setTag(e.target.value)}
          error={tagProb !== null}
          helperText={tagProb ?? "The name the guest mounts it by; empty: the folder's name."}
          disabled={locked}
          slotProps={{ htmlInput: { spellCheck: false, autoComplete: 'off' } }}
        />
        <FormControlLabel control={<Checkbox checked={readOnly} onChange={(e) => setReadOnly(e.target.checked)} disabled={locked} />} label="Read-only" />
        <Box>
          <Button type="button" onClick={add} variant="outlined" disabled={busy || locked || folder.trim() === '' || pathProblem !== null || tagProb !== null}>
            Add shared folder
          </Button>
        </Box>
      </Box>
      {notes.map((n) => (
        <Alert key={n} severity="info" role="status">
          {n}
        </Alert>
      ))}
      {problem && <ProblemAlert problem={problem} />}
    </>
  );
}
