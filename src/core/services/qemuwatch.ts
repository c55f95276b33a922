/**
 * What happens to a VM's QEMU besides the user's verbs: its QMP events and its exit (and
 * those of its swtpm and virtiofsd) drive the state machine, and an exit ends the run of an
 * unattended install (installs.ts); before a start after a crash its qcow2 disks are checked;
 * after a resume from saved memory the guest's clock is set. lifecycle.ts starts, stops and
 * re-attaches the processes and hands each one here to be watched; both work on the table
 * of running processes in the registry (vmregistry.ts).
 */
import { NestboxError } from '../api/errors';
import type { VmConfig } from '../domain/config';
import { isActive } from '../domain/lifecycle';
import { AGENT_PORT_ID, resolveDiskPath } from '../qemu/argv';
import { pidAlive, type ExitInfo } from '../qemu/supervisor';
import type { QemuImg } from '../storage/qemuimg';
import type { VmRepository, VmRow } from '../store/db';
import { Installs } from './installs';
import type { Running, VmRegistry } from './vmregistry';

export interface QemuWatchDeps {
  readonly reg: VmRegistry;
  readonly vms: VmRepository;
  readonly img: QemuImg | null;
}

export class QemuWatch {
  constructor(private readonly d: QemuWatchDeps) {}

  private get reg(): VmRegistry {
    return this.d.reg;
  }

  private get img(): QemuImg | null {
    return this.d.img;
  }

  /** Routes QMP events and QEMU's exit into the state machine. */
  watch(uuid: string, r: Running): void {
    const qmp = r.proc.qmp;
    qmp.onEvent((ev) => {
      const row = this.d.vms.get(uuid);
      if (!row) return;
      try {
        switch (ev.event) {
          case 'STOP':
            if (r.quiet > 0) break;
            this.reg.apply(uuid, { type: 'guestStopped' });
            break;
          case 'RESUME':
            if (r.quiet > 0) break;
            this.reg.apply(uuid, { type: 'guestResumed' });
            break;
          case 'RESET':
            this.reg.log(uuid, 'info', 'reset', `'${row.name}' was reset`);
            break;
          case 'SHUTDOWN':
            if (ev.data['guest'] === true) this.reg.log(uuid, 'info', 'guest-shutdown', `the guest of '${row.name}' shut down`);
            break;
          case 'VSERPORT_CHANGE':
            // qemu-ga opened its port (the guest booted, or the agent restarted): ask it now
            // rather than at the next slow poll of a silent agent.
            if (ev.data['id'] === AGENT_PORT_ID && ev.data['open'] === true) this.reg.guestOf(uuid, row.config)?.portOpened();
            break;
          case 'GUEST_PANICKED':
            this.reg.log(uuid, 'error', 'guest-panic', `the guest of '${row.name}' panicked`);
            break;
          default:
            break;
        }
      } catch {
        // An event that does not fit the current state (e.g. RESUME during a restore) is noise.
      }
    });
    r.proc.onExit((info) => this.onExit(uuid, r, info));
    r.tpm?.onExit((reason) => void this.onTpmExit(uuid, r, reason));
    // A share whose virtiofsd died is gone for the guest until the next start; the VM runs on.
    for (const p of r.virtiofsd ?? []) {
      p.onExit((reason) => {
        if (this.reg.running.get(uuid) === r && !r.proc.exited) this.reg.log(uuid, 'error', 'share', `shared folder '${p.tag}' is no longer served (${reason}); it comes back at the next start`);
      });
    }
  }

  /**
   * swtpm ends itself when QEMU closes its channel, so an exit is only a failure when QEMU
   * is still there a moment later: then the guest has lost its TPM, and the VM is ended and
   * marked aborted with swtpm's reason rather than left running with a dead device.
   */
  private async onTpmExit(uuid: string, r: Running, reason: string): Promise<void> {
    await new Promise((res) => setTimeout(res, 1500));
    if (r.proc.exited || !pidAlive(r.proc.pid) || this.reg.running.get(uuid) !== r) return;
    r.abortReason = `its TPM emulator (swtpm) stopped: ${reason}`;
    await r.proc.terminate(2000).catch(() => undefined);
  }

