/**
 * The Port Forwarding dialog: VirtualBox's rules table, edited in place. Every cell is an
 * input; a row whose cells differ from the saved rule is "dirty" and is committed on its own
 * (Enter or its check button), so one bad row never holds back the others. The core applies
 * a rule at once, to the running QEMU too, and answers conflicts (a port another VM forwards,
 * a port in use on the host) with an error that is shown under the row it concerns.
 *
 * The core has no "change rule" call: an edit is remove + add, and when the add is refused
 * the old rule is added back, so a failed edit leaves the VM as it was.
 */
import { useCallback, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent, type MouseEvent, type ReactNode } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import CircularProgress from '@mui/material/CircularProgress';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import FormHelperText from '@mui/material/FormHelperText';
import IconButton from '@mui/material/IconButton';
import InputBase from '@mui/material/InputBase';
import MenuItem from '@mui/material/MenuItem';
import Popover from '@mui/material/Popover';
import Select from '@mui/material/Select';
import Snackbar from '@mui/material/Snackbar';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Tooltip from '@mui/material/Tooltip';
import Typography from '@mui/material/Typography';
import { alpha, type SxProps, type Theme } from '@mui/material/styles';
import AddIcon from '@mui/icons-material/Add';
import CheckIcon from '@mui/icons-material/Check';
import DeleteOutlineIcon from '@mui/icons-material/DeleteOutline';
import TerminalIcon from '@mui/icons-material/Terminal';
import UndoIcon from '@mui/icons-material/Undo';
import type { OpResult, VmInfo } from '../../../core/api/contract';
import { NestboxError } from '../../../core/api/errors';
import { toProblem, DetailsExpander, type Problem } from '../components/ErrorAlert';
import { nicModeLabel, nicModelLabel } from '../model/labels';
import { stateLabel } from '../model/vmState';
import { copyShortcut, copyText } from './clipboard';
import {
  DEFAULT_HOST_ADDRESS,
  PROTOCOLS,
  arrange,
  draftOf,
  hasProblems,
  isSshRule,
  newDraft,
  ruleProblems,
  sameDraft,
  specOf,
  specOfRule,
  sshCommand,
  type Nic,
  type PortForward,
  type Protocol,
  type RuleDraft,
  type RuleField,
  type RuleProblems,
} from './rules';
import { useNetworkActions } from '../actions/useNetworkActions';

export const FORWARDING_NOTE = 'Rules apply immediately, also while the VM runs. Host IP defaults to 127.0.0.1, so only this computer can connect.';

export interface PortForwardDialogProps {
  readonly vm: VmInfo;
  /** The adapter whose rules are edited; null keeps the dialog closed. */
  readonly nicId: string | null;
  readonly onClose: () => void;
}

export function PortForwardDialog({ vm, nicId, onClose }: PortForwardDialogProps) {
  const open = nicId !== null && vm.config.nics.some((n) => n.id === nicId);
  return (
    <Dialog
      open={open}
      onClose={(_, reason) => {
        if (reason !== 'backdropClick') onClose();
      }}
      maxWidth={false}
      aria-labelledby="port-forwarding-title"
      slotProps={{ paper: { sx: { width: 900, maxWidth: 'calc(100vw - 32px)', height: 540, maxHeight: 'calc(100vh - 32px)' } } }}
    >
      {open && <ForwardsBody key={`${vm.uuid}/${nicId}`} vm={vm} nicId={nicId} onClose={onClose} />}
    </Dialog>
  );
}

/** A row's edit in progress; `attempted` turns on "required" messages after a first Save. */
interface RowEdit {
  readonly draft: RuleDraft;
  readonly attempted: boolean;
}

type Busy = 'save' | 'remove';

interface Row {
  /** `rule:NAME` for a saved rule, `new:N` for one not saved yet. */
  readonly key: string;
  readonly saved: PortForward | null;
  readonly draft: RuleDraft;
  readonly dirty: boolean;
  readonly attempted: boolean;
}

const ruleKey = (name: string) => `rule:${name}`;
const cellKey = (row: string, field: RuleField | 'remove') => `${row}|${field}`;
const FIELD_ORDER: readonly RuleField[] = ['name', 'protocol', 'hostAddress', 'hostPort', 'guestAddress', 'guestPort'];

