/**
 * The panel beside the tree: for a snapshot, its name and description (editable), when it
 * was taken, whether it holds the memory (and, live, whether the guest's file systems were
 * frozen for it), and its configuration of that time with every
 * setting that differs from now marked; for "Current state", what changed since the
 * snapshot it is based on.
 */
import { useEffect, useState, type FormEvent, type Ref } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import CircularProgress from '@mui/material/CircularProgress';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { alpha } from '@mui/material/styles';
import AcUnitOutlinedIcon from '@mui/icons-material/AcUnitOutlined';
import CompareArrowsRoundedIcon from '@mui/icons-material/CompareArrowsRounded';
import DeveloperBoardOutlinedIcon from '@mui/icons-material/DeveloperBoardOutlined';
import EditNoteOutlinedIcon from '@mui/icons-material/EditNoteOutlined';
import MemoryOutlinedIcon from '@mui/icons-material/MemoryOutlined';
import type { SnapshotInfo, SnapshotList, VmInfo } from '../../../core/api/contract';
import { ProblemAlert, toProblem, type Problem } from '../components/ErrorAlert';
import { Section } from '../components/Section';
import { StateChip } from '../components/StateIndicator';
import { configRows, type ConfigRow } from './diff';
import { RamChip } from './RamChip';
import { CurrentStateIcon } from './SnapshotTree';
import { SnapshotThumb } from './SnapshotThumb';
import { absoluteTime, relativeTime } from './time';
import { MAX_DESCRIPTION, MAX_NAME } from './tree';
import { useSnapshotActions } from '../actions/useSnapshotActions';

const BIG_W = 176;
const BIG_H = 110;

export interface SnapshotDetailsProps {
  readonly vm: VmInfo;
  readonly snapshot: SnapshotInfo;
  readonly list: SnapshotList;
  readonly now: number;
  readonly offline: boolean;
  /** The name field, so F2 in the tree can put the cursor there. */
  readonly nameRef?: Ref<HTMLInputElement>;
  readonly onSaved: (s: SnapshotInfo) => void;
}

