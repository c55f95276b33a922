/**
 * A VM's console, after VirtualBox's VM window: a toolbar (view, keys, clipboard,
 * screenshot, full screen), the guest's screen or its serial console in tabs, and a status
 * bar (state, connection, guest resolution, accelerator, keyboard capture). Used inside the
 * Manager (web mode) and alone in a window or tab of its own (`#/console/<uuid>`).
 */
import { useCallback, useEffect, useId, useRef, useState, type ReactElement, type ReactNode } from 'react';
import type { Terminal } from '@xterm/xterm';
import Badge from '@mui/material/Badge';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Divider from '@mui/material/Divider';
import IconButton from '@mui/material/IconButton';
import Menu from '@mui/material/Menu';
import MenuItem from '@mui/material/MenuItem';
import Tab from '@mui/material/Tab';
import Tabs from '@mui/material/Tabs';
import Tooltip from '@mui/material/Tooltip';
import { alpha } from '@mui/material/styles';
import ArrowDropDownRoundedIcon from '@mui/icons-material/ArrowDropDownRounded';
import CloseRoundedIcon from '@mui/icons-material/CloseRounded';
import ContentPasteGoOutlinedIcon from '@mui/icons-material/ContentPasteGoOutlined';
import FitScreenOutlinedIcon from '@mui/icons-material/FitScreenOutlined';
import FullscreenRoundedIcon from '@mui/icons-material/FullscreenRounded';
import InventoryOutlinedIcon from '@mui/icons-material/InventoryOutlined';
import KeyboardOutlinedIcon from '@mui/icons-material/KeyboardOutlined';
import MonitorOutlinedIcon from '@mui/icons-material/MonitorOutlined';
import OpenInNewRoundedIcon from '@mui/icons-material/OpenInNewRounded';
import PauseRoundedIcon from '@mui/icons-material/PauseRounded';
import PhotoCameraOutlinedIcon from '@mui/icons-material/PhotoCameraOutlined';
import PlayArrowRoundedIcon from '@mui/icons-material/PlayArrowRounded';
import PowerOffOutlinedIcon from '@mui/icons-material/PowerOffOutlined';
import PowerSettingsNewRoundedIcon from '@mui/icons-material/PowerSettingsNewRounded';
import RestartAltRoundedIcon from '@mui/icons-material/RestartAltRounded';
import TerminalOutlinedIcon from '@mui/icons-material/TerminalOutlined';
import { SEND_KEY_COMBOS, type VmInfo, type VmOperation } from '../../../core/api/contract';
import { useNotify } from '../components/Notifications';
import { useConnection } from '../hooks/client';
import type { BusyKind } from '../hooks/operations';
import type { LifecycleAction } from '../model/vmState';
import { GuestClipboardDialog, PasteTextDialog } from './ClipboardDialogs';
import { XK_SHIFT_L, keystrokesFor } from './keys';
import { ScreenPanel } from './ScreenPanel';
import { SerialPanel } from './SerialPanel';
import { downloadPng, screenshotFileName } from './screenshot';
import { useScreen } from './useScreen';
import { useSerial } from './useSerial';
import { useConsoleActions } from '../actions/useConsoleActions';
import { ConsoleStatusBar } from './ConsoleStatusBar';

type ConsoleTab = 'screen' | 'serial';

const SCALE_KEY = 'nestbox.console.scale';

function readScale(): boolean {
  try {
    return window.localStorage.getItem(SCALE_KEY) !== '0';
  } catch {
    return true;
  }
}

export interface ConsoleViewProps {
  readonly vm: VmInfo;
  readonly busy: BusyKind | undefined;
  readonly onAction: (a: LifecycleAction) => void;
  /** Inside the Manager (with Close and Open in new tab) or alone in its own window. */
  readonly mode: 'embedded' | 'standalone';
  readonly onClose?: () => void;
  readonly onOpenInNewTab?: () => void;
}

