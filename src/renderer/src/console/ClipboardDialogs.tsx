/**
 * Clipboard text between host and guest. QEMU's VNC server forwards clipboard text only to
 * and from a guest that runs a clipboard agent (qemu-vdagent / spice-vdagent), so the paste
 * dialog also offers to type the text as keystrokes, which every guest understands.
 */
import { useEffect, useState } from 'react';
import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { MONO_STACK } from '../theme';

const MAX_TYPED = 4000;

export interface PasteDialogProps {
  readonly open: boolean;
  readonly vmName: string;
  readonly container?: HTMLElement | null;
  readonly onClose: () => void;
  readonly onClipboard: (text: string) => void;
  readonly onType: (text: string) => void;
}

export function PasteTextDialog({ open, vmName, container, onClose, onClipboard, onType }: PasteDialogProps) {
  const [text, setText] = useState('');
  useEffect(() => {
    if (!open) return undefined;
    setText('');
    // Start with what the host's clipboard holds, but only where reading it was already
    // allowed: opening a dialog must not raise a permission prompt (Ctrl+V works anyway).
    let cancelled = false;
    navigator.permissions
      ?.query({ name: 'clipboard-read' as PermissionName })
      .then((p) => (p.state === 'granted' ? navigator.clipboard.readText() : ''))
      .then(
        (t) => {
          if (!cancelled && t) setText((cur) => cur || t);
        },
        () => undefined,
      );
    return () => {
      cancelled = true;
    };
  }, [open]);
  const tooLong = text.length > MAX_TYPED;
  return (
    <Dialog open={open} onClose={onClose} maxWidth="sm" fullWidth container={container ?? undefined} aria-labelledby="paste-title">
      <DialogTitle id="paste-title">Paste text to {vmName}</DialogTitle>
      <DialogContent>
        <TextField
          autoFocus
          multiline
          minRows={4}
          maxRows={12}
          label="Text"
          value={text}
          onChange={(e) => setText(e.target.value)}
          slotProps={{ htmlInput: { spellCheck: false, style: { fontFamily: MONO_STACK, fontSize: '0.8rem' } } }}
          sx={{ mt: 1 }}
          error={tooLong}
          helperText={tooLong ? `Typing is limited to ${MAX_TYPED.toLocaleString()} characters.` : `${text.length.toLocaleString()} characters`}
        />
        <Alert severity="info" sx={{ mt: 1.5 }}>
          <strong>Send to guest clipboard</strong> puts the text on the guest’s clipboard. QEMU passes it on only when the guest runs a
          clipboard agent (qemu-vdagent or spice-vdagent); without one nothing arrives. <strong>Type as keystrokes</strong> works in any
          guest: it presses the keys of a US keyboard layout into whatever has focus there.
        </Alert>
        <Typography variant="caption" color="text.secondary" component="p" sx={{ mt: 1 }}>
          Characters outside the US layout are sent as X keysyms and may not arrive in every guest.
        </Typography>
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Cancel</Button>
        <Button variant="outlined" disabled={!text || tooLong} onClick={() => onType(text)}>
          Type as keystrokes
        </Button>
        <Button variant="contained" disabled={!text} onClick={() => onClipboard(text)}>
          Send to guest clipboard
        </Button>
      </DialogActions>
    </Dialog>
  );
}

export interface GuestClipboardDialogProps {
  readonly open: boolean;
  readonly text: string;
  readonly container?: HTMLElement | null;
  readonly onClose: () => void;
}

export function GuestClipboardDialog({ open, text, container, onClose }: GuestClipboardDialogProps) {
  const [copied, setCopied] = useState<'no' | 'yes' | 'denied'>('no');
  useEffect(() => {
    if (open) setCopied('no');
  }, [open, text]);
  const copy = () => {
    navigator.clipboard?.writeText?.(text).then(
      () => setCopied('yes'),
      () => setCopied('denied'),
    );
  };
  return (
    <Dialog open={open} onClose={onClose} maxWidth="sm" fullWidth container={container ?? undefined} aria-labelledby="guest-clip-title">
      <DialogTitle id="guest-clip-title">The guest’s clipboard</DialogTitle>
      <DialogContent>
        <TextField
          multiline
          minRows={3}
          maxRows={12}
          label="Text copied in the guest"
          value={text}
          slotProps={{ htmlInput: { readOnly: true, spellCheck: false, style: { fontFamily: MONO_STACK, fontSize: '0.8rem' } } }}
          sx={{ mt: 1 }}
          onFocus={(e) => e.target.select()}
        />
        {copied === 'denied' && (
          <Alert severity="warning" sx={{ mt: 1.5 }}>
            The browser did not allow writing to your clipboard. Select the text above and press Ctrl+C.
          </Alert>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Close</Button>
        <Button variant="contained" onClick={copy}>
          {copied === 'yes' ? 'Copied' : 'Copy to my clipboard'}
        </Button>
      </DialogActions>
    </Dialog>
  );
}
