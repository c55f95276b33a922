/** The console status bar's words: every accelerator and every connection state has its own. */
import { describe, expect, it } from 'vitest';
import { accelText, screenText, serialText } from '../../../../src/renderer/src/console/statusText';

describe('console status texts', () => {
  it('names each accelerator, software emulation as such', () => {
    expect(accelText('kvm')).toBe('KVM');
    expect(accelText('hvf')).toBe('HVF');
    expect(accelText('whpx')).toBe('WHPX');
    expect(accelText('tcg')).toBe('TCG (software)');
  });

  it('tells a first connection from a reconnection of the screen', () => {
    expect(screenText({ kind: 'off' })).toBe('Screen: not running');
    expect(screenText({ kind: 'connecting', attempt: 0 })).toBe('Screen: connecting…');
    expect(screenText({ kind: 'connecting', attempt: 2 })).toBe('Screen: reconnecting…');
    expect(screenText({ kind: 'connected' })).toBe('Screen: connected');
    expect(screenText({ kind: 'retrying', attempt: 1, reason: 'gone', at: 0 })).toBe('Screen: reconnecting…');
    expect(screenText({ kind: 'lost' })).toBe('Screen: disconnected from the core');
  });

  it('says whether the serial console is live, only logged or absent', () => {
    expect(serialText({ kind: 'off' })).toBe('Serial: log only');
    expect(serialText({ kind: 'disabled' })).toBe('Serial: none');
    expect(serialText({ kind: 'connecting' })).toBe('Serial: connecting…');
    expect(serialText({ kind: 'connected' })).toBe('Serial: connected');
    expect(serialText({ kind: 'retrying', reason: 'x' })).toBe('Serial: reconnecting…');
    expect(serialText({ kind: 'lost' })).toBe('Serial: disconnected');
  });

  it('refuses a state it does not know', () => {
    expect(() => accelText('xen' as never)).toThrow();
    expect(() => screenText({ kind: 'odd' } as never)).toThrow();
  });
});
