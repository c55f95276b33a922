/**
 * How VM states and operations are named and coloured in the UI. Every switch is exhaustive
 * so that a state added to the core's lifecycle fails the type check here instead of
 * showing up blank.
 */
import { assertNever } from '../../../core/api/errors';
import type { VmState } from '../../../core/api/contract';

export type StateTone = 'success' | 'warning' | 'info' | 'neutral' | 'error' | 'busy';

export function stateLabel(s: VmState): string {
  switch (s) {
    case 'poweredOff':
      return 'Powered off';
    case 'starting':
      return 'Starting';
    case 'running':
      return 'Running';
    case 'paused':
      return 'Paused';
    case 'saving':
      return 'Saving';
    case 'saved':
      return 'Saved';
    case 'stopping':
      return 'Shutting down';
    case 'aborted':
      return 'Aborted';
    default:
      return assertNever(s, 'VM state');
  }
}

export function stateTone(s: VmState): StateTone {
  switch (s) {
    case 'running':
      return 'success';
    case 'paused':
      return 'warning';
    case 'saved':
      return 'info';
    case 'poweredOff':
      return 'neutral';
    case 'aborted':
      return 'error';
    case 'starting':
    case 'saving':
    case 'stopping':
      return 'busy';
    default:
      return assertNever(s, 'VM state');
  }
}

/** States the core is moving through on its own; the UI shows progress for them. */
export function isTransitional(s: VmState): boolean {
  return s === 'starting' || s === 'saving' || s === 'stopping';
}

/** A QEMU process exists, so the screen can be shown and memory is in use (the domain's rule). */
export { isActive as isActiveState } from '../../../core/domain/lifecycle';

/** The toolbar's lifecycle actions, keyed the way the core names the operations. */
export type LifecycleAction =
  | 'start'
  | 'pause'
  | 'resume'
  | 'reset'
  | 'shutdown'
  | 'powerOff'
  | 'saveState'
  | 'discardState';

/** What the UI says while an action runs ("Starting…") and when it fails. */
export function actionProgress(a: LifecycleAction | 'modify' | 'delete'): string {
  switch (a) {
    case 'start':
      return 'Starting…';
    case 'pause':
      return 'Pausing…';
    case 'resume':
      return 'Resuming…';
    case 'reset':
      return 'Resetting…';
    case 'shutdown':
      return 'Waiting for the guest to shut down…';
    case 'powerOff':
      return 'Powering off…';
    case 'saveState':
      return 'Saving the machine state…';
    case 'discardState':
      return 'Discarding the saved state…';
    case 'modify':
      return 'Applying settings…';
    case 'delete':
      return 'Deleting…';
    default:
      return assertNever(a, 'action');
  }
}

export function actionFailure(a: LifecycleAction, name: string): string {
  switch (a) {
    case 'start':
      return `Could not start '${name}'`;
    case 'pause':
      return `Could not pause '${name}'`;
    case 'resume':
      return `Could not resume '${name}'`;
    case 'reset':
      return `Could not reset '${name}'`;
    case 'shutdown':
      return `'${name}' did not shut down`;
    case 'powerOff':
      return `Could not power off '${name}'`;
    case 'saveState':
      return `Could not save the state of '${name}'`;
    case 'discardState':
      return `Could not discard the saved state of '${name}'`;
    default:
      return assertNever(a, 'action');
  }
}