export function SnapshotDetails({ vm, snapshot, list, now, offline, nameRef, onSaved }: SnapshotDetailsProps) {
  const snapshotActions = useSnapshotActions();
  const [base, setBase] = useState({ name: snapshot.name, description: snapshot.description });
  const [name, setName] = useState(snapshot.name);
  const [description, setDescription] = useState(snapshot.description);
  const [saving, setSaving] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [saved, setSaved] = useState(false);

  // Someone else renamed it (another window, the CLI): follow, unless the user is editing.
  useEffect(() => {
    if (snapshot.name === base.name && snapshot.description === base.description) return;
    if (name === base.name && description === base.description) {
      setName(snapshot.name);
      setDescription(snapshot.description);
    }
    setBase({ name: snapshot.name, description: snapshot.description });
  }, [snapshot.name, snapshot.description, base, name, description]);

  const trimmed = name.trim();
  const nameError = trimmed.length === 0 ? 'A snapshot needs a name' : trimmed.length > MAX_NAME ? `At most ${MAX_NAME} characters` : null;
  const descError = description.length > MAX_DESCRIPTION ? `At most ${MAX_DESCRIPTION.toLocaleString()} characters` : null;
  const dirty = trimmed !== snapshot.name || description !== snapshot.description;

  const save = (e?: FormEvent) => {
    e?.preventDefault();
    if (!dirty || saving || nameError || descError || offline) return;
    setSaving(true);
    setProblem(null);
    snapshotActions.update({ ref: vm.uuid, id: snapshot.id, name: trimmed, description }).then(
      (s) => {
        setSaving(false);
        setBase({ name: s.name, description: s.description });
        setName(s.name);
        setDescription(s.description);
        setSaved(true);
        onSaved(s);
      },
      (err: unknown) => {
        setSaving(false);
        setProblem(toProblem(err, 'Could not save the snapshot'));
      },
    );
  };
  const revert = () => {
    setName(snapshot.name);
    setDescription(snapshot.description);
    setProblem(null);
  };

  const rows = configRows(snapshot.config, vm.config);
  const changed = rows.filter((r) => r.changed).length;
  const children = list.snapshots.filter((s) => s.parentId === snapshot.id).length;

  return (
    <Box sx={{ display: 'grid', gap: 1.5 }}>
      <Box component="header" sx={{ display: 'flex', gap: 1.75, alignItems: 'flex-start' }}>
        <SnapshotThumb snapshot={snapshot} width={BIG_W} height={BIG_H} lazy={false} fit="contain" />
        <Box sx={{ minWidth: 0, flex: 1 }}>
          <Typography variant="h6" component="h2" sx={{ overflowWrap: 'anywhere', lineHeight: 1.3, userSelect: 'text' }}>
            {snapshot.name}
          </Typography>
          <Typography variant="body2" color="text.secondary" sx={{ mt: 0.25 }}>
            Taken {relativeTime(snapshot.createdAt, now)}
          </Typography>
          <Typography variant="caption" color="text.secondary" component="div">
            {absoluteTime(snapshot.createdAt)}
          </Typography>
          <Box sx={{ display: 'flex', flexWrap: 'wrap', gap: 0.75, mt: 1 }}>
            {snapshot.withRam ? <RamChip long /> : <Tag>Disk only</Tag>}
            {list.current === snapshot.id && (
              <Tag tone="primary" title="The current state is based on this snapshot">
                Current
              </Tag>
            )}
            {children > 0 && <Tag>{children === 1 ? '1 child' : `${children} children`}</Tag>}
          </Box>
        </Box>
      </Box>
      <Typography variant="body2" color="text.secondary" sx={{ display: 'flex', gap: 1, alignItems: 'flex-start' }}>
        <MemoryOutlinedIcon aria-hidden sx={{ fontSize: 17, mt: '1px', color: snapshot.withRam ? 'stateColors.info' : 'text.disabled' }} />
        {snapshot.withRam
          ? `Taken while running, with its ${formatRam(snapshot.memoryMiB)} of memory: restoring it resumes the guest exactly where it was.`
          : 'Taken while powered off (disks and settings only): after restoring it, the guest boots from its disks.'}
      </Typography>
      {snapshot.frozen !== undefined && (
        <Typography variant="body2" color="text.secondary" data-testid="snapshot-freeze" sx={{ display: 'flex', gap: 1, alignItems: 'flex-start' }}>
          <AcUnitOutlinedIcon aria-hidden sx={{ fontSize: 17, mt: '1px', color: snapshot.frozen ? 'stateColors.info' : 'text.disabled' }} />
          {snapshot.frozen
            ? 'Consistent: the guest agent froze the file systems while the disks were snapshotted, so the disks are clean even without the memory.'
            : `File systems not frozen${snapshot.freezeNote ? ` (${snapshot.freezeNote})` : ''}: with its memory it restores exactly, but its disks alone are as after a power cut.`}
        </Typography>
      )}

      <Section title="Name and description" icon={<EditNoteOutlinedIcon />}>
        <Box
          component="form"
          onSubmit={save}
          noValidate
          onKeyDown={(e) => {
            if (e.key === 'Escape' && dirty) {
              e.stopPropagation();
              revert();
            } else if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
              e.preventDefault();
              save();
            }
          }}
          sx={{ display: 'grid', gap: 1.5, pt: 0.75 }}
        >
          <TextField
            label="Snapshot name"
            value={name}
            inputRef={nameRef}
            onChange={(e) => {
              setName(e.target.value);
              setSaved(false);
            }}
            error={nameError !== null}
            helperText={nameError ?? undefined}
            disabled={offline}
            slotProps={{ htmlInput: { maxLength: MAX_NAME + 1, spellCheck: false } }}
          />
          <TextField
            label="Description"
            value={description}
            onChange={(e) => {
              setDescription(e.target.value);
              setSaved(false);
            }}
            error={descError !== null}
            helperText={descError ?? undefined}
            disabled={offline}
            multiline
            minRows={2}
            maxRows={10}
            placeholder="What is in this state, why you took it"
          />
          <Box sx={{ display: 'flex', alignItems: 'center', gap: 1, minHeight: 30 }}>
            <Typography variant="caption" color="text.secondary" role="status" sx={{ flex: 1 }}>
              {saved && !dirty ? 'Saved.' : dirty ? 'Unsaved changes' : ''}
            </Typography>
            <Button onClick={revert} disabled={!dirty || saving}>
              Revert
            </Button>
            <Button
              type="submit"
              variant="contained"
              disabled={!dirty || saving || nameError !== null || descError !== null || offline}
              startIcon={saving ? <CircularProgress size={14} color="inherit" /> : undefined}
            >
              Save
            </Button>
          </Box>
          {problem && <ProblemAlert problem={problem} />}
        </Box>
      </Section>

      <Section title="Configuration at that time" icon={<DeveloperBoardOutlinedIcon />}>
        <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
          {changed === 0
            ? 'The same settings as now.'
            : `${changed === 1 ? '1 setting differs' : `${changed} settings differ`} from now (marked); restoring brings these values back.`}
        </Typography>
        <ConfigTable rows={rows} />
      </Section>
    </Box>
  );
}

