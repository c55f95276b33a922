/**
 * The Snapshot Manager of the selected VM, after VirtualBox 7's snapshot pane: a toolbar
 * (Take, Restore, Delete, Clone), the tree, and the details of the selected snapshot or of
 * "Current state". Every disabled action says why; every destructive one asks first.
 */
import { useCallback, useEffect, useMemo, useRef, useState, type ReactElement } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import CircularProgress from '@mui/material/CircularProgress';
import Divider from '@mui/material/Divider';
import LinearProgress from '@mui/material/LinearProgress';
import ListItemIcon from '@mui/material/ListItemIcon';
import ListItemText from '@mui/material/ListItemText';
import Menu from '@mui/material/Menu';
import MenuItem from '@mui/material/MenuItem';
import Typography from '@mui/material/Typography';
import AddAPhotoOutlinedIcon from '@mui/icons-material/AddAPhotoOutlined';
import ContentCopyOutlinedIcon from '@mui/icons-material/ContentCopyOutlined';
import DeleteOutlineRoundedIcon from '@mui/icons-material/DeleteOutlineRounded';
import DriveFileRenameOutlineRoundedIcon from '@mui/icons-material/DriveFileRenameOutlineRounded';
import RestoreRoundedIcon from '@mui/icons-material/RestoreRounded';
import type { SnapshotInfo, SnapshotList, VmInfo } from '../../../core/api/contract';
import { useNotify } from '../components/Notifications';
import type { BusyKind } from '../hooks/operations';
import { CurrentStateDetails, SnapshotDetails } from './SnapshotDetails';
import { CloneDialog } from './CloneDialog';
import { ConvertDiskDialog } from './ConvertDiskDialog';
import { DeleteSnapshotDialog } from './DeleteSnapshotDialog';
import { RestoreSnapshotDialog } from './RestoreSnapshotDialog';
import { TakeSnapshotDialog } from './TakeSnapshotDialog';
import { ToolbarAction } from './ToolbarAction';
import { SnapshotTree } from './SnapshotTree';
import { NoSnapshots } from './NoSnapshots';
import { usePendingSnapshotOp } from './pending';
import { deleteReason, restoreReason, takeNotice, takeReason } from './reasons';
import { useNow } from './time';
import { CURRENT_STATE, ancestorsOf, visibleRows } from './tree';
import type { SnapshotsState } from './useSnapshots';


export interface SnapshotsViewProps {
  readonly vm: VmInfo;
  /** A lifecycle action of the Manager in flight on this VM. */
  readonly busy: BusyKind | undefined;
  readonly snapshots: SnapshotsState;
  readonly offline: boolean;
}

interface DialogState {
  readonly open: boolean;
  /** Bumped on each opening: the dialog is mounted afresh, with fresh defaults. */
  readonly seq: number;
  readonly snapshot: SnapshotInfo | null;
}

const closed: DialogState = { open: false, seq: 0, snapshot: null };

