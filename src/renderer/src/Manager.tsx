/**
 * The Manager window: toolbar, machine list, details, status bar, and the dialogs they
 * open. It owns the selection and wires the data hooks to the components; the components
 * themselves only render and report intents.
 *
 * Over 500 lines because it is the wiring: the selection, which dialog is open and the VM it
 * is about, and the hooks they act through are one piece of state that every dialog reads and
 * that a finished dialog changes (selecting a clone, following a moved VM). The dialogs, list,
 * details and toolbar are their own files; moving the wiring out would only hand this state
 * on as props.
 */
import { Suspense, lazy, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import Box from '@mui/material/Box';
import CircularProgress from '@mui/material/CircularProgress';
import type { ModifyVmSpec, OpResult, VmInfo, VmSummary } from '../../core/api/contract';
import { assertNever } from '../../core/api/errors';
import { ConnectionLostBanner, ManagerStatusBar, Splitter, Welcome } from './components/Chrome';
import { DeleteDialog } from './components/DeleteDialog';
import { CloneDialog } from './snapshots/CloneDialog';
import { ManagerToolbar } from './components/ManagerToolbar';
import { NetworkManagerDialog } from './network/NetworkManagerDialog';
import { openConsoleTab } from './console/route';
import { useNotify } from './components/Notifications';
import { NoSelection, VmDetails } from './components/VmDetails';
import { VmList } from './components/VmList';
import { buildRows, firstInListOrder } from './model/vmListRows';
import { useConnection } from './hooks/client';
import { useHostInfo, useVmInfo, useVmList } from './hooks/data';
import { useOperations } from './hooks/operations';
import type { LifecycleAction } from './model/vmState';
import { SettingsDialog } from './settings/SettingsDialog';
import { PreferencesDialog } from './settings/PreferencesDialog';
import { MachinePane } from './snapshots/MachinePane';
import { ActivityOverview } from './monitor/ActivityOverview';
import { NewVmWizard, type WizardPrefill } from './wizard/NewVmWizard';
import { DropOverlay } from './media/DropOverlay';
import { ImportDialog } from './media/ImportDialog';
import { ImportChooser } from './media/ImportChooser';
import { MediaManagerDialog } from './media/MediaManagerDialog';
import { UploadDialog } from './media/UploadDialog';
import { discardUpload, type HostFile } from './media/hostPath';
import { readIsoLabel } from './media/isoLabel';
import { ACCEPTED_DESCRIPTION, classifyDrop, groupDrop, guessOsType, vmNameFromFile, type DropItem, type PickedFile } from './media/dropped';
import { MAX_NAME_LENGTH } from './util/validation';
import { HostDialog } from './hosts/HostDialog';
import { MigrateDialog } from './hosts/MigrateDialog';
import { MoveDialog } from './hosts/MoveDialog';
import { useHosts } from './hosts/useHosts';
import type { HostSummary } from '../../core/api/contract';
import { useVmActions } from './actions/useVmActions';

/** Loaded when first opened (noVNC and xterm.js are most of the bundle; see App). */
const ConsoleView = lazy(() => import('./console/ConsoleView').then((m) => ({ default: m.ConsoleView })));

type DialogKind = 'import' | 'new' | 'settings' | 'delete' | 'networks' | 'activity' | 'clone' | 'media' | 'preferences' | 'addHost' | 'editHost' | 'migrate' | 'move';

const SIDEBAR_KEY = 'nestbox.sidebarWidth';
const SELECTED_KEY = 'nestbox.selectedVm';
const CONSOLE_KEY = 'nestbox.inlineConsole';

function readNumber(key: string, fallback: number): number {
  try {
    const v = Number(window.localStorage.getItem(key));
    return Number.isFinite(v) && v > 0 ? v : fallback;
  } catch {
    return fallback;
  }
}

/** The VM after `uuid` in list order (or before it, at the end), to select after a delete. */
function neighbourOf(vms: readonly VmSummary[], uuid: string): string | null {
  const order = buildRows(vms, '', undefined).flatMap((r) => (r.kind === 'vm' ? [r.vm.uuid] : []));
  const i = order.indexOf(uuid);
  return order[i + 1] ?? order[i - 1] ?? null;
}

export function Manager() {
  const vmActions = useVmActions();
  const { lost } = useConnection();
  const notify = useNotify();
  const host = useHostInfo();
  const { vms, refresh, upsert } = useVmList();
  const { hosts, refresh: refreshHosts } = useHosts();
  const [editHost, setEditHost] = useState<HostSummary | null>(null);
  /** The VM the Migrate dialog is about, kept while it moves (its details vanish and come back on the other host). */
  const [migrating, setMigrating] = useState<(VmSummary & { readonly host: string }) | null>(null);
  /** The VM the Move dialog is about, kept while it moves (it leaves one side of the list for the other). */
  const [moving, setMoving] = useState<VmSummary | null>(null);
  const [selected, setSelected] = useState<string | null>(() => {
    try {
      return window.localStorage.getItem(SELECTED_KEY);
    } catch {
      return null;
    }
  });
  const { info, error: infoError, accept } = useVmInfo(selected);
  const ops = useOperations(accept);
  const [dialog, setDialog] = useState<DialogKind | null>(null);
  /** Web mode shows a console in place of the details (kept across a reload); the desktop opens a window. */
  const [consoleFor, setConsoleFor] = useState<string | null>(() => {
    try {
      return window.nestboxDesktop ? null : window.sessionStorage.getItem(CONSOLE_KEY);
    } catch {
      return null;
    }
  });
  /** A double-click on a VM whose details are still loading acts once they arrive. */
  const [pendingActivate, setPendingActivate] = useState<string | null>(null);
  const [sidebar, setSidebar] = useState(() => readNumber(SIDEBAR_KEY, 300));
  /** What was dropped on the window (files, machines with their files), handled one after another (the first is on screen). */
  const [dropped, setDropped] = useState<readonly { readonly id: number; readonly item: DropItem }[]>([]);
  const dropSeq = useRef(0);
  const [prefill, setPrefill] = useState<WizardPrefill | undefined>(undefined);

  const vm = info && info.uuid === selected ? info : null;

  // Keep a valid selection: the remembered one if it still exists, else the first VM.
  useEffect(() => {
    if (vms === null) return;
    if (selected !== null && vms.some((v) => v.uuid === selected)) return;
    setSelected(firstInListOrder(vms)?.uuid ?? null);
  }, [vms, selected]);

  useEffect(() => {
    try {
      if (selected) window.localStorage.setItem(SELECTED_KEY, selected);
      window.localStorage.setItem(SIDEBAR_KEY, String(sidebar));
    } catch {
      // storage may be unavailable (private windows); the defaults do
    }
  }, [selected, sidebar]);

  const openNew = useCallback(() => {
    setPrefill(undefined);
    setDialog('new');
  }, []);

  const onDropFiles = useCallback(
    (files: readonly PickedFile[]) => {
      const usable: { id: number; item: DropItem }[] = [];
      for (const item of groupDrop(files)) {
        if (item.kind === 'file' && classifyDrop(item.file.name) === 'unknown') notify.warning(`Nestbox cannot use ${item.file.name}: drop an ${ACCEPTED_DESCRIPTION} file.`, 'Unknown file type');
        else usable.push({ id: ++dropSeq.current, item });
      }
      if (usable.length > 0) setDropped((q) => [...q, ...usable]);
    },
    [notify],
  );
  const nextDropped = useCallback(() => setDropped((q) => q.slice(1)), []);
  const currentDrop = dialog === null || dialog === 'media' ? dropped[0] : undefined;
  const isoReady = useCallback(
    (file: File | null, hostFile: HostFile) => {
      if (file === null) return;
      const path = hostFile.path;
      const taken = (vms ?? []).map((v) => v.name);
      // The volume label survives renaming the file ("Ubuntu 24.04 LTS amd64", "CCCOMA_X64FRE_EN-US_DV9"); the name is the fallback.
      void readIsoLabel(file).then((label) => {
        const t = host ? ((label ? guessOsType(label, host.osTypes) : undefined) ?? guessOsType(file.name, host.osTypes)) : undefined;
        setPrefill({ name: vmNameFromFile(file.name, taken, MAX_NAME_LENGTH), iso: path, ...(hostFile.uploaded ? { uploaded: true } : {}), ...(t ? { osType: t.id } : {}) });
        setDropped((q) => q.slice(1));
        setDialog('new');
      });
    },
    [vms, host],
  );
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && !e.shiftKey && !e.altKey && e.key.toLowerCase() === 'n') {
        e.preventDefault();
        setDialog((d) => {
          if (d === null) setPrefill(undefined);
          return d ?? 'new';
        });
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  // The desktop's application menu (File → New Virtual Machine…, the managers, Preferences).
  useEffect(() => {
    const desktop = window.nestboxDesktop;
    if (!desktop) return undefined;
    return desktop.onMenu((command) => {
      switch (command) {
        case 'new-vm':
          setDialog((d) => {
            if (d === null) setPrefill(undefined);
            return d ?? 'new';
          });
          return;
        case 'media-manager':
          setDialog((d) => d ?? 'media');
          return;
        case 'network-manager':
          setDialog((d) => d ?? 'networks');
          return;
        case 'activity':
          setDialog((d) => d ?? 'activity');
          return;
        case 'preferences':
          setDialog((d) => d ?? 'preferences');
          return;
        default:
          assertNever(command, 'menu command');
      }
    });
  }, []);

  // The inline console belongs to the VM it was opened for; selecting another closes it.
  useEffect(() => {
    setConsoleFor((c) => (c !== null && c !== selected ? null : c));
    setPendingActivate((p) => (p !== null && p !== selected ? null : p));
  }, [selected]);

  useEffect(() => {
    try {
      if (consoleFor) window.sessionStorage.setItem(CONSOLE_KEY, consoleFor);
      else window.sessionStorage.removeItem(CONSOLE_KEY);
    } catch {
      // without storage a reload shows the details again
    }
  }, [consoleFor]);

  const openConsole = useCallback((target: { readonly uuid: string; readonly name: string }) => {
    const desktop = window.nestboxDesktop;
    if (desktop) desktop.openConsoleWindow(target.uuid, target.name);
    else setConsoleFor(target.uuid);
  }, []);

  const runAction = useCallback(
    (a: LifecycleAction) => {
      if (vm) void ops.run(vm, a);
    },
    [vm, ops],
  );

  /** Enter or double-click, as in VirtualBox: a running VM's console comes up; a stopped one starts. */
  const activateVm = useCallback(
    (target: VmInfo) => {
      if (target.allowed.includes('console')) openConsole(target);
      else if (target.allowed.includes('start')) void ops.run(target, 'start');
      else if (target.allowed.includes('resume')) void ops.run(target, 'resume');
    },
    [ops, openConsole],
  );

  const activate = useCallback(
    (uuid: string) => {
      if (vm && vm.uuid === uuid) activateVm(vm);
      else setPendingActivate(uuid);
    },
    [vm, activateVm],
  );

  useEffect(() => {
    if (pendingActivate !== null && vm && vm.uuid === pendingActivate) {
      setPendingActivate(null);
      activateVm(vm);
    }
  }, [vm, pendingActivate, activateVm]);

  const onCreated = useCallback(
    (result: OpResult) => {
      setDialog(null);
      upsert(result.vm);
      setSelected(result.vm.uuid);
      refresh();
      notify.success(`Created '${result.vm.name}'.`);
      for (const w of result.warnings) notify.warning(w, `'${result.vm.name}'`);
    },
    [upsert, refresh, notify],
  );

  const applySettings = useCallback(
    (target: VmInfo, changes: ModifyVmSpec) => ops.track(target, 'modify', () => vmActions.modify({ ref: target.uuid, changes })),
    [ops, vmActions],
  );
  const onApplied = useCallback(
    (result: OpResult) => {
      setDialog(null);
      upsert(result.vm);
      accept(result.vm);
      refresh();
      for (const w of result.warnings) notify.warning(w, `'${result.vm.name}'`);
    },
    [upsert, accept, refresh, notify],
  );

  const deleteVm = useCallback(
    async (target: VmInfo, keepFiles: boolean) => {
      const next = vms ? neighbourOf(vms, target.uuid) : null;
      const res = await ops.track(target, 'delete', () => vmActions.delete({ ref: target.uuid, keepFiles }));
      setDialog(null);
      setSelected(next);
      refresh();
      notify.success(keepFiles || !res.removedDir ? `Removed '${target.name}' from the list; its files were kept.` : `Deleted '${target.name}' and its files.`);
    },
    [vms, ops, vmActions, refresh, notify],
  );

  const main = useMemo(() => {
    if (vms === null) {
      return (
        <Box sx={{ flex: 1, display: 'grid', placeItems: 'center' }}>
          <CircularProgress size={26} aria-label="Loading virtual machines" />
        </Box>
      );
    }
    if (vms.length === 0) return <Welcome onNew={openNew} host={host} />;
    if (vm && consoleFor === vm.uuid) {
      return (
        <Suspense
          fallback={
            <Box sx={{ flex: 1, display: 'grid', placeItems: 'center' }}>
              <CircularProgress size={22} aria-label="Loading the console" />
            </Box>
          }
        >
          <ConsoleView
            key={vm.uuid}
            vm={vm}
            busy={ops.busy.get(vm.uuid)}
            onAction={runAction}
            mode="embedded"
            onClose={() => setConsoleFor(null)}
            onOpenInNewTab={() => {
              openConsoleTab(vm.uuid);
              setConsoleFor(null);
            }}
          />
        </Suspense>
      );
    }
    if (vm) {
      const details = <VmDetails vm={vm} osTypes={host?.osTypes} busy={ops.busy.get(vm.uuid)} onOpenConsole={() => openConsole(vm)} />;
      return <MachinePane vm={vm} busy={ops.busy.get(vm.uuid)} details={details} />;
    }
    if (infoError) return <NoSelection text={`Cannot show this VM: ${infoError}`} />;
    if (selected) {
      return (
        <Box sx={{ flex: 1, display: 'grid', placeItems: 'center' }}>
          <CircularProgress size={22} aria-label="Loading details" />
        </Box>
      );
    }
    return <NoSelection text="Select a virtual machine to see its details." />;
  }, [vms, vm, host, ops.busy, infoError, selected, openNew, consoleFor, runAction, openConsole]);

  return (
    <Box sx={{ height: '100%', minWidth: 880, display: 'flex', flexDirection: 'column', bgcolor: 'background.default' }}>
      <ManagerToolbar
        vm={vm}
        busy={vm ? ops.busy.get(vm.uuid) : undefined}
        onNew={openNew}
        onSettings={() => setDialog('settings')}
        onNetworks={() => setDialog('networks')}
        onDelete={() => setDialog('delete')}
        onClone={() => setDialog('clone')}
        onAction={runAction}
        onConsole={() => {
          if (vm) openConsole(vm);
        }}
        offline={lost !== null}
        onActivity={() => setDialog('activity')}
        onMedia={() => setDialog('media')}
        {...(window.nestboxDesktop ? {} : { onImport: () => setDialog('import') })}
        onPreferences={() => setDialog('preferences')}
        onMigrate={() => {
          if (vm && vm.host !== undefined) {
            setMigrating({ ...vm, host: vm.host });
            setDialog('migrate');
          }
        }}
        onMove={() => {
          if (vm) {
            setMoving(vm);
            setDialog('move');
          }
        }}
      />
      {lost !== null && <ConnectionLostBanner reason={lost} />}
      <Box sx={{ flex: 1, display: 'flex', minHeight: 0 }}>
        <Box
          component="nav"
          aria-label="Machine list"
          sx={{ width: sidebar, flex: 'none', display: 'flex', flexDirection: 'column', bgcolor: 'chrome.sidebar', minHeight: 0 }}
        >
          <VmList
            vms={vms}
            osTypes={host?.osTypes}
            selected={selected}
            busy={ops.busy}
            onSelect={setSelected}
            onActivate={activate}
            hosts={hosts ?? undefined}
            onAddHost={() => setDialog('addHost')}
            onEditHost={(h) => {
              setEditHost(h);
              setDialog('editHost');
            }}
          />
        </Box>
        <Splitter width={sidebar} onResize={setSidebar} />
        <Box component="main" sx={{ flex: 1, minWidth: 0, display: 'flex' }}>
          {main}
        </Box>
      </Box>
      <ManagerStatusBar vms={vms} host={host} />

      {host && (
        <NewVmWizard
          open={dialog === 'new'}
          host={host}
          vms={vms ?? []}
          hosts={hosts ?? []}
          onClose={() => {
            // The ISO uploaded for this wizard goes again when no VM was made from it.
            if (prefill?.uploaded && prefill.iso) {
              const iso = prefill.iso;
              discardUpload(iso).catch((err: unknown) => notify.warning((err as Error).message, iso.split('/').pop()));
            }
            setDialog(null);
            setPrefill(undefined);
          }}
          onCreated={(r) => {
            setPrefill(undefined);
            onCreated(r);
          }}
          initial={prefill}
        />
      )}
      {host && (
        <SettingsDialog
          vm={vm}
          open={dialog === 'settings'}
          host={host}
          vms={vms ?? []}
          onClose={() => setDialog(null)}
          apply={applySettings}
          onApplied={onApplied}
        />
      )}
      <NetworkManagerDialog open={dialog === 'networks'} onClose={() => setDialog(null)} />
      <DeleteDialog vm={vm} open={dialog === 'delete'} onClose={() => setDialog(null)} onDelete={deleteVm} />
      <ActivityOverview open={dialog === 'activity'} onClose={() => setDialog(null)} />
      {dialog === 'preferences' && <PreferencesDialog onClose={() => setDialog(null)} />}
      <MediaManagerDialog open={dialog === 'media'} onClose={() => setDialog(null)} host={host} vms={vms ?? []} />
      <DropOverlay onFiles={onDropFiles} disabled={lost !== null} />
      {dialog === 'import' && (
        <ImportChooser
          onClose={() => setDialog(null)}
          onPicked={(files) => {
            setDialog(null);
            onDropFiles(files);
          }}
        />
      )}
      {host && currentDrop?.item.kind === 'file' && classifyDrop(currentDrop.item.file.name) === 'iso' && (
        <UploadDialog key={currentDrop.id} file={currentDrop.item.file} onReady={(p) => isoReady(currentDrop.item.kind === 'file' ? currentDrop.item.file : null, p)} onClose={nextDropped} />
      )}
      {host && currentDrop && (currentDrop.item.kind === 'machine' || classifyDrop(currentDrop.item.file.name) === 'disk' || classifyDrop(currentDrop.item.file.name) === 'appliance') && (
        <ImportDialog
          key={currentDrop.id}
          item={currentDrop.item}
          kind={currentDrop.item.kind === 'machine' || classifyDrop(currentDrop.item.file.name) === 'appliance' ? 'appliance' : 'disk'}
          host={host}
          vms={vms ?? []}
          selectedVm={vm}
          onClose={nextDropped}
          onImported={(imported, warnings) => {
            nextDropped();
            upsert(imported);
            setSelected(imported.uuid);
            refresh();
            notify.success(`Imported '${imported.name}'.`);
            for (const w of warnings) notify.warning(w, `'${imported.name}'`);
          }}
        />
      )}
      {(dialog === 'addHost' || (dialog === 'editHost' && editHost)) && (
        <HostDialog
          host={dialog === 'editHost' ? editHost : null}
          onClose={() => setDialog(null)}
          onSaved={(h) => {
            setDialog(null);
            refreshHosts();
            refresh();
            notify.success(h.status === 'connected' ? `Connected to host '${h.name}'.` : `Saved host '${h.name}' (${h.status}).`);
          }}
          onRemoved={(name) => {
            setDialog(null);
            refreshHosts();
            refresh();
            notify.success(`Removed host '${name}'; nothing on the host was changed.`);
          }}
        />
      )}
      {migrating && dialog === 'migrate' && (
        <MigrateDialog
          key={migrating.uuid}
          vm={migrating}
          hosts={hosts ?? []}
          onClose={() => {
            setDialog(null);
            setMigrating(null);
            refresh();
          }}
        />
      )}
      {moving && dialog === 'move' && (
        <MoveDialog
          key={moving.uuid}
          vm={moving}
          hosts={hosts ?? []}
          onClose={() => {
            setDialog(null);
            setMoving(null);
            refresh();
          }}
        />
      )}
      {vm && dialog === 'clone' && (
        <CloneDialog key={vm.uuid} open vm={vm} list={null} snapshotId={null} vms={vms ?? []} onClose={() => setDialog(null)}
          onCloned={(result) => {
            setDialog(null);
            upsert(result.vm);
            setSelected(result.vm.uuid);
            refresh();
          }}
        />
      )}
    </Box>
  );
}
