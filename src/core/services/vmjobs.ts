/**
 * Long qemu-img work per VM (a clone's copies, a disk conversion) that the user may stop.
 * One at a time per VM: a second one is refused as BUSY rather than queued.
 */
import { NestboxError } from '../api/errors';

export class CancellableJobs {
  private readonly running = new Map<string, AbortController>();

  begin(uuid: string, what: string): AbortSignal {
    if (this.running.has(uuid)) throw new NestboxError('BUSY', `${what}: another copy of this VM's disks is still running`);
    const c = new AbortController();
    this.running.set(uuid, c);
    return c.signal;
  }

  end(uuid: string, signal: AbortSignal): void {
    if (this.running.get(uuid)?.signal === signal) this.running.delete(uuid);
  }

  /** True when there was something to stop. */
  cancel(uuid: string): boolean {
    const c = this.running.get(uuid);
    if (!c) return false;
    c.abort();
    return true;
  }
}
