import { describe, expect, it, vi } from 'vitest';
import { VM_STATES, type VmState } from '../../../src/core/domain/lifecycle';
import { planQuit, QUIT_BUTTONS, vmsNeedingDecision, type QuitChoice, type RunningVm } from '../../../src/main/quit';

type Answer = { choice: QuitChoice; applyToAll: boolean };

/** An `ask` that plays back answers in order and records who it was asked about. */
function asker(...answers: Answer[]) {
  const asked: { vm: string; remaining: number }[] = [];
  const ask = vi.fn(async (vm: RunningVm, remaining: number): Promise<Answer> => {
    asked.push({ vm: vm.name, remaining });
    const a = answers.shift();
    if (!a) throw new Error(`asked about ${vm.name} but no answer was scripted`);
    return a;
  });
  return { ask, asked };
}

const vm = (name: string, state: string): RunningVm => ({ name, state });
const once = (choice: QuitChoice): Answer => ({ choice, applyToAll: false });
const forAll = (choice: QuitChoice): Answer => ({ choice, applyToAll: true });

describe('planQuit', () => {
  it('quits with no actions and never asks when nothing runs', async () => {
    const { ask } = asker();
    expect(await planQuit([], ask)).toEqual({ quit: true, actions: [] });
    expect(await planQuit([vm('a', 'poweredOff'), vm('b', 'saved')], ask)).toEqual({ quit: true, actions: [] });
    expect(ask).not.toHaveBeenCalled();
  });

  it.each([
    ['keep', []],
    ['save', [{ vm: 'web', method: 'vms.saveState' }]],
    ['shutdown', [{ vm: 'web', method: 'vms.shutdown' }]],
    ['powerOff', [{ vm: 'web', method: 'vms.powerOff' }]],
  ] as const)('maps %s on a running VM to %j', async (choice, actions) => {
    const { ask } = asker(once(choice));
    expect(await planQuit([vm('web', 'running')], ask)).toEqual({ quit: true, actions });
  });

  it('asks about each running VM in order, telling how many are left', async () => {
    const { ask, asked } = asker(once('save'), once('keep'), once('powerOff'));
    const plan = await planQuit([vm('a', 'running'), vm('off', 'poweredOff'), vm('b', 'running'), vm('c', 'paused')], ask);
    expect(asked).toEqual([
      { vm: 'a', remaining: 2 },
      { vm: 'b', remaining: 1 },
      { vm: 'c', remaining: 0 },
    ]);
    expect(plan).toEqual({
      quit: true,
      actions: [
        { vm: 'a', method: 'vms.saveState' },
        { vm: 'c', method: 'vms.powerOff' },
      ],
    });
  });

  it('reuses an apply-to-all answer for the rest and stops asking', async () => {
    const { ask, asked } = asker(once('keep'), forAll('shutdown'));
    const plan = await planQuit([vm('a', 'running'), vm('b', 'running'), vm('c', 'running'), vm('d', 'running')], ask);
    expect(asked.map((a) => a.vm)).toEqual(['a', 'b']);
    expect(plan).toEqual({
      quit: true,
      actions: [
        { vm: 'b', method: 'vms.shutdown' },
        { vm: 'c', method: 'vms.shutdown' },
        { vm: 'd', method: 'vms.shutdown' },
      ],
    });
  });

  it('still adapts an apply-to-all answer to each VM state', async () => {
    const { ask } = asker(forAll('shutdown'));
    const plan = await planQuit([vm('a', 'running'), vm('b', 'paused'), vm('c', 'starting')], ask);
    expect(plan.actions).toEqual([
      { vm: 'a', method: 'vms.shutdown' },
      { vm: 'b', method: 'vms.powerOff' },
      { vm: 'c', method: 'vms.powerOff' },
    ]);
  });

  it('cancels the whole quit, dropping earlier answers, when cancel comes last', async () => {
    const { ask } = asker(once('save'), once('powerOff'), once('cancel'));
    expect(await planQuit([vm('a', 'running'), vm('b', 'running'), vm('c', 'running')], ask)).toEqual({ quit: false, actions: [] });
  });

  it('cancels at the first VM without asking about the others', async () => {
    const { ask } = asker(once('cancel'));
    expect(await planQuit([vm('a', 'running'), vm('b', 'running')], ask)).toEqual({ quit: false, actions: [] });
    expect(ask).toHaveBeenCalledTimes(1);
  });

  it('cancel with apply-to-all cancels too', async () => {
    const { ask } = asker(forAll('cancel'));
    expect(await planQuit([vm('a', 'running'), vm('b', 'running')], ask)).toEqual({ quit: false, actions: [] });
    expect(ask).toHaveBeenCalledTimes(1);
  });

  it('powers off a paused VM asked to shut down (a paused guest cannot react to ACPI)', async () => {
    const { ask } = asker(once('shutdown'));
    expect((await planQuit([vm('p', 'paused')], ask)).actions).toEqual([{ vm: 'p', method: 'vms.powerOff' }]);
  });

  it('saves the state of a paused VM', async () => {
    const { ask } = asker(once('save'));
    expect((await planQuit([vm('p', 'paused')], ask)).actions).toEqual([{ vm: 'p', method: 'vms.saveState' }]);
  });

  it.each(['saving', 'starting', 'stopping'])('powers off a %s VM asked to save (it cannot be saved now)', async (state) => {
    const { ask } = asker(once('save'));
    expect((await planQuit([vm('t', state)], ask)).actions).toEqual([{ vm: 't', method: 'vms.powerOff' }]);
  });

  it.each(['saving', 'starting', 'stopping'])('powers off a %s VM asked to shut down', async (state) => {
    const { ask } = asker(once('shutdown'));
    expect((await planQuit([vm('t', state)], ask)).actions).toEqual([{ vm: 't', method: 'vms.powerOff' }]);
  });

  it('never asks about powered-off or saved VMs, even between running ones', async () => {
    const { ask, asked } = asker(once('keep'), once('keep'));
    await planQuit([vm('off', 'poweredOff'), vm('a', 'running'), vm('sv', 'saved'), vm('b', 'running'), vm('off2', 'poweredOff')], ask);
    expect(asked.map((a) => a.vm)).toEqual(['a', 'b']);
  });

  it('never produces an action for a VM it did not ask about', async () => {
    const { ask } = asker(forAll('powerOff'));
    const plan = await planQuit([vm('off', 'poweredOff'), vm('a', 'running'), vm('sv', 'saved')], ask);
    expect(plan.actions).toEqual([{ vm: 'a', method: 'vms.powerOff' }]);
  });

  it('passes an error from ask through (the caller decides)', async () => {
    const ask = vi.fn(async () => {
      throw new Error('dialog failed');
    });
    await expect(planQuit([vm('a', 'running')], ask)).rejects.toThrow('dialog failed');
  });
});

describe('vmsNeedingDecision', () => {
  it('selects exactly the states in which a guest is alive', () => {
    // Every lifecycle state is classified here, so a new state must be placed deliberately.
    const alive = new Set<VmState>(['starting', 'running', 'paused', 'saving', 'stopping']);
    const idle = new Set<VmState>(['poweredOff', 'saved', 'aborted']);
    for (const s of VM_STATES) expect(alive.has(s) !== idle.has(s), `state ${s} is classified once`).toBe(true);
    const picked = vmsNeedingDecision(VM_STATES.map((s) => vm(s, s))).map((v) => v.state);
    expect(new Set(picked)).toEqual(alive);
  });
});

describe('QUIT_BUTTONS', () => {
  it('offers every choice once, with cancel last (the dialog uses it as cancelId)', () => {
    expect(QUIT_BUTTONS.map((b) => b.choice)).toEqual(['keep', 'save', 'shutdown', 'powerOff', 'cancel']);
    expect(new Set(QUIT_BUTTONS.map((b) => b.label)).size).toBe(QUIT_BUTTONS.length);
  });
});
