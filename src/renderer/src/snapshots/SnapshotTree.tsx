/**
 * The snapshot tree, after VirtualBox's snapshot pane: connector lines, a thumbnail, the
 * name with a RAM marker, the time taken, and "Current state" under the snapshot it hangs
 * from. It is a WAI-ARIA tree (flat treeitems with aria-level) with a roving tabindex:
 * Up/Down move, Left/Right collapse/expand (or go to the parent/first child), Home/End,
 * typing jumps to a name, Enter restores and Delete deletes (both ask first).
 */
import { useEffect, useId, useRef, type KeyboardEvent, type MouseEvent } from 'react';
import Box from '@mui/material/Box';
import List from '@mui/material/List';
import ListItemButton from '@mui/material/ListItemButton';
import Tooltip from '@mui/material/Tooltip';
import { alpha, type Theme } from '@mui/material/styles';
import ChevronRightRoundedIcon from '@mui/icons-material/ChevronRightRounded';
import PauseRoundedIcon from '@mui/icons-material/PauseRounded';
import PlayArrowRoundedIcon from '@mui/icons-material/PlayArrowRounded';
import PowerSettingsNewRoundedIcon from '@mui/icons-material/PowerSettingsNewRounded';
import SaveOutlinedIcon from '@mui/icons-material/SaveOutlined';
import HourglassEmptyRoundedIcon from '@mui/icons-material/HourglassEmptyRounded';
import type { VmInfo, VmState } from '../../../core/api/contract';
import { assertNever } from '../../../core/api/errors';
import { useStateColor } from '../components/StateIndicator';
import { stateLabel } from '../model/vmState';
import { RamChip } from './RamChip';
import { SnapshotThumb } from './SnapshotThumb';
import { absoluteTime, relativeTime } from './time';
import { CURRENT_STATE, type TreeRow } from './tree';

/** Width of one indentation column; connector lines run through its middle. */
const COL = 20;
const ROW_H = 50;
export const THUMB_W = 64;
export const THUMB_H = 40;

export interface SnapshotTreeProps {
  readonly vm: VmInfo;
  readonly rows: readonly TreeRow[];
  /** The snapshot "Current state" hangs under (shown in bold, as VirtualBox does). */
  readonly currentId: string | null;
  readonly selected: string;
  readonly now: number;
  readonly onSelect: (id: string) => void;
  readonly onToggle: (id: string, expand: boolean) => void;
  readonly onRestore: (id: string) => void;
  readonly onDelete: (id: string) => void;
  /** F2: edit the selected snapshot's name. */
  readonly onRename: (id: string) => void;
  readonly onContextMenu: (id: string, e: MouseEvent) => void;
}

const lineColor = (t: Theme) => alpha(t.palette.text.primary, t.palette.mode === 'dark' ? 0.2 : 0.2);

