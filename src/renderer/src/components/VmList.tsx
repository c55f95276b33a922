/**
 * The machine list. It is a single ARIA listbox with windowed rows: only the rows in view
 * (plus an overscan margin) are in the DOM, so 1,000 VMs scroll and filter as fast as ten.
 * Rows have fixed heights per kind (group header, VM), so positions are a prefix sum and
 * the first visible row is a binary search. The listbox keeps focus and points at the
 * selected row with aria-activedescendant, which the windowing keeps rendered by
 * scrolling it into view on every keyboard move.
 */
import { memo, useCallback, useEffect, useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import Box from '@mui/material/Box';
import CircularProgress from '@mui/material/CircularProgress';
import InputAdornment from '@mui/material/InputAdornment';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { alpha } from '@mui/material/styles';
import SearchIcon from '@mui/icons-material/Search';
import IconButton from '@mui/material/IconButton';
import Button from '@mui/material/Button';
import AddIcon from '@mui/icons-material/Add';
import EditOutlinedIcon from '@mui/icons-material/EditOutlined';
import type { HostSummary, OsType, VmSummary } from '../../../core/api/contract';
import type { BusyKind } from '../hooks/operations';
import { isTransitional } from '../model/vmState';
import { GROUP_HEIGHT, HOST_HEIGHT, OVERSCAN_PX, ROW_HEIGHT, buildRows, rowAt, rowHeight } from '../model/vmListRows';
import { pluralize } from '../util/format';
import { OsIcon, familyOf } from './OsIcon';
import { StateText } from './StateIndicator';

export function optionId(listId: string, uuid: string): string {
  return `${listId}-vm-${uuid}`;
}

export interface VmListProps {
  readonly vms: readonly VmSummary[] | null;
  readonly osTypes: readonly OsType[] | undefined;
  readonly selected: string | null;
  readonly busy: ReadonlyMap<string, BusyKind>;
  readonly onSelect: (uuid: string) => void;
  /** Enter or double-click: VirtualBox starts the machine. */
  readonly onActivate: (uuid: string) => void;
  /** libvirt hosts, for their headers; absent: this computer only. */
  readonly hosts?: readonly HostSummary[];
  readonly onAddHost?: () => void;
  readonly onEditHost?: (h: HostSummary) => void;
}

export function VmList({ vms, osTypes, selected, busy, onSelect, onActivate, hosts, onAddHost, onEditHost }: VmListProps) {
  const [filter, setFilter] = useState('');
  const listId = useId().replace(/:/g, '');
  const rows = useMemo(() => buildRows(vms ?? [], filter, osTypes, hosts), [vms, filter, osTypes, hosts]);
  const { tops, total } = useMemo(() => {
    const t: number[] = [];
    let y = 0;
    for (const r of rows) {
      t.push(y);
      y += rowHeight(r);
    }
    return { tops: t, total: y };
  }, [rows]);
  const vmRowIndexes = useMemo(() => rows.flatMap((r, i) => (r.kind === 'vm' ? [i] : [])), [rows]);
  const vmCount = vmRowIndexes.length;

  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return undefined;
    setViewport(el.clientHeight);
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const ensureVisible = useCallback(
    (rowIndex: number) => {
      const el = scroller.current;
      const row = rows[rowIndex];
      if (!el || !row) return;
      // Keep a group header in view with its first VM.
      const prev = rows[rowIndex - 1];
      const top = (tops[rowIndex] ?? 0) - (prev && prev.kind !== 'vm' ? rowHeight(prev) : 0);
      const bottom = (tops[rowIndex] ?? 0) + rowHeight(row);
      if (top < el.scrollTop) el.scrollTop = top;
      else if (bottom > el.scrollTop + el.clientHeight) el.scrollTop = bottom - el.clientHeight;
      setScrollTop(el.scrollTop);
    },
    [rows, tops],
  );

  const selectedRow = useMemo(() => rows.findIndex((r) => r.kind === 'vm' && r.vm.uuid === selected), [rows, selected]);
  const lastScrolledTo = useRef<string | null>(null);
  useEffect(() => {
    // Scroll to a selection made elsewhere (a VM just created), once per selection.
    if (selectedRow >= 0 && selected !== lastScrolledTo.current) {
      lastScrolledTo.current = selected;
      ensureVisible(selectedRow);
    }
  }, [selected, selectedRow, ensureVisible]);

  const typeahead = useRef({ text: '', at: 0 });

  const moveTo = (vmIdx: number) => {
    const clamped = Math.max(0, Math.min(vmCount - 1, vmIdx));
    const rowIndex = vmRowIndexes[clamped];
    const row = rowIndex === undefined ? undefined : rows[rowIndex];
    if (rowIndex === undefined || row?.kind !== 'vm') return;
    onSelect(row.vm.uuid);
    ensureVisible(rowIndex);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (vmCount === 0) return;
    const cur = vmRowIndexes.indexOf(selectedRow);
    const page = Math.max(1, Math.floor(viewport / ROW_HEIGHT) - 1);
    switch (e.key) {
      case 'ArrowDown':
        moveTo(cur < 0 ? 0 : cur + 1);
        break;
      case 'ArrowUp':
        moveTo(cur < 0 ? 0 : cur - 1);
        break;
      case 'Home':
        moveTo(0);
        break;
      case 'End':
        moveTo(vmCount - 1);
        break;
      case 'PageDown':
        moveTo(cur + page);
        break;
      case 'PageUp':
        moveTo(cur - page);
        break;
      case 'Enter':
        if (selected) onActivate(selected);
        break;
      default: {
        if (e.key.length !== 1 || e.ctrlKey || e.metaKey || e.altKey) return;
        const now = Date.now();
        const t = typeahead.current;
        t.text = now - t.at > 700 ? e.key.toLowerCase() : t.text + e.key.toLowerCase();
        t.at = now;
        const start = t.text.length === 1 ? cur + 1 : Math.max(cur, 0);
        for (let k = 0; k < vmCount; k++) {
          const i = (start + k) % vmCount;
          const r = rows[vmRowIndexes[i] ?? -1];
          if (r?.kind === 'vm' && r.vm.name.toLowerCase().startsWith(t.text)) {
            moveTo(i);
            break;
          }
        }
        return;
      }
    }
    e.preventDefault();
  };

  const first = rows.length ? rowAt(tops, Math.max(0, scrollTop - OVERSCAN_PX)) : 0;
  const last = rows.length ? rowAt(tops, scrollTop + viewport + OVERSCAN_PX) : -1;
  const visible = rows.slice(first, last + 1);

  return (
    <Box sx={{ display: 'flex', flexDirection: 'column', minHeight: 0, flex: 1 }}>
      <Box sx={{ px: 1.5, pt: 1.25, pb: 1 }}>
        <Box sx={{ display: 'flex', alignItems: 'baseline', justifyContent: 'space-between', mb: 0.75, px: 0.25 }}>
          <Typography variant="overline" color="text.secondary" component="h2">
            Machines
          </Typography>
          <Box sx={{ display: 'flex', alignItems: 'center', gap: 1 }}>
            <Typography variant="caption" color="text.secondary" aria-live="polite">
              {vms === null ? '' : filter.trim() ? `${vmCount.toLocaleString()} of ${vms.length.toLocaleString()}` : pluralize(vms.length, 'VM')}
            </Typography>
            {onAddHost && (
              <Button size="small" startIcon={<AddIcon fontSize="small" />} onClick={onAddHost} sx={{ minWidth: 0, py: 0 }}>
                Add host
              </Button>
            )}
          </Box>
        </Box>
        <TextField
          type="search"
          placeholder="Search VMs"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'ArrowDown') {
              e.preventDefault();
              scroller.current?.focus();
              if (selectedRow < 0) moveTo(0);
            } else if (e.key === 'Escape' && filter) {
              e.preventDefault();
              setFilter('');
            }
          }}
          slotProps={{
            htmlInput: { 'aria-label': 'Search VMs', 'aria-controls': listId },
            input: {
              startAdornment: (
                <InputAdornment position="start">
                  <SearchIcon fontSize="small" />
                </InputAdornment>
              ),
              sx: { bgcolor: 'background.paper', borderRadius: 1.5 },
            },
          }}
        />
      </Box>
      <Box
        ref={scroller}
        id={listId}
        role="listbox"
        aria-label="Virtual machines"
        tabIndex={0}
        aria-activedescendant={selected && selectedRow >= 0 ? optionId(listId, selected) : undefined}
        onKeyDown={onKeyDown}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        sx={{
          flex: 1,
          minHeight: 0,
          overflowY: 'auto',
          outline: 'none',
          px: 1,
          pb: 1,
          userSelect: 'none',
          '&:focus-visible .vm-row[aria-selected="true"]': {
            outline: (t) => `2px solid ${t.palette.primary.main}`,
            outlineOffset: -2,
          },
        }}
      >
        <Box sx={{ position: 'relative', height: total }}>
          {visible.map((row, k) => {
            const index = first + k;
            const top = tops[index] ?? 0;
            return row.kind === 'group' ? (
              <GroupHeader key={row.key} top={top} label={row.label} count={row.count} />
            ) : row.kind === 'host' ? (
              <HostHeader key={row.key} top={top} label={row.label} line={row.line} host={row.host} count={row.count} onEdit={onEditHost} />
            ) : (
              <VmRow
                key={row.key}
                id={optionId(listId, row.vm.uuid)}
                vm={row.vm}
                top={top}
                pos={row.pos}
                setSize={vmCount}
                selected={row.vm.uuid === selected}
                busy={busy.has(row.vm.uuid)}
                family={familyOf(row.vm.osType, osTypes)}
                onSelect={onSelect}
                onActivate={onActivate}
              />
            );
          })}
        </Box>
        {vms !== null && vmCount === 0 && (
          <Typography variant="body2" color="text.secondary" sx={{ px: 1.5, py: 2, textAlign: 'center' }}>
            {vms.length === 0 ? 'No virtual machines yet.' : `No VMs match “${filter.trim()}”.`}
          </Typography>
        )}
      </Box>
    </Box>
  );
}