function formatRam(mib: number): string {
  return mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024} GiB` : `${mib} MiB`;
}

export function Tag({ children, tone, title }: { readonly children: string; readonly tone?: 'primary'; readonly title?: string }) {
  return (
    <Box
      component="span"
      title={title}
      sx={(t) => {
        const c = tone === 'primary' ? t.palette.primary.main : t.palette.text.secondary;
        return {
          display: 'inline-flex',
          alignItems: 'center',
          height: 18,
          px: 0.75,
          borderRadius: 10,
          fontSize: '0.66rem',
          fontWeight: 700,
          letterSpacing: '0.02em',
          color: c,
          bgcolor: alpha(c, 0.1),
          border: `1px solid ${alpha(c, 0.26)}`,
          lineHeight: 1,
          whiteSpace: 'nowrap',
        };
      }}
    >
      {children}
    </Box>
  );
}

/** Settings as label/value rows; a changed one is tinted and says what it is now. */
function ConfigTable({ rows, sinceMode = false }: { readonly rows: readonly ConfigRow[]; readonly sinceMode?: boolean }) {
  return (
    <Box component="dl" sx={{ m: 0, display: 'grid', gridTemplateColumns: 'minmax(88px, max-content) minmax(0, 1fr)', rowGap: 0.25 }}>
      {rows.map((r) => {
        const from = r.then;
        return (
          <Box
            key={r.key}
            data-changed={r.changed ? 'true' : undefined}
            sx={(t) => ({
              display: 'contents',
              '& > *': { py: 0.4, px: 0.75 },
              ...(r.changed ? { '& > *': { py: 0.4, px: 0.75, bgcolor: alpha(t.palette.warning.main, t.palette.mode === 'dark' ? 0.12 : 0.1) } } : {}),
              '& > dt': { borderTopLeftRadius: 4, borderBottomLeftRadius: 4 },
              '& > dd': { borderTopRightRadius: 4, borderBottomRightRadius: 4 },
            })}
          >
            <Typography component="dt" variant="body2" color="text.secondary" noWrap sx={{ pr: 2, display: 'flex', alignItems: 'center', gap: 0.75 }}>
              {r.label}
            </Typography>
            <Typography component="dd" variant="body2" sx={{ m: 0, minWidth: 0, overflowWrap: 'anywhere', userSelect: 'text' }}>
              {from === null ? (
                <Box component="span" sx={{ color: 'text.secondary', fontStyle: 'italic' }}>
                  none
                </Box>
              ) : (
                from
              )}
              {r.changed && (
                <Box component="span" sx={{ color: 'warning.main', fontWeight: 600, whiteSpace: 'nowrap' }}>
                  {' → '}
                  {r.now ?? 'removed'}
                  {sinceMode ? '' : ' now'}
                </Box>
              )}
            </Typography>
          </Box>
        );
      })}
    </Box>
  );
}

/** "Current state": the VM as it is, and what changed since the snapshot it is based on. */
export function CurrentStateDetails({ vm, list, now }: { readonly vm: VmInfo; readonly list: SnapshotList; readonly now: number }) {
  const base = list.current !== null ? list.snapshots.find((s) => s.id === list.current) : undefined;
  const changes = base ? configRows(base.config, vm.config).filter((r) => r.changed) : [];
  return (
    <Box sx={{ display: 'grid', gap: 1.5 }}>
      <Box component="header" sx={{ display: 'flex', gap: 1.75, alignItems: 'flex-start' }}>
        <CurrentStateIcon state={vm.state} width={BIG_W} height={BIG_H} />
        <Box sx={{ minWidth: 0, flex: 1, pt: 0.25 }}>
          <Typography variant="h6" component="h2" sx={{ fontStyle: 'italic', lineHeight: 1.3 }}>
            Current state
          </Typography>
          <Typography variant="body2" color="text.secondary" sx={{ mt: 0.25, mb: 1 }}>
            {base ? (
              <>
                Based on &apos;{base.name}&apos;, taken <span title={absoluteTime(base.createdAt)}>{relativeTime(base.createdAt, now)}</span>
              </>
            ) : (
              'Not based on any snapshot'
            )}
          </Typography>
          <StateChip state={vm.state} />
        </Box>
      </Box>
      <Section title={base ? `Changes since '${base.name}'` : 'Changes'} icon={<CompareArrowsRoundedIcon />}>
        {!base ? (
          <Typography variant="body2" color="text.secondary">
            Take a snapshot to keep this state; later changes are then listed here.
          </Typography>
        ) : changes.length === 0 ? (
          <Typography variant="body2" color="text.secondary">
            No setting changed since then.
          </Typography>
        ) : (
          <ConfigTable rows={changes} sinceMode />
        )}
        <Typography variant="caption" color="text.secondary" component="p" sx={{ mt: 1, mb: 0 }}>
          What happened inside the guest (files, programs, memory) is part of the state but is not listed.
        </Typography>
      </Section>
    </Box>
  );
}