/**
 * The VM as this dialog last knew it: the answer of our own call until the Manager's copy
 * (refreshed by 'vm.changed') moves on, which is then at least as new.
 */
function useLatestVm(vm: VmInfo): readonly [VmInfo, (next: VmInfo) => void] {
  const [latest, setLatest] = useState<{ readonly base: VmInfo; readonly vm: VmInfo } | null>(null);
  const prop = useRef(vm);
  prop.current = vm;
  const accept = useCallback((next: VmInfo) => setLatest({ base: prop.current, vm: next }), []);
  return [latest !== null && latest.base === vm ? latest.vm : vm, accept];
}

function without<K, V>(m: ReadonlyMap<K, V>, k: K): ReadonlyMap<K, V> {
  if (!m.has(k)) return m;
  const n = new Map(m);
  n.delete(k);
  return n;
}

function withEntry<K, V>(m: ReadonlyMap<K, V>, k: K, v: V): ReadonlyMap<K, V> {
  const n = new Map(m);
  n.set(k, v);
  return n;
}

function ForwardsBody({ vm: vmProp, nicId, onClose }: { readonly vm: VmInfo; readonly nicId: string; readonly onClose: () => void }) {
  const network = useNetworkActions();
  const [vm, acceptVm] = useLatestVm(vmProp);
  const nicIndex = vm.config.nics.findIndex((n) => n.id === nicId);
  const nic: Nic | undefined = vm.config.nics[nicIndex];

  const [edits, setEdits] = useState<ReadonlyMap<string, RowEdit>>(new Map());
  const [newKeys, setNewKeys] = useState<readonly string[]>([]);
  const [busy, setBusy] = useState<ReadonlyMap<string, Busy>>(new Map());
  const [errors, setErrors] = useState<ReadonlyMap<string, Problem>>(new Map());
  const [order, setOrder] = useState<readonly string[]>([]);
  /** Rules taken out for an edit and not back yet: their rows stay put meanwhile. */
  const [ghosts, setGhosts] = useState<ReadonlyMap<string, PortForward>>(new Map());
  const [snack, setSnack] = useState<string | null>(null);
  const [manual, setManual] = useState<{ readonly anchor: HTMLElement; readonly text: string } | null>(null);
  const counter = useRef(0);
  const cells = useRef(new Map<string, HTMLElement>());
  const focusNext = useRef<string | null>(null);
  const addButton = useRef<HTMLButtonElement | null>(null);
  const noteId = useId();

  const locked = vm.state === 'starting' || vm.state === 'saving';
  const saved = useMemo(() => nic?.forwards ?? [], [nic]);

  const rows: readonly Row[] = useMemo(() => {
    const savingNames = new Set(newKeys.filter((k) => busy.get(k) === 'save').map((k) => edits.get(k)?.draft.name));
    const all = [...saved, ...[...ghosts.values()].filter((g) => !saved.some((s) => s.name === g.name))];
    const savedRows = arrange(all, order)
      .filter((r) => !savingNames.has(r.name))
      .map((r): Row => {
        const key = ruleKey(r.name);
        const e = edits.get(key);
        const base = draftOf(r);
        return { key, saved: r, draft: e?.draft ?? base, dirty: e !== undefined && !sameDraft(e.draft, base), attempted: e?.attempted ?? false };
      });
    const fresh = newKeys.flatMap((key): Row[] => {
      const e = edits.get(key);
      return e ? [{ key, saved: null, draft: e.draft, dirty: true, attempted: e.attempted }] : [];
    });
    return [...savedRows, ...fresh];
  }, [saved, ghosts, order, edits, newKeys, busy]);

  // Focus follows the row through a save (its key changes) or a removal.
  useEffect(() => {
    const want = focusNext.current;
    if (want === null) return;
    const el = want === 'add' ? addButton.current : cells.current.get(want);
    if (!el) return;
    focusNext.current = null;
    el.focus();
    if (el instanceof HTMLInputElement) el.select();
  });

  const register = (key: string) => (el: HTMLElement | null) => {
    if (el) cells.current.set(key, el);
    else cells.current.delete(key);
  };

  const setEdit = (key: string, draft: RuleDraft, attempted?: boolean) =>
    setEdits((m) => withEntry(m, key, { draft, attempted: attempted ?? m.get(key)?.attempted ?? false }));

  const change = (row: Row, field: RuleField, value: string) => {
    setEdit(row.key, { ...row.draft, [field]: value });
    setErrors((m) => without(m, row.key));
  };

  const forget = (key: string) => {
    setEdits((m) => without(m, key));
    setErrors((m) => without(m, key));
    setNewKeys((k) => (k.includes(key) ? k.filter((x) => x !== key) : k));
  };

  const addRow = () => {
    const key = `new:${++counter.current}`;
    const taken = [...saved.map((r) => r.name), ...rows.map((r) => r.draft.name)];
    setEdit(key, newDraft(taken), false);
    setNewKeys((k) => [...k, key]);
    focusNext.current = cellKey(key, 'name');
  };

  const cancel = (row: Row) => {
    forget(row.key);
    focusNext.current = row.saved ? cellKey(row.key, 'name') : 'add';
  };

  const nicParam = { ref: vm.uuid, nic: nicId };
  const addDraft = (d: RuleDraft): Promise<OpResult> => network.addForward({ ...nicParam, rule: specOf(d) });
  const addRule = (r: PortForward): Promise<OpResult> => network.addForward({ ...nicParam, rule: specOfRule(r) });

  const commit = async (row: Row, from: RuleField | null) => {
    if (locked || busy.has(row.key)) return;
    if (row.saved && !row.dirty) return;
    const others = saved.filter((r) => r !== row.saved);
    const problems = ruleProblems(row.draft, others);
    if (hasProblems(problems)) {
      setEdit(row.key, row.draft, true);
      const first = FIELD_ORDER.find((f) => problems[f] !== undefined);
      if (first) focusNext.current = cellKey(row.key, first);
      return;
    }
    const newName = row.draft.name;
    const displayed = rows.flatMap((r) => (r.saved ? [r.saved.name] : []));
    setBusy((m) => withEntry(m, row.key, 'save'));
    setErrors((m) => without(m, row.key));
    try {
      if (row.saved === null) {
        let result: OpResult;
        try {
          result = await addDraft(row.draft);
        } catch (err) {
          setErrors((m) => withEntry(m, row.key, toProblem(err, 'The rule was not added')));
          return;
        }
        acceptVm(result.vm);
        forget(row.key);
        focusNext.current = cellKey(ruleKey(newName), from ?? 'name');
        return;
      }
      const old = row.saved;
      setGhosts((m) => withEntry(m, old.name, old));
      setOrder(displayed);
      try {
        try {
          acceptVm((await network.removeForward({ ...nicParam, name: old.name })).vm);
        } catch (err) {
          setErrors((m) => withEntry(m, row.key, toProblem(err, 'The rule was not changed')));
          return;
        }
        let result: OpResult;
        try {
          result = await addDraft(row.draft);
        } catch (err) {
          const problem = toProblem(err, 'The rule was not changed');
          try {
            acceptVm((await addRule(old)).vm);
            setErrors((m) => withEntry(m, row.key, problem));
          } catch (restoreErr) {
            // Both failed: the old rule is gone. Say so, and keep the edit as a new row.
            const lost = NestboxError.from(restoreErr).message;
            setErrors((m) =>
              withEntry(m, row.key, { ...problem, message: `${problem.message}. The old rule '${old.name}' could not be restored either: ${lost}` }),
            );
          }
          return;
        }
        acceptVm(result.vm);
        setOrder(displayed.map((n) => (n === old.name ? newName : n)));
        setEdits((m) => without(m, row.key));
        focusNext.current = cellKey(ruleKey(newName), from ?? 'name');
      } finally {
        setGhosts((m) => without(m, old.name));
      }
    } finally {
      setBusy((m) => without(m, row.key));
    }
  };

  const remove = async (row: Row) => {
    const index = rows.findIndex((r) => r.key === row.key);
    const neighbour = rows[index + 1] ?? rows[index - 1];
    const nextFocus = neighbour ? cellKey(neighbour.key, 'remove') : 'add';
    if (!row.saved) {
      forget(row.key);
      focusNext.current = nextFocus;
      return;
    }
    if (locked || busy.has(row.key)) return;
    const name = row.saved.name;
    setBusy((m) => withEntry(m, row.key, 'remove'));
    setErrors((m) => without(m, row.key));
    try {
      const result = await network.removeForward({ ...nicParam, name });
      acceptVm(result.vm);
      forget(row.key);
      focusNext.current = nextFocus;
    } catch (err) {
      setErrors((m) => withEntry(m, row.key, toProblem(err, 'The rule was not removed')));
    } finally {
      setBusy((m) => without(m, row.key));
    }
  };

  const copySsh = async (rule: PortForward, anchor: HTMLElement) => {
    const text = sshCommand(rule);
    if (await copyText(text)) setSnack(`Copied “${text}” — replace “user” with your account in the guest.`);
    else setManual({ anchor, text });
  };

  const onRowKeyDown = (row: Row) => (e: KeyboardEvent<HTMLTableRowElement>) => {
    if (e.defaultPrevented) return;
    if (e.key === 'Enter' && e.target instanceof HTMLInputElement && !e.nativeEvent.isComposing) {
      e.preventDefault();
      e.stopPropagation();
      const field = e.target.dataset['field'] as RuleField | undefined;
      void commit(row, field ?? null);
    } else if (e.key === 'Escape' && row.dirty && !busy.has(row.key)) {
      // The row's edit is what Escape cancels; the dialog closes on the next one.
      e.preventDefault();
      e.stopPropagation();
      cancel(row);
    }
  };

  if (!nic) return null;
  const unsaved = rows.filter((r) => r.dirty).length;
  const adapterLabel = `Adapter ${nicIndex + 1}`;

  return (
    <Box sx={{ display: 'flex', flexDirection: 'column', height: '100%', minHeight: 0 }}>
      <DialogTitle id="port-forwarding-title" sx={{ borderBottom: 1, borderColor: 'divider' }}>
        Port Forwarding Rules — {vm.name}
      </DialogTitle>
      <DialogContent sx={{ display: 'flex', flexDirection: 'column', gap: 1.5, pt: '16px !important', pb: 1.5, px: 2.5, minHeight: 0 }}>
        <Alert severity="info" role="note" id={noteId} sx={{ py: 0.25 }}>
          {FORWARDING_NOTE}
        </Alert>
        {locked && (
          <Alert severity="warning" role="status" sx={{ py: 0.25 }}>
            Rules can be changed again when ‘{vm.name}’ is no longer {stateLabel(vm.state).toLowerCase()}.
          </Alert>
        )}
        <Box sx={{ display: 'flex', alignItems: 'center', gap: 1.5 }}>
          <Button ref={addButton} variant="outlined" startIcon={<AddIcon />} onClick={addRow} disabled={locked} autoFocus>
            Add rule
          </Button>
          <Box sx={{ flex: 1 }} />
          <Typography variant="caption" color="text.secondary" noWrap>
            {adapterLabel} · {nicModeLabel(nic.mode)} · {nicModelLabel(nic.model)} · {stateLabel(vm.state)}
          </Typography>
        </Box>
        <TableContainer
          sx={{
            flex: 1,
            minHeight: 0,
            border: 1,
            borderColor: 'divider',
            borderRadius: 1.5,
            bgcolor: 'background.paper',
          }}
        >
          <Table size="small" stickyHeader aria-label="Port forwarding rules" aria-describedby={noteId} sx={{ tableLayout: 'fixed', minWidth: 760 }}>
            <colgroup>
              <col />
              <col style={{ width: 92 }} />
              <col style={{ width: 132 }} />
              <col style={{ width: 96 }} />
              <col style={{ width: 132 }} />
              <col style={{ width: 96 }} />
              <col style={{ width: 104 }} />
            </colgroup>
            <TableHead>
              <TableRow sx={headRowSx}>
                <TableCell>Name</TableCell>
                <TableCell>Protocol</TableCell>
                <TableCell>Host IP</TableCell>
                <TableCell>Host Port</TableCell>
                <TableCell>Guest IP</TableCell>
                <TableCell>Guest Port</TableCell>
                <TableCell>
                  <Box component="span" sx={visuallyHidden}>
                    Actions
                  </Box>
                </TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {rows.length === 0 && (
                <TableRow>
                  <TableCell colSpan={7} sx={{ border: 0, py: 5, textAlign: 'center' }}>
                    <Typography variant="body2" sx={{ fontWeight: 500 }}>
                      No rules yet
                    </Typography>
                    <Typography variant="caption" color="text.secondary" component="p" sx={{ mt: 0.5 }}>
                      Add a rule to reach a service in the guest — a web server on port 80, SSH on port 22 — from this computer.
                    </Typography>
                  </TableCell>
                </TableRow>
              )}
              {rows.map((row) => (
                <RuleRow
                  key={row.key}
                  row={row}
                  others={saved.filter((r) => r !== row.saved)}
                  busy={busy.get(row.key) ?? null}
                  error={errors.get(row.key) ?? null}
                  locked={locked}
                  register={register}
                  onChange={(field, value) => change(row, field, value)}
                  onKeyDown={onRowKeyDown(row)}
                  onSave={() => void commit(row, null)}
                  onRevert={() => cancel(row)}
                  onRemove={() => void remove(row)}
                  onCopySsh={(rule, anchor) => void copySsh(rule, anchor)}
                />
              ))}
            </TableBody>
          </Table>
        </TableContainer>
      </DialogContent>
      <DialogActions sx={{ borderTop: 1, borderColor: 'divider', px: 2.5 }}>
        <Box sx={{ flex: 1, minWidth: 0 }}>
          <Typography variant="caption" color={unsaved > 0 ? 'warning.main' : 'text.secondary'} role="status" noWrap component="p">
            {unsaved > 0
              ? `${unsaved === 1 ? '1 row is' : `${unsaved} rows are`} not saved yet — press Enter in the row or click ✓ to apply; Esc discards.`
              : `${saved.length === 0 ? 'No rules' : saved.length === 1 ? '1 rule' : `${saved.length} rules`} · Tab moves between cells, Enter saves a row, Esc discards its changes.`}
          </Typography>
        </Box>
        <Button onClick={onClose} variant="contained">
          Close
        </Button>
      </DialogActions>
      <Snackbar open={snack !== null} autoHideDuration={5000} onClose={() => setSnack(null)} message={snack ?? ''} />
      <ManualCopy manual={manual} onClose={() => setManual(null)} onCopied={(text) => setSnack(`Copied “${text}”.`)} />
    </Box>
  );
}

