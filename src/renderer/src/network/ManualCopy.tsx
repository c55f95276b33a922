import { useRef, useId } from 'react';
import InputBase from '@mui/material/InputBase';
import Popover from '@mui/material/Popover';
import Typography from '@mui/material/Typography';
import { copyShortcut } from './clipboard';

/**
 * Where the clipboard API is missing (web mode over plain http), the command is shown
 * selected for the user to copy; their copy is noticed and confirmed like ours would be.
 */
export function ManualCopy({
  manual,
  onClose,
  onCopied,
}: {
  readonly manual: { readonly anchor: HTMLElement; readonly text: string } | null;
  readonly onClose: () => void;
  readonly onCopied: (text: string) => void;
}) {
  const input = useRef<HTMLInputElement | null>(null);
  const id = useId();
  return (
    <Popover
      open={manual !== null}
      anchorEl={manual?.anchor ?? null}
      onClose={onClose}
      anchorOrigin={{ vertical: 'bottom', horizontal: 'right' }}
      transformOrigin={{ vertical: 'top', horizontal: 'right' }}
      slotProps={{
        paper: { sx: { p: 1.5, width: 320 }, role: 'dialog', 'aria-labelledby': id },
        transition: { onEntered: () => input.current?.select() },
      }}
    >
      <Typography id={id} variant="caption" color="text.secondary" component="p" sx={{ mb: 0.75 }}>
        Copy this command with {copyShortcut()}:
      </Typography>
      <InputBase
        value={manual?.text ?? ''}
        inputRef={input}
        autoFocus
        fullWidth
        onFocus={(e) => e.target.select()}
        onCopy={() => {
          if (manual) onCopied(manual.text);
          onClose();
        }}
        inputProps={{ readOnly: true, 'aria-label': 'SSH command', spellCheck: false }}
        sx={(t) => ({
          fontFamily: 'monospace',
          fontSize: '0.8rem',
          border: 1,
          borderColor: 'divider',
          borderRadius: '5px',
          bgcolor: t.palette.action.hover,
          '& input': { px: 1, py: 0.5 },
        })}
      />
    </Popover>
  );
}
