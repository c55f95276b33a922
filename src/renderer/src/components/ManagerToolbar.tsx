/**
 * The Manager's toolbar, after VirtualBox 7: large icon-over-label buttons for the common
 * actions, then the machine-control group. Every button is enabled from the selected VM's
 * `allowed` list as the core computes it, so the UI never offers what the core would refuse.
 */
import { Fragment, useLayoutEffect, useRef, useState, type ReactElement, type ReactNode, type RefObject } from 'react';
import Box from '@mui/material/Box';
import ButtonBase from '@mui/material/ButtonBase';
import Divider from '@mui/material/Divider';
import ListItemIcon from '@mui/material/ListItemIcon';
import Menu from '@mui/material/Menu';
import MenuItem from '@mui/material/MenuItem';
import Tooltip from '@mui/material/Tooltip';
import { alpha } from '@mui/material/styles';
import AddCircleOutlineRoundedIcon from '@mui/icons-material/AddCircleOutlineRounded';
import ContentCopyOutlinedIcon from '@mui/icons-material/ContentCopyOutlined';
import DeleteOutlineRoundedIcon from '@mui/icons-material/DeleteOutlineRounded';
import DesktopWindowsOutlinedIcon from '@mui/icons-material/DesktopWindowsOutlined';
import AlbumOutlinedIcon from '@mui/icons-material/AlbumOutlined';
import LanOutlinedIcon from '@mui/icons-material/LanOutlined';
import LayersClearOutlinedIcon from '@mui/icons-material/LayersClearOutlined';
import PauseRoundedIcon from '@mui/icons-material/PauseRounded';
import PlayArrowRoundedIcon from '@mui/icons-material/PlayArrowRounded';
import PowerOffOutlinedIcon from '@mui/icons-material/PowerOffOutlined';
import PowerSettingsNewRoundedIcon from '@mui/icons-material/PowerSettingsNewRounded';
import RestartAltRoundedIcon from '@mui/icons-material/RestartAltRounded';
import SaveOutlinedIcon from '@mui/icons-material/SaveOutlined';
import SettingsOutlinedIcon from '@mui/icons-material/SettingsOutlined';
import MonitorHeartOutlinedIcon from '@mui/icons-material/MonitorHeartOutlined';
import TuneOutlinedIcon from '@mui/icons-material/TuneOutlined';
import MoveUpRoundedIcon from '@mui/icons-material/MoveUpRounded';
import MoreHorizRoundedIcon from '@mui/icons-material/MoreHorizRounded';
import DriveFolderUploadOutlinedIcon from '@mui/icons-material/DriveFolderUploadOutlined';
import type { VmInfo, VmOperation } from '../../../core/api/contract';
import type { BusyKind } from '../hooks/operations';
import type { LifecycleAction } from '../model/vmState';
import { NestboxMark } from './NestboxMark';

type Tone = 'default' | 'primary' | 'start' | 'danger';

interface ToolButtonProps {
  readonly label: string;
  /** The accessible name when the visible label is shorter ("Discard" → "Discard saved state"). */
  readonly name?: string;
  readonly icon: ReactElement;
  readonly tooltip: ReactNode;
  readonly disabled: boolean;
  readonly onClick: () => void;
  readonly tone?: Tone;
}

function ToolButton({ label, name, icon, tooltip, disabled, onClick, tone = 'default' }: ToolButtonProps) {
  const button = (
    <ButtonBase
      aria-label={name ?? label}
      disabled={disabled}
      onClick={onClick}
      focusRipple
      sx={(t) => {
        const accent =
          tone === 'start' ? t.palette.success.main : tone === 'danger' ? t.palette.error.main : tone === 'primary' ? t.palette.primary.main : t.palette.text.primary;
        return {
          flexDirection: 'column',
          gap: 0.25,
          minWidth: 62,
          height: 54,
          px: 0.75,
          // A narrower window gets narrower buttons before anything folds away.
          '@media (max-width: 1440px)': { minWidth: 48, px: 0.4 },
          borderRadius: 1.5,
          color: t.palette.text.primary,
          '& .tool-icon': { fontSize: 24, color: accent, opacity: tone === 'default' ? 0.8 : 1 },
          '&:hover': { bgcolor: t.palette.action.hover, '& .tool-icon': { opacity: 1 } },
          '&.Mui-focusVisible': { outline: `2px solid ${t.palette.primary.main}`, outlineOffset: -2 },
          '&:active': { bgcolor: alpha(t.palette.text.primary, 0.1) },
          '&.Mui-disabled': {
            color: alpha(t.palette.text.primary, t.palette.mode === 'dark' ? 0.32 : 0.36),
            '& .tool-icon': { color: alpha(t.palette.text.primary, t.palette.mode === 'dark' ? 0.24 : 0.26), opacity: 1 },
          },
        };
      }}
    >
      {icon}
      <Box component="span" aria-hidden sx={{ fontSize: '0.72rem', fontWeight: 500, lineHeight: 1.2, whiteSpace: 'nowrap' }}>
        {label}
      </Box>
    </ButtonBase>
  );
  return (
    <Tooltip title={tooltip} describeChild>
      {/* A disabled button fires no events; the span lets its tooltip say why. */}
      <span style={{ display: 'inline-flex' }}>{button}</span>
    </Tooltip>
  );
}