export function ConsoleView({ vm, busy, onAction, mode, onClose, onOpenInNewTab }: ConsoleViewProps) {
  const { client, lost } = useConnection();
  const consoleActions = useConsoleActions();
  const offline = lost !== null;
  const notify = useNotify();
  const ids = useId().replace(/:/g, '');
  const hasDisplay = vm.config.display.adapter !== 'none';
  const active = vm.allowed.includes('console');
  const [tab, setTab] = useState<ConsoleTab>(hasDisplay ? 'screen' : 'serial');
  const [scale, setScale] = useState(readScale);
  const [target, setTarget] = useState<HTMLDivElement | null>(null);
  const [stage, setStage] = useState<HTMLDivElement | null>(null);
  const [fullscreen, setFullscreen] = useState(false);
  const [term, setTerm] = useState<Terminal | null>(null);
  const [keysAnchor, setKeysAnchor] = useState<HTMLElement | null>(null);
  const [dialog, setDialog] = useState<'paste' | 'clipboard' | null>(null);
  const [guestClip, setGuestClip] = useState<{ readonly text: string; readonly unread: boolean } | null>(null);
  const [shooting, setShooting] = useState(false);
  const typing = useRef<{ cancelled: boolean } | null>(null);

  const onClipboard = useCallback((text: string) => {
    setGuestClip({ text, unread: true });
    // Mirror it to the host's clipboard where the browser allows it without asking.
    if (document.hasFocus()) navigator.clipboard?.writeText?.(text).catch(() => undefined);
  }, []);

  const screen = useScreen({ client, vmRef: vm.uuid, active: active && hasDisplay, target, scale, onClipboard });
  const serialStatus = useSerial({ client, vmRef: vm.uuid, active, enabled: vm.config.serial.enabled, term });

  useEffect(() => {
    try {
      window.localStorage.setItem(SCALE_KEY, scale ? '1' : '0');
    } catch {
      // the default (scaled) does
    }
  }, [scale]);

  useEffect(() => {
    const onChange = () => setFullscreen(document.fullscreenElement !== null && document.fullscreenElement === stage);
    document.addEventListener('fullscreenchange', onChange);
    return () => document.removeEventListener('fullscreenchange', onChange);
  }, [stage]);

  useEffect(
    () => () => {
      if (typing.current) typing.current.cancelled = true;
    },
    [],
  );

  const toggleFullscreen = useCallback(() => {
    if (document.fullscreenElement) {
      void document.exitFullscreen().catch(() => undefined);
      return;
    }
    stage?.requestFullscreen().then(
      () => screen.capture(),
      (err: unknown) => notify.error(err, 'Could not go full screen'),
    );
  }, [stage, screen, notify]);

  const sendKeys = useCallback(
    (label: string, keys: readonly string[]) => {
      consoleActions.sendKeys({ ref: vm.uuid, keys }).catch((err: unknown) => notify.error(err, `Could not send ${label} to '${vm.name}'`));
    },
    [consoleActions, vm.uuid, vm.name, notify],
  );

  const takeScreenshot = useCallback(async () => {
    setShooting(true);
    try {
      const shot = await consoleActions.screenshot({ ref: vm.uuid });
      const name = screenshotFileName(vm.name);
      downloadPng(shot.pngBase64, name);
      notify.success(`Saved the screen as ${name} (${shot.width} × ${shot.height}).`);
    } catch (err) {
      notify.error(err, `Could not take a screenshot of '${vm.name}'`);
    } finally {
      setShooting(false);
    }
  }, [consoleActions, vm.uuid, vm.name, notify]);

  const pasteToClipboard = useCallback(
    (text: string) => {
      const rfb = screen.rfb();
      setDialog(null);
      if (!rfb) {
        notify.warning('The screen is not connected.', 'Paste text to guest');
        return;
      }
      rfb.clipboardPasteFrom(text);
      notify.success('Sent the text to the guest’s clipboard (it arrives only with a clipboard agent in the guest).');
    },
    [screen, notify],
  );

  const typeText = useCallback(
    async (text: string) => {
      setDialog(null);
      if (typing.current) typing.current.cancelled = true;
      const job = { cancelled: false };
      typing.current = job;
      const strokes = keystrokesFor(text);
      // A few keys at a time: the guest's keyboard controller has a small queue.
      for (let i = 0; i < strokes.length && !job.cancelled; i++) {
        const rfb = screen.rfb();
        const k = strokes[i];
        if (!rfb || !k) break;
        if (k.shift) rfb.sendKey(XK_SHIFT_L, 'ShiftLeft', true);
        rfb.sendKey(k.keysym, k.code, true);
        rfb.sendKey(k.keysym, k.code, false);
        if (k.shift) rfb.sendKey(XK_SHIFT_L, 'ShiftLeft', false);
        if (i % 8 === 7) await new Promise((r) => setTimeout(r, 35));
      }
      if (typing.current === job) typing.current = null;
    },
    [screen],
  );

  const connected = screen.status.kind === 'connected';
  const canKeys = !offline && vm.allowed.includes('screenshot');
  const overlayContainer = fullscreen ? stage : null;

  const serialOverlay = !vm.config.serial.enabled ? 'This VM has no serial port. Turn it on in Settings → Serial port.' : null;

  return (
    <Box sx={{ flex: 1, minWidth: 0, minHeight: 0, display: 'flex', flexDirection: 'column', bgcolor: 'background.default' }}>
      <Box
        sx={{
          display: 'flex',
          alignItems: 'center',
          gap: 0.5,
          px: 1,
          minHeight: 46,
          borderBottom: 1,
          borderColor: 'divider',
          bgcolor: 'chrome.toolbar',
          flex: 'none',
          overflowX: 'auto',
          overflowY: 'hidden',
        }}
      >
        <Tabs
          value={tab}
          onChange={(_, v: ConsoleTab) => setTab(v)}
          aria-label="Console view"
          sx={{ minHeight: 36, flex: 'none', '& .MuiTab-root': { minHeight: 36, minWidth: 0, px: 1.5, gap: 0.75 }, '& .MuiTabs-indicator': { height: 2.5, borderRadius: 2 } }}
        >
          <Tab value="screen" id={`${ids}-tab-screen`} aria-controls={`${ids}-panel-screen`} icon={<MonitorOutlinedIcon sx={{ fontSize: 18 }} />} iconPosition="start" label="Screen" />
          <Tab value="serial" id={`${ids}-tab-serial`} aria-controls={`${ids}-panel-serial`} icon={<TerminalOutlinedIcon sx={{ fontSize: 18 }} />} iconPosition="start" label="Serial" />
        </Tabs>
        <Sep />
        <Box role="toolbar" aria-label="Console tools" sx={{ display: 'flex', alignItems: 'center', gap: 0.25, flex: 'none' }}>
          {tab === 'screen' && (
            <>
              <Tool
                label="Scale to window"
                tooltip={scale ? 'Scaled to the window — click for 1:1 pixels' : 'Shown 1:1 — click to scale to the window'}
                pressed={scale}
                disabled={!hasDisplay}
                onClick={() => setScale((s) => !s)}
                icon={<FitScreenOutlinedIcon />}
              />
              <Tool label="Fullscreen" tooltip="Full screen (Esc leaves it)" disabled={!connected} onClick={toggleFullscreen} icon={<FullscreenRoundedIcon />} />
              <Sep />
              <Button
                id={`${ids}-keys-button`}
                aria-haspopup="menu"
                aria-expanded={keysAnchor !== null}
                aria-controls={keysAnchor ? `${ids}-keys-menu` : undefined}
                disabled={!canKeys}
                onClick={(e) => setKeysAnchor(e.currentTarget)}
                startIcon={<KeyboardOutlinedIcon />}
                endIcon={<ArrowDropDownRoundedIcon sx={{ ml: -0.75 }} />}
                color="inherit"
                sx={{ minHeight: 32, px: 1.25, fontWeight: 500, '& .MuiButton-startIcon': { mr: 0.75 } }}
              >
                Send key
              </Button>
              <Tool label="Paste text to guest" tooltip="Paste text to the guest (clipboard or keystrokes)" disabled={!connected} onClick={() => setDialog('paste')} icon={<ContentPasteGoOutlinedIcon />} />
              {guestClip && (
                <Tool
                  label="Guest clipboard"
                  tooltip="Text the guest copied"
                  onClick={() => {
                    setGuestClip((c) => (c ? { ...c, unread: false } : c));
                    setDialog('clipboard');
                  }}
                  icon={
                    <Badge color="primary" variant="dot" invisible={!guestClip.unread}>
                      <InventoryOutlinedIcon />
                    </Badge>
                  }
                />
              )}
              <Tool label="Take screenshot" tooltip="Save the screen as a PNG file" disabled={!canKeys || !hasDisplay || shooting} onClick={() => void takeScreenshot()} icon={<PhotoCameraOutlinedIcon />} />
            </>
          )}
        </Box>
        <Box sx={{ flex: 1, minWidth: 8 }} />
        {mode === 'standalone' && <MachineButtons vm={vm} busy={busy} offline={offline} onAction={onAction} />}
        {mode === 'embedded' && (
          <Box sx={{ display: 'flex', alignItems: 'center', gap: 0.25, flex: 'none' }}>
            {onOpenInNewTab && <Tool label="Open in new tab" tooltip="Open this console in a browser tab of its own" onClick={onOpenInNewTab} icon={<OpenInNewRoundedIcon />} />}
            {onClose && <Tool label="Close console" tooltip="Back to the details (the VM keeps running)" onClick={onClose} icon={<CloseRoundedIcon />} />}
          </Box>
        )}
      </Box>

      <Box sx={{ position: 'relative', flex: 1, minHeight: 0 }}>
        <Panel id={`${ids}-panel-screen`} labelledBy={`${ids}-tab-screen`} shown={tab === 'screen'}>
          <ScreenPanel
            vm={vm}
            busy={busy}
            status={screen.status}
            hasDisplay={hasDisplay}
            captured={screen.captured}
            fullscreen={fullscreen}
            offline={offline}
            stageRef={setStage}
            targetRef={setTarget}
            onCapture={screen.capture}
            onStart={() => onAction('start')}
            onRetryNow={screen.retryNow}
            onExitFullscreen={() => void document.exitFullscreen().catch(() => undefined)}
            onCtrlAltDel={() => sendKeys('Ctrl+Alt+Del', ['ctrl', 'alt', 'delete'])}
          />
        </Panel>
        <Panel id={`${ids}-panel-serial`} labelledBy={`${ids}-tab-serial`} shown={tab === 'serial'}>
          <SerialPanel vmRef={vm.uuid} vmName={vm.name} visible={tab === 'serial'} onTerminal={setTerm} overlay={serialOverlay} />
        </Panel>
      </Box>

      <ConsoleStatusBar
        vm={vm}
        tab={tab}
        screen={screen.status}
        resolution={screen.resolution}
        serial={serialStatus}
        captured={screen.captured}
        hasDisplay={hasDisplay}
      />

      <Menu
        id={`${ids}-keys-menu`}
        anchorEl={keysAnchor}
        open={keysAnchor !== null}
        onClose={() => setKeysAnchor(null)}
        container={overlayContainer}
        slotProps={{ list: { 'aria-labelledby': `${ids}-keys-button`, dense: true }, paper: { sx: { maxHeight: 420, minWidth: 200 } } }}
      >
        {SEND_KEY_COMBOS.flatMap((combo, i) => {
          const item = (
            <MenuItem
              key={combo.label}
              onClick={() => {
                setKeysAnchor(null);
                sendKeys(combo.label, combo.keys);
              }}
            >
              {combo.label}
            </MenuItem>
          );
          // Group: Ctrl+Alt+Del / Backspace, then the F-keys, then the rest.
          const next = SEND_KEY_COMBOS[i + 1];
          const boundary = next !== undefined && groupOf(combo.label) !== groupOf(next.label);
          return boundary ? [item, <Divider key={`${combo.label}-sep`} />] : [item];
        })}
      </Menu>
      <PasteTextDialog
        open={dialog === 'paste'}
        vmName={vm.name}
        container={overlayContainer}
        onClose={() => setDialog(null)}
        onClipboard={pasteToClipboard}
        onType={(t) => void typeText(t)}
      />
      <GuestClipboardDialog open={dialog === 'clipboard'} text={guestClip?.text ?? ''} container={overlayContainer} onClose={() => setDialog(null)} />
    </Box>
  );
}

