/**
 * The clipboard channel of a running VM, on a QEMU that cannot migrate it (qemu/vdagent.ts
 * decides which and holds the QMP sequences). Like the freeze around live snapshots
 * (quiesce.ts) and the refusal while shared (shares.ts), the services call one function at
 * each point:
 * - `plugClipboard` once QEMU runs and its memory is loaded (a cold boot, a resume from a
 *   saved state or a snapshot, a restore) and when a core re-attaches to a running QEMU;
 * - `withClipboardUnplugged` around everything that writes the VM's memory (live snapshots,
 *   snapshot-save and snapshot-load, Save state): unplugged first, plugged back afterwards
 *   however the operation ended, unless QEMU is gone (Save state ends it).
 * A VM whose channel cannot be plugged runs on without a clipboard (logged); one whose
 * channel cannot be unplugged is not saved (QEMU would refuse anyway), and nothing is written.
 */
import { NestboxError } from '../api/errors';
import type { VmConfig } from '../domain/config';
import { wantsClipboard } from '../qemu/argv';
import type { QemuProcess } from '../qemu/supervisor';
import { clipboardWiring, plugVdagent, unplugVdagent } from '../qemu/vdagent';
import type { VmRow } from '../store/db';
import type { VmRegistry } from './vmregistry';

/** Whether the core plugs this VM's clipboard channel itself (clipboard on, a display, a QEMU before 8.1). */
export function hotplugsClipboard(reg: VmRegistry, config: Pick<VmConfig, 'display' | 'clipboard'>): boolean {
  const qemu = reg.d.host.qemu;
  return qemu !== null && wantsClipboard(config) && clipboardWiring(qemu) === 'hotplug';
}

/** Plugs the channel into a running QEMU when the core is the one to do it; never throws. */
export async function plugClipboard(reg: VmRegistry, row: VmRow, proc: QemuProcess): Promise<void> {
  if (!hotplugsClipboard(reg, row.config) || proc.exited) return;
  try {
    await plugVdagent(proc.qmp);
  } catch (err) {
    reg.log(row.uuid, 'warning', 'clipboard', `'${row.name}' runs without its clipboard channel: it could not be plugged (${(err as Error).message})`);
  }
}

/**
 * Runs `fn` (which saves or loads the VM's memory) with the channel unplugged, and plugs it
 * back afterwards if it was there, after a failure too. `what` names the operation for an
 * unplug that fails ("take a live snapshot of").
 */
export async function withClipboardUnplugged<T>(reg: VmRegistry, row: VmRow, proc: QemuProcess, what: string, fn: () => Promise<T>): Promise<T> {
  if (reg.d.host.qemu === null || clipboardWiring(reg.d.host.qemu) !== 'hotplug') return fn();
  let had: boolean;
  try {
    had = await unplugVdagent(proc.qmp);
  } catch (err) {
    // Whatever half of it went, the channel comes back; nothing was saved.
    await plugBack(reg, row, proc);
    throw new NestboxError('QEMU_FAILED', `cannot ${what} '${row.name}': its clipboard channel, which QEMU cannot save, could not be unplugged (${(err as Error).message}); nothing was saved`);
  }
  try {
    return await fn();
  } finally {
    if (had) await plugBack(reg, row, proc);
  }
}

async function plugBack(reg: VmRegistry, row: VmRow, proc: QemuProcess): Promise<void> {
  if (proc.exited) return;
  try {
    await plugVdagent(proc.qmp);
  } catch (err) {
    if (!proc.exited) reg.log(row.uuid, 'warning', 'clipboard', `the clipboard channel of '${row.name}' could not be plugged back (${(err as Error).message}); it returns at the next start`);
  }
}
