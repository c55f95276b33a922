/** The console status bar's words for the accelerator and the screen's and serial console's connections. */
import type { Accelerator } from '../../../core/api/contract';
import { assertNever } from '../../../core/api/errors';
import type { ScreenStatus } from './useScreen';
import type { SerialStatus } from './useSerial';

/** The accelerator as the console's status bar names it. */
export function accelText(a: Accelerator): string {
  switch (a) {
    case 'kvm':
      return 'KVM';
    case 'hvf':
      return 'HVF';
    case 'whpx':
      return 'WHPX';
    case 'tcg':
      return 'TCG (software)';
    default:
      return assertNever(a, 'accelerator');
  }
}

/** What the status bar says about the screen's connection. */
export function screenText(s: ScreenStatus): string {
  switch (s.kind) {
    case 'off':
      return 'Screen: not running';
    case 'connecting':
      return s.attempt === 0 ? 'Screen: connecting…' : 'Screen: reconnecting…';
    case 'connected':
      return 'Screen: connected';
    case 'retrying':
      return 'Screen: reconnecting…';
    case 'lost':
      return 'Screen: disconnected from the core';
    default:
      return assertNever(s, 'screen status');
  }
}

/** What the status bar says about the serial console's connection. */
export function serialText(s: SerialStatus): string {
  switch (s.kind) {
    case 'off':
      return 'Serial: log only';
    case 'disabled':
      return 'Serial: none';
    case 'connecting':
      return 'Serial: connecting…';
    case 'connected':
      return 'Serial: connected';
    case 'retrying':
      return 'Serial: reconnecting…';
    case 'lost':
      return 'Serial: disconnected';
    default:
      return assertNever(s, 'serial status');
  }
}
