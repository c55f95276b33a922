/**
 * "Install automatically": the user, password, host name, time zone, locale and (Windows)
 * product key of an unattended install, and the OS minimums shown with their reasons. The
 * password stays in the wizard's memory until Finish; the core stores only its hash.
 */
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Checkbox from '@mui/material/Checkbox';
import FormControlLabel from '@mui/material/FormControlLabel';
import TextField from '@mui/material/TextField';
import type { Draft, UnattendedDraft } from './draft';
import { minimumShortfalls, unattendedProblem } from './draft';

export function UnattendedFields({ draft, onChange }: { readonly draft: Draft; readonly onChange: (u: UnattendedDraft) => void }) {
  const u = draft.unattended;
  const set = (k: keyof UnattendedDraft, v: string | boolean) => onChange({ ...u, [k]: v });
  const windows = draft.osType.startsWith('windows-');
  const problem = unattendedProblem(draft);
  return (
    <Box sx={{ display: 'flex', flexDirection: 'column', gap: 1.5 }} aria-label="Install automatically">
      <FormControlLabel control={<Checkbox checked={u.enabled} onChange={(e) => set('enabled', e.target.checked)} />} label="Install automatically" />
      {u.enabled && (
        <>
          <Box sx={{ display: 'flex', gap: 1.5, flexWrap: 'wrap' }}>
            <TextField label="User name" value={u.user} onChange={(e) => set('user', e.target.value)} size="small" autoComplete="off" />
            <TextField label="Password" type="password" value={u.password} onChange={(e) => set('password', e.target.value)} size="small" autoComplete="new-password" />
            <TextField label="Host name" value={u.hostname} onChange={(e) => set('hostname', e.target.value)} size="small" placeholder="from the VM's name" />
          </Box>
          <Box sx={{ display: 'flex', gap: 1.5, flexWrap: 'wrap' }}>
            <TextField label="Time zone" value={u.timezone} onChange={(e) => set('timezone', e.target.value)} size="small" helperText="e.g. Europe/Berlin" />
            <TextField label="Locale" value={u.locale} onChange={(e) => set('locale', e.target.value)} size="small" helperText="e.g. de_DE" />
            {windows && <TextField label="Product key" value={u.productKey} onChange={(e) => set('productKey', e.target.value)} size="small" helperText="optional" />}
          </Box>
          <Alert severity={problem ? 'warning' : 'info'} role="note">
            {problem ??
              'Nestbox writes the answers onto a small seed (the password only hashed, or hidden as Windows requires) and deletes it when the install run ends.'}
          </Alert>
        </>
      )}
    </Box>
  );
}

/** The OS's minimums the hardware misses, with whose figures they are. */
export function MinimumsNote({ draft, fields }: { readonly draft: Draft; readonly fields: readonly ('memoryMiB' | 'cpus' | 'diskGiB')[] }) {
  const short = minimumShortfalls(draft).filter((s) => fields.includes(s.field));
  if (short.length === 0) return null;
  return (
    <Alert severity="warning" role="note" aria-label="Below the OS minimums">
      {short.map((s) => (
        <div key={s.field}>{s.message.charAt(0).toUpperCase() + s.message.slice(1)}.</div>
      ))}
    </Alert>
  );
}