export function SnapshotsView({ vm, busy, snapshots, offline }: SnapshotsViewProps) {
  const { list, error, reload, replace } = snapshots;
  const notify = useNotify();
  const pending = usePendingSnapshotOp(vm.uuid);
  const now = useNow();
  const [selected, setSelected] = useState<string>(CURRENT_STATE);
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(() => new Set());
  const [take, setTake] = useState<DialogState>(closed);
  const [restore, setRestore] = useState<DialogState>(closed);
  const [del, setDel] = useState<DialogState>(closed);
  const [clone, setClone] = useState<DialogState>(closed);
  const [convert, setConvert] = useState<DialogState>(closed);
  const convertible = vm.config.disks.some((d) => !d.readOnly && d.format !== 'qcow2');
  const [menu, setMenu] = useState<{ readonly id: string; readonly x: number; readonly y: number } | null>(null);
  /** Selected once the list that holds it arrives (a snapshot just taken, Current state after a restore). */
  const selectWhenListed = useRef<string | null>(null);
  const nameRef = useRef<HTMLInputElement>(null);
  const treeBox = useRef<HTMLDivElement>(null);

  const rows = useMemo(() => (list ? visibleRows(list, collapsed) : []), [list, collapsed]);
  const selectedSnap = list?.snapshots.find((s) => s.id === selected) ?? null;

  const reveal = useCallback((l: SnapshotList, id: string) => {
    const up = ancestorsOf(l, id);
    setCollapsed((prev) => {
      if (!up.some((a) => prev.has(a))) return prev;
      const next = new Set(prev);
      for (const a of up) next.delete(a);
      return next;
    });
    setSelected(id);
  }, []);

  useEffect(() => {
    if (!list) return;
    const want = selectWhenListed.current;
    if (want !== null && (want === CURRENT_STATE || list.snapshots.some((s) => s.id === want))) {
      selectWhenListed.current = null;
      reveal(list, want);
      return;
    }
    // The selected snapshot was deleted (here or elsewhere): fall back to where the VM is.
    if (selected !== CURRENT_STATE && !list.snapshots.some((s) => s.id === selected)) setSelected(CURRENT_STATE);
  }, [list, selected, reveal]);

  const focusTreeSoon = () => {
    // After a dialog closes its focus goes back to the control that opened it; if that row is
    // gone (deleted), give focus to the tree's current row instead of the page.
    setTimeout(() => {
      const active = document.activeElement;
      if (!active || active === document.body) treeBox.current?.querySelector<HTMLElement>('[role="treeitem"][tabindex="0"]')?.focus();
    }, 320);
  };

  const toggle = (id: string, expand: boolean) => {
    setCollapsed((prev) => {
      const next = new Set(prev);
      if (expand) next.delete(id);
      else next.add(id);
      return next;
    });
    // Collapsing over the selection moves it to the collapsed row, so it stays visible.
    if (!expand && list && ancestorsOf(list, selected).includes(id)) setSelected(id);
  };

  const takeWhy = takeReason(vm, pending, busy, offline);
  const restoreWhy = restoreReason(vm, selectedSnap, pending, busy, offline);
  const deleteWhy = deleteReason(vm, selectedSnap, pending, busy, offline);
  const notice = offline ? null : takeNotice(vm);

  const openTake = () => {
    if (takeWhy === null) setTake((d) => ({ open: true, seq: d.seq + 1, snapshot: null }));
  };
  const openRestore = (snap: SnapshotInfo | null, fromKeyboard = false) => {
    const why = restoreReason(vm, snap, pending, busy, offline);
    if (snap && why === null) setRestore((d) => ({ open: true, seq: d.seq + 1, snapshot: snap }));
    else if (fromKeyboard && snap && why) notify.warning(why, `Cannot restore '${snap.name}'`);
  };
  const openDelete = (snap: SnapshotInfo | null, fromKeyboard = false) => {
    const why = deleteReason(vm, snap, pending, busy, offline);
    if (snap && why === null) setDel((d) => ({ open: true, seq: d.seq + 1, snapshot: snap }));
    else if (fromKeyboard && snap && why) notify.warning(why, `Cannot delete '${snap.name}'`);
  };
  const byId = (id: string) => list?.snapshots.find((s) => s.id === id) ?? null;
  const cloneWhy = offline
    ? 'The connection to the Nestbox core was lost'
    : vm.state === 'starting' || vm.state === 'saving' || vm.state === 'stopping'
      ? `'${vm.name}' is busy (${vm.state}); wait until it is done`
      : null;
  const openClone = (snap: SnapshotInfo | null) => {
    if (cloneWhy === null) setClone((d) => ({ open: true, seq: d.seq + 1, snapshot: snap }));
  };

  let body: ReactElement;
  if (list === null) {
    body = error ? (
      <Box sx={{ p: 3 }}>
        <Alert
          severity="error"
          action={
            <Button color="inherit" onClick={reload}>
              Retry
            </Button>
          }
        >
          Could not read the snapshots of &apos;{vm.name}&apos;: {error}
        </Alert>
      </Box>
    ) : (
      <Box sx={{ flex: 1, display: 'grid', placeItems: 'center' }}>
        <CircularProgress size={22} aria-label="Loading snapshots" />
      </Box>
    );
  } else if (list.snapshots.length === 0) {
    body = <NoSnapshots vm={vm} why={takeWhy} showWhy={takeWhy !== notice} onTake={openTake} />;
  } else {
    body = (
      <Box sx={{ flex: 1, minHeight: 0, display: 'flex', containerType: 'inline-size', containerName: 'snapshots' }}>
        <Box
          sx={{
            flex: 1,
            minWidth: 0,
            display: 'grid',
            gridTemplateColumns: 'minmax(0, 1fr) clamp(360px, 42%, 500px)',
            gridTemplateRows: 'minmax(0, 1fr)',
            '@container snapshots (max-width: 760px)': { gridTemplateColumns: 'minmax(0, 1fr)', gridTemplateRows: 'minmax(0, 1fr) minmax(0, 1.2fr)' },
          }}
        >
          <Box ref={treeBox} sx={{ minHeight: 0, display: 'flex', flexDirection: 'column', bgcolor: 'background.paper' }}>
            <Box
              aria-hidden
              sx={{
                display: 'flex',
                alignItems: 'center',
                height: 30,
                px: 2,
                flex: 'none',
                borderBottom: 1,
                borderColor: 'divider',
                fontSize: '0.68rem',
                fontWeight: 700,
                letterSpacing: '0.06em',
                textTransform: 'uppercase',
                color: 'text.secondary',
              }}
            >
              <Box sx={{ flex: 1 }}>Name</Box>
              <Box sx={{ width: 118, textAlign: 'right' }}>Taken</Box>
            </Box>
            <Box sx={{ flex: 1, minHeight: 0, overflowY: 'auto' }}>
              <SnapshotTree
                vm={vm}
                rows={rows}
                currentId={list.current}
                selected={selected}
                now={now}
                onSelect={setSelected}
                onToggle={toggle}
                onRestore={(id) => openRestore(byId(id), true)}
                onDelete={(id) => openDelete(byId(id), true)}
                onRename={() => nameRef.current?.focus()}
                onContextMenu={(id, e) => setMenu({ id, x: e.clientX, y: e.clientY })}
              />
            </Box>
          </Box>
          <Box
            component="aside"
            aria-label={selectedSnap ? `Snapshot '${selectedSnap.name}'` : 'Current state'}
            sx={{
              minHeight: 0,
              overflowY: 'auto',
              borderLeft: 1,
              borderColor: 'divider',
              px: 2,
              py: 2,
              '@container snapshots (max-width: 760px)': { borderLeft: 0, borderTop: 1, borderColor: 'divider' },
            }}
          >
            {selectedSnap ? (
              <SnapshotDetails key={selectedSnap.id} vm={vm} snapshot={selectedSnap} list={list} now={now} offline={offline} nameRef={nameRef} onSaved={reload} />
            ) : (
              <CurrentStateDetails vm={vm} list={list} now={now} />
            )}
          </Box>
        </Box>
      </Box>
    );
  }

  const menuSnap = menu ? byId(menu.id) : null;
  return (
    <Box sx={{ flex: 1, minWidth: 0, minHeight: 0, display: 'flex', flexDirection: 'column' }}>
      <Box
        role="toolbar"
        aria-label="Snapshot actions"
        sx={{ display: 'flex', alignItems: 'center', gap: 0.5, px: 1.5, minHeight: 46, flex: 'none', borderBottom: 1, borderColor: 'divider', position: 'relative' }}
      >
        <ToolbarAction label="Take Snapshot" icon={<AddAPhotoOutlinedIcon />} tone="primary" why={takeWhy} tip="Take a snapshot of the current state (with its memory while the VM runs)" onClick={openTake} />
        <ToolbarAction
          label="Restore"
          icon={<RestoreRoundedIcon />}
          tone="primary"
          why={restoreWhy}
          tip={selectedSnap ? `Go back to '${selectedSnap.name}' (Enter)` : ''}
          onClick={() => openRestore(selectedSnap)}
        />
        <ToolbarAction
          label="Delete"
          icon={<DeleteOutlineRoundedIcon />}
          tone="danger"
          why={deleteWhy}
          tip={selectedSnap ? `Delete '${selectedSnap.name}'; its children move up (Delete key)` : ''}
          onClick={() => openDelete(selectedSnap)}
        />
        <Divider orientation="vertical" flexItem sx={{ mx: 0.75, my: 1.25 }} />
        <ToolbarAction
          label="Clone"
          icon={<ContentCopyOutlinedIcon />}
          why={cloneWhy}
          tip={selectedSnap ? `Make a new VM from '${selectedSnap.name}'` : `Make a new VM from the current state of '${vm.name}'`}
          onClick={() => openClone(selectedSnap)}
        />
        <Box sx={{ flex: 1 }} />
        <Box role="status" aria-live="polite" sx={{ display: 'flex', alignItems: 'center', gap: 1, color: 'text.secondary', minWidth: 0 }}>
          {pending && (
            <>
              <CircularProgress size={14} aria-hidden />
              <Typography variant="body2" noWrap>
                {pending.text}
              </Typography>
            </>
          )}
        </Box>
        {pending && <LinearProgress aria-hidden sx={{ position: 'absolute', left: 0, right: 0, bottom: -1, height: 2, borderRadius: 0 }} />}
      </Box>
      {notice && (
        <Alert
          severity={vm.state === 'saving' || vm.state === 'starting' || vm.state === 'stopping' ? 'info' : 'warning'}
          sx={{ borderRadius: 0, py: 0.25, flex: 'none' }}
          action={
            convertible ? (
              <Button color="inherit" size="small" disabled={offline} sx={{ whiteSpace: 'nowrap' }} onClick={() => setConvert((d) => ({ open: true, seq: d.seq + 1, snapshot: null }))}>
                Convert to QCOW2…
              </Button>
            ) : undefined
          }
        >
          {notice}
        </Alert>
      )}
      {body}

      <Menu
        open={menu !== null}
        onClose={() => setMenu(null)}
        anchorReference="anchorPosition"
        anchorPosition={menu ? { top: menu.y, left: menu.x } : undefined}
        slotProps={{ list: { dense: true, 'aria-label': menuSnap ? `Snapshot '${menuSnap.name}'` : 'Current state' } }}
      >
        {menuSnap
          ? [
              <MenuItem
                key="restore"
                disabled={restoreReason(vm, menuSnap, pending, busy, offline) !== null}
                onClick={() => {
                  setMenu(null);
                  openRestore(menuSnap);
                }}
              >
                <ListItemIcon>
                  <RestoreRoundedIcon fontSize="small" />
                </ListItemIcon>
                <ListItemText>Restore…</ListItemText>
              </MenuItem>,
              <MenuItem
                key="rename"
                onClick={() => {
                  setMenu(null);
                  setTimeout(() => nameRef.current?.focus(), 0);
                }}
              >
                <ListItemIcon>
                  <DriveFileRenameOutlineRoundedIcon fontSize="small" />
                </ListItemIcon>
                <ListItemText secondary="F2">Rename</ListItemText>
              </MenuItem>,
              <MenuItem
                key="clone"
                disabled={cloneWhy !== null}
                onClick={() => {
                  setMenu(null);
                  openClone(menuSnap);
                }}
              >
                <ListItemIcon>
                  <ContentCopyOutlinedIcon fontSize="small" />
                </ListItemIcon>
                <ListItemText>Clone…</ListItemText>
              </MenuItem>,
              <MenuItem
                key="delete"
                disabled={deleteReason(vm, menuSnap, pending, busy, offline) !== null}
                onClick={() => {
                  setMenu(null);
                  openDelete(menuSnap);
                }}
              >
                <ListItemIcon>
                  <DeleteOutlineRoundedIcon fontSize="small" />
                </ListItemIcon>
                <ListItemText>Delete…</ListItemText>
              </MenuItem>,
            ]
          : [
              <MenuItem
                key="take"
                disabled={takeWhy !== null}
                onClick={() => {
                  setMenu(null);
                  openTake();
                }}
              >
                <ListItemIcon>
                  <AddAPhotoOutlinedIcon fontSize="small" />
                </ListItemIcon>
                <ListItemText>Take a snapshot…</ListItemText>
              </MenuItem>,
            ]}
      </Menu>

      {take.seq > 0 && (
        <TakeSnapshotDialog
          key={`take-${take.seq}`}
          open={take.open}
          vm={vm}
          list={list}
          onClose={() => setTake((d) => ({ ...d, open: false }))}
          onTaken={(info) => {
            setTake((d) => ({ ...d, open: false }));
            selectWhenListed.current = info.id;
            reload();
          }}
        />
      )}
      {restore.snapshot && (
        <RestoreSnapshotDialog
          key={`restore-${restore.seq}`}
          open={restore.open}
          vm={vm}
          snapshot={restore.snapshot}
          now={now}
          onClose={() => setRestore((d) => ({ ...d, open: false }))}
          onRestored={() => {
            setRestore((d) => ({ ...d, open: false }));
            selectWhenListed.current = CURRENT_STATE;
            reload();
          }}
        />
      )}
      {convert.seq > 0 && (
        <ConvertDiskDialog
          key={`convert-${convert.seq}`}
          open={convert.open}
          vm={vm}
          onClose={() => setConvert((d) => ({ ...d, open: false }))}
          onConverted={() => {
            setConvert((d) => ({ ...d, open: false }));
            reload();
          }}
        />
      )}
      {clone.seq > 0 && (
        <CloneDialog
          key={`clone-${clone.seq}`}
          open={clone.open}
          vm={vm}
          list={list}
          snapshotId={clone.snapshot?.id ?? null}
          vms={[]}
          onClose={() => setClone((d) => ({ ...d, open: false }))}
          onCloned={() => setClone((d) => ({ ...d, open: false }))}
        />
      )}
      {del.snapshot && (
        <DeleteSnapshotDialog
          key={`delete-${del.seq}`}
          open={del.open}
          vm={vm}
          snapshot={del.snapshot}
          list={list}
          now={now}
          onClose={() => setDel((d) => ({ ...d, open: false }))}
          onDeleted={(l) => {
            const gone = del.snapshot;
            setDel((d) => ({ ...d, open: false }));
            replace(l);
            const parent = gone?.parentId ?? null;
            selectWhenListed.current = parent !== null && l.snapshots.some((s) => s.id === parent) ? parent : CURRENT_STATE;
            focusTreeSoon();
          }}
        />
      )}
    </Box>
  );
}
