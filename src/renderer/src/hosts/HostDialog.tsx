/**
 * Add or edit a libvirt host. Most people reach their server over SSH, so the form asks for
 * user, host and port and makes the URI; Advanced takes any libvirt URI (TLS, a local socket,
 * qemu:///system) and the peer URI other hosts use for migration. The URI is checked by the
 * same pure rules as the core's before it is sent, and the core connects once before it
 * stores anything: its error (libvirt's own words) shows in the dialog.
 */
import { useEffect, useMemo, useState } from 'react';
import Accordion from '@mui/material/Accordion';
import AccordionDetails from '@mui/material/AccordionDetails';
import AccordionSummary from '@mui/material/AccordionSummary';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import CircularProgress from '@mui/material/CircularProgress';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import ExpandMoreIcon from '@mui/icons-material/ExpandMore';
import type { HostSpec, HostSummary } from '../../../core/api/contract';
import { HostRuleError, parseHostUri, sshHostUri, validateHostName, validateHostUri } from '../../../core/domain/hosts';
import { ProblemAlert, toProblem, type Problem } from '../components/ErrorAlert';
import { useHostActions } from '../actions/useHostActions';

export interface HostDialogProps {
  /** The host to edit; null adds one. */
  readonly host: HostSummary | null;
  readonly onClose: () => void;
  readonly onSaved: (h: HostSummary) => void;
  /** Edit only: forget the host. */
  readonly onRemoved?: (name: string) => void;
}

function ruleMessage(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    return e instanceof HostRuleError ? e.message : String(e);
  }
}

/** The SSH form's fields from an existing qemu+ssh URI (anything else opens Advanced). */
function sshParts(uri: string): { user: string; host: string; port: string } | null {
  try {
    const p = parseHostUri(uri);
    if (p.scheme !== 'qemu+ssh' || p.path !== '/system' || p.params.size > 0) return null;
    return { user: p.user ?? '', host: p.host ?? '', port: p.port ? String(p.port) : '22' };
  } catch {
    return null;
  }
}

