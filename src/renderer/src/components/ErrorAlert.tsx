import { useId, useState } from 'react';
import Alert, { type AlertProps } from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Collapse from '@mui/material/Collapse';
import ExpandMoreIcon from '@mui/icons-material/ExpandMore';
import { NestboxError } from '../../../core/api/errors';
import { MONO_STACK } from '../theme';

/** The readable shape of anything that went wrong, as the UI shows it. */
export interface Problem {
  readonly title?: string;
  readonly message: string;
  readonly code?: string;
  readonly detail?: string;
}

/** Turns a thrown value (usually a NestboxError from the core) into a Problem. */
export function toProblem(err: unknown, title?: string): Problem {
  const e = NestboxError.from(err);
  return {
    ...(title !== undefined ? { title } : {}),
    message: e.message,
    code: e.code,
    ...(e.detail ? { detail: e.detail } : {}),
  };
}

/** The technical part, hidden until asked for: most users act on the message alone. */
export function DetailsExpander({ detail, code }: { readonly detail?: string; readonly code?: string }) {
  const [open, setOpen] = useState(false);
  const id = useId();
  if (!detail && !code) return null;
  return (
    <Box sx={{ mt: 0.5 }}>
      <Button
        size="small"
        color="inherit"
        onClick={() => setOpen((o) => !o)}
        aria-expanded={open}
        aria-controls={id}
        endIcon={<ExpandMoreIcon sx={{ transform: open ? 'rotate(180deg)' : 'none', transition: 'transform 150ms' }} />}
        sx={{ ml: -1, minHeight: 24, py: 0, px: 1, fontWeight: 600, opacity: 0.9 }}
      >
        Details
      </Button>
      <Collapse in={open} id={id}>
        <Box
          component="pre"
          sx={{
            m: 0,
            mt: 0.5,
            p: 1,
            maxHeight: 180,
            overflow: 'auto',
            fontFamily: MONO_STACK,
            fontSize: '0.72rem',
            whiteSpace: 'pre-wrap',
            wordBreak: 'break-word',
            userSelect: 'text',
            borderRadius: 1,
            bgcolor: 'action.hover',
          }}
        >
          {code ? `[${code}]${detail ? '\n' : ''}` : ''}
          {detail ?? ''}
        </Box>
      </Collapse>
    </Box>
  );
}

/** An error from the core with its message up front and the detail behind "Details". */
export function ProblemAlert({ problem, ...rest }: { readonly problem: Problem } & Omit<AlertProps, 'children'>) {
  return (
    <Alert severity="error" {...rest}>
      {problem.title && <AlertTitle sx={{ fontSize: '0.8125rem', fontWeight: 600, mb: 0.25 }}>{problem.title}</AlertTitle>}
      <Box sx={{ userSelect: 'text' }}>{problem.message}</Box>
      <DetailsExpander {...(problem.detail ? { detail: problem.detail } : {})} {...(problem.code ? { code: problem.code } : {})} />
    </Alert>
  );
}