export function SnapshotTree({ vm, rows, currentId, selected, now, onSelect, onToggle, onRestore, onDelete, onRename, onContextMenu }: SnapshotTreeProps) {
  const items = useRef(new Map<string, HTMLElement>());
  const focusNext = useRef<string | null>(null);
  const typeahead = useRef<{ text: string; at: number }>({ text: '', at: 0 });
  const baseId = useId();
  const focusable = rows.some((r) => r.id === selected) ? selected : (rows[0]?.id ?? null);

  // Focus follows a selection made with the keyboard (and only then: a refresh must not steal focus).
  useEffect(() => {
    if (focusNext.current !== null && focusNext.current === selected) {
      const el = items.current.get(selected);
      if (el) {
        el.focus();
        focusNext.current = null;
      }
    }
  }, [selected, rows]);

  const move = (id: string | undefined) => {
    if (id === undefined) return;
    focusNext.current = id;
    if (id === selected) items.current.get(id)?.focus();
    else onSelect(id);
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const i = rows.findIndex((r) => r.id === selected);
    const row = rows[i];
    let handled = true;
    switch (e.key) {
      case 'ArrowDown':
        move(rows[Math.min(i + 1, rows.length - 1)]?.id);
        break;
      case 'ArrowUp':
        move(rows[Math.max(i - 1, 0)]?.id);
        break;
      case 'Home':
        move(rows[0]?.id);
        break;
      case 'End':
        move(rows[rows.length - 1]?.id);
        break;
      case 'ArrowRight':
        if (row?.hasChildren && !row.expanded) onToggle(row.id, true);
        else if (row?.expanded) move(rows[i + 1]?.id);
        break;
      case 'ArrowLeft':
        if (row?.expanded) onToggle(row.id, false);
        else if (row?.parentId) move(row.parentId);
        break;
      case 'Enter':
        if (row?.snapshot) onRestore(row.id);
        break;
      case 'Delete':
        if (row?.snapshot) onDelete(row.id);
        break;
      case 'F2':
        if (row?.snapshot) onRename(row.id);
        break;
      default:
        handled = false;
        if (e.key.length === 1 && e.key !== ' ') {
          // Type-ahead: jump to the next row whose name starts with what was typed.
          const t = typeahead.current;
          t.text = (e.timeStamp - t.at < 700 ? t.text : '') + e.key.toLowerCase();
          t.at = e.timeStamp;
          const names = rows.map((r) => (r.snapshot?.name ?? 'Current state').toLowerCase());
          const start = t.text.length > 1 ? i : i + 1;
          for (let k = 0; k < rows.length; k++) {
            const j = (start + k) % rows.length;
            if (names[j]?.startsWith(t.text)) {
              move(rows[j]?.id);
              handled = true;
              break;
            }
          }
        }
    }
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
    }
  };

  return (
    <List role="tree" aria-label={`Snapshots of ${vm.name}`} disablePadding onKeyDown={onKeyDown} sx={{ py: 0.5, outline: 'none' }}>
      {rows.map((row) => {
        const isCurrent = row.id === CURRENT_STATE;
        const snap = row.snapshot;
        const descId = `${baseId}-${row.id}-desc`;
        const description = snap
          ? `${relativeTime(snap.createdAt, now)}, ${snap.withRam ? 'with RAM' : 'disk only'}${snap.id === currentId ? ', the current state is based on it' : ''}`
          : stateLabel(vm.state);
        return (
          <ListItemButton
            key={row.id}
            component="li"
            role="treeitem"
            ref={(el: HTMLElement | null) => {
              if (el) items.current.set(row.id, el);
              else items.current.delete(row.id);
            }}
            data-snapshot-id={snap ? snap.id : undefined}
            data-current-state={isCurrent ? 'true' : undefined}
            aria-level={row.level}
            aria-setsize={row.setSize}
            aria-posinset={row.posInSet}
            aria-expanded={row.hasChildren ? row.expanded : undefined}
            aria-selected={row.id === selected}
            aria-label={snap ? snap.name : 'Current state'}
            aria-describedby={descId}
            tabIndex={row.id === focusable ? 0 : -1}
            selected={row.id === selected}
            onClick={() => onSelect(row.id)}
            onContextMenu={(e: MouseEvent) => {
              e.preventDefault();
              onSelect(row.id);
              onContextMenu(row.id, e);
            }}
            sx={(t) => ({
              height: ROW_H,
              px: 1,
              py: 0,
              mx: 0.5,
              gap: 0,
              alignItems: 'stretch',
              '&.Mui-focusVisible': { outline: `2px solid ${t.palette.primary.main}`, outlineOffset: -2, bgcolor: 'transparent' },
              '&.Mui-selected.Mui-focusVisible': { bgcolor: alpha(t.palette.primary.main, t.palette.mode === 'dark' ? 0.2 : 0.12) },
            })}
          >
            <Connectors row={row} />
            <Box sx={{ width: COL, flex: 'none', position: 'relative', display: 'grid', placeItems: 'center' }}>
              {row.hasChildren ? (
                <>
                  {row.expanded && <Box aria-hidden sx={(t) => ({ position: 'absolute', left: COL / 2, top: '50%', bottom: 0, borderLeft: `1px solid ${lineColor(t)}`, mt: '9px' })} />}
                  <Box
                    aria-hidden
                    onClick={(e) => {
                      e.stopPropagation();
                      onSelect(row.id);
                      onToggle(row.id, !row.expanded);
                    }}
                    sx={{
                      display: 'grid',
                      placeItems: 'center',
                      width: 18,
                      height: 18,
                      borderRadius: 0.75,
                      color: 'text.secondary',
                      cursor: 'pointer',
                      '&:hover': { bgcolor: 'action.hover', color: 'text.primary' },
                    }}
                  >
                    <ChevronRightRoundedIcon sx={{ fontSize: 18, transition: 'transform 120ms', transform: row.expanded ? 'rotate(90deg)' : 'none' }} />
                  </Box>
                </>
              ) : (
                row.level > 1 && <Box aria-hidden sx={(t) => ({ position: 'absolute', left: 0, right: 2, top: '50%', borderTop: `1px solid ${lineColor(t)}` })} />
              )}
            </Box>
            <Box sx={{ display: 'flex', alignItems: 'center', flex: 'none', mr: 1.25 }}>
              {snap ? <SnapshotThumb snapshot={snap} width={THUMB_W} height={THUMB_H} /> : <CurrentStateIcon state={vm.state} />}
            </Box>
            <Box sx={{ flex: 1, minWidth: 0, display: 'flex', alignItems: 'center', gap: 1 }}>
              {snap ? (
                <>
                  <Box
                    component="span"
                    sx={{ minWidth: 0, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap', fontSize: '0.8125rem', fontWeight: snap.id === currentId ? 700 : 500 }}
                    title={snap.description ? `${snap.name}\n\n${snap.description}` : undefined}
                  >
                    {snap.name}
                  </Box>
                  {snap.withRam && <RamChip />}
                </>
              ) : (
                <Box component="span" sx={{ minWidth: 0, display: 'flex', alignItems: 'baseline', gap: 0.75, whiteSpace: 'nowrap' }}>
                  <Box component="span" sx={{ fontStyle: 'italic', fontWeight: 600, fontSize: '0.8125rem' }}>
                    Current state
                  </Box>
                  <Box component="span" sx={{ fontStyle: 'italic', color: 'text.secondary', fontSize: '0.75rem' }}>
                    ({stateLabel(vm.state).toLowerCase()})
                  </Box>
                </Box>
              )}
            </Box>
            <Box sx={{ flex: 'none', width: 118, display: 'flex', alignItems: 'center', justifyContent: 'flex-end', pl: 1 }}>
              {snap && (
                <Tooltip title={absoluteTime(snap.createdAt)} placement="left" enterDelay={500} describeChild>
                  <Box component="span" sx={{ fontSize: '0.75rem', color: 'text.secondary', whiteSpace: 'nowrap' }}>
                    {relativeTime(snap.createdAt, now)}
                  </Box>
                </Tooltip>
              )}
            </Box>
            <Box component="span" id={descId} sx={{ display: 'none' }}>
              {description}
            </Box>
          </ListItemButton>
        );
      })}
    </List>
  );
}

/** The connector columns left of a row: pass-through lines, then the row's own elbow. */
function Connectors({ row }: { readonly row: TreeRow }) {
  if (row.level <= 1) return null;
  return (
    <>
      {row.guides.map((through, k) => (
        <Box key={k} aria-hidden sx={(t) => ({ width: COL, flex: 'none', position: 'relative', ...(through ? { '&::before': { content: '""', position: 'absolute', left: COL / 2, top: 0, bottom: 0, borderLeft: `1px solid ${lineColor(t)}` } } : {}) })} />
      ))}
      <Box
        aria-hidden
        sx={(t) => ({
          width: COL,
          flex: 'none',
          position: 'relative',
          // The vertical part: from the top to the middle, or all the way when a sibling follows.
          '&::before': { content: '""', position: 'absolute', left: COL / 2, top: 0, bottom: row.last ? '50%' : 0, borderLeft: `1px solid ${lineColor(t)}` },
          // The horizontal part, toward the row.
          '&::after': { content: '""', position: 'absolute', left: COL / 2, right: 0, top: '50%', borderTop: `1px solid ${lineColor(t)}` },
        })}
      />
    </>
  );
}

function stateIcon(s: VmState) {
  switch (s) {
    case 'running':
      return PlayArrowRoundedIcon;
    case 'paused':
      return PauseRoundedIcon;
    case 'saved':
      return SaveOutlinedIcon;
    case 'poweredOff':
    case 'aborted':
      return PowerSettingsNewRoundedIcon;
    case 'starting':
    case 'saving':
    case 'stopping':
      return HourglassEmptyRoundedIcon;
    default:
      return assertNever(s, 'VM state');
  }
}

/** Where the thumbnail would be: the VM's state as an icon in its colour. */
export function CurrentStateIcon({ state, width = THUMB_W, height = THUMB_H }: { readonly state: VmState; readonly width?: number; readonly height?: number }) {
  const color = useStateColor(state);
  const Icon = stateIcon(state);
  return (
    <Box
      aria-hidden
      sx={{
        width,
        height,
        flex: 'none',
        borderRadius: width > 100 ? 1.5 : 1,
        display: 'grid',
        placeItems: 'center',
        border: `1px dashed ${alpha(color, 0.55)}`,
        bgcolor: alpha(color, 0.08),
        color,
      }}
    >
      <Icon sx={{ fontSize: Math.round(Math.min(height * 0.55, 44)) }} />
    </Box>
  );
}
