/**
 * Every long operation is a job of this one service: storage work that answers at once and
 * runs in the background (`start`: create, convert, import, export, ...) and a VM's own long
 * operations that run in the foreground of their API call (`run`/`begin`: a clone, a disk
 * conversion, a live snapshot, Save state, a restore, loading a saved state, ...). All are
 * listed together (`jobs.list`, `nestbox jobs`), report progress as one event
 * (`job.progress`), are cancelled one way (`jobs.cancel` by id, `vms.cancel` for a VM's job)
 * and are journaled so a core killed in the middle undoes them on its next start.
 *
 * Exclusivity lives here too: a job may hold a VM (one at a time per VM: a second one is
 * refused as BUSY naming the running one) and files (a medium being converted cannot be
 * resized, attached or booted meanwhile). A VM job that runs another operation on its own
 * VM (a restore restarts the VM, an automatic snapshot runs before a start) runs it as part
 * of itself rather than being refused: the nesting is tracked through AsyncLocalStorage.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import crypto from 'node:crypto';
import type { JobInfo, JobKind, MigrateProgressInfo } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { EventBus } from './events';
import { crashPoint } from './faults';
import type { HostLeftover, JobJournal } from './jobjournal';

export interface JobContext {
  readonly signal: AbortSignal;
  /** 0–100; reported when the whole percentage changes. */
  progress(percent: number): void;
  /**
   * Tells the journal what the job has made so far (files, the VM an import created), so a
   * core killed in the middle can remove it on its next start.
   */
  made(what: { outputs?: readonly string[]; vmUuid?: string; onHost?: HostLeftover }): void;
  /**
   * What the job made on libvirt hosts is complete and stays: a core killed from here on
   * leaves it there (a move about to delete its source).
   */
  keepOnHosts(): void;
  /** A migration's data figures, sent with the job's next `job.progress`. */
  migration(figures: MigrateProgressInfo, percent: number): void;
}

/** What a job will create and what it holds, written to the journal before it starts. */
export interface JobPlan {
  /** Files the job creates; removed if the core is killed before it ends. */
  readonly outputs?: readonly string[];
  /** The name of the VM the job will create. */
  readonly vmName?: string;
  /** Files no other job may work on (nor a VM boot) while this one runs. */
  readonly holds?: readonly string[];
  /** The VM this job works on: no other job of that VM meanwhile. */
  readonly vm?: VmRef;
  /** False for work that cannot be stopped midway (cancelling it is refused). */
  readonly cancellable?: boolean;
}

export interface VmRef {
  readonly uuid: string;
  readonly name: string;
}

/** How a VM job is listed and how a refused second operation names it. */
export interface VmJobSpec {
  readonly kind: JobKind;
  /** "Taking snapshot 'x' of 'web'". */
  readonly title: string;
  /** Names the job in a BUSY refusal: "live snapshot 'before-upgrade'". */
  readonly label: string;
  /** Defaults to true. */
  readonly cancellable?: boolean;
  /** Files the job creates (removed after a crash) and files it keeps from other jobs. */
  readonly outputs?: readonly string[];
  /** The VM the job creates (removed after a crash if it was registered meanwhile). */
  readonly vmName?: string;
  readonly holds?: readonly string[];
}

/** A VM job run in the foreground of an API call: the caller reports its progress and its end. */
export interface VmJob {
  readonly id: string;
  readonly signal: AbortSignal;
  /** 0–100, optionally with bytes written for streams of RAM. */
  progress(percent: number, bytes?: { done?: number; total?: number }): void;
  /** Records why the job is failing, for its listing (see `end`). */
  fail(err: unknown): void;
  /** Ends the job: done unless `fail` was called or it was cancelled. */
  end(): void;
}

interface Entry {
  info: JobInfo;
  readonly abort: AbortController;
  readonly done: Promise<JobInfo>;
  readonly label: string;
  readonly vm: string | null;
  readonly holds: readonly string[];
}

/** Finished jobs kept for `jobs.list`. */
const KEEP_FINISHED = 50;

export class JobService {
  private readonly jobs = new Map<string, Entry>();
  /** The VM jobs the current async call runs inside of (for nested operations). */
  private readonly inside = new AsyncLocalStorage<ReadonlySet<string>>();

  constructor(
    private readonly bus: EventBus,
    private readonly journal: JobJournal | null = null,
  ) {}

