/**
 * The shell every dialog that runs an operation shares: it cannot be closed (Escape, the
 * backdrop, Cancel) while the operation runs, shows the progress, the stopped notice and the
 * error in one place, and turns Cancel into Stop when the operation can be stopped. The
 * dialogs keep only what is their own: the form, the words, and what the operation does.
 *
 * `useOperation` is the state most of them need: running, the problem, "stopped" (the core
 * answered CANCELLED), and a guard so an answer arriving after the dialog closed becomes a
 * notification instead of a state update on an unmounted component.
 */
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent, type ReactNode, type Ref } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button, { type ButtonProps } from '@mui/material/Button';
import CircularProgress from '@mui/material/CircularProgress';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import LinearProgress from '@mui/material/LinearProgress';
import Typography from '@mui/material/Typography';
import type { SxProps, Theme } from '@mui/material/styles';
import { ProblemAlert, toProblem, type Problem } from './ErrorAlert';

/** A ref that says whether the component is still mounted (answers can outlive dialogs). */
export function useMounted(): { readonly current: boolean } {
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  return mounted;
}

const isCancelled = (err: unknown) => (err as { code?: string } | null)?.code === 'CANCELLED';

export interface RunHandlers<T> {
  /** The title of the error shown in the dialog (or in a notification once it is closed). */
  readonly failure: string;
  /** Runs whether or not the dialog is still open (notifications belong here). */
  readonly onSuccess?: (result: T) => void;
  /** Runs only while the dialog is open (closing it, handing the result up). */
  readonly onDone?: (result: T) => void;
  /** The dialog was closed before the operation failed; default: nothing. */
  readonly onFailedClosed?: (err: unknown) => void;
}

export interface Operation {
  readonly running: boolean;
  readonly problem: Problem | null;
  /** The last run ended with CANCELLED (the user pressed Stop). */
  readonly stopped: boolean;
  readonly mounted: { readonly current: boolean };
  /** Starts `work` unless one runs already; errors land in `problem`, CANCELLED in `stopped`. */
  run<T>(work: () => Promise<T>, handlers: RunHandlers<T>): void;
  setProblem(p: Problem | null): void;
}

export function useOperation(): Operation {
  const mounted = useMounted();
  const [running, setRunning] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [stopped, setStopped] = useState(false);
  const busy = useRef(false);
  const run = useCallback(
    <T,>(work: () => Promise<T>, h: RunHandlers<T>) => {
      if (busy.current) return;
      busy.current = true;
      setRunning(true);
      setProblem(null);
      setStopped(false);
      work().then(
        (result) => {
          busy.current = false;
          h.onSuccess?.(result);
          if (!mounted.current) return;
          setRunning(false);
          h.onDone?.(result);
        },
        (err: unknown) => {
          busy.current = false;
          if (!mounted.current) {
            h.onFailedClosed?.(err);
            return;
          }
          setRunning(false);
          if (isCancelled(err)) setStopped(true);
          else setProblem(toProblem(err, h.failure));
        },
      );
    },
    [mounted],
  );
  return useMemo(() => ({ running, problem, stopped, mounted, run, setProblem }), [running, problem, stopped, mounted, run]);
}

/** A dialog's main button: shows a spinner while its operation runs. */
export function OperationButton({ busy, ...props }: ButtonProps & { readonly busy: boolean }) {
  return <Button variant="contained" {...props} startIcon={busy ? <CircularProgress size={14} color="inherit" /> : props.startIcon} />;
}

/**
 * A progress line: words, optional figures at the right (percent, elapsed), a bar that turns
 * determinate once a percentage is known, and an optional caption below.
 */
export function OperationProgress({
  text,
  percent,
  label,
  figures,
  valueText,
  caption,
}: {
  readonly text: string;
  readonly percent: number | null;
  /** The bar's accessible name (tests and screen readers find it by this). */
  readonly label: string;
  readonly figures?: string;
  readonly valueText?: string;
  readonly caption?: string | null;
}) {
  const pct = percent === null ? null : Math.min(100, Math.max(0, Math.round(percent)));
  return (
    <Box role="status" aria-live="polite" sx={{ mt: 2 }}>
      <Box sx={{ display: 'flex', justifyContent: 'space-between', gap: 2, mb: 0.75 }}>
        <Typography variant="body2" color="text.secondary">
          {text}
        </Typography>
        {figures && (
          <Typography variant="body2" color="text.secondary" sx={{ fontVariantNumeric: 'tabular-nums', whiteSpace: 'nowrap' }} data-testid="progress-figures">
            {figures}
          </Typography>
        )}
      </Box>
      <LinearProgress
        // A fresh bar when it turns determinate, so it does not slide over from the moving one.
        key={pct !== null ? 'determinate' : 'indeterminate'}
        aria-label={label}
        aria-valuetext={valueText}
        variant={pct !== null ? 'determinate' : 'indeterminate'}
        value={pct ?? 0}
      />
      {caption && (
        <Typography variant="caption" color="text.secondary" component="div" sx={{ mt: 0.5, fontVariantNumeric: 'tabular-nums' }} data-testid="progress-bytes">
          {caption}
        </Typography>
      )}
    </Box>
  );
}

