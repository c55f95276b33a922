/**
 * Saved states: Save state writes a running VM's RAM and devices to a file and ends QEMU
 * (like VirtualBox), a start feeds the file back in, Discard forgets it. Saving and loading
 * run as jobs of the VM (listed, cancellable while saving, one at a time per VM).
 */
import { withClipboardUnplugged } from './clipboard';
import { refuseWhileShared } from './shares';
import fs from 'node:fs';
import type { OpResult } from '../api/contract';
import { NestboxError } from '../api/errors';
import { formatBytes } from '../domain/units';
import { qemuCommands } from '../qemu/commands';
import { loadStateFromFile, saveStateToFile } from '../qemu/migration';
import type { QemuProcess } from '../qemu/supervisor';
import type { VmRepository, VmRow } from '../store/db';
import { vmFiles } from '../store/paths';
import type { VmRegistry } from './vmregistry';

export interface StateFileDeps {
  readonly reg: VmRegistry;
  readonly vms: VmRepository;
  /** How fast saved states may be written, in bytes per second (null: no limit). */
  readonly stateBandwidth?: () => number | null;
}

export class StateFiles {
  constructor(private readonly d: StateFileDeps) {}

  /**
   * Saves the machine state like VirtualBox: pause, stream RAM and device state through a
   * unix socket the core serves (QEMU 7.2 has no file: URI, and the sandbox forbids exec:),
   * then end QEMU. On failure the guest is resumed: it is never left paused by mistake.
   * The guest's file systems are not frozen for it (as a live snapshot's are, quiesce.ts): a
   * saved state keeps no copy of the disks, the guest resumes onto the very disks it left, so
   * its RAM and disks always agree; and a freeze would be saved with the RAM, so the guest
   * would resume frozen. The guest is paused first, so its agent could not answer anyway.
   */
  async saveState(ref: string): Promise<OpResult> {
    const reg = this.d.reg;
    const row = reg.resolve(ref);
    reg.jobs.assertIdle(reg.ref(row));
    reg.require(row, 'saveState', 'save the state of');
    refuseWhileShared(reg, row, 'save the state of');
    const { proc } = reg.proc(row);
    const wasPaused = row.state === 'paused';
    const job = reg.jobs.begin(reg.ref(row), { kind: 'saveState', title: `Saving the state of '${row.name}'`, label: 'save state' });
    try {
      reg.apply(row.uuid, { type: 'saveRequested' });
    } catch (err) {
      job.fail(err);
      job.end();
      throw err;
    }
    const files = vmFiles(row.dir);
    const qemu = qemuCommands(proc.qmp);
    try {
      // The clipboard channel goes first and comes back on failure (clipboard.ts); a saved QEMU ends without it.
      const size = await withClipboardUnplugged(reg, row, proc, 'save the state of', async () => {
        if (!wasPaused) await qemu.stop();
        const n = await saveStateToFile(proc.qmp, proc.runDir, files.savedState, {
          signal: job.signal,
          bandwidth: this.d.stateBandwidth?.() ?? null,
          onProgress: (p) => job.progress(p.percent, { done: p.bytesDone, total: p.bytesTotal }),
        });
        reg.apply(row.uuid, { type: 'saveCompleted' });
        await proc.terminate(5000);
        return n;
      });
      reg.log(row.uuid, 'info', 'saved', `saved the state of '${row.name}' (${formatBytes(size)})`);
      return reg.result(row.uuid);
    } catch (err) {
      job.fail(err);
      const cur = this.d.vms.get(row.uuid);
      if (cur?.state === 'saving') {
        if (!wasPaused && !proc.exited) await qemu.cont().catch(() => undefined);
        reg.apply(row.uuid, { type: 'saveFailed', paused: wasPaused });
      }
      const e = NestboxError.from(err, 'QEMU_FAILED');
      if (e.code === 'CANCELLED') {
        reg.log(row.uuid, 'info', 'cancelled', `saving the state of '${row.name}' was cancelled`);
        throw new NestboxError('CANCELLED', `saving the state of '${row.name}' was cancelled; nothing was kept and '${row.name}' is ${wasPaused ? 'paused' : 'running'} as before`);
      }
      throw e;
    } finally {
      job.end();
    }
  }

  /**
   * Feeds a saved state (or a live snapshot's RAM) into a QEMU started with `-incoming defer`,
   * as a job of the VM (it cannot be stopped midway: the guest has no state until it ends).
   */
  async loadState(row: VmRow, proc: QemuProcess, file: string, what: string): Promise<void> {
    await this.d.reg.jobs.run(this.d.reg.ref(row), { kind: 'loadState', title: `Loading ${what} of '${row.name}'`, label: `loading ${what}`, cancellable: false }, async (job) => {
      await loadStateFromFile(proc, file, (pct) => job.progress(pct));
    });
  }

  async discardState(ref: string): Promise<OpResult> {
    const reg = this.d.reg;
    const row = reg.resolve(ref);
    reg.require(row, 'discardState', 'discard the saved state of');
    reg.jobs.assertIdle(reg.ref(row));
    fs.rmSync(vmFiles(row.dir).savedState, { force: true });
    this.d.vms.setPendingLoadvm(row.uuid, null);
    reg.apply(row.uuid, { type: 'stateDiscarded' });
    reg.log(row.uuid, 'info', 'discarded', `discarded the saved state of '${row.name}'`);
    return reg.result(row.uuid);
  }
}
