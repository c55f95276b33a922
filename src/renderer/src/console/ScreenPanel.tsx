/**
 * The screen area: noVNC's canvas in a black stage, with what to show when there is no
 * picture (powered off, connecting, reconnecting) laid over it, and the small bar that
 * stays reachable in full screen.
 */
import { useEffect, useState, type ReactNode } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import CircularProgress from '@mui/material/CircularProgress';
import Typography from '@mui/material/Typography';
import FullscreenExitRoundedIcon from '@mui/icons-material/FullscreenExitRounded';
import PlayArrowRoundedIcon from '@mui/icons-material/PlayArrowRounded';
import PowerSettingsNewRoundedIcon from '@mui/icons-material/PowerSettingsNewRounded';
import CloudOffOutlinedIcon from '@mui/icons-material/CloudOffOutlined';
import VideocamOffOutlinedIcon from '@mui/icons-material/VideocamOffOutlined';
import type { VmInfo } from '../../../core/api/contract';
import type { BusyKind } from '../hooks/operations';
import { actionProgress, stateLabel } from '../model/vmState';
import { STAGE_BG } from './stage';
import { HOST_KEY_LABEL, type ScreenStatus } from './useScreen';


export interface ScreenPanelProps {
  readonly vm: VmInfo;
  readonly busy: BusyKind | undefined;
  readonly status: ScreenStatus;
  readonly hasDisplay: boolean;
  readonly captured: boolean;
  readonly fullscreen: boolean;
  /** The connection to the core is gone. */
  readonly offline: boolean;
  /** The element that goes full screen (the stage). */
  readonly stageRef: (el: HTMLDivElement | null) => void;
  /** Where noVNC mounts. */
  readonly targetRef: (el: HTMLDivElement | null) => void;
  readonly onCapture: () => void;
  readonly onStart: () => void;
  readonly onRetryNow: () => void;
  readonly onExitFullscreen: () => void;
  readonly onCtrlAltDel: () => void;
}

export function ScreenPanel(p: ScreenPanelProps) {
  const { vm, status, hasDisplay } = p;
  const canStart = !p.offline && vm.allowed.includes('start') && p.busy !== 'start';
  const canResume = vm.allowed.includes('resume');

  let overlay: ReactNode = null;
  if (!hasDisplay) {
    overlay = (
      <Placeholder icon={<VideocamOffOutlinedIcon sx={{ fontSize: 40 }} />} title="This VM has no display">
        Its graphics adapter is set to None. The Serial tab shows its serial console.
      </Placeholder>
    );
  } else if (status.kind === 'off') {
    const starting = p.busy === 'start' || vm.state === 'starting';
    const title =
      vm.state === 'saved'
        ? 'The VM’s state is saved'
        : vm.state === 'aborted'
          ? 'The VM stopped unexpectedly'
          : vm.state === 'poweredOff'
            ? 'The VM is powered off'
            : stateLabel(vm.state);
    overlay = (
      <Placeholder icon={<PowerSettingsNewRoundedIcon sx={{ fontSize: 40 }} />} title={starting ? 'Starting…' : title}>
        {vm.state === 'saved' ? 'Start continues where it left off.' : vm.state === 'aborted' ? (vm.stateReason ?? 'QEMU exited without being asked to.') : 'Its screen appears here once it runs.'}
        {(canStart || starting) && (
          <Box sx={{ mt: 2 }}>
            <Button
              variant="contained"
              color="success"
              startIcon={starting ? <CircularProgress size={14} color="inherit" /> : <PlayArrowRoundedIcon />}
              disabled={!canStart || starting}
              onClick={p.onStart}
              sx={{ px: 2.5 }}
            >
              {starting ? actionProgress('start') : 'Start'}
            </Button>
          </Box>
        )}
      </Placeholder>
    );
  } else if (status.kind === 'connecting' && status.attempt === 0) {
    overlay = <Placeholder icon={<CircularProgress size={28} sx={{ color: 'rgba(255,255,255,0.7)' }} />} title="Connecting to the screen…" />;
  } else if (status.kind === 'connecting' || status.kind === 'retrying') {
    overlay = (
      <Placeholder icon={<CircularProgress size={28} sx={{ color: 'rgba(255,255,255,0.7)' }} />} title="Reconnecting to the screen…">
        {status.kind === 'retrying' && (
          <>
            <Box component="span" sx={{ display: 'block' }}>
              {status.reason}
            </Box>
            <Button size="small" onClick={p.onRetryNow} sx={{ mt: 1.5, color: '#9ec5ff' }}>
              Try now
            </Button>
          </>
        )}
      </Placeholder>
    );
  } else if (status.kind === 'lost') {
    overlay = (
      <Placeholder icon={<CloudOffOutlinedIcon sx={{ fontSize: 40 }} />} title="Lost the connection to the Nestbox core">
        The VM keeps running. Nestbox reconnects by itself as soon as the core is back.
      </Placeholder>
    );
  }

  return (
    <Box
      ref={p.stageRef}
      sx={{ position: 'relative', flex: 1, minHeight: 0, minWidth: 0, bgcolor: STAGE_BG, overflow: 'hidden' }}
    >
      <Box
        ref={p.targetRef}
        role="application"
        aria-label={`Screen of ${vm.name}`}
        aria-roledescription="virtual machine screen"
        tabIndex={0}
        onMouseDown={(e) => {
          // Clicks on the black border around the picture capture the keyboard too.
          if (e.target === e.currentTarget || !(e.target instanceof HTMLCanvasElement)) {
            e.preventDefault();
            p.onCapture();
          }
        }}
        onKeyDown={(e) => {
          if (e.target === e.currentTarget && (e.key === 'Enter' || e.key === ' ')) {
            e.preventDefault();
            p.onCapture();
          }
        }}
        sx={{
          position: 'absolute',
          inset: 0,
          outline: 'none',
          // noVNC's own container: keep its scroll bars dark in 1:1 mode.
          '& > div': { scrollbarColor: 'rgba(255,255,255,0.3) transparent', colorScheme: 'dark' },
          '& canvas': { boxShadow: p.captured ? '0 0 0 1px rgba(110,168,254,0.55)' : 'none' },
          '&:focus-visible': { boxShadow: 'inset 0 0 0 2px rgba(110,168,254,0.8)' },
        }}
      />
      {overlay && (
        <Box sx={{ position: 'absolute', inset: 0, display: 'grid', placeItems: 'center', bgcolor: STAGE_BG }}>{overlay}</Box>
      )}
      {vm.state === 'paused' && status.kind === 'connected' && (
        <Box
          sx={{
            position: 'absolute',
            top: 12,
            left: '50%',
            transform: 'translateX(-50%)',
            px: 1.5,
            py: 0.5,
            borderRadius: 10,
            bgcolor: 'rgba(217,119,6,0.92)',
            color: '#fff',
            fontSize: '0.72rem',
            fontWeight: 700,
            letterSpacing: '0.08em',
            textTransform: 'uppercase',
            pointerEvents: 'none',
            boxShadow: '0 2px 10px rgba(0,0,0,0.4)',
          }}
        >
          Paused{canResume ? ' — Resume to continue' : ''}
        </Box>
      )}
      {p.fullscreen && <FullscreenBar name={vm.name} captured={p.captured} onExit={p.onExitFullscreen} onCtrlAltDel={p.onCtrlAltDel} />}
    </Box>
  );
}

