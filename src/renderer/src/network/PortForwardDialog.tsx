/**
 * The Port Forwarding dialog: VirtualBox's rules table, edited in place. Every cell is an
 * input; a row whose cells differ from the saved rule is "dirty" and is committed on its own
 * (Enter or its check button), so one bad row never holds back the others. The core applies
 * a rule at once, to the running QEMU too, and answers conflicts (a port another VM forwards,
 * a port in use on the host) with an error that is shown under the row it concerns.
 *
 * The core has no "change rule" call: an edit is remove + add, and when the add is refused
 * the old rule is added back, so a failed edit leaves the VM as it was.
 *
 * Each row commits on its own and shows its own error, so there is no single operation to
 * guard: the shared OperationDialog shell (one run, close guard, Stop) does not fit, and the
 * dialog closes at any time. The rows as data are forwardRows.ts, the checks rules.ts, the
 * table RulesTable.tsx and a row RuleRow.tsx; this file keeps the state and the calls.
 */
import { useCallback, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import Snackbar from '@mui/material/Snackbar';
import Typography from '@mui/material/Typography';
import AddIcon from '@mui/icons-material/Add';
import type { OpResult, VmInfo } from '../../../core/api/contract';
import { NestboxError } from '../../../core/api/errors';
import { toProblem, type Problem } from '../components/ErrorAlert';
import { nicModeLabel, nicModelLabel } from '../model/labels';
import { stateLabel } from '../model/vmState';
import { copyText } from './clipboard';
import { cellKey, firstProblemField, footerStatus, ruleKey, tableRows, without, withEntry, type Busy, type Row, type RowEdit } from './forwardRows';
import { ManualCopy } from './ManualCopy';
import { RuleRow } from './RuleRow';
import { RulesTable } from './RulesTable';
import { hasProblems, newDraft, ruleProblems, specOf, specOfRule, sshCommand, type Nic, type PortForward, type RuleDraft, type RuleField } from './rules';
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

  const rows = useMemo(() => tableRows({ saved, ghosts, order, edits, newKeys, busy }), [saved, ghosts, order, edits, newKeys, busy]);

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
      const first = firstProblemField(problems);
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
        <RulesTable empty={rows.length === 0} describedBy={noteId}>
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
        </RulesTable>
      </DialogContent>
      <DialogActions sx={{ borderTop: 1, borderColor: 'divider', px: 2.5 }}>
        <Box sx={{ flex: 1, minWidth: 0 }}>
          <Typography variant="caption" color={unsaved > 0 ? 'warning.main' : 'text.secondary'} role="status" noWrap component="p">
            {footerStatus(unsaved, saved.length)}
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

