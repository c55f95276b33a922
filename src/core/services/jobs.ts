/**
 * Long operations as jobs, listed together (`jobs.list`, `nestbox jobs`) and cancelled the
 * same way (`jobs.cancel`): storage operations run in the background (`start`), and a VM's
 * own long operations (a clone, a disk conversion, a live snapshot or Save state writing
 * RAM) run in the foreground of their API call and are listed while they do
 * (`foreground`). Each reports its progress as `job.progress` events to every client, and
 * keeps its outcome so a client that connects later (or `jobs.wait`) can still read it.
 */
import crypto from 'node:crypto';
import type { JobInfo, JobKind, MigrateProgressInfo } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { EventBus } from './events';
import { crashPoint } from './faults';
import type { JobJournal } from './jobjournal';

export interface JobContext {
  readonly signal: AbortSignal;
  /** 0–100; reported when the whole percentage changes. */
  progress(percent: number): void;
  /**
   * Tells the journal what the job has made so far (files, the VM an import created), so a
   * core killed in the middle can remove it on its next start.
   */
  made(what: { outputs?: readonly string[]; vmUuid?: string }): void;
  /** A migration's data figures, sent with the job's next `job.progress`. */
  migration(figures: MigrateProgressInfo, percent: number): void;
}

/** What a job will create, written to the journal before it starts. */
export interface JobPlan {
  /** Files the job creates; removed if the core is killed before it ends. */
  readonly outputs?: readonly string[];
  /** The name of the VM the job will create. */
  readonly vmName?: string;
  /** The UUID of the VM the job works on (a migration). */
  readonly vm?: string;
}

interface Entry {
  info: JobInfo;
  readonly abort: AbortController;
  readonly done: Promise<JobInfo>;
}

/** A job run in the foreground of an API call: the caller reports its progress and its end. */
export interface ForegroundJob {
  readonly id: string;
  readonly signal: AbortSignal;
  progress(percent: number): void;
  /** Ends the job: done without an error, cancelled when it was cancelled, failed otherwise. */
  finish(err?: unknown): void;
}

/** Finished jobs kept for `jobs.list`. */
const KEEP_FINISHED = 50;

export class JobService {
  private readonly jobs = new Map<string, Entry>();

  constructor(
    private readonly bus: EventBus,
    private readonly journal: JobJournal | null = null,
  ) {}

  /**
   * Starts `fn` as a job and answers at once. `fn` throws to fail; a NestboxError CANCELLED
   * (or any failure after cancel) ends it as cancelled.
   */
  start(kind: JobKind, title: string, target: string | undefined, fn: (ctx: JobContext) => Promise<unknown>, plan: JobPlan = {}): JobInfo {
    const id = crypto.randomUUID();
    const abort = new AbortController();
    const info: JobInfo = { id, kind, title, state: 'running', percent: 0, startedAt: new Date().toISOString(), ...(target ? { target } : {}), ...(plan.vm ? { vm: plan.vm } : {}) };
    // Before anything is touched: a core killed from here on leaves a row its successor reads.
    this.journal?.begin({ id, kind, title, target, ...(plan.outputs ? { outputs: plan.outputs } : {}), vmName: plan.vmName, startedAt: info.startedAt });
    let lastWhole = 0;
    const ctx: JobContext = {
      signal: abort.signal,
      progress: (p) => {
        const e = this.jobs.get(id);
        if (!e || e.info.state !== 'running') return;
        const pct = Math.max(0, Math.min(100, p));
        if (Math.floor(pct) === lastWhole) return;
        lastWhole = Math.floor(pct);
        this.update(e, { percent: lastWhole });
        if (kind === 'convert' || kind === 'import') crashPoint(`job:${kind}:progress`);
      },
      made: (what) => this.journal?.note(id, what),
      migration: (figures, percent) => {
        const e = this.jobs.get(id);
        if (!e || e.info.state !== 'running') return;
        lastWhole = Math.floor(Math.max(0, Math.min(100, percent)));
        this.update(e, { percent: lastWhole, migration: figures });
      },
    };
    const done = (async (): Promise<JobInfo> => {
      // Let the caller have the job's id before anything happens.
      await Promise.resolve();
      const e = this.jobs.get(id)!;
      try {
        const result = await fn(ctx);
        if (abort.signal.aborted) throw new NestboxError('CANCELLED', 'cancelled');
        this.update(e, { state: 'done', percent: 100, finishedAt: new Date().toISOString(), ...(result === undefined ? {} : { result }) });
      } catch (err) {
        const cancelled = abort.signal.aborted;
        const shape = cancelled ? new NestboxError('CANCELLED', `${title}: cancelled`).toShape() : NestboxError.from(err, 'IO_ERROR').toShape();
        this.update(e, { state: cancelled ? 'cancelled' : 'failed', finishedAt: new Date().toISOString(), error: shape });
      }
      try {
        this.journal?.end(id);
      } catch {
        /* the database closed first (the core is closing): the next start sweeps the row */
      }
      this.prune();
      return e.info;
    })();
    this.jobs.set(id, { info, abort, done });
    this.bus.emit('job.progress', info);
    return info;
  }

