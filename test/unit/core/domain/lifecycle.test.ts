import { describe, expect, it } from 'vitest';
import {
  TransitionError,
  VM_STATES,
  allowedOperations,
  describeState,
  isActive,
  isAllowed,
  transition,
} from '../../../../src/core/domain/lifecycle';
import type { LifecycleEvent, VmOperation, VmState } from '../../../../src/core/domain/lifecycle';

/** Every event shape, with each boolean/enum payload variant. */
const EVENTS: readonly LifecycleEvent[] = [
  { type: 'startRequested' },
  { type: 'started', paused: false },
  { type: 'started', paused: true },
  ...VM_STATES.map((previous): LifecycleEvent => ({ type: 'startFailed', previous })),
  { type: 'guestStopped' },
  { type: 'guestResumed' },
  { type: 'shutdownRequested' },
  { type: 'shutdownTimedOut', paused: false },
  { type: 'shutdownTimedOut', paused: true },
  { type: 'saveRequested' },
  { type: 'saveCompleted' },
  { type: 'saveFailed', paused: false },
  { type: 'saveFailed', paused: true },
  { type: 'stateDiscarded' },
  { type: 'exited' },
  { type: 'crashed' },
];

const ACTIVE: readonly VmState[] = ['starting', 'running', 'paused', 'saving', 'stopping'];
const INACTIVE: readonly VmState[] = ['poweredOff', 'saved', 'aborted'];

const ALL_OPERATIONS: readonly VmOperation[] = [
  'start', 'pause', 'resume', 'reset', 'shutdown', 'powerOff', 'saveState', 'discardState', 'delete',
  'modifyHardware', 'screenshot', 'console',
];

/** Applies events in order, returning every state visited (including the first). */
function run(from: VmState, events: readonly LifecycleEvent[]): VmState[] {
  const seen = [from];
  let s = from;
  for (const ev of events) {
    s = transition(s, ev);
    seen.push(s);
  }
  return seen;
}

function transitionError(from: VmState, ev: LifecycleEvent): TransitionError {
  try {
    transition(from, ev);
  } catch (err) {
    expect(err).toBeInstanceOf(TransitionError);
    return err as TransitionError;
  }
  throw new Error(`'${ev.type}' from ${from} was accepted`);
}

describe('transition: happy paths', () => {
  it('start, pause, resume, shut down', () => {
    expect(
      run('poweredOff', [
        { type: 'startRequested' },
        { type: 'started', paused: false },
        { type: 'guestStopped' },
        { type: 'guestResumed' },
        { type: 'shutdownRequested' },
        { type: 'exited' },
      ]),
    ).toEqual(['poweredOff', 'starting', 'running', 'paused', 'running', 'stopping', 'poweredOff']);
  });

  it('save state, then start from the saved state', () => {
    expect(
      run('running', [
        { type: 'saveRequested' },
        { type: 'saveCompleted' },
        { type: 'exited' },
        { type: 'startRequested' },
        { type: 'started', paused: false },
      ]),
    ).toEqual(['running', 'saving', 'saved', 'saved', 'starting', 'running']);
  });

  it('save state from paused, and a failed save returns to where it was', () => {
    expect(transition('paused', { type: 'saveRequested' })).toBe('saving');
    expect(transition('saving', { type: 'saveFailed', paused: true })).toBe('paused');
    expect(transition('saving', { type: 'saveFailed', paused: false })).toBe('running');
  });

  it('a start that QEMU reports as paused lands in paused', () => {
    expect(transition('starting', { type: 'started', paused: true })).toBe('paused');
  });

  it('discarding a saved state powers the VM off', () => {
    expect(transition('saved', { type: 'stateDiscarded' })).toBe('poweredOff');
  });

  it('a shutdown that times out goes back to running or paused', () => {
    expect(transition('stopping', { type: 'shutdownTimedOut', paused: false })).toBe('running');
    expect(transition('stopping', { type: 'shutdownTimedOut', paused: true })).toBe('paused');
  });

  it('asking for shutdown again while stopping stays stopping', () => {
    expect(transition('stopping', { type: 'shutdownRequested' })).toBe('stopping');
  });

  it('an aborted VM can be started again', () => {
    expect(run('aborted', [{ type: 'startRequested' }, { type: 'started', paused: false }])).toEqual(['aborted', 'starting', 'running']);
  });

  it.each(ACTIVE)('a QEMU exit while %s powers off', (from) => {
    expect(transition(from, { type: 'exited' })).toBe('poweredOff');
  });
});