  // ---------------------------------------------------------------- exclusivity

  private runningEntries(): Entry[] {
    return [...this.jobs.values()].filter((e) => e.info.state === 'running');
  }

  /** The running job holding this VM, if any. */
  private vmEntry(uuid: string): Entry | undefined {
    return this.runningEntries().find((e) => e.vm === uuid);
  }

  /** The job holding this VM now, or null. */
  current(uuid: string): JobInfo | null {
    return this.vmEntry(uuid)?.info ?? null;
  }

  private nestedIn(uuid: string): Entry | undefined {
    const ids = this.inside.getStore();
    if (!ids) return undefined;
    const e = this.vmEntry(uuid);
    return e && ids.has(e.info.id) ? e : undefined;
  }

  private busyVm(vm: VmRef, e: Entry): NestboxError {
    return new NestboxError('BUSY', `vm '${vm.name}' is busy: ${e.label} (job ${e.info.id}) is running`);
  }

  /**
   * Refuses (BUSY, naming the job) when a job holds the VM, unless the caller runs inside
   * that very job, or when a job works on one of `files`.
   */
  assertIdle(vm: VmRef | null, files: readonly string[] = []): void {
    if (vm) {
      const e = this.vmEntry(vm.uuid);
      if (e && !this.nestedIn(vm.uuid)) throw this.busyVm(vm, e);
    }
    for (const f of files) {
      const e = this.runningEntries().find((x) => x.holds.includes(f));
      if (e && !(e.vm && this.nestedIn(e.vm))) throw new NestboxError('BUSY', `'${f}' is being worked on by ${e.label} (job ${e.info.id}); wait for it or cancel it`);
    }
  }

  // ---------------------------------------------------------------- background jobs

