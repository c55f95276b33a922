/** Lifecycle: start, pause, resume, reset, shut down, power off, save and discard state. */
import { describeState } from '../../core/domain/lifecycle';
import { type AnyCommand, command, type CommandGroup, req } from '../command';
import { intOpt, out, warn } from '../format';

type SimpleMethod = 'vms.start' | 'vms.pause' | 'vms.resume' | 'vms.reset' | 'vms.powerOff' | 'vms.saveState' | 'vms.discardState';

/** A command that calls one method on one VM and prints the state it ends in. */
function simple(name: string, method: SimpleMethod, summary: string): AnyCommand {
  return command({
    name,
    args: [req('NAME')],
    options: {},
    summary,
    async handler(ctx, [ref]) {
      const r = await (await ctx.client()).call(method, { ref });
      warn(r);
      out(`'${r.vm.name}' is ${describeState(r.vm.state)}`);
    },
  });
}

const shutdown = command({
  name: 'shutdown',
  args: [req('NAME')],
  options: { timeout: { type: 'string', value: 'S', help: 'seconds to wait for the guest (default 60)' } },
  summary: 'ACPI power button; waits until the guest is off',
  async handler(ctx, [ref], o) {
    const timeoutS = intOpt(o.timeout, '--timeout') ?? 60;
    const r = await (await ctx.client()).call('vms.shutdown', { ref, timeoutS });
    out(`'${r.vm.name}' is ${describeState(r.vm.state)}`);
  },
});

export const lifecycleCommands: CommandGroup = {
  name: 'lifecycle',
  title: 'Lifecycle',
  commands: [
    simple('start', 'vms.start', 'start (or resume from its saved state)'),
    simple('pause', 'vms.pause', 'pause the guest'),
    simple('resume', 'vms.resume', 'resume a paused guest'),
    simple('reset', 'vms.reset', 'hard reset'),
    shutdown,
    simple('poweroff', 'vms.powerOff', 'pull the plug'),
    simple('savestate', 'vms.saveState', 'save the machine state and stop'),
    simple('discardstate', 'vms.discardState', 'forget the saved state'),
  ],
};
