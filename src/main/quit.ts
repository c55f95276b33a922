/**
 * What to do with running VMs when the app quits, as VirtualBox's close dialog asks: keep
 * running in the background, save state, ACPI shutdown, or power off. Never kill silently.
 */
export type QuitChoice = 'keep' | 'save' | 'shutdown' | 'powerOff' | 'cancel';

export const QUIT_BUTTONS: readonly { readonly choice: QuitChoice; readonly label: string }[] = [
  { choice: 'keep', label: 'Keep running in the background' },
  { choice: 'save', label: 'Save the machine state' },
  { choice: 'shutdown', label: 'Send the shutdown signal' },
  { choice: 'powerOff', label: 'Power off the machine' },
  { choice: 'cancel', label: 'Cancel' },
];

export interface RunningVm {
  readonly name: string;
  readonly state: string;
}

export interface QuitAction {
  readonly vm: string;
  readonly method: 'vms.saveState' | 'vms.shutdown' | 'vms.powerOff';
}

export interface QuitPlan {
  readonly quit: boolean;
  readonly actions: readonly QuitAction[];
}

/** VMs the quit dialog must ask about. */
export function vmsNeedingDecision(vms: readonly RunningVm[]): RunningVm[] {
  return vms.filter((v) => ['running', 'paused', 'starting', 'stopping', 'saving'].includes(v.state));
}

/**
 * Turns the answers into actions. `ask` is called per VM (in order) and may return
 * `applyToAll` to reuse its answer for the rest. Cancel anywhere cancels the quit.
 */
export async function planQuit(
  vms: readonly RunningVm[],
  ask: (vm: RunningVm, remaining: number) => Promise<{ choice: QuitChoice; applyToAll: boolean }>,
): Promise<QuitPlan> {
  const pending = vmsNeedingDecision(vms);
  const actions: QuitAction[] = [];
  let sticky: QuitChoice | null = null;
  for (let i = 0; i < pending.length; i++) {
    const vm = pending[i]!;
    let choice: QuitChoice;
    if (sticky) choice = sticky;
    else {
      const answer = await ask(vm, pending.length - i - 1);
      choice = answer.choice;
      if (answer.applyToAll) sticky = choice;
    }
    switch (choice) {
      case 'cancel':
        return { quit: false, actions: [] };
      case 'keep':
        break;
      case 'save':
        // A VM that is saving or starting cannot be saved again; shutting it down is the safe path.
        actions.push({ vm: vm.name, method: vm.state === 'running' || vm.state === 'paused' ? 'vms.saveState' : 'vms.powerOff' });
        break;
      case 'shutdown':
        actions.push({ vm: vm.name, method: vm.state === 'running' ? 'vms.shutdown' : 'vms.powerOff' });
        break;
      case 'powerOff':
        actions.push({ vm: vm.name, method: 'vms.powerOff' });
        break;
      default: {
        const never: never = choice;
        throw new Error(`unknown quit choice ${String(never)}`);
      }
    }
  }
  return { quit: true, actions };
}
