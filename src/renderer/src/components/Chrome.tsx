/**
 * The window furniture around the panes: the welcome page, the status bar, the banner that
 * says the core went away, and the splitter between list and details.
 */
import { useRef, type KeyboardEvent, type PointerEvent } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Tooltip from '@mui/material/Tooltip';
import Typography from '@mui/material/Typography';
import AddRoundedIcon from '@mui/icons-material/AddRounded';
import SpeedOutlinedIcon from '@mui/icons-material/SpeedOutlined';
import type { HostInfo, VmSummary } from '../../../core/api/contract';
import { assertNever } from '../../../core/api/errors';
import { isActiveState } from '../model/vmState';
import { formatMiB, pluralize } from '../util/format';
import { NestboxMark } from './NestboxMark';
import { StatusBar, StatusItem, StatusSpacer } from './StatusBar';

export function Welcome({ onNew, host }: { readonly onNew: () => void; readonly host: HostInfo | null }) {
  return (
    <Box sx={{ flex: 1, display: 'grid', placeItems: 'center', p: 4, overflowY: 'auto' }}>
      <Box sx={{ maxWidth: 520, textAlign: 'center' }}>
        <Box
          sx={{
            width: 96,
            height: 96,
            mx: 'auto',
            mb: 2.5,
            borderRadius: '28px',
            display: 'grid',
            placeItems: 'center',
            bgcolor: 'background.paper',
            border: 1,
            borderColor: 'divider',
            boxShadow: (t) => (t.palette.mode === 'dark' ? '0 10px 30px rgba(0,0,0,0.45)' : '0 10px 30px rgba(15,23,42,0.10)'),
          }}
        >
          <NestboxMark size={60} />
        </Box>
        <Typography variant="h5" component="h1" gutterBottom>
          Welcome to Nestbox
        </Typography>
        <Typography variant="body1" color="text.secondary" sx={{ mb: 3 }}>
          You have no virtual machines yet. Create one to install an operating system from an ISO image, or to boot a disk image you
          already have.
        </Typography>
        <Button variant="contained" size="medium" startIcon={<AddRoundedIcon />} onClick={onNew} sx={{ px: 2.5, minHeight: 36 }}>
          Create a virtual machine
        </Button>
        {host && (
          <Typography variant="caption" color="text.secondary" component="p" sx={{ mt: 3 }}>
            This host: {host.cpus} CPUs · {formatMiB(host.memoryMiB)} memory · {host.qemu ? `QEMU ${host.qemu.version}` : 'QEMU not found'}
          </Typography>
        )}
      </Box>
    </Box>
  );
}

function acceleratorText(host: HostInfo): string {
  const a = host.accelEffective;
  if (a === null) return 'Accelerator: none usable';
  switch (a) {
    case 'kvm':
      return 'Accelerator: KVM';
    case 'hvf':
      return 'Accelerator: HVF';
    case 'whpx':
      return 'Accelerator: WHPX';
    case 'tcg':
      return 'Accelerator: TCG (software)';
    default:
      return assertNever(a, 'accelerator');
  }
}

/** The Manager's status bar: VMs, the accelerator (the one place the TCG note is given), QEMU, the host. */
export function ManagerStatusBar({ vms, host }: { readonly vms: readonly VmSummary[] | null; readonly host: HostInfo | null }) {
  const running = vms?.filter((v) => isActiveState(v.state)).length ?? 0;
  const accelTip = host ? (host.accelNote ?? (host.accelEffective === 'tcg' ? 'Guests run without hardware acceleration.' : 'Hardware acceleration is in use.')) : '';
  return (
    <StatusBar label="Status">
      <span>{vms === null ? 'Loading…' : `${pluralize(vms.length, 'VM')} · ${running.toLocaleString()} running`}</span>
      {host && (
        <>
          <Tooltip title={accelTip}>
            <Box component="span" tabIndex={0} sx={{ display: 'inline-flex', cursor: 'default' }}>
              <StatusItem warn={host.accelEffective === 'tcg' || host.accelEffective === null} icon={<SpeedOutlinedIcon sx={{ fontSize: 14 }} />}>
                {acceleratorText(host)}
              </StatusItem>
            </Box>
          </Tooltip>
          <span>{host.qemu ? `QEMU ${host.qemu.version}` : 'QEMU not found'}</span>
          <StatusSpacer />
          <span>
            Host: {host.cpus} CPUs · {formatMiB(host.memoryMiB)}
          </span>
          <span>Nestbox {host.nestboxVersion}</span>
        </>
      )}
    </StatusBar>
  );
}

export function ConnectionLostBanner({ reason }: { readonly reason: string }) {
  return (
    <Alert
      severity="error"
      variant="filled"
      square
      sx={(t) => ({
        borderRadius: 0,
        py: 0.25,
        alignItems: 'center',
        ...(t.palette.mode === 'dark' ? { bgcolor: '#8f1d1d', color: '#fff', '& .MuiAlert-icon': { color: '#fff' } } : {}),
      })}
      action={
        <Button color="inherit" variant="outlined" size="small" onClick={() => window.location.reload()}>
          Reload
        </Button>
      }
    >
      <span title={reason}>Lost the connection to the Nestbox core. Your virtual machines keep running; reconnecting…</span>
    </Alert>
  );
}

export const MIN_SIDEBAR = 220;
export const MAX_SIDEBAR = 560;

/** The draggable edge of the machine list; also adjustable from the keyboard. */
export function Splitter({ width, onResize }: { readonly width: number; readonly onResize: (w: number) => void }) {
  const drag = useRef<{ x: number; w: number } | null>(null);
  const clamp = (w: number) => Math.max(MIN_SIDEBAR, Math.min(MAX_SIDEBAR, Math.round(w)));
  const onPointerDown = (e: PointerEvent<HTMLDivElement>) => {
    drag.current = { x: e.clientX, w: width };
    e.currentTarget.setPointerCapture(e.pointerId);
  };
  const onPointerMove = (e: PointerEvent<HTMLDivElement>) => {
    if (drag.current) onResize(clamp(drag.current.w + e.clientX - drag.current.x));
  };
  const onPointerUp = () => {
    drag.current = null;
  };
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'ArrowLeft') onResize(clamp(width - 16));
    else if (e.key === 'ArrowRight') onResize(clamp(width + 16));
    else return;
    e.preventDefault();
  };
  return (
    <Box
      role="separator"
      aria-orientation="vertical"
      aria-label="Resize the machine list"
      aria-valuenow={width}
      aria-valuemin={MIN_SIDEBAR}
      aria-valuemax={MAX_SIDEBAR}
      tabIndex={0}
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={onPointerUp}
      onKeyDown={onKeyDown}
      sx={{
        width: 5,
        ml: '-3px',
        mr: '-2px',
        flex: 'none',
        cursor: 'col-resize',
        position: 'relative',
        zIndex: 1,
        outline: 'none',
        '&::after': { content: '""', position: 'absolute', top: 0, bottom: 0, left: 2, width: '1px', bgcolor: 'divider' },
        '&:hover::after, &:focus-visible::after': { width: '3px', left: 1, bgcolor: 'primary.main' },
      }}
    />
  );
}