export interface ManagerToolbarProps {
  readonly vm: VmInfo | null;
  readonly busy: BusyKind | undefined;
  readonly onNew: () => void;
  readonly onSettings: () => void;
  /** Opens the host Network Manager (bridges, internal networks). */
  readonly onNetworks?: () => void;
  readonly onMedia?: () => void;
  /** Web mode: choose files or a folder to upload and import (the desktop imports what is dropped where it lies). */
  readonly onImport?: () => void;
  readonly onDelete: () => void;
  readonly onClone: () => void;
  readonly onAction: (a: LifecycleAction) => void;
  /** Shows the selected VM's screen and serial console. */
  readonly onConsole: () => void;
  /** The core is gone: nothing can be done until the window reconnects. */
  readonly offline: boolean;
  /** Opens the Activity Overview (every running VM's use of the host). */
  readonly onActivity?: () => void;
  /** Opens the host-wide Preferences. */
  readonly onPreferences?: () => void;
  /** Opens the Migrate dialog (a libvirt host's VM to another host). */
  readonly onMigrate?: () => void;
  /** Opens the Move dialog (a powered-off VM between this computer and a host). */
  readonly onMove?: () => void;
}

export function ManagerToolbar({ vm, busy, onNew, onSettings, onNetworks, onDelete, onClone, onAction, onConsole, offline, onActivity, onMedia, onImport, onPreferences, onMigrate, onMove }: ManagerToolbarProps) {
  /** A libvirt host's VM: its settings and clones are the host's business, not Nestbox's. */
  const remote = vm?.host !== undefined;
  const can = (op: VmOperation) => !offline && vm !== null && vm.allowed.includes(op) && busy !== op;
  const why = (text: string, op: VmOperation) =>
    vm === null ? `${text} (select a virtual machine first)` : can(op) ? text : `${text} — not possible while the VM is in this state`;
  const resumable = vm?.allowed.includes('resume') ?? false;
  const icon = (C: typeof PlayArrowRoundedIcon) => <C className="tool-icon" />;
  const hostTools: HostTool[] = [
    ...(onImport
      ? [{ label: 'Import', name: 'Import', icon: DriveFolderUploadOutlinedIcon, tooltip: 'Import a VirtualBox, UTM or libvirt machine with its disks, an OVA or a disk image: choose files or a folder to upload', onClick: onImport }]
      : []),
    ...(onMedia ? [{ label: 'Media', name: 'Media Manager', icon: AlbumOutlinedIcon, tooltip: 'Virtual Media Manager: disks and optical images, their sizes and users; convert, resize, compact, check', onClick: onMedia }] : []),
    ...(onNetworks ? [{ label: 'Networks', name: 'Network Manager', icon: LanOutlinedIcon, tooltip: 'Host bridges and internal networks, with the VMs on each', onClick: onNetworks }] : []),
    ...(onActivity ? [{ label: 'Activity', icon: MonitorHeartOutlinedIcon, tooltip: 'Activity Overview: what every running VM uses of the host', onClick: onActivity }] : []),
    ...(onPreferences ? [{ label: 'Preferences', icon: TuneOutlinedIcon, tooltip: 'Settings for the whole host, such as how fast snapshots and saved states are written', onClick: onPreferences }] : []),
  ];
  // What decides the toolbar's width besides the window: which buttons it holds.
  const { ref, collapsed } = useOverflowCollapse(`${resumable}:${remote}:${onMigrate !== undefined}:${onMove !== undefined}:${hostTools.map((t) => t.label).join(',')}`);

  return (
    <Box
      ref={ref}
      role="toolbar"
      aria-label="Machine actions"
      sx={{
        display: 'flex',
        alignItems: 'center',
        gap: 0.25,
        px: 1,
        minHeight: 62,
        borderBottom: 1,
        borderColor: 'divider',
        bgcolor: 'chrome.toolbar',
        position: 'relative',
        overflowX: 'auto',
        overflowY: 'hidden',
        userSelect: 'none',
        flex: 'none',
      }}
    >
      <Box sx={{ display: 'flex', alignItems: 'center', gap: 1, pl: 0.5, pr: 2, flex: 'none' }}>
        <NestboxMark size={26} />
        <Box component="span" sx={{ fontWeight: 700, fontSize: '0.95rem', letterSpacing: '-0.01em', '@media (max-width: 1440px)': { display: 'none' } }}>
          Nestbox
        </Box>
      </Box>
      <Sep />
      <ToolButton label="New" tone="primary" icon={icon(AddCircleOutlineRoundedIcon)} tooltip="Create a new virtual machine (Ctrl+N)" disabled={offline} onClick={onNew} />
      <ToolButton
        label="Settings"
        icon={icon(SettingsOutlinedIcon)}
        tooltip={vm ? 'Change the settings of the selected VM' : 'Settings (select a virtual machine first)'}
        disabled={vm === null || offline || remote}
        onClick={onSettings}
      />
      <ToolButton
        label="Discard"
        name="Discard saved state"
        icon={icon(LayersClearOutlinedIcon)}
        tooltip={why('Discard the saved machine state; the next start boots from scratch', 'discardState')}
        disabled={!can('discardState')}
        onClick={() => onAction('discardState')}
      />
      <ToolButton
        label="Start"
        tone="start"
        icon={icon(PlayArrowRoundedIcon)}
        tooltip={why(vm?.state === 'saved' ? 'Start from the saved state' : 'Start the virtual machine', 'start')}
        disabled={!can('start')}
        onClick={() => onAction('start')}
      />
      <Sep />
      {resumable ? (
        <ToolButton label="Resume" tone="start" icon={icon(PlayArrowRoundedIcon)} tooltip="Let the paused VM run again" disabled={!can('resume')} onClick={() => onAction('resume')} />
      ) : (
        <ToolButton label="Pause" icon={icon(PauseRoundedIcon)} tooltip={why('Pause the virtual machine', 'pause')} disabled={!can('pause')} onClick={() => onAction('pause')} />
      )}
      <ToolButton label="Reset" icon={icon(RestartAltRoundedIcon)} tooltip={why('Hard reset, like pressing the reset button', 'reset')} disabled={!can('reset')} onClick={() => onAction('reset')} />
      <ToolButton
        label="Shut down"
        icon={icon(PowerSettingsNewRoundedIcon)}
        tooltip={why('Press the power button (ACPI) and wait for the guest to turn off', 'shutdown')}
        disabled={!can('shutdown') || busy === 'shutdown'}
        onClick={() => onAction('shutdown')}
      />
      <ToolButton
        label="Power off"
        tone="danger"
        icon={icon(PowerOffOutlinedIcon)}
        tooltip={why('Pull the plug: unsaved work in the guest is lost', 'powerOff')}
        disabled={!can('powerOff')}
        onClick={() => onAction('powerOff')}
      />
      <ToolButton
        label="Save state"
        icon={icon(SaveOutlinedIcon)}
        tooltip={why('Save the machine state to disk and stop; Start continues where it left off', 'saveState')}
        disabled={!can('saveState')}
        onClick={() => onAction('saveState')}
      />
      <Sep />
      <ToolButton label="Delete" tone="danger" icon={icon(DeleteOutlineRoundedIcon)} tooltip={why('Delete the virtual machine', 'delete')} disabled={!can('delete')} onClick={onDelete} />
      <Sep />
      <ToolButton
        label="Console"
        icon={icon(DesktopWindowsOutlinedIcon)}
        tooltip={why('Show the screen and serial console of the VM', 'console')}
        disabled={!can('console')}
        onClick={onConsole}
      />
      <ToolButton
        label="Clone"
        icon={icon(ContentCopyOutlinedIcon)}
        tooltip={
          vm === null
            ? 'Clone the virtual machine (select one first)'
            : vm.state === 'starting' || vm.state === 'saving' || vm.state === 'stopping'
              ? 'Clone the virtual machine — wait until it is done starting, saving or stopping'
              : 'Make a full or linked clone of the VM or one of its snapshots'
        }
        disabled={offline || vm === null || remote || vm.state === 'starting' || vm.state === 'saving' || vm.state === 'stopping'}
        onClick={onClone}
      />
      {onMigrate && remote && (
        <ToolButton
          label="Migrate"
          icon={icon(MoveUpRoundedIcon)}
          tooltip={vm?.unreachable ? `Migrate — host '${vm.host ?? ''}' is unreachable` : 'Move the VM to another libvirt host, live or offline'}
          disabled={offline || vm === null || vm.unreachable !== undefined || !['running', 'paused', 'poweredOff'].includes(vm.state)}
          onClick={onMigrate}
        />
      )}
      {onMove && (
        <ToolButton
          label="Move to…"
          name="Move to"
          icon={icon(MoveUpRoundedIcon)}
          tooltip={remote ? 'Bring the powered-off VM to this computer (its disks are copied)' : 'Send the powered-off VM to a libvirt host (its disks are copied)'}
          disabled={offline || vm === null || vm.unreachable !== undefined || !(vm.state === 'poweredOff' || (!remote && vm.state === 'aborted'))}
          onClick={onMove}
        />
      )}
      {collapsed ? (
        hostTools.length > 0 && (
          <>
            <Sep />
            <MoreTools tools={hostTools} disabled={offline} />
          </>
        )
      ) : (
        <>
          {(onNetworks || onMedia) && <Sep />}
          {hostTools.map((t) => (
            <Fragment key={t.label}>
              {t.label === 'Activity' && <Sep />}
              <ToolButton label={t.label} {...(t.name ? { name: t.name } : {})} icon={icon(t.icon)} tooltip={t.tooltip} disabled={offline} onClick={t.onClick} />
            </Fragment>
          ))}
        </>
      )}
    </Box>
  );
}

