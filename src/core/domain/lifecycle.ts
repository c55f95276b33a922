/**
 * The VM lifecycle as an explicit state machine. Every state change in the core goes through
 * `transition`; an operation asked for in the wrong state fails with a named error before
 * anything touches QEMU (Firecracker does the same).
 */

export const VM_STATES = [
  'poweredOff',
  'starting',
  'running',
  'paused',
  'saving',
  'saved',
  'stopping',
  'aborted',
] as const;
export type VmState = (typeof VM_STATES)[number];

export type VmOperation =
  | 'start'
  | 'pause'
  | 'resume'
  | 'reset'
  | 'shutdown'
  | 'powerOff'
  | 'saveState'
  | 'discardState'
  | 'delete'
  | 'modifyHardware'
  | 'takeSnapshot'
  | 'restoreSnapshot'
  | 'deleteSnapshot'
  | 'screenshot'
  | 'console';

/** Which operations each state admits. */
const ALLOWED: Readonly<Record<VmState, readonly VmOperation[]>> = {
  poweredOff: ['start', 'delete', 'modifyHardware', 'takeSnapshot', 'restoreSnapshot', 'deleteSnapshot'],
  starting: ['powerOff', 'console'],
  running: ['pause', 'reset', 'shutdown', 'powerOff', 'saveState', 'screenshot', 'console', 'takeSnapshot', 'restoreSnapshot', 'deleteSnapshot'],
  paused: ['resume', 'reset', 'powerOff', 'saveState', 'screenshot', 'console', 'takeSnapshot', 'restoreSnapshot', 'deleteSnapshot'],
  saving: ['console'],
  saved: ['start', 'discardState', 'delete', 'restoreSnapshot', 'deleteSnapshot'],
  stopping: ['powerOff', 'screenshot', 'console', 'shutdown'],
  aborted: ['start', 'delete', 'modifyHardware', 'takeSnapshot', 'restoreSnapshot', 'deleteSnapshot'],
};

export function isAllowed(state: VmState, op: VmOperation): boolean {
  return ALLOWED[state].includes(op);
}

export function allowedOperations(state: VmState): readonly VmOperation[] {
  return ALLOWED[state];
}

/** True while a QEMU process belongs to the VM. */
export function isActive(state: VmState): boolean {
  return state === 'starting' || state === 'running' || state === 'paused' || state === 'saving' || state === 'stopping';
}

export type LifecycleEvent =
  | { readonly type: 'startRequested' }
  | { readonly type: 'started'; readonly paused: boolean }
  | { readonly type: 'startFailed'; readonly previous: VmState }
  | { readonly type: 'guestStopped' }
  | { readonly type: 'guestResumed' }
  | { readonly type: 'shutdownRequested' }
  | { readonly type: 'shutdownTimedOut'; readonly paused: boolean }
  | { readonly type: 'saveRequested' }
  | { readonly type: 'saveCompleted' }
  | { readonly type: 'saveFailed'; readonly paused: boolean }
  | { readonly type: 'stateDiscarded' }
  | { readonly type: 'snapshotStateRestored' }
  | { readonly type: 'exited' }
  | { readonly type: 'crashed' };

export class TransitionError extends Error {
  constructor(
    readonly from: VmState,
    readonly event: LifecycleEvent['type'],
  ) {
    super(`cannot handle '${event}' while the VM is ${describeState(from)}`);
    this.name = 'TransitionError';
  }
}

/** Pure reducer: the next state, or a TransitionError when the event makes no sense now. */
export function transition(from: VmState, ev: LifecycleEvent): VmState {
  const fail = (): never => {
    throw new TransitionError(from, ev.type);
  };
  switch (ev.type) {
    case 'startRequested':
      return from === 'poweredOff' || from === 'saved' || from === 'aborted' ? 'starting' : fail();
    case 'started':
      return from === 'starting' ? (ev.paused ? 'paused' : 'running') : fail();
    case 'startFailed':
      // Back to where the start came from: a saved state that failed to load stays saved.
      if (from !== 'starting') return fail();
      return ev.previous === 'saved' || ev.previous === 'aborted' ? ev.previous : 'poweredOff';
    case 'guestStopped':
      // QEMU also stops the guest while saving; that pause is part of 'saving'.
      if (from === 'running') return 'paused';
      return from === 'paused' || from === 'saving' || from === 'stopping' || from === 'starting' ? from : fail();
    case 'guestResumed':
      if (from === 'paused') return 'running';
      return from === 'running' || from === 'saving' || from === 'stopping' || from === 'starting' ? from : fail();
    case 'shutdownRequested':
      return from === 'running' || from === 'stopping' ? 'stopping' : fail();
    case 'shutdownTimedOut':
      return from === 'stopping' ? (ev.paused ? 'paused' : 'running') : fail();
    case 'saveRequested':
      return from === 'running' || from === 'paused' ? 'saving' : fail();
    case 'saveCompleted':
      return from === 'saving' ? 'saved' : fail();
    case 'saveFailed':
      return from === 'saving' ? (ev.paused ? 'paused' : 'running') : fail();
    case 'stateDiscarded':
      return from === 'saved' ? 'poweredOff' : fail();
    case 'snapshotStateRestored':
      // A snapshot with RAM restored while powered off: the VM resumes from it on start.
      return from === 'poweredOff' || from === 'aborted' || from === 'saved' ? 'saved' : fail();
    case 'exited':
      // A saved VM's QEMU exits after the state is written; it stays saved.
      if (from === 'saved') return 'saved';
      return isActive(from) ? 'poweredOff' : fail();
    case 'crashed':
      return isActive(from) ? 'aborted' : fail();
    default: {
      const never: never = ev;
      throw new Error(`unknown lifecycle event ${JSON.stringify(never)}`);
    }
  }
}

export function describeState(s: VmState): string {
  switch (s) {
    case 'poweredOff':
      return 'powered off';
    case 'starting':
      return 'starting';
    case 'running':
      return 'running';
    case 'paused':
      return 'paused';
    case 'saving':
      return 'saving its state';
    case 'saved':
      return 'saved';
    case 'stopping':
      return 'shutting down';
    case 'aborted':
      return 'aborted';
    default: {
      const never: never = s;
      return String(never);
    }
  }
}