describe('transition: crashes', () => {
  it.each(ACTIVE)('a crash while %s aborts the VM', (from) => {
    expect(transition(from, { type: 'crashed' })).toBe('aborted');
  });

  it.each(INACTIVE)('a crash while %s is an error (no QEMU to crash)', (from) => {
    transitionError(from, { type: 'crashed' });
  });
});

describe('transition: startFailed returns to where the start came from', () => {
  it('a saved state that fails to load stays saved', () => {
    expect(run('saved', [{ type: 'startRequested' }, { type: 'startFailed', previous: 'saved' }])).toEqual(['saved', 'starting', 'saved']);
  });

  it('an aborted VM that fails to start stays aborted', () => {
    expect(run('aborted', [{ type: 'startRequested' }, { type: 'startFailed', previous: 'aborted' }])).toEqual(['aborted', 'starting', 'aborted']);
  });

  it('a powered-off VM that fails to start is powered off', () => {
    expect(run('poweredOff', [{ type: 'startRequested' }, { type: 'startFailed', previous: 'poweredOff' }])).toEqual([
      'poweredOff',
      'starting',
      'poweredOff',
    ]);
  });

  it.each(['running', 'paused', 'saving', 'stopping', 'starting'] as const)('a nonsensical previous state (%s) falls back to poweredOff', (previous) => {
    expect(transition('starting', { type: 'startFailed', previous })).toBe('poweredOff');
  });

  it.each(VM_STATES.filter((s) => s !== 'starting'))('startFailed outside starting (%s) is an error', (from) => {
    transitionError(from, { type: 'startFailed', previous: 'poweredOff' });
  });
});

describe('transition: QEMU stop/resume events that belong to another phase', () => {
  it('guestStopped while saving stays saving (QEMU pauses the guest to save it)', () => {
    expect(transition('saving', { type: 'guestStopped' })).toBe('saving');
  });

  it('guestResumed while saving stays saving', () => {
    expect(transition('saving', { type: 'guestResumed' })).toBe('saving');
  });

  it('exited while saved stays saved (QEMU quits after writing the state)', () => {
    expect(transition('saved', { type: 'exited' })).toBe('saved');
  });

  it.each(['starting', 'stopping', 'paused'] as const)('guestStopped while %s keeps the state', (from) => {
    expect(transition(from, { type: 'guestStopped' })).toBe(from);
  });

  it.each(['starting', 'stopping', 'running'] as const)('guestResumed while %s keeps the state', (from) => {
    expect(transition(from, { type: 'guestResumed' })).toBe(from);
  });
});

describe('transition: invalid transitions', () => {
  it.each<[VmState, LifecycleEvent]>([
    ['running', { type: 'startRequested' }],
    ['starting', { type: 'startRequested' }],
    ['poweredOff', { type: 'started', paused: false }],
    ['poweredOff', { type: 'guestStopped' }],
    ['saved', { type: 'guestResumed' }],
    ['poweredOff', { type: 'shutdownRequested' }],
    ['paused', { type: 'shutdownRequested' }],
    ['running', { type: 'shutdownTimedOut', paused: false }],
    ['saved', { type: 'saveRequested' }],
    ['stopping', { type: 'saveRequested' }],
    ['running', { type: 'saveCompleted' }],
    ['paused', { type: 'saveFailed', paused: true }],
    ['poweredOff', { type: 'stateDiscarded' }],
    ['running', { type: 'stateDiscarded' }],
    ['poweredOff', { type: 'exited' }],
    ['aborted', { type: 'exited' }],
  ])('%s + %j throws TransitionError', (from, ev) => {
    const err = transitionError(from, ev);
    expect(err.from).toBe(from);
    expect(err.event).toBe(ev.type);
    expect(err.name).toBe('TransitionError');
    expect(err.message).toBe(`cannot handle '${ev.type}' while the VM is ${describeState(from)}`);
  });
});

