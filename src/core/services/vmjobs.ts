/**
 * Long work per VM that the user may stop: a clone's copies, a disk conversion, a live
 * snapshot's RAM save. One at a time per VM: a second one is refused as BUSY rather than
 * queued.
 */
import { NestboxError } from '../api/errors';

export class CancellableJobs {
  private readonly running = new Map<string, { controller: AbortController; label: string }>();

  /**
   * `refusal` starts the BUSY message when another job runs ("cannot clone 'x' now");
   * `label` says what this job is, for that message and the log ("a clone is copying").
   */
  begin(uuid: string, refusal: string, label = 'a copy of its disks is still running'): AbortSignal {
    const other = this.running.get(uuid);
    if (other) throw new NestboxError('BUSY', `${refusal}: ${other.label}`);
    const controller = new AbortController();
    this.running.set(uuid, { controller, label });
    return controller.signal;
  }

  end(uuid: string, signal: AbortSignal): void {
    if (this.running.get(uuid)?.controller.signal === signal) this.running.delete(uuid);
  }

  /** What runs for this VM, or null. */
  current(uuid: string): string | null {
    return this.running.get(uuid)?.label ?? null;
  }

  /** True when there was something to stop. */
  cancel(uuid: string): boolean {
    const c = this.running.get(uuid);
    if (!c) return false;
    c.controller.abort();
    return true;
  }
}