function groupOf(label: string): number {
  if (/^Ctrl\+Alt\+F\d+$/.test(label)) return 1;
  if (label.startsWith('Ctrl+Alt+')) return 0;
  return 2;
}

function Panel({ id, labelledBy, shown, children }: { readonly id: string; readonly labelledBy: string; readonly shown: boolean; readonly children: ReactNode }) {
  // Both panels stay mounted and laid out (the screen and the terminal keep their
  // connections and sizes); the hidden one is invisible and out of the tab order.
  return (
    <Box
      id={id}
      role="tabpanel"
      aria-labelledby={labelledBy}
      aria-hidden={!shown}
      inert={!shown}
      sx={{ position: 'absolute', inset: 0, display: 'flex', flexDirection: 'column', visibility: shown ? 'visible' : 'hidden' }}
    >
      {children}
    </Box>
  );
}

function Sep() {
  return <Divider orientation="vertical" flexItem sx={{ mx: 0.75, my: 1.1 }} />;
}

interface ToolProps {
  readonly label: string;
  readonly tooltip: string;
  readonly icon: ReactElement;
  readonly onClick: () => void;
  readonly disabled?: boolean;
  /** A toggle: announced with aria-pressed and drawn as pressed. */
  readonly pressed?: boolean;
  readonly tone?: 'default' | 'start' | 'danger';
}