export function HostDialog({ host, onClose, onSaved, onRemoved }: HostDialogProps) {
  const actions = useHostActions();
  const initialSsh = host ? sshParts(host.uri) : { user: '', host: '', port: '22' };
  const [name, setName] = useState(host?.name ?? '');
  const [user, setUser] = useState(initialSsh?.user ?? '');
  const [server, setServer] = useState(initialSsh?.host ?? '');
  const [port, setPort] = useState(initialSsh?.port ?? '22');
  const [advanced, setAdvanced] = useState(host !== null && initialSsh === null);
  const [uri, setUri] = useState(host?.uri ?? '');
  const [peerUri, setPeerUri] = useState(host?.peerUri ?? '');
  const [migrateAddr, setMigrateAddr] = useState(host?.migrateAddr ?? '');
  const [pending, setPending] = useState<'save' | 'remove' | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);

  // The SSH form writes the URI field, so Advanced shows what will be used.
  useEffect(() => {
    if (advanced || server.trim() === '') return;
    try {
      setUri(sshHostUri(user, server, Number(port) || 22));
    } catch {
      /* shown as a field error below */
    }
  }, [user, server, port, advanced]);

  const nameError = name === '' ? null : ruleMessage(() => validateHostName(name));
  const portError = /^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535 ? null : 'a port from 1 to 65535';
  const sshError = advanced || server.trim() === '' ? null : ruleMessage(() => sshHostUri(user, server, Number(port) || 22));
  const uriError = uri === '' ? null : ruleMessage(() => validateHostUri(uri, 'URI'));
  const peerError = peerUri === '' ? null : ruleMessage(() => validateHostUri(peerUri, 'peer URI'));
  const ready = name !== '' && uri !== '' && !nameError && !uriError && !peerError && !sshError && (advanced || !portError);

  const spec = useMemo<HostSpec>(
    () => ({ name, uri, peerUri: peerUri === '' ? null : peerUri, migrateAddr: migrateAddr === '' ? null : migrateAddr }),
    [name, uri, peerUri, migrateAddr],
  );

  const save = () => {
    if (!ready || pending) return;
    setPending('save');
    setProblem(null);
    const call = host ? actions.update({ name: host.name, changes: spec }) : actions.add(spec);
    call.then(
      (h) => {
        setPending(null);
        onSaved(h);
      },
      (err: unknown) => {
        setPending(null);
        setProblem(toProblem(err, host ? `Could not change '${host.name}'` : `Could not add '${name}'`));
      },
    );
  };

  const remove = () => {
    if (!host || pending) return;
    setPending('remove');
    setProblem(null);
    actions.remove({ name: host.name }).then(
      () => {
        setPending(null);
        onRemoved?.(host.name);
      },
      (err: unknown) => {
        setPending(null);
        setProblem(toProblem(err, `Could not remove '${host.name}'`));
      },
    );
  };

  return (
    <Dialog open onClose={() => !pending && onClose()} aria-labelledby="host-dialog-title" maxWidth="sm" fullWidth>
      <DialogTitle id="host-dialog-title">{host ? `Edit host '${host.name}'` : 'Add a libvirt host'}</DialogTitle>
      <DialogContent>
        <Typography variant="body2" color="text.secondary" sx={{ mb: 2 }}>
          Nestbox talks to the libvirt daemon the host already runs, with your SSH keys or agent. It never installs anything on the host and never opens a port there.
        </Typography>
        <Box
          component="form"
          id="host-form"
          onSubmit={(e) => {
            e.preventDefault();
            save();
          }}
          sx={{ display: 'flex', flexDirection: 'column', gap: 2 }}
        >
          <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} error={nameError !== null} helperText={nameError ?? 'How Nestbox names it: VMs there are HOST:VM'} autoFocus={!host} required />
          {!advanced && (
            <Box sx={{ display: 'flex', gap: 1.5 }}>
              <TextField label="User" value={user} onChange={(e) => setUser(e.target.value)} sx={{ flex: 1 }} helperText="SSH user (empty: your default)" />
              <TextField label="Host" value={server} onChange={(e) => setServer(e.target.value)} sx={{ flex: 2 }} error={sshError !== null} helperText={sshError ?? 'Server name or address'} required />
              <TextField label="Port" value={port} onChange={(e) => setPort(e.target.value)} sx={{ width: 96 }} error={portError !== null} helperText={portError ?? ' '} />
            </Box>
          )}
          <Accordion expanded={advanced} onChange={(_, x) => setAdvanced(x)} disableGutters variant="outlined">
            <AccordionSummary expandIcon={<ExpandMoreIcon />} aria-controls="host-advanced" id="host-advanced-header">
              <Typography variant="body2">Advanced: any libvirt URI, migration</Typography>
            </AccordionSummary>
            <AccordionDetails id="host-advanced" sx={{ display: 'flex', flexDirection: 'column', gap: 2 }}>
              <TextField
                label="URI"
                value={uri}
                onChange={(e) => setUri(e.target.value)}
                disabled={!advanced}
                error={uriError !== null}
                helperText={uriError ?? 'qemu:///system, qemu+ssh://user@host/system, qemu+tls://host/system, qemu+unix:///system?socket=PATH'}
                slotProps={{ htmlInput: { spellCheck: false } }}
              />
              <TextField
                label="Peer URI (for migration)"
                value={peerUri}
                onChange={(e) => setPeerUri(e.target.value)}
                error={peerError !== null}
                helperText={peerError ?? 'How the other hosts’ daemons reach this one; empty: the URI above'}
                slotProps={{ htmlInput: { spellCheck: false } }}
              />
              <TextField label="Migration address" value={migrateAddr} onChange={(e) => setMigrateAddr(e.target.value)} helperText="Where migration data is sent when the host's name does not resolve on its peers (optional)" />
            </AccordionDetails>
          </Accordion>
        </Box>
        {problem && <ProblemAlert problem={problem} sx={{ mt: 2 }} />}
      </DialogContent>
      <DialogActions>
        {host && onRemoved && (
          <Button color="error" onClick={remove} disabled={pending !== null} startIcon={pending === 'remove' ? <CircularProgress size={14} color="inherit" /> : undefined}>
            Remove host
          </Button>
        )}
        <Box sx={{ flex: 1 }} />
        <Button onClick={onClose} disabled={pending !== null}>
          Cancel
        </Button>
        <Button type="submit" form="host-form" variant="contained" disabled={!ready || pending !== null} startIcon={pending === 'save' ? <CircularProgress size={14} color="inherit" /> : undefined}>
          {pending === 'save' ? 'Connecting…' : host ? 'Save' : 'Add host'}
        </Button>
      </DialogActions>
    </Dialog>
  );
}