function Placeholder({ icon, title, children }: { readonly icon: ReactNode; readonly title: string; readonly children?: ReactNode }) {
  return (
    <Box sx={{ textAlign: 'center', color: 'rgba(255,255,255,0.6)', px: 3, maxWidth: 460 }}>
      <Box sx={{ mb: 1, display: 'flex', justifyContent: 'center' }}>{icon}</Box>
      <Typography variant="subtitle1" component="p" sx={{ color: 'rgba(255,255,255,0.9)', mb: 0.5 }}>
        {title}
      </Typography>
      {children && (
        <Typography variant="body2" component="div" sx={{ color: 'rgba(255,255,255,0.6)' }}>
          {children}
        </Typography>
      )}
    </Box>
  );
}

/** VirtualBox's full-screen mini toolbar: shown at first, then when the pointer nears the top. */
function FullscreenBar({ name, captured, onExit, onCtrlAltDel }: { readonly name: string; readonly captured: boolean; readonly onExit: () => void; readonly onCtrlAltDel: () => void }) {
  const [shown, setShown] = useState(true);
  useEffect(() => {
    const t = setTimeout(() => setShown(false), 2500);
    const onMove = (e: MouseEvent) => {
      if (e.clientY <= 6) setShown(true);
    };
    window.addEventListener('mousemove', onMove);
    return () => {
      clearTimeout(t);
      window.removeEventListener('mousemove', onMove);
    };
  }, []);
  const btn = {
    all: 'unset',
    cursor: 'pointer',
    display: 'inline-flex',
    alignItems: 'center',
    gap: 0.5,
    px: 1,
    py: 0.4,
    borderRadius: 1,
    fontSize: '0.75rem',
    fontWeight: 600,
    '&:hover': { bgcolor: 'rgba(255,255,255,0.14)' },
    '&:focus-visible': { outline: '2px solid #6ea8fe' },
  } as const;
  return (
    <Box
      onMouseLeave={() => setShown(false)}
      onMouseEnter={() => setShown(true)}
      sx={{
        position: 'absolute',
        top: 0,
        left: '50%',
        transform: shown ? 'translate(-50%, 0)' : 'translate(-50%, calc(-100% + 4px))',
        transition: 'transform 160ms ease',
        display: 'flex',
        alignItems: 'center',
        gap: 1,
        px: 1.25,
        py: 0.5,
        borderRadius: '0 0 8px 8px',
        bgcolor: 'rgba(24,27,34,0.94)',
        color: '#e6e8ec',
        boxShadow: '0 4px 18px rgba(0,0,0,0.5)',
        zIndex: 2,
      }}
    >
      <Typography variant="caption" sx={{ fontWeight: 600, mr: 1, opacity: 0.85 }}>
        {name}
      </Typography>
      <Typography variant="caption" sx={{ opacity: 0.6, mr: 1 }}>
        {captured ? `Keyboard captured — ${HOST_KEY_LABEL} releases it` : 'Click the screen to type'}
      </Typography>
      <Box component="button" type="button" onClick={onCtrlAltDel} sx={btn}>
        Ctrl+Alt+Del
      </Box>
      <Box component="button" type="button" onClick={onExit} sx={btn} aria-label="Exit fullscreen">
        <FullscreenExitRoundedIcon sx={{ fontSize: 16 }} />
        Exit full screen
      </Box>
    </Box>
  );
}
