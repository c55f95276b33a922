/**
 * One row of the Port Forwarding table: its cells as inputs, its problems under the cells,
 * its actions (save, discard, copy the SSH command, remove) and the core's error for it in a
 * row of its own beneath. What the row shows comes from `Row` (forwardRows.ts); what its
 * actions do is the dialog's.
 */
import { useId, type KeyboardEvent, type MouseEvent, type ReactNode } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import CircularProgress from '@mui/material/CircularProgress';
import FormHelperText from '@mui/material/FormHelperText';
import IconButton from '@mui/material/IconButton';
import InputBase from '@mui/material/InputBase';
import MenuItem from '@mui/material/MenuItem';
import Select from '@mui/material/Select';
import TableCell from '@mui/material/TableCell';
import TableRow from '@mui/material/TableRow';
import Tooltip from '@mui/material/Tooltip';
import { alpha, type SxProps, type Theme } from '@mui/material/styles';
import CheckIcon from '@mui/icons-material/Check';
import DeleteOutlineIcon from '@mui/icons-material/DeleteOutline';
import TerminalIcon from '@mui/icons-material/Terminal';
import UndoIcon from '@mui/icons-material/Undo';
import { DetailsExpander, type Problem } from '../components/ErrorAlert';
import { cellKey, shownProblem, type Busy, type Row } from './forwardRows';
import { DEFAULT_HOST_ADDRESS, PROTOCOLS, isSshRule, ruleProblems, type PortForward, type Protocol, type RuleField, type RuleProblems } from './rules';

export interface RuleRowProps {
  readonly row: Row;
  readonly others: readonly PortForward[];
  readonly busy: Busy | null;
  readonly error: Problem | null;
  readonly locked: boolean;
  readonly register: (key: string) => (el: HTMLElement | null) => void;
  readonly onChange: (field: RuleField, value: string) => void;
  readonly onKeyDown: (e: KeyboardEvent<HTMLTableRowElement>) => void;
  readonly onSave: () => void;
  readonly onRevert: () => void;
  readonly onRemove: () => void;
  readonly onCopySsh: (rule: PortForward, anchor: HTMLElement) => void;
}