const GroupHeader = memo(function GroupHeader({ top, label, count }: { readonly top: number; readonly label: string; readonly count: number }) {
  return (
    <Box
      role="presentation"
      sx={{
        position: 'absolute',
        top,
        left: 0,
        right: 0,
        height: GROUP_HEIGHT,
        display: 'flex',
        alignItems: 'flex-end',
        justifyContent: 'space-between',
        px: 1,
        pb: 0.5,
      }}
    >
      <Typography variant="overline" color="text.secondary" noWrap sx={{ lineHeight: 1.4 }}>
        {label}
      </Typography>
      <Typography variant="caption" color="text.disabled">
        {count}
      </Typography>
    </Box>
  );
});

const HostHeader = memo(function HostHeader({
  top,
  label,
  line,
  host,
  count,
  onEdit,
}: {
  readonly top: number;
  readonly label: string;
  readonly line: string;
  readonly host: HostSummary | null;
  readonly count: number;
  readonly onEdit: ((h: HostSummary) => void) | undefined;
}) {
  const bad = host !== null && host.status === 'unreachable';
  return (
    <Box
      role="presentation"
      data-host={host ? host.name : 'local'}
      data-host-status={host ? host.status : 'connected'}
      sx={{ position: 'absolute', top, left: 0, right: 0, height: host ? HOST_HEIGHT : GROUP_HEIGHT, display: 'flex', alignItems: 'flex-end', gap: 0.5, px: 1, pb: 0.5, borderTop: (t) => `1px solid ${t.palette.divider}` }}
    >
      <Box sx={{ minWidth: 0, flex: 1 }}>
        <Typography variant="subtitle2" noWrap sx={{ lineHeight: 1.3 }}>
          {label}
        </Typography>
        {host && (
          <Typography variant="caption" noWrap component="div" color={bad ? 'error.main' : 'text.secondary'} title={line} data-testid="host-line">
            {line}
          </Typography>
        )}
      </Box>
      <Typography variant="caption" color="text.disabled">
        {count}
      </Typography>
      {host && onEdit && (
        <IconButton size="small" aria-label={`Edit host ${host.name}`} onClick={() => onEdit(host)} onMouseDown={(e) => e.stopPropagation()}>
          <EditOutlinedIcon fontSize="inherit" />
        </IconButton>
      )}
    </Box>
  );
});