export interface StopControl {
  readonly onStop: () => void;
  readonly disabled?: boolean;
  /** The Stop button's accessible name, when "Stop" alone would be ambiguous. */
  readonly label?: string;
  readonly ref?: Ref<HTMLButtonElement>;
}

export interface OperationDialogProps {
  readonly open: boolean;
  /** While true the dialog cannot be closed and Cancel is disabled. */
  readonly running: boolean;
  readonly onClose: () => void;
  /** The title's element id (the dialog's accessible name). */
  readonly titleId: string;
  readonly title: ReactNode;
  readonly icon?: ReactNode;
  readonly describedBy?: string;
  readonly maxWidth?: 'xs' | 'sm' | 'md' | 'lg';
  /** Given, the body is a form and Enter submits. */
  readonly onSubmit?: () => void;
  /** Why the operation cannot run now, shown as a warning below the body (null: it can). */
  readonly blocked?: ReactNode;
  /** Shown below the body: a progress line while running. */
  readonly progress?: ReactNode;
  /** The words shown once the operation was stopped (null: not stopped). */
  readonly stopped?: ReactNode;
  readonly problem?: Problem | null;
  /** Given, Stop replaces Cancel. */
  readonly stop?: StopControl | null;
  readonly cancelRef?: Ref<HTMLButtonElement>;
  readonly cancelAutoFocus?: boolean;
  /** The main buttons, right of Cancel/Stop. */
  readonly actions: ReactNode;
  readonly onExited?: () => void;
  readonly dividers?: boolean;
  /** A click beside the dialog does not close it (a form that took effort to fill). */
  readonly keepOnBackdropClick?: boolean;
  readonly contentSx?: SxProps<Theme>;
  readonly children: ReactNode;
}

export function OperationDialog(props: OperationDialogProps) {
  const { open, running, onClose, titleId, title, icon, describedBy, maxWidth = 'sm', onSubmit, progress, stopped, problem, stop, actions, children } = props;
  // The button that started the operation was disabled while it ran, which drops the focus
  // to the page: once it ends, the focus comes back into the dialog, so Escape and Tab work.
  const actionsRef = useRef<HTMLDivElement>(null);
  const wasRunning = useRef(running);
  useEffect(() => {
    const ended = wasRunning.current && !running;
    wasRunning.current = running;
    if (!ended || !open) return;
    const bar = actionsRef.current;
    const dialog = bar?.closest('[role="dialog"]');
    if (!bar || !dialog || dialog.contains(document.activeElement)) return;
    bar.querySelector<HTMLButtonElement>('button:not([disabled])')?.focus();
  }, [running, open]);
  const body = (
    <>
      <DialogTitle id={titleId} sx={icon ? { display: 'flex', alignItems: 'center', gap: 1.25 } : undefined}>
        {icon}
        {title}
      </DialogTitle>
      <DialogContent dividers={props.dividers ?? false} sx={props.contentSx}>
        {children}
        {props.blocked && (
          <Alert severity="warning" sx={{ mt: 2 }}>
            {props.blocked}
          </Alert>
        )}
        {running && progress}
        {stopped && (
          <Alert severity="info" sx={{ mt: 2 }}>
            {stopped}
          </Alert>
        )}
        {problem && <ProblemAlert problem={problem} sx={{ mt: 2 }} />}
      </DialogContent>
      <DialogActions ref={actionsRef}>
        {stop ? (
          <Button ref={stop.ref} onClick={stop.onStop} disabled={stop.disabled ?? false} {...(stop.label ? { 'aria-label': stop.label } : {})}>
            Stop
          </Button>
        ) : (
          <Button ref={props.cancelRef} onClick={onClose} disabled={running} autoFocus={props.cancelAutoFocus ?? false}>
            Cancel
          </Button>
        )}
        {actions}
      </DialogActions>
    </>
  );
  return (
    <Dialog
      open={open}
      onClose={(_e, reason) => {
        if (running || (reason === 'backdropClick' && props.keepOnBackdropClick)) return;
        onClose();
      }}
      aria-labelledby={titleId}
      {...(describedBy ? { 'aria-describedby': describedBy } : {})}
      maxWidth={maxWidth}
      fullWidth
      {...(props.onExited ? { slotProps: { transition: { onExited: props.onExited } } } : {})}
    >
      {onSubmit ? (
        <form
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            onSubmit();
          }}
          noValidate
        >
          {body}
        </form>
      ) : (
        body
      )}
    </Dialog>
  );
}