export function RuleRow({ row, others, busy, error, locked, register, onChange, onKeyDown, onSave, onRevert, onRemove, onCopySsh }: RuleRowProps) {
  const problems: RuleProblems = row.dirty ? ruleProblems(row.draft, others) : {};
  const errorId = useId();
  const readOnly = locked || busy !== null;
  const isNew = row.saved === null;
  const label = row.saved?.name ?? row.draft.name;
  const shown = (f: RuleField): string | undefined => shownProblem(row, problems, f);
  const text = (field: Exclude<RuleField, 'protocol'>, aria: string, opts: { placeholder?: string; numeric?: boolean } = {}) => (
    <CellInput
      field={field}
      label={aria}
      value={row.draft[field]}
      problem={shown(field)}
      editing={row.dirty}
      readOnly={readOnly}
      inputRef={register(cellKey(row.key, field))}
      onChange={(v) => onChange(field, v)}
      describedBy={error ? errorId : undefined}
      {...opts}
    />
  );
  const accent = error ? 'error.main' : row.dirty ? 'primary.main' : null;

  return (
    <>
      <TableRow
        aria-label={isNew ? `New rule ${row.draft.name}` : label}
        onKeyDown={onKeyDown}
        sx={(t) => ({
          verticalAlign: 'top',
          bgcolor: row.dirty ? alpha(t.palette.primary.main, t.palette.mode === 'dark' ? 0.08 : 0.045) : undefined,
          '&:hover': { bgcolor: row.dirty ? alpha(t.palette.primary.main, t.palette.mode === 'dark' ? 0.1 : 0.06) : 'action.hover' },
          '& > td': { px: 0.75, py: 0.5, ...(error ? { borderBottom: 0 } : {}) },
          '& > td:first-of-type': { pl: 1, boxShadow: accent ? `inset 3px 0 0 ${accent === 'error.main' ? t.palette.error.main : t.palette.primary.main}` : 'none' },
        })}
      >
        <TableCell>{text('name', 'Name')}</TableCell>
        <TableCell>
          <Select<Protocol>
            value={row.draft.protocol}
            onChange={(e) => onChange('protocol', e.target.value)}
            readOnly={readOnly}
            inputRef={register(cellKey(row.key, 'protocol'))}
            input={<InputBase sx={cellSx(row.dirty)} />}
            inputProps={{ 'aria-label': 'Protocol' }}
            MenuProps={{ slotProps: { paper: { sx: { minWidth: 90 } } } }}
            sx={{ '& .MuiSelect-select': { py: '3px', pl: '7px', minHeight: 22, lineHeight: '22px' }, '& .MuiSelect-icon': { right: 2, fontSize: 18 } }}
          >
            {PROTOCOLS.map((p) => (
              <MenuItem key={p} value={p}>
                {p.toUpperCase()}
              </MenuItem>
            ))}
          </Select>
        </TableCell>
        <TableCell>{text('hostAddress', 'Host IP', { placeholder: DEFAULT_HOST_ADDRESS })}</TableCell>
        <TableCell>{text('hostPort', 'Host Port', { numeric: true })}</TableCell>
        <TableCell>{text('guestAddress', 'Guest IP', { placeholder: 'guest' })}</TableCell>
        <TableCell>{text('guestPort', 'Guest Port', { numeric: true })}</TableCell>
        <TableCell sx={{ whiteSpace: 'nowrap', textAlign: 'right' }}>
          <Box sx={{ display: 'inline-flex', alignItems: 'center', gap: 0.25, minHeight: 30 }}>
            {row.dirty && (
              <RowAction title="Save rule (Enter)" label="Save rule" onClick={onSave} disabled={readOnly} color="primary">
                {busy === 'save' ? <CircularProgress size={16} aria-label="Saving" /> : <CheckIcon fontSize="small" />}
              </RowAction>
            )}
            {row.dirty && !isNew && (
              <RowAction title="Discard changes (Esc)" label={`Discard changes to ${label}`} onClick={onRevert} disabled={readOnly}>
                <UndoIcon fontSize="small" />
              </RowAction>
            )}
            {!row.dirty && row.saved && isSshRule(row.saved) && (
              <RowAction
                title="Copy SSH command"
                label={`Copy SSH command for ${label}`}
                onClick={(e) => row.saved && onCopySsh(row.saved, e.currentTarget)}
                disabled={false}
              >
                <TerminalIcon fontSize="small" />
              </RowAction>
            )}
            <RowAction
              title={isNew ? 'Discard this rule' : 'Remove rule'}
              label={`Remove rule ${label}`}
              onClick={onRemove}
              disabled={readOnly && !isNew}
              buttonRef={register(cellKey(row.key, 'remove'))}
            >
              {busy === 'remove' ? <CircularProgress size={16} aria-label="Removing" /> : <DeleteOutlineIcon fontSize="small" />}
            </RowAction>
          </Box>
        </TableCell>
      </TableRow>
      {error && (
        <TableRow aria-label={`Error for ${label}`}>
          <TableCell colSpan={7} sx={(t) => ({ pt: 0, pb: 1, pl: 1, boxShadow: `inset 3px 0 0 ${t.palette.error.main}` })}>
            <RowError id={errorId} problem={error} />
          </TableCell>
        </TableRow>
      )}
    </>
  );
}

function RowError({ id, problem }: { readonly id: string; readonly problem: Problem }) {
  return (
    <Alert
      id={id}
      severity="error"
      variant="standard"
      sx={{ py: 0, px: 1.25, '& .MuiAlert-icon': { py: '6px', mr: 1 }, '& .MuiAlert-message': { py: '6px' } }}
    >
      <Box sx={{ userSelect: 'text' }}>
        {problem.title && (
          <Box component="span" sx={{ fontWeight: 600 }}>
            {problem.title}:{' '}
          </Box>
        )}
        {problem.message}
      </Box>
      <DetailsExpander {...(problem.detail ? { detail: problem.detail } : {})} {...(problem.code ? { code: problem.code } : {})} />
    </Alert>
  );
}