interface VmRowProps {
  readonly id: string;
  readonly vm: VmSummary;
  readonly top: number;
  readonly pos: number;
  readonly setSize: number;
  readonly selected: boolean;
  readonly busy: boolean;
  readonly family: ReturnType<typeof familyOf>;
  readonly onSelect: (uuid: string) => void;
  readonly onActivate: (uuid: string) => void;
}

const VmRow = memo(function VmRow({ id, vm, top, pos, setSize, selected, busy, family, onSelect, onActivate }: VmRowProps) {
  const stateId = `${id}-state`;
  const working = busy || isTransitional(vm.state);
  return (
    <Box
      id={id}
      className="vm-row"
      role="option"
      aria-selected={selected}
      aria-label={vm.host !== undefined ? `${vm.name} on ${vm.host}` : vm.name}
      aria-describedby={stateId}
      aria-posinset={pos}
      aria-setsize={setSize}
      aria-busy={working || undefined}
      data-vm-name={vm.name}
      data-vm-state={vm.state}
      data-vm-host={vm.host}
      onClick={() => onSelect(vm.uuid)}
      onDoubleClick={() => onActivate(vm.uuid)}
      sx={(t) => ({
        position: 'absolute',
        top,
        left: 0,
        right: 0,
        height: ROW_HEIGHT - 2,
        display: 'flex',
        alignItems: 'center',
        gap: 1.25,
        px: 1,
        borderRadius: 1.5,
        cursor: 'default',
        bgcolor: selected ? alpha(t.palette.primary.main, t.palette.mode === 'dark' ? 0.2 : 0.12) : 'transparent',
        '&:hover': {
          bgcolor: selected ? alpha(t.palette.primary.main, t.palette.mode === 'dark' ? 0.26 : 0.16) : t.palette.action.hover,
        },
      })}
    >
      <OsIcon family={family} size={30} />
      <Box sx={{ minWidth: 0, flex: 1 }}>
        <Typography variant="body2" noWrap sx={{ fontWeight: 600, lineHeight: 1.35 }}>
          {vm.name}
        </Typography>
        <StateText state={vm.state} id={stateId} />
        {vm.unreachable !== undefined && (
          <Typography component="span" variant="caption" color="error.main" noWrap sx={{ ml: 0.75 }} title={vm.unreachable}>
            {vm.unreachable.startsWith('connecting') ? '· Connecting…' : '· Host unreachable'}
          </Typography>
        )}
        {vm.inaccessible !== undefined && (
          <Typography component="span" variant="caption" color="warning.main" noWrap sx={{ ml: 0.75 }} title={vm.inaccessible}>
            · Inaccessible
          </Typography>
        )}
      </Box>
      {working && <CircularProgress size={14} thickness={5} aria-hidden />}
    </Box>
  );
});