/** A host-wide tool (not about the selected VM): the first to fold into "More" when the window is narrow. */
interface HostTool {
  readonly label: string;
  readonly name?: string;
  readonly icon: typeof PlayArrowRoundedIcon;
  readonly tooltip: string;
  readonly onClick: () => void;
}

/**
 * Whether the host-wide tools must fold into a "More" menu, as a desktop toolbar does when its
 * window is too narrow for every button (the VM's own verbs stay visible). Measured, not
 * guessed from the window width: which verbs show depends on the VM (Migrate for a libvirt
 * host's VM). Folded, the tools' width is remembered, so they come back only when they fit.
 */
function useOverflowCollapse(contents: string): { readonly ref: RefObject<HTMLDivElement | null>; readonly collapsed: boolean } {
  const ref = useRef<HTMLDivElement>(null);
  const [collapsed, setCollapsed] = useState(false);
  const expandedRight = useRef(0);
  const folded = useRef(0);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const check = () => {
      const last = el.lastElementChild as HTMLElement | null;
      if (!last) return;
      const right = last.offsetLeft + last.offsetWidth + 8;
      if (!collapsed) {
        if (right > el.clientWidth) {
          expandedRight.current = right;
          folded.current = 0;
          setCollapsed(true);
        }
        return;
      }
      if (folded.current === 0) folded.current = Math.max(1, expandedRight.current - right);
      if (right + folded.current <= el.clientWidth) setCollapsed(false);
    };
    check();
    const ro = new ResizeObserver(check);
    ro.observe(el);
    return () => ro.disconnect();
    // Measured again when the buttons or the fold change, and (the observer) when the width does; not
    // at every render of the Manager: each measure forces a layout of the whole window, which
    // at launch, with the list and details arriving one after another, added up.
  }, [contents, collapsed]);
  return { ref, collapsed };
}

function MoreTools({ tools, disabled }: { readonly tools: readonly HostTool[]; readonly disabled: boolean }) {
  const [anchor, setAnchor] = useState<HTMLElement | null>(null);
  return (
    <>
      <ToolButton label="More" name="More tools" icon={<MoreHorizRoundedIcon className="tool-icon" />} tooltip={tools.map((t) => t.name ?? t.label).join(', ')} disabled={disabled} onClick={() => setAnchor(document.activeElement as HTMLElement)} />
      <Menu anchorEl={anchor} open={anchor !== null} onClose={() => setAnchor(null)}>
        {tools.map((t) => (
          <MenuItem
            key={t.label}
            onClick={() => {
              setAnchor(null);
              t.onClick();
            }}
          >
            <ListItemIcon>
              <t.icon fontSize="small" />
            </ListItemIcon>
            {t.name ?? t.label}
          </MenuItem>
        ))}
      </Menu>
    </>
  );
}

function Sep() {
  return <Divider orientation="vertical" flexItem sx={{ mx: 0.75, my: 1.25 }} />;
}