function RowAction({
  title,
  label,
  onClick,
  disabled,
  color,
  buttonRef,
  children,
}: {
  readonly title: string;
  readonly label: string;
  readonly onClick: (e: MouseEvent<HTMLButtonElement>) => void;
  readonly disabled: boolean;
  readonly color?: 'primary';
  readonly buttonRef?: (el: HTMLElement | null) => void;
  readonly children: ReactNode;
}) {
  const button = (
    <IconButton aria-label={label} onClick={onClick} disabled={disabled} color={color ?? 'default'} ref={buttonRef} sx={{ p: '5px' }}>
      {children}
    </IconButton>
  );
  // A disabled button gets no pointer events, so its tooltip needs a wrapper to hang on.
  return (
    <Tooltip title={title} describeChild>
      {disabled ? <span>{button}</span> : button}
    </Tooltip>
  );
}

function cellSx(editing: boolean): SxProps<Theme> {
  return (t) => ({
    width: '100%',
    fontSize: '0.8125rem',
    fontVariantNumeric: 'tabular-nums',
    borderRadius: '5px',
    border: '1px solid',
    borderColor: editing ? t.palette.divider : 'transparent',
    bgcolor: editing ? 'background.paper' : 'transparent',
    transition: t.transitions.create(['border-color', 'box-shadow', 'background-color'], { duration: 120 }),
    '&:hover': { borderColor: t.palette.mode === 'dark' ? 'rgba(255,255,255,0.22)' : 'rgba(15,23,42,0.24)' },
    '&.Mui-focused': {
      borderColor: t.palette.primary.main,
      bgcolor: 'background.paper',
      boxShadow: `0 0 0 3px ${alpha(t.palette.primary.main, t.palette.mode === 'dark' ? 0.28 : 0.16)}`,
    },
    '&.Mui-error': { borderColor: t.palette.error.main },
    '&.Mui-error.Mui-focused': { boxShadow: `0 0 0 3px ${alpha(t.palette.error.main, 0.2)}` },
    '&.Mui-readOnly': { color: 'text.secondary' },
    '& .MuiInputBase-input': { py: '3px', px: '7px', height: 22, lineHeight: '22px' },
    '& .MuiInputBase-input::placeholder': { color: 'text.secondary', opacity: 0.7 },
  });
}

function CellInput({
  field,
  label,
  value,
  problem,
  editing,
  readOnly,
  placeholder,
  numeric,
  inputRef,
  describedBy,
  onChange,
}: {
  readonly field: RuleField;
  readonly label: string;
  readonly value: string;
  readonly problem: string | undefined;
  readonly editing: boolean;
  readonly readOnly: boolean;
  readonly placeholder?: string;
  readonly numeric?: boolean;
  readonly inputRef: (el: HTMLElement | null) => void;
  readonly describedBy: string | undefined;
  readonly onChange: (value: string) => void;
}) {
  const helpId = useId();
  const described = [problem !== undefined ? helpId : null, describedBy ?? null].filter((x) => x !== null).join(' ');
  return (
    <>
      <InputBase
        value={value}
        onChange={(e) => onChange(e.target.value)}
        readOnly={readOnly}
        error={problem !== undefined}
        inputRef={inputRef}
        placeholder={placeholder}
        sx={cellSx(editing)}
        inputProps={{
          'aria-label': label,
          'aria-invalid': problem !== undefined,
          ...(described !== '' ? { 'aria-describedby': described } : {}),
          'data-field': field,
          spellCheck: false,
          autoComplete: 'off',
          ...(numeric ? { inputMode: 'numeric' as const, maxLength: 5 } : { maxLength: field === 'name' ? 32 : 15 }),
        }}
      />
      {problem !== undefined && (
        <FormHelperText id={helpId} error sx={{ mx: 0.25, mt: 0.25, lineHeight: 1.3 }}>
          {problem}
        </FormHelperText>
      )}
    </>
  );
}
