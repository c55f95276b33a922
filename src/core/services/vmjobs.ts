/**
 * Long work per VM that the user may stop: a clone's copies, a disk conversion, a live
 * snapshot or Save state writing RAM. One at a time per VM: a second one is refused as BUSY
 * rather than queued. With a JobService each one is also a job (listed by `jobs.list`,
 * cancellable by `jobs.cancel` as well as `vms.cancel`), whose percentage follows the VM's
 * `vm.progress` events.
 */
import type { JobKind } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { EventBus } from './events';
import type { ForegroundJob, JobService } from './jobs';

/** How the job is listed: its kind, its title ("Cloning 'a' as 'b'"), the VM's name. */
export interface Listing {
  readonly kind: JobKind;
  readonly title: string;
  readonly target?: string;
}

interface Running {
  readonly signal: AbortSignal;
  readonly abort: () => void;
  readonly label: string;
  readonly job: ForegroundJob | null;
  readonly off: () => void;
  failure: unknown;
}

export class CancellableJobs {
  private readonly running = new Map<string, Running>();

  constructor(
    private readonly registry: JobService | null = null,
    private readonly bus: EventBus | null = null,
  ) {}

  /**
   * `refusal` starts the BUSY message when another job runs ("cannot clone 'x' now");
   * `label` says what this job is, for that message and the log ("a clone is copying").
   */
  begin(uuid: string, refusal: string, label = 'a copy of its disks is still running', listing?: Listing): AbortSignal {
    const other = this.running.get(uuid);
    if (other) throw new NestboxError('BUSY', `${refusal}: ${other.label}`);
    let job: ForegroundJob | null = null;
    let off = () => {};
    let signal: AbortSignal;
    let abort: () => void;
    if (this.registry && listing) {
      const j = this.registry.foreground(listing.kind, listing.title, listing.target, uuid);
      job = j;
      signal = j.signal;
      abort = () => void this.registry!.cancel(j.id).catch(() => undefined);
      if (this.bus) {
        off = this.bus.on((name, data) => {
          if (name !== 'vm.progress') return;
          const e = data as { uuid: string; percent: number; done: boolean };
          if (e.uuid === uuid && !e.done) j.progress(e.percent);
        });
      }
    } else {
      const c = new AbortController();
      signal = c.signal;
      abort = () => c.abort();
    }
    this.running.set(uuid, { signal, abort, label, job, off, failure: undefined });
    return signal;
  }

  /** Records why the job is failing (or that it was cancelled), for its listing. */
  fail(uuid: string, signal: AbortSignal, err: unknown): void {
    const r = this.running.get(uuid);
    if (r?.signal === signal) r.failure = err ?? new Error('failed');
  }

  end(uuid: string, signal: AbortSignal): void {
    const r = this.running.get(uuid);
    if (r?.signal !== signal) return;
    this.running.delete(uuid);
    r.off();
    r.job?.finish(r.failure ?? (signal.aborted ? new NestboxError('CANCELLED', 'cancelled') : undefined));
  }

  /** What runs for this VM, or null. */
  current(uuid: string): string | null {
    return this.running.get(uuid)?.label ?? null;
  }

  /** True when there was something to stop. */
  cancel(uuid: string): boolean {
    const r = this.running.get(uuid);
    if (!r) return false;
    r.abort();
    return true;
  }
}