  /**
   * Starts `fn` as a job and answers at once. `fn` throws to fail; a NestboxError CANCELLED
   * (or any failure after cancel) ends it as cancelled.
   */
  start(kind: JobKind, title: string, target: string | undefined, fn: (ctx: JobContext) => Promise<unknown>, plan: JobPlan = {}): JobInfo {
    const holds = plan.holds ?? [];
    for (const f of holds) {
      if (this.runningEntries().some((x) => x.holds.includes(f))) throw new NestboxError('BUSY', `another operation is working on '${f}'`);
    }
    if (plan.vm) this.assertIdle(plan.vm);
    const id = crypto.randomUUID();
    const abort = new AbortController();
    const info: JobInfo = {
      id,
      kind,
      title,
      state: 'running',
      percent: 0,
      startedAt: new Date().toISOString(),
      ...(target ? { target } : {}),
      ...(plan.vm ? { vm: plan.vm.uuid } : {}),
      ...(plan.cancellable === false ? { cancellable: false } : {}),
    };
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
      keepOnHosts: () => this.journal?.forgetOnHosts(id),
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
        const result = await this.inside.run(new Set([...(this.inside.getStore() ?? []), id]), () => fn(ctx));
        if (abort.signal.aborted) throw new NestboxError('CANCELLED', 'cancelled');
        this.update(e, { state: 'done', percent: 100, finishedAt: new Date().toISOString(), ...(result === undefined ? {} : { result }) });
      } catch (err) {
        const cancelled = abort.signal.aborted;
        const shape = cancelled ? new NestboxError('CANCELLED', `${title}: cancelled`).toShape() : NestboxError.from(err, 'IO_ERROR').toShape();
        this.update(e, { state: cancelled ? 'cancelled' : 'failed', finishedAt: new Date().toISOString(), error: shape });
      }
      this.endJournal(id);
      this.prune();
      return e.info;
    })();
    this.jobs.set(id, { info, abort, done, label: title.charAt(0).toLowerCase() + title.slice(1), vm: plan.vm?.uuid ?? null, holds });
    this.bus.emit('job.progress', info);
    return info;
  }

  // ---------------------------------------------------------------- VM jobs in the foreground

  /**
   * Begins a VM's job in the foreground of its API call; synchronous, so two calls racing
   * for one VM cannot both pass. Inside a running job of the same VM (a nested operation)
   * the handle shares that job's signal and ends nothing.
   */
  begin(vm: VmRef, spec: VmJobSpec): VmJob {
    const outer = this.nestedIn(vm.uuid);
    if (outer) {
      return { id: outer.info.id, signal: outer.abort.signal, progress: () => undefined, fail: () => undefined, end: () => undefined };
    }
    this.assertIdle(vm, spec.holds ?? []);
    const id = crypto.randomUUID();
    const abort = new AbortController();
    const info: JobInfo = {
      id,
      kind: spec.kind,
      title: spec.title,
      state: 'running',
      percent: 0,
      startedAt: new Date().toISOString(),
      target: vm.name,
      vm: vm.uuid,
      ...(spec.cancellable === false ? { cancellable: false } : {}),
    };
    this.journal?.begin({ id, kind: spec.kind, title: spec.title, target: vm.name, ...(spec.outputs ? { outputs: spec.outputs } : {}), vmName: spec.vmName, startedAt: info.startedAt });
    let resolve: (j: JobInfo) => void = () => undefined;
    const done = new Promise<JobInfo>((r) => (resolve = r));
    const entry: Entry = { info, abort, done, label: spec.label, vm: vm.uuid, holds: spec.holds ?? [] };
    this.jobs.set(id, entry);
    this.bus.emit('job.progress', info);
    let failure: unknown;
    return {
      id,
      signal: abort.signal,
      progress: (p, bytes) => {
        const pct = Math.floor(Math.max(0, Math.min(100, p)));
        if (entry.info.state !== 'running') return;
        if (pct === entry.info.percent && bytes?.done === undefined) return;
        this.update(entry, { percent: pct, ...(bytes?.done !== undefined ? { bytesDone: bytes.done } : {}), ...(bytes?.total !== undefined ? { bytesTotal: bytes.total } : {}) });
      },
      fail: (err) => {
        failure = err ?? new Error('failed');
      },
      end: () => {
        if (entry.info.state !== 'running') return;
        const finishedAt = new Date().toISOString();
        const err = failure ?? (abort.signal.aborted ? new NestboxError('CANCELLED', 'cancelled') : undefined);
        if (err === undefined) this.update(entry, { state: 'done', percent: 100, finishedAt });
        else {
          const e = NestboxError.from(err, 'IO_ERROR');
          const cancelled = abort.signal.aborted || e.code === 'CANCELLED';
          this.update(entry, { state: cancelled ? 'cancelled' : 'failed', finishedAt, error: e.toShape() });
        }
        this.endJournal(id);
        this.prune();
        resolve(entry.info);
      },
    };
  }

  /** Runs `fn` as a VM job (see `begin`): its result is the call's, its error the call's. */
  async run<T>(vm: VmRef, spec: VmJobSpec, fn: (job: VmJob) => Promise<T>): Promise<T> {
    const job = this.begin(vm, spec);
    try {
      return await this.inside.run(new Set([...(this.inside.getStore() ?? []), job.id]), () => fn(job));
    } catch (err) {
      job.fail(err);
      throw err;
    } finally {
      job.end();
    }
  }

  /** Cancels the job holding this VM; false when none runs. Refused for work that cannot stop midway. */
  cancelVm(vm: VmRef): { cancelled: boolean; job?: JobInfo } {
    const e = this.vmEntry(vm.uuid);
    if (!e || e.info.cancellable === false) return { cancelled: false, ...(e ? { job: e.info } : {}) };
    e.abort.abort();
    return { cancelled: true, job: e.info };
  }

  private requireCancellable(e: Entry): void {
    if (e.info.cancellable === false) {
      throw new NestboxError('INVALID_STATE', `${e.label} (job ${e.info.id}) cannot be cancelled midway; it ends by itself`);
    }
  }

  // ---------------------------------------------------------------- listing

  private endJournal(id: string): void {
    try {
      this.journal?.end(id);
    } catch {
      /* the database closed first (the core is closing): the next start sweeps the row */
    }
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
    if (e.info.state === 'running') {
      this.requireCancellable(e);
      e.abort.abort();
    }
    return e.done;
  }

  wait(id: string): Promise<JobInfo> {
    const old = this.journal?.interrupted().find((j) => j.id === id);
    if (old) return Promise.resolve(old);
    return this.get(id).done;
  }

  running(): number {
    return this.runningEntries().length;
  }

  /** Cancels every running job and waits for the background ones (the core is closing). */
  async cancelAll(): Promise<void> {
    const running = this.runningEntries();
    for (const e of running) e.abort.abort();
    await Promise.all(running.filter((e) => e.info.cancellable !== false).map((e) => e.done));
  }
}