  /** Lists (and makes cancellable) work that runs in the foreground of an API call. */
  foreground(kind: JobKind, title: string, target: string | undefined, vm: string | undefined): ForegroundJob {
    const id = crypto.randomUUID();
    const abort = new AbortController();
    const info: JobInfo = { id, kind, title, state: 'running', percent: 0, startedAt: new Date().toISOString(), ...(target ? { target } : {}), ...(vm ? { vm } : {}) };
    let resolve: (j: JobInfo) => void = () => undefined;
    const done = new Promise<JobInfo>((r) => (resolve = r));
    const entry: Entry = { info, abort, done };
    this.jobs.set(id, entry);
    this.bus.emit('job.progress', info);
    return {
      id,
      signal: abort.signal,
      progress: (p) => {
        const pct = Math.floor(Math.max(0, Math.min(100, p)));
        if (entry.info.state === 'running' && pct !== entry.info.percent) this.update(entry, { percent: pct });
      },
      finish: (err) => {
        if (entry.info.state !== 'running') return;
        const finishedAt = new Date().toISOString();
        if (err === undefined) this.update(entry, { state: 'done', percent: 100, finishedAt });
        else {
          const e = NestboxError.from(err, 'IO_ERROR');
          const cancelled = abort.signal.aborted || e.code === 'CANCELLED';
          this.update(entry, { state: cancelled ? 'cancelled' : 'failed', finishedAt, error: e.toShape() });
        }
        this.prune();
        resolve(entry.info);
      },
    };
  }

  private update(e: Entry, patch: Partial<JobInfo>): void {
    e.info = { ...e.info, ...patch };
    this.bus.emit('job.progress', e.info);
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => j.info.state !== 'running');
    for (const j of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.jobs.delete(j.info.id);
  }

  /** Jobs of this core, after the jobs the previous core was stopped in the middle of. */
  list(): JobInfo[] {
    return [...(this.journal?.interrupted() ?? []), ...[...this.jobs.values()].map((e) => e.info)];
  }

  private get(id: string): Entry {
    const e = this.jobs.get(id);
    if (!e) throw new NestboxError('NOT_FOUND', `no job '${id}'`);
    return e;
  }

  /** Cancels a running job; for an interrupted one (already over), forgets it. */
  async cancel(id: string): Promise<JobInfo> {
    const old = this.journal?.interrupted().find((j) => j.id === id);
    if (old) {
      this.journal!.dismiss(id);
      return old;
    }
    const e = this.get(id);
    if (e.info.state === 'running') e.abort.abort();
    return e.done;
  }

  wait(id: string): Promise<JobInfo> {
    const old = this.journal?.interrupted().find((j) => j.id === id);
    if (old) return Promise.resolve(old);
    return this.get(id).done;
  }

  running(): number {
    return [...this.jobs.values()].filter((e) => e.info.state === 'running').length;
  }

  /** Cancels every running job and waits for them (the core is closing). */
  async cancelAll(): Promise<void> {
    const running = [...this.jobs.values()].filter((e) => e.info.state === 'running');
    for (const e of running) e.abort.abort();
    await Promise.all(running.map((e) => e.done));
  }
}
