/**
 * The shell of the Media Manager's small dialogs (create, convert, resize, remove, attach):
 * the operation dialog with a form, its one main button, and the error of the request.
 */
import type { ReactNode } from 'react';
import Box from '@mui/material/Box';
import type { Problem } from '../components/ErrorAlert';
import { OperationButton, OperationDialog } from '../components/OperationDialog';

export function MediumSubDialog({ title, titleId, onClose, onSubmit, submitLabel, disabled, children, danger, running = false, problem = null }: {
  readonly title: string;
  readonly titleId: string;
  readonly onClose: () => void;
  readonly onSubmit: () => void;
  readonly submitLabel: string;
  readonly disabled?: boolean;
  readonly danger?: boolean;
  /** The request runs (the dialog cannot be closed meanwhile). */
  readonly running?: boolean;
  readonly problem?: Problem | null;
  readonly children: ReactNode;
}) {
  return (
    <OperationDialog
      open
      running={running}
      onClose={onClose}
      titleId={titleId}
      title={title}
      dividers
      problem={problem}
      onSubmit={() => {
        if (!disabled && !running) onSubmit();
      }}
      actions={
        <OperationButton type="submit" color={danger ? 'error' : 'primary'} disabled={(disabled ?? false) || running} busy={running}>
          {submitLabel}
        </OperationButton>
      }
    >
      <Box sx={{ display: 'grid', gap: 2 }}>{children}</Box>
    </OperationDialog>
  );
}
