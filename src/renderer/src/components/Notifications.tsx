/**
 * Non-blocking messages: errors from actions (with "Details"), warnings the core attached to
 * a successful operation (TCG fallback, memory overcommit) and short confirmations. They stack
 * at the bottom right above the status bar; errors stay until dismissed, the rest fade.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import Alert from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import Box from '@mui/material/Box';
import Grow from '@mui/material/Grow';
import { DetailsExpander, toProblem, type Problem } from './ErrorAlert';
import { isAcceleratorNote } from '../model/warnings';

type Severity = 'error' | 'warning' | 'info' | 'success';

interface Note {
  readonly id: number;
  readonly severity: Severity;
  readonly problem: Problem;
}

export interface Notifier {
  error(err: unknown, title?: string): void;
  warning(message: string, title?: string): void;
  success(message: string): void;
}

const NotifyContext = createContext<Notifier | null>(null);

export function useNotify(): Notifier {
  const n = useContext(NotifyContext);
  if (!n) throw new Error('useNotify outside NotificationsProvider');
  return n;
}

const MAX_VISIBLE = 4;
const MAX_MESSAGE = 160;

/**
 * Core warnings can carry a tool's raw output (QEMU's stderr after a KVM failure); the
 * toast shows the first part and keeps the whole text behind "Details".
 */
export function shorten(message: string): { readonly message: string; readonly detail?: string } {
  if (message.length <= MAX_MESSAGE) return { message };
  const cut = message.lastIndexOf(' ', MAX_MESSAGE);
  return { message: `${message.slice(0, cut > 80 ? cut : MAX_MESSAGE).replace(/[\s:;,]+$/, '')}…`, detail: message };
}
const AUTO_HIDE_MS: Readonly<Record<Severity, number | null>> = { error: null, warning: 12_000, info: 6_000, success: 4_000 };

function NoteView({ note, onClose }: { readonly note: Note; readonly onClose: () => void }) {
  useEffect(() => {
    const ms = AUTO_HIDE_MS[note.severity];
    if (ms === null) return undefined;
    const t = setTimeout(onClose, ms);
    return () => clearTimeout(t);
  }, [note.severity, onClose]);
  const { problem } = note;
  return (
    <Alert
      severity={note.severity}
      variant="filled"
      onClose={onClose}
      elevation={6}
      sx={{ width: 400, maxWidth: 'calc(100vw - 32px)', boxShadow: 8, '& .MuiAlert-message': { minWidth: 0 } }}
    >
      {problem.title && <AlertTitle sx={{ fontSize: '0.8125rem', fontWeight: 600, mb: 0.25 }}>{problem.title}</AlertTitle>}
      <Box sx={{ userSelect: 'text' }}>{problem.message}</Box>
      <DetailsExpander {...(problem.detail ? { detail: problem.detail } : {})} {...(problem.code ? { code: problem.code } : {})} />
    </Alert>
  );
}

export function NotificationsProvider({ children }: { readonly children: ReactNode }) {
  const [notes, setNotes] = useState<readonly Note[]>([]);
  const nextId = useRef(1);

  const push = useCallback((severity: Severity, problem: Problem) => {
    const id = nextId.current++;
    setNotes((prev) => {
      // The same message twice in a row (a burst of identical failures) is shown once.
      const last = prev[prev.length - 1];
      if (last && last.problem.message === problem.message && last.problem.title === problem.title) return prev;
      return [...prev, { id, severity, problem }].slice(-MAX_VISIBLE);
    });
  }, []);

  const notifier = useMemo<Notifier>(
    () => ({
      error: (err, title) => push('error', toProblem(err, title)),
      warning: (message, title) => {
        // The status bar gives the accelerator note; a toast would cover the dialogs' buttons.
        if (isAcceleratorNote(message)) return;
        push('warning', { ...shorten(message), ...(title !== undefined ? { title } : {}) });
      },
      success: (message) => push('success', { message }),
    }),
    [push],
  );

  const close = useCallback((id: number) => setNotes((prev) => prev.filter((n) => n.id !== id)), []);

  return (
    <NotifyContext.Provider value={notifier}>
      {children}
      <Box
        aria-live="polite"
        sx={{
          position: 'fixed',
          right: 16,
          bottom: 40,
          zIndex: (t) => t.zIndex.snackbar,
          display: 'flex',
          flexDirection: 'column',
          gap: 1,
          alignItems: 'flex-end',
          pointerEvents: 'none',
          '& > *': { pointerEvents: 'auto' },
        }}
      >
        {notes.map((n) => (
          <Grow in key={n.id}>
            <div>
              <NoteViewStable note={n} close={close} />
            </div>
          </Grow>
        ))}
      </Box>
    </NotifyContext.Provider>
  );
}

/** Keeps the close callback stable per note so auto-hide timers are not restarted by renders. */
function NoteViewStable({ note, close }: { readonly note: Note; readonly close: (id: number) => void }) {
  const onClose = useCallback(() => close(note.id), [close, note.id]);
  return <NoteView note={note} onClose={onClose} />;
}