describe('transition: exhaustive', () => {
  it('every state × every event either throws TransitionError or returns a known state', () => {
    let accepted = 0;
    let refused = 0;
    for (const from of VM_STATES) {
      for (const ev of EVENTS) {
        let next: VmState | undefined;
        try {
          next = transition(from, ev);
        } catch (err) {
          expect(err, `${from} + ${ev.type}`).toBeInstanceOf(TransitionError);
          refused++;
          continue;
        }
        expect(VM_STATES, `${from} + ${JSON.stringify(ev)} → ${String(next)}`).toContain(next);
        accepted++;
      }
    }
    expect(accepted + refused).toBe(VM_STATES.length * EVENTS.length);
    // Both kinds of outcome really occur: the check is not vacuous.
    expect(accepted).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(20);
  });

  it('the reducer is pure: the same input always gives the same outcome', () => {
    for (const from of VM_STATES) {
      for (const ev of EVENTS) {
        const outcome = (): string => {
          try {
            return transition(from, ev);
          } catch (err) {
            return `error:${(err as Error).message}`;
          }
        };
        expect(outcome()).toBe(outcome());
      }
    }
  });

  it('only inactive states can be left by startRequested, and only active ones by crashed', () => {
    for (const from of VM_STATES) {
      const canStart = (() => {
        try {
          transition(from, { type: 'startRequested' });
          return true;
        } catch {
          return false;
        }
      })();
      expect(canStart, from).toBe(!isActive(from));
      const canCrash = (() => {
        try {
          return transition(from, { type: 'crashed' }) === 'aborted';
        } catch {
          return false;
        }
      })();
      expect(canCrash, from).toBe(isActive(from));
    }
  });

  it('every state is reachable from poweredOff', () => {
    const reached = new Set<VmState>(['poweredOff']);
    const queue: VmState[] = ['poweredOff'];
    while (queue.length) {
      const s = queue.shift()!;
      for (const ev of EVENTS) {
        try {
          const n = transition(s, ev);
          if (!reached.has(n)) {
            reached.add(n);
            queue.push(n);
          }
        } catch {
          // not allowed from here
        }
      }
    }
    expect([...reached].sort()).toEqual([...VM_STATES].sort());
  });
});

describe('isAllowed / allowedOperations', () => {
  it.each<[VmState, VmOperation[]]>([
    ['poweredOff', ['start', 'delete', 'modifyHardware', 'takeSnapshot', 'restoreSnapshot', 'deleteSnapshot']],
    ['starting', ['powerOff', 'console']],
    ['running', ['pause', 'reset', 'shutdown', 'powerOff', 'saveState', 'screenshot', 'console', 'takeSnapshot', 'restoreSnapshot', 'deleteSnapshot']],
    ['paused', ['resume', 'reset', 'powerOff', 'saveState', 'screenshot', 'console', 'takeSnapshot', 'restoreSnapshot', 'deleteSnapshot']],
    ['saving', ['console']],
    ['saved', ['start', 'discardState', 'delete', 'restoreSnapshot', 'deleteSnapshot']],
    ['stopping', ['powerOff', 'screenshot', 'console', 'shutdown']],
    ['aborted', ['start', 'delete', 'modifyHardware', 'takeSnapshot', 'restoreSnapshot', 'deleteSnapshot']],
  ])('%s admits exactly %j', (state, ops) => {
    for (const op of ALL_OPERATIONS) expect(isAllowed(state, op), `${state}/${op}`).toBe(ops.includes(op));
    expect([...allowedOperations(state)].sort()).toEqual([...ops].sort());
  });

  it('hardware can only be changed and the VM deleted while no QEMU runs', () => {
    for (const s of VM_STATES) {
      if (isActive(s)) {
        expect(isAllowed(s, 'modifyHardware'), s).toBe(false);
        expect(isAllowed(s, 'delete'), s).toBe(false);
      }
    }
  });

  it('an allowed start is accepted by the state machine, and a refused one is refused', () => {
    for (const s of VM_STATES) {
      let ok = true;
      try {
        transition(s, { type: 'startRequested' });
      } catch {
        ok = false;
      }
      expect(ok, s).toBe(isAllowed(s, 'start'));
    }
  });

  it('saveState is allowed exactly where saveRequested is accepted', () => {
    for (const s of VM_STATES) {
      let ok = true;
      try {
        transition(s, { type: 'saveRequested' });
      } catch {
        ok = false;
      }
      expect(ok, s).toBe(isAllowed(s, 'saveState'));
    }
  });
});

describe('isActive / describeState', () => {
  it('marks exactly the states with a QEMU process as active', () => {
    expect(VM_STATES.filter(isActive).sort()).toEqual([...ACTIVE].sort());
  });

  it('describes every state in words', () => {
    expect(describeState('poweredOff')).toBe('powered off');
    expect(describeState('saving')).toBe('saving its state');
    expect(describeState('stopping')).toBe('shutting down');
    for (const s of VM_STATES) expect(describeState(s)).toMatch(/^[a-z ]+$/);
  });
});