  private onExit(uuid: string, r: Running, info0: ExitInfo): void {
    const info: ExitInfo = r.abortReason ? { clean: false, reason: r.abortReason } : info0;
    if (this.reg.running.get(uuid) === r) this.reg.running.delete(uuid);
    // QEMU gone: its swtpm follows (it normally has already, on the closed channel).
    void r.tpm?.stop();
    for (const p of r.virtiofsd ?? []) void p.stop();
    if (r.resources?.length) this.reg.resources.drop(uuid);
    r.guest?.close();
    r.serial?.end(info.reason);
    const row = this.d.vms.get(uuid);
    if (!row) return;
    this.d.vms.clearRuntime(uuid);
    if (row.state === 'saved' || !isActive(row.state)) return;
    if (info.clean) {
      this.reg.apply(uuid, { type: 'exited' });
      this.reg.log(uuid, 'info', 'stopped', `'${row.name}' is powered off (${info.reason})`);
    } else {
      this.reg.apply(uuid, { type: 'crashed' }, info.reason);
      this.reg.log(uuid, 'error', 'aborted', `'${row.name}' aborted: ${info.reason}`);
    }
    this.finishInstall(uuid, info.reason);
  }

  /** Unattended installs end when the run that used the seed stops (installs.ts). */
  get installs(): Installs {
    this.installsSvc ??= new Installs(this.reg, this.d.vms);
    return this.installsSvc;
  }

  private installsSvc: Installs | null = null;

  /** Ends the VM's unattended install (its run stopped); a failure is logged, never thrown. */
  finishInstall(uuid: string, why: string): void {
    try {
      this.installs.finish(uuid, why);
    } catch (err) {
      this.reg.log(uuid, 'error', 'install-finished', `could not remove the unattended-install seed: ${(err as Error).message}; it is removed at the next start`);
    }
  }

  /**
   * A guest resumed from a saved state or snapshot runs with the clock it had then: the agent
   * sets it to the host's time (a few tries while the guest settles), after thawing its file
   * systems if the snapshot was taken with them frozen (quiesce.ts). Without an agent the
   * details say the clock may be behind. In the background: the start has already succeeded.
   */
  setGuestClock(uuid: string, config: VmConfig, name: string): void {
    const run = this.reg.running.get(uuid);
    if (!run) return;
    const note = 'the clock may be behind: the guest resumed from a saved state or snapshot and no guest agent set it';
    const agent = this.reg.guestOf(uuid, config);
    if (!agent) {
      run.clockNote = note;
      return;
    }
    void (async () => {
      for (let i = 0; i < 5; i++) {
        try {
          if (await agent.thawIfFrozen(3000)) this.reg.log(uuid, 'info', 'thawed', `thawed the file systems of '${name}': it resumed from a snapshot taken with them frozen`);
          await agent.cmd.setTime(3000);
          run.clockNote = undefined;
          this.reg.log(uuid, 'info', 'clock', `set the clock of '${name}' to the host's time`);
          void agent.poll();
          return;
        } catch {
          if (this.reg.running.get(uuid) !== run) return;
        }
      }
      run.clockNote = note;
      this.reg.log(uuid, 'warning', 'clock', `could not set the clock of '${name}' (the guest agent did not answer): ${note}`);
    })();
  }

  /**
   * After QEMU died, its qcow2 images may have leaked clusters (repaired here) or, rarely,
   * corruption, which is reported and never booted over.
   */
  async checkDisksAfterCrash(row: VmRow): Promise<void> {
    if (!this.img) return;
    for (const d of row.config.disks) {
      if (d.format !== 'qcow2' || d.readOnly) continue;
      const file = resolveDiskPath(row.dir, d.file);
      const r = await this.img.check(file);
      if (r.corruptions > 0) {
        throw new NestboxError(
          'IMAGE_REJECTED',
          `disk '${d.id}' of '${row.name}' has ${r.corruptions} corrupt cluster(s) after QEMU died; it was not started so nothing gets worse (inspect it with: qemu-img check -f qcow2 "${file}")`,
        );
      }
      if (r.leaksFixed > 0) this.reg.log(row.uuid, 'warning', 'disk-check', `repaired ${r.leaksFixed} leaked cluster(s) in disk '${d.id}' after the crash`);
    }
  }
}
