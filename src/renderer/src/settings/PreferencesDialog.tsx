/**
 * Preferences: settings of the whole host rather than of one VM (VirtualBox's File ›
 * Preferences). Today: how fast live snapshots and Save state may write a VM's memory
 * (`snapshotBandwidth`, MiB/s; unset is unlimited). The core validates the value; its message
 * is shown under the field when it refuses one.
 */
import { useEffect, useState, type FormEvent } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import CircularProgress from '@mui/material/CircularProgress';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import FormControl from '@mui/material/FormControl';
import FormControlLabel from '@mui/material/FormControlLabel';
import FormLabel from '@mui/material/FormLabel';
import InputAdornment from '@mui/material/InputAdornment';
import Radio from '@mui/material/Radio';
import RadioGroup from '@mui/material/RadioGroup';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { ProblemAlert, toProblem, type Problem } from '../components/ErrorAlert';
import { useNotify } from '../components/Notifications';
import { useSettingsActions } from '../actions/useSettingsActions';

const KEY = 'snapshotBandwidth';

/** Mounted while shown (the parent renders it only then), so each opening reads the current value. */
export function PreferencesDialog({ onClose }: { readonly onClose: () => void }) {
  return (
    <Dialog open onClose={onClose} maxWidth="sm" fullWidth aria-labelledby="preferences-title">
      <Body onClose={onClose} />
    </Dialog>
  );
}

function Body({ onClose }: { readonly onClose: () => void }) {
  const settings = useSettingsActions();
  const notify = useNotify();
  /** The current value has been read. */
  const [loaded, setLoaded] = useState(false);
  const [limited, setLimited] = useState(false);
  const [value, setValue] = useState('');
  const [saving, setSaving] = useState(false);
  /** The core's refusal of the value typed. */
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);

  useEffect(() => {
    let live = true;
    settings.get({ key: KEY }).then(
      (v) => {
        if (!live) return;
        setLimited(v !== null);
        setValue(v ?? '');
        setLoaded(true);
      },
      (err: unknown) => {
        if (!live) return;
        setProblem(toProblem(err, 'Could not read the preferences'));
      },
    );
    return () => {
      live = false;
    };
  }, [settings]);

  const submit = (e?: FormEvent) => {
    e?.preventDefault();
    if (!loaded || saving) return;
    const next = limited ? value.trim() : null;
    setSaving(true);
    setFieldError(null);
    setProblem(null);
    settings.set({ key: KEY, value: next }).then(
      () => {
        setSaving(false);
        notify.success(next === null ? 'Snapshots and saved states are written at full speed.' : `Snapshots and saved states are written at most at ${next} MiB/s.`);
        onClose();
      },
      (err: unknown) => {
        setSaving(false);
        if ((err as { code?: string }).code === 'INVALID_ARGUMENT') setFieldError((err as Error).message);
        else setProblem(toProblem(err, 'Could not save the preferences'));
      },
    );
  };

  return (
    <Box component="form" onSubmit={submit} noValidate>
      <DialogTitle id="preferences-title">Preferences</DialogTitle>
      <DialogContent dividers sx={{ display: 'grid', gap: 1.5 }}>
        <FormControl disabled={!loaded || saving}>
          <FormLabel id="snapshot-bandwidth-label">Snapshot and saved-state write speed</FormLabel>
          <Typography variant="body2" color="text.secondary" sx={{ mt: 0.5, mb: 0.5 }}>
            How fast a snapshot of a running VM, or Save state, may write the VM&apos;s memory to disk. A limit leaves disk bandwidth for
            everything else on the host; the save takes longer.
          </Typography>
          <RadioGroup
            aria-labelledby="snapshot-bandwidth-label"
            value={limited ? 'limit' : 'unlimited'}
            onChange={(e) => {
              setLimited(e.target.value === 'limit');
              setFieldError(null);
            }}
          >
            <FormControlLabel value="unlimited" control={<Radio />} label="Unlimited" />
            <FormControlLabel value="limit" control={<Radio />} label="Limit to" />
          </RadioGroup>
          <TextField
            label="Write speed"
            value={value}
            onChange={(e) => {
              setValue(e.target.value);
              setFieldError(null);
            }}
            disabled={!loaded || saving || !limited}
            error={fieldError !== null}
            helperText={fieldError ?? 'A whole number of MiB per second.'}
            sx={{ ml: 4, maxWidth: 260 }}
            slotProps={{
              htmlInput: { inputMode: 'numeric', spellCheck: false, autoComplete: 'off' },
              input: { endAdornment: <InputAdornment position="end">MiB/s</InputAdornment> },
            }}
          />
        </FormControl>
        {problem && <ProblemAlert problem={problem} onClose={() => setProblem(null)} />}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose} disabled={saving}>
          Cancel
        </Button>
        <Button type="submit" variant="contained" disabled={!loaded || saving} startIcon={saving ? <CircularProgress size={14} color="inherit" /> : undefined}>
          OK
        </Button>
      </DialogActions>
    </Box>
  );
}