const visuallyHidden = {
  position: 'absolute',
  width: 1,
  height: 1,
  overflow: 'hidden',
  clip: 'rect(0 0 0 0)',
  whiteSpace: 'nowrap',
} as const;

const headRowSx: SxProps<Theme> = {
  '& th': {
    bgcolor: 'chrome.sidebar',
    color: 'text.secondary',
    fontSize: '0.72rem',
    fontWeight: 600,
    letterSpacing: '0.02em',
    py: 0.75,
    px: 1.25,
    whiteSpace: 'nowrap',
  },
};

interface RuleRowProps {
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

function RuleRow({ row, others, busy, error, locked, register, onChange, onKeyDown, onSave, onRevert, onRemove, onCopySsh }: RuleRowProps) {
  const problems: RuleProblems = row.dirty ? ruleProblems(row.draft, others) : {};
  const errorId = useId();
  const readOnly = locked || busy !== null;
  const isNew = row.saved === null;
  const label = row.saved?.name ?? row.draft.name;
  const shown = (f: RuleField): string | undefined => {
    const p = problems[f];
    if (p === undefined) return undefined;
    // "Enter a port" waits for a save attempt; a wrong value is said as it is typed.
    const empty = row.draft[f].trim() === '';
    return empty && !row.attempted ? undefined : p;
  };
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

/**
 * Where the clipboard API is missing (web mode over plain http), the command is shown
 * selected for the user to copy; their copy is noticed and confirmed like ours would be.
 */
function ManualCopy({
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
