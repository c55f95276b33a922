/**
 * The console's status bar, after VirtualBox's VM window: the VM's state, the screen's and
 * serial console's connections, the guest resolution, the accelerator and whether the
 * keyboard is captured (with the host key that releases it).
 */
import Box from '@mui/material/Box';
import { alpha } from '@mui/material/styles';
import KeyboardOutlinedIcon from '@mui/icons-material/KeyboardOutlined';
import LinkOffRoundedIcon from '@mui/icons-material/LinkOffRounded';
import LinkRoundedIcon from '@mui/icons-material/LinkRounded';
import MonitorOutlinedIcon from '@mui/icons-material/MonitorOutlined';
import SpeedOutlinedIcon from '@mui/icons-material/SpeedOutlined';
import TerminalOutlinedIcon from '@mui/icons-material/TerminalOutlined';
import type { VmInfo } from '../../../core/api/contract';
import { StateText } from '../components/StateIndicator';
import { StatusBar, StatusItem, StatusSpacer } from '../components/StatusBar';
import { accelText, screenText, serialText } from './statusText';
import { HOST_KEY_LABEL, type Resolution, type ScreenStatus } from './useScreen';
import type { SerialStatus } from './useSerial';

export interface ConsoleStatusBarProps {
  readonly vm: VmInfo;
  readonly tab: 'screen' | 'serial';
  readonly screen: ScreenStatus;
  readonly resolution: Resolution | null;
  readonly serial: SerialStatus;
  readonly captured: boolean;
  readonly hasDisplay: boolean;
}

export function ConsoleStatusBar({ vm, tab, screen, resolution, serial, captured, hasDisplay }: ConsoleStatusBarProps) {
  const linkIcon = (ok: boolean) => (ok ? <LinkRoundedIcon sx={{ fontSize: 14 }} /> : <LinkOffRoundedIcon sx={{ fontSize: 14 }} />);
  return (
    <StatusBar label="Console status">
      <StatusItem data-vm-state={vm.state}>
        <StateText state={vm.state} />
      </StatusItem>
      {hasDisplay && (
        <StatusItem data-screen-status={screen.kind} warn={screen.kind === 'retrying' || screen.kind === 'lost'} icon={linkIcon(screen.kind === 'connected')}>
          {screenText(screen)}
        </StatusItem>
      )}
      {resolution && (
        <StatusItem title="Guest screen resolution" icon={<MonitorOutlinedIcon sx={{ fontSize: 14 }} />}>
          {resolution.width} × {resolution.height}
        </StatusItem>
      )}
      {vm.runtime && (
        <StatusItem title="Accelerator" warn={vm.runtime.accel === 'tcg'} icon={<SpeedOutlinedIcon sx={{ fontSize: 14 }} />}>
          {accelText(vm.runtime.accel)}
        </StatusItem>
      )}
      <StatusItem data-serial-status={serial.kind} icon={<TerminalOutlinedIcon sx={{ fontSize: 14 }} />}>
        {serialText(serial)}
      </StatusItem>
      <StatusSpacer />
      {tab === 'screen' && hasDisplay && (
        <Box
          component="span"
          aria-live="polite"
          data-keyboard-captured={captured}
          sx={(t) => ({
            display: 'inline-flex',
            alignItems: 'center',
            gap: 0.5,
            ...(captured ? { color: t.palette.primary.main, fontWeight: 600, bgcolor: alpha(t.palette.primary.main, 0.12), px: 1, borderRadius: 1, lineHeight: '20px' } : {}),
          })}
        >
          <KeyboardOutlinedIcon sx={{ fontSize: 14 }} />
          {captured ? `Keyboard captured — press ${HOST_KEY_LABEL} to release` : `Click the screen to type · Host key: ${HOST_KEY_LABEL}`}
        </Box>
      )}
    </StatusBar>
  );
}
