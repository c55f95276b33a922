/** A button of the Snapshot Manager's toolbar: enabled it says what it does, disabled it says why. */
import type { ReactElement } from 'react';
import Button from '@mui/material/Button';
import Tooltip from '@mui/material/Tooltip';
import { alpha } from '@mui/material/styles';

export interface ToolbarActionProps {
  readonly label: string;
  readonly icon: ReactElement;
  /** Why it is disabled; null when it is enabled. */
  readonly why: string | null;
  /** What it does, when enabled. */
  readonly tip: string;
  readonly tone?: 'primary' | 'danger';
  readonly onClick: () => void;
}

export function ToolbarAction({ label, icon, why, tip, tone, onClick }: ToolbarActionProps) {
  const disabled = why !== null;
  return (
    <Tooltip title={disabled ? why : tip} describeChild>
      {/* A disabled button fires no events; the span lets its tooltip say why. */}
      <span style={{ display: 'inline-flex' }}>
        <Button
          color="inherit"
          startIcon={icon}
          disabled={disabled}
          onClick={onClick}
          sx={(t) => ({
            minHeight: 32,
            px: 1.25,
            fontWeight: 500,
            '& .MuiButton-startIcon': { mr: 0.75 },
            '& .MuiButton-startIcon svg': {
              fontSize: 19,
              color: disabled ? 'inherit' : tone === 'danger' ? t.palette.error.main : tone === 'primary' ? t.palette.primary.main : alpha(t.palette.text.primary, 0.75),
            },
          })}
        >
          {label}
        </Button>
      </span>
    </Tooltip>
  );
}
