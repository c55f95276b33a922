/**
 * The live thumbnail of the selected VM's screen. It polls `vms.screenshot` every few
 * seconds only while the VM can be shown and the window is visible, one request at a time,
 * and stops the moment the selection or the state changes.
 */
import { useEffect, useState } from 'react';
import Box from '@mui/material/Box';
import ButtonBase from '@mui/material/ButtonBase';
import Typography from '@mui/material/Typography';
import OpenInFullRoundedIcon from '@mui/icons-material/OpenInFullRounded';
import VideocamOffOutlinedIcon from '@mui/icons-material/VideocamOffOutlined';
import PowerSettingsNewRoundedIcon from '@mui/icons-material/PowerSettingsNewRounded';
import type { VmInfo } from '../../../core/api/contract';
import { stateLabel } from '../model/vmState';
import { useVmActions } from '../actions/useVmActions';

const REFRESH_MS = 3000;

/** `onOpen` makes the thumbnail a button that opens the console while the VM runs. */
export function Preview({ vm, onOpen }: { readonly vm: VmInfo; readonly onOpen?: () => void }) {
  const vmActions = useVmActions();
  const live = vm.allowed.includes('screenshot') && vm.config.display.adapter !== 'none';
  const [frame, setFrame] = useState<{ readonly uuid: string; readonly src: string; readonly ratio: string } | null>(null);
  const [failed, setFailed] = useState(false);

  useEffect(() => {
    setFailed(false);
    if (!live) {
      setFrame(null);
      return undefined;
    }
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const tick = async (): Promise<void> => {
      if (stopped) return;
      if (!document.hidden) {
        try {
          const shot = await vmActions.screenshot({ ref: vm.uuid });
          if (stopped) return;
          setFrame({ uuid: vm.uuid, src: `data:image/png;base64,${shot.pngBase64}`, ratio: shot.width > 0 && shot.height > 0 ? `${shot.width} / ${shot.height}` : '4 / 3' });
          setFailed(false);
        } catch {
          // A VM between states (just stopping) has no screen for a moment; keep the last frame.
          if (!stopped) setFailed(true);
        }
      }
      if (!stopped) timer = setTimeout(() => void tick(), REFRESH_MS);
    };
    void tick();
    return () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
    };
  }, [vmActions, vm.uuid, live]);

  const current = frame && frame.uuid === vm.uuid ? frame : null;
  const src = current?.src ?? null;
  return (
    <Box
      sx={{
        position: 'relative',
        // The guest's own shape once a frame arrived (720×400 text mode, 1024×768, ...).
        aspectRatio: live && current ? current.ratio : '4 / 3',
        borderRadius: 1.5,
        overflow: 'hidden',
        bgcolor: '#0b0d11',
        border: 1,
        borderColor: 'divider',
        display: 'grid',
        placeItems: 'center',
      }}
    >
      {live && src ? (
        <Box
          component="img"
          src={src}
          alt={`Screen of ${vm.name}`}
          sx={{ width: '100%', height: '100%', objectFit: 'contain', display: 'block', filter: vm.state === 'paused' ? 'grayscale(0.6) brightness(0.7)' : 'none' }}
        />
      ) : (
        <Box sx={{ textAlign: 'center', color: 'rgba(255,255,255,0.55)', px: 2 }}>
          {live ? (
            <VideocamOffOutlinedIcon sx={{ fontSize: 30, mb: 0.5 }} />
          ) : (
            <PowerSettingsNewRoundedIcon sx={{ fontSize: 30, mb: 0.5 }} />
          )}
          <Typography variant="body2" sx={{ fontWeight: 600, color: 'rgba(255,255,255,0.75)' }}>
            {live ? (failed ? 'No picture' : 'Waiting for the screen…') : vm.config.display.adapter === 'none' ? 'No display' : stateLabel(vm.state)}
          </Typography>
        </Box>
      )}
      {vm.state === 'paused' && src && (
        <Box
          sx={{
            position: 'absolute',
            inset: 0,
            display: 'grid',
            placeItems: 'center',
            color: '#fff',
            fontWeight: 700,
            letterSpacing: '0.1em',
            fontSize: '0.8rem',
            textTransform: 'uppercase',
            textShadow: '0 1px 3px rgba(0,0,0,0.8)',
          }}
        >
          Paused
        </Box>
      )}
      {onOpen && vm.allowed.includes('console') && (
        <ButtonBase
          aria-label={`Open the console of ${vm.name}`}
          title="Open the console"
          onClick={onOpen}
          focusRipple
          sx={(t) => ({
            position: 'absolute',
            inset: 0,
            cursor: 'pointer',
            '& .open-hint': { opacity: 0, transform: 'translateY(4px)', transition: 'opacity 140ms, transform 140ms' },
            '&:hover, &.Mui-focusVisible': { bgcolor: 'rgba(0,0,0,0.32)', '& .open-hint': { opacity: 1, transform: 'none' } },
            '&.Mui-focusVisible': { outline: `2px solid ${t.palette.primary.main}`, outlineOffset: -2 },
          })}
        >
          <Box
            className="open-hint"
            aria-hidden
            sx={{ display: 'inline-flex', alignItems: 'center', gap: 0.75, px: 1.5, py: 0.6, borderRadius: 10, bgcolor: 'rgba(15,17,22,0.82)', color: '#fff', fontSize: '0.78rem', fontWeight: 600 }}
          >
            <OpenInFullRoundedIcon sx={{ fontSize: 15 }} />
            Open console
          </Box>
        </ButtonBase>
      )}
    </Box>
  );
}