function Tool({ label, tooltip, icon, onClick, disabled = false, pressed, tone = 'default' }: ToolProps) {
  return (
    <Tooltip title={tooltip} describeChild>
      <span style={{ display: 'inline-flex' }}>
        <IconButton
          aria-label={label}
          aria-pressed={pressed}
          disabled={disabled}
          onClick={onClick}
          sx={(t) => ({
            width: 34,
            height: 34,
            borderRadius: 1.5,
            color: tone === 'start' ? t.palette.success.main : tone === 'danger' ? t.palette.error.main : t.palette.text.primary,
            '& svg': { fontSize: 21 },
            ...(pressed ? { bgcolor: alpha(t.palette.primary.main, t.palette.mode === 'dark' ? 0.22 : 0.13), color: t.palette.primary.main } : {}),
            '&:hover': { bgcolor: pressed ? alpha(t.palette.primary.main, t.palette.mode === 'dark' ? 0.3 : 0.18) : t.palette.action.hover },
          })}
        >
          {icon}
        </IconButton>
      </span>
    </Tooltip>
  );
}

/** The machine controls a console window needs when no Manager is beside it. */
function MachineButtons({
  vm,
  busy,
  offline,
  onAction,
}: {
  readonly vm: VmInfo;
  readonly busy: BusyKind | undefined;
  readonly offline: boolean;
  readonly onAction: (a: LifecycleAction) => void;
}) {
  const can = (op: VmOperation) => !offline && vm.allowed.includes(op) && busy !== op;
  return (
    <Box role="toolbar" aria-label="Machine" sx={{ display: 'flex', alignItems: 'center', gap: 0.25, flex: 'none' }}>
      {vm.allowed.includes('start') || !vm.allowed.includes('console') ? (
        <Tool label="Start" tone="start" tooltip="Start the virtual machine" disabled={!can('start')} onClick={() => onAction('start')} icon={<PlayArrowRoundedIcon />} />
      ) : vm.allowed.includes('resume') ? (
        <Tool label="Resume" tone="start" tooltip="Let the paused VM run again" disabled={!can('resume')} onClick={() => onAction('resume')} icon={<PlayArrowRoundedIcon />} />
      ) : (
        <Tool label="Pause" tooltip="Pause the virtual machine" disabled={!can('pause')} onClick={() => onAction('pause')} icon={<PauseRoundedIcon />} />
      )}
      <Tool label="Reset" tooltip="Hard reset, like pressing the reset button" disabled={!can('reset')} onClick={() => onAction('reset')} icon={<RestartAltRoundedIcon />} />
      <Tool label="Shut down" tooltip="Press the power button (ACPI)" disabled={!can('shutdown')} onClick={() => onAction('shutdown')} icon={<PowerSettingsNewRoundedIcon />} />
      <Tool label="Power off" tone="danger" tooltip="Pull the plug: unsaved work in the guest is lost" disabled={!can('powerOff')} onClick={() => onAction('powerOff')} icon={<PowerOffOutlinedIcon />} />
    </Box>
  );
}
