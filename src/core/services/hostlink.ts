/**
 * One libvirt host as the core keeps it: its connection, reconnected with a backoff when it
 * is lost; its VMs, re-listed on each event of the host's event stream and stored so they stay
 * listed while it is unreachable; and the waits and migrations/moves under way on it. The
 * HostService (hosts.ts) keeps the set of these and the API's rules; LibvirtEngine drives a
 * VM through the HostHandle this implements.
 */
import type { HostStatus, HostSummary, VmSummary } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { VmState } from '../domain/lifecycle';
import { LibvirtEngine, domainSummary, type HostHandle } from '../engines/libvirt';
import type { DomainEvent, DomainSummary, LibvirtConnection } from '../libvirt';
import type { HostFacts, HostRepository, HostRow } from '../store/hosts';
import type { EventBus } from './events';
import type { JobService } from './jobs';

export interface HostLinkDeps {
  readonly repo: HostRepository;
  readonly bus: EventBus;
  readonly jobs: JobService;
  readonly log: (level: 'info' | 'warning' | 'error', kind: string, message: string) => void;
  /** Opens libvirt's client to a URI (a LibvirtConnection). */
  readonly connect: (uri: string) => LibvirtConnection;
  /** First reconnection delay; doubles up to `maxRetryMs`. */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface Waiter {
  readonly uuid: string;
  readonly pred: (s: VmState | null) => boolean;
  readonly done: () => void;
}

/** One host: its row, its connection and what it last said. */
export class HostLink implements HostHandle {
  conn: LibvirtConnection | null = null;
  status: HostStatus = 'connecting';
  reason: string | undefined;
  private events: { close(): void } | null = null;
  /** Bumped whenever the connection is replaced or closed, so late callbacks of an old one do nothing. */
  private gen = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private retryDelay: number;
  retryAt: number | null = null;
  private pending: Promise<void> | null = null;
  private again = false;
  private domains = new Map<string, DomainSummary>();
  private list: VmSummary[];
  private readonly waiters = new Set<Waiter>();
  /** Migrations of this host's VMs under way: VM uuid → job id. */
  readonly migrations = new Map<string, string>();
  /**
   * Domains whose events do not re-list the host (a migration in or out of it is under way:
   * the job says where the VM ended up), each with how many holds it has; and whether an
   * event of one came meanwhile.
   */
  private readonly quiet = new Map<string, number>();
  private quietMissed = false;
  /** The parameters of the last job-completed event of each held domain, and who waits for one. */
  private readonly completed = new Map<string, ReadonlyMap<string, string>>();
  private readonly completedWaiters = new Map<string, Set<(f: ReadonlyMap<string, string>) => void>>();
  readonly engine: LibvirtEngine;
  private closed = false;
  /** Settles when the first connection attempt has (either way): a short-lived CLI waits for it. */
  firstAttempt: Promise<void> = Promise.resolve();

  constructor(
    public row: HostRow,
    private readonly d: HostLinkDeps,
  ) {
    this.retryDelay = d.retryMs ?? 1000;
    this.list = d.repo.vms(row.name).map((v) => ({
      uuid: v.uuid,
      name: v.name,
      osType: 'other',
      group: '',
      state: v.state,
      memoryMiB: Math.round(v.memoryKiB / 1024),
      cpus: v.vcpus,
      host: row.name,
    }));
    this.engine = new LibvirtEngine(this);
  }

  get name(): string {
    return this.row.name;
  }

  connection(): LibvirtConnection {
    if (this.status !== 'connected' || !this.conn) {
      throw new NestboxError('HOST_UNREACHABLE', `host '${this.name}' is ${this.status === 'connecting' ? 'not connected yet' : 'unreachable'}${this.reason ? `: ${this.reason}` : ''}`);
    }
    return this.conn;
  }

  summaries(): readonly VmSummary[] {
    if (this.status === 'connected') return this.list;
    const why = this.status === 'connecting' ? 'connecting to the host' : `host unreachable: ${this.reason ?? 'it cannot be reached'}`;
    return this.list.map((v) => ({ ...v, unreachable: why }));
  }

  persistent(uuid: string): boolean {
    return this.domains.get(uuid)?.persistent ?? true;
  }

  summary(): HostSummary {
    const f = this.row.facts;
    return {
      name: this.row.name,
      uri: this.row.uri,
      peerUri: this.row.peerUri,
      migrateAddr: this.row.migrateAddr,
      createdAt: this.row.createdAt,
      status: this.status,
      ...(this.reason && this.status !== 'connected' ? { reason: this.reason } : {}),
      ...(f ? { libvirtVersion: f.libvirtVersion, hypervisorVersion: f.hypervisorVersion, hostname: f.hostname, cpus: f.cpus, memoryMiB: f.memoryMiB, cpuModel: f.cpuModel } : {}),
      vmCount: this.list.length,
      ...(this.retryAt && this.status === 'unreachable' ? { retryAt: new Date(this.retryAt).toISOString() } : {}),
    };
  }

  private setStatus(status: HostStatus, reason?: string): void {
    const changed = status !== this.status || reason !== this.reason;
    this.status = status;
    this.reason = reason;
    if (changed) this.d.bus.emit('host.changed', { name: this.name, status });
  }

  /**
   * Connects (or takes over a connection `add` already checked): versions and node facts,
   * then the event stream, then the first list, so no event falls between list and stream.
   */
  async connect(existing?: { conn: LibvirtConnection; facts: HostFacts }): Promise<void> {
    if (this.closed) return;
    const gen = ++this.gen;
    this.clearRetry();
    this.setStatus('connecting', this.reason);
    let conn: LibvirtConnection | null = existing?.conn ?? null;
    try {
      conn ??= this.d.connect(this.row.uri);
      const facts = existing?.facts ?? (await probeFacts(conn));
      if (gen !== this.gen) {
        conn.close();
        return;
      }
      this.d.repo.setFacts(this.name, facts);
      this.row = { ...this.row, facts };
      this.conn = conn;
      this.events = conn.events(
        (e) => this.onEvent(gen, e),
        (why) => this.lost(why, gen),
      );
      this.status = 'connected';
      this.reason = undefined;
      await this.listOnce(conn);
      if (gen !== this.gen) return;
      this.retryDelay = this.d.retryMs ?? 1000;
      this.retryAt = null;
      this.d.bus.emit('host.changed', { name: this.name, status: 'connected' });
      this.d.log('info', 'host', `connected to host '${this.name}' (libvirt ${facts.libvirtVersion}${facts.hypervisorVersion ? `, QEMU ${facts.hypervisorVersion}` : ''})`);
      for (const v of this.list) this.d.bus.emit('vm.changed', { uuid: v.uuid });
    } catch (err) {
      if (gen !== this.gen) {
        if (conn && conn !== this.conn) conn.close();
        return;
      }
      if (conn && conn !== this.conn) conn.close();
      this.lost(message(err), gen);
    }
  }

  private onEvent(gen: number, e: DomainEvent): void {
    if (gen !== this.gen) return;
    if (this.quiet.has(e.domain)) {
      this.quietMissed = true;
      if (e.event === 'job-completed' && e.fields) {
        this.completed.set(e.domain, e.fields);
        for (const w of this.completedWaiters.get(e.domain) ?? []) w(e.fields);
      }
      return;
    }
    if (this.debounce) return;
    // Several events come together (a start is "defined", "started", "resumed"): list once.
    this.debounce = setTimeout(() => {
      this.debounce = null;
      if (gen === this.gen) this.refresh().catch(() => undefined);
    }, 50);
  }

  /** The connection or its event stream is gone: unreachable, its VMs stay as last seen; retry later. */
  lost(why: string, gen: number): void {
    if (gen !== this.gen || this.closed) return;
    this.gen++;
    this.drop();
    const wasConnected = this.status === 'connected';
    this.setStatus('unreachable', why);
    if (wasConnected) this.d.log('warning', 'host', `host '${this.name}' is unreachable: ${why}`);
    for (const v of this.list) this.d.bus.emit('vm.changed', { uuid: v.uuid });
    this.wake();
    const delay = this.retryDelay;
    this.retryDelay = Math.min(delay * 2, this.d.maxRetryMs ?? 30_000);
    this.retryAt = Date.now() + delay;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  failed(err: unknown): never {
    if (err instanceof NestboxError && err.code === 'HOST_UNREACHABLE') this.lost(err.message, this.gen);
    throw err;
  }

  private drop(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = null;
    const ev = this.events;
    const conn = this.conn;
    this.events = null;
    this.conn = null;
    try {
      ev?.close();
    } catch {
      /* already gone */
    }
    try {
      conn?.close();
    } catch {
      /* already gone */
    }
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  refresh(): Promise<void> {
    if (this.pending) {
      this.again = true;
      return this.pending;
    }
    this.pending = (async () => {
      try {
        do {
          this.again = false;
          const conn = this.connection();
          const gen = this.gen;
          try {
            await this.listOnce(conn);
          } catch (err) {
            if (err instanceof NestboxError && err.code === 'HOST_UNREACHABLE') this.lost(err.message, gen);
            throw err;
          }
        } while (this.again);
      } finally {
        this.pending = null;
      }
    })();
    return this.pending;
  }

  /** One `listDomains`; what changed is announced, and the cache is rewritten. */
  private async listOnce(conn: LibvirtConnection): Promise<void> {
    this.apply(await conn.listDomains());
  }

  /** Takes `domains` as the host's list: what changed is announced, and the cache is rewritten. */
  private apply(domains: readonly DomainSummary[]): void {
    const next = domains.map((d) => domainSummary(this.name, d));
    const old = new Map(this.list.map((v) => [v.uuid, v]));
    const before = this.list.length;
    this.domains = new Map(domains.map((d) => [d.uuid, d]));
    this.list = next;
    this.d.repo.replaceVms(
      this.name,
      domains.map((d, i) => ({ uuid: d.uuid, name: d.name, state: next[i]!.state, memoryKiB: d.memoryKiB, vcpus: d.vcpus, osId: d.osId })),
    );
    for (const v of next) {
      const was = old.get(v.uuid);
      old.delete(v.uuid);
      if (!was || was.state !== v.state || was.name !== v.name) {
        this.d.bus.emit('vm.state', v.stateReason ? { uuid: v.uuid, name: v.name, state: v.state, reason: v.stateReason } : { uuid: v.uuid, name: v.name, state: v.state });
      }
      if (!was || JSON.stringify(was) !== JSON.stringify(v)) this.d.bus.emit('vm.changed', { uuid: v.uuid });
    }
    for (const gone of old.values()) this.d.bus.emit('vm.removed', { uuid: gone.uuid });
    if (old.size > 0 || next.length !== before) this.d.bus.emit('host.changed', { name: this.name, status: this.status });
    this.wake();
  }

  /** The domain as this host last listed it. */
  domain(uuid: string): DomainSummary | undefined {
    return this.domains.get(uuid);
  }

  /**
   * Events of the domain `name` stop re-listing this host until the returned function is
   * called (a migration holds both its hosts: the switch-over's events would re-list them
   * just when the guest is paused, and the job knows the outcome). The function tells
   * whether an event of a held domain came meanwhile.
   */
  hold(name: string): () => boolean {
    this.quiet.set(name, (this.quiet.get(name) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return false;
      released = true;
      const n = (this.quiet.get(name) ?? 1) - 1;
      if (n > 0) this.quiet.set(name, n);
      else {
        this.quiet.delete(name);
        this.completed.delete(name);
      }
      const missed = this.quietMissed;
      if (this.quiet.size === 0) this.quietMissed = false;
      return missed;
    };
  }

  /**
   * The parameters of the job-completed event of the held domain `name` (the destination's
   * figures of a migration into this host): at once when it already came while held, else
   * the first within `timeoutMs`, else null.
   */
  jobCompleted(name: string, timeoutMs: number): Promise<ReadonlyMap<string, string> | null> {
    const have = this.completed.get(name);
    if (have) return Promise.resolve(have);
    if (!this.quiet.has(name)) return Promise.resolve(null);
    return new Promise((resolve) => {
      const set = this.completedWaiters.get(name) ?? new Set();
      this.completedWaiters.set(name, set);
      const done = (f: ReadonlyMap<string, string> | null) => {
        clearTimeout(timer);
        set.delete(got);
        if (set.size === 0) this.completedWaiters.delete(name);
        resolve(f);
      };
      const got = (f: ReadonlyMap<string, string>) => done(f);
      const timer = setTimeout(() => done(null), timeoutMs);
      set.add(got);
    });
  }

  /** A domain known to have left this host (migrated away, undefined here): listed no more, without asking the host. */
  forget(uuid: string): void {
    if (!this.domains.has(uuid)) return;
    this.apply([...this.domains.values()].filter((d) => d.uuid !== uuid));
  }

  /** A domain known to have arrived on this host (migrated here): listed at once, without asking the host. */
  adopt(d: DomainSummary): void {
    this.apply([...[...this.domains.values()].filter((x) => x.uuid !== d.uuid), d]);
  }

  private wake(): void {
    for (const w of [...this.waiters]) {
      const v = this.list.find((x) => x.uuid === w.uuid);
      if (w.pred(v ? v.state : null) || this.status !== 'connected') w.done();
    }
  }

  waitFor(uuid: string, pred: (s: VmState | null) => boolean, timeoutMs: number, what: string): Promise<void> {
    const now = this.list.find((x) => x.uuid === uuid);
    if (pred(now ? now.state : null)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      // Events drive the wait; a slow re-list every few seconds covers an event lost in transit.
      const nudge = setInterval(() => this.refresh().catch(() => undefined), 3000);
      const timer = setTimeout(() => {
        finish();
        reject(new NestboxError('TIMEOUT', what));
      }, timeoutMs);
      const w: Waiter = {
        uuid,
        pred,
        done: () => {
          finish();
          if (this.status !== 'connected') reject(new NestboxError('HOST_UNREACHABLE', `host '${this.name}' became unreachable: ${this.reason ?? ''}`));
          else resolve();
        },
      };
      const finish = () => {
        clearInterval(nudge);
        clearTimeout(timer);
        this.waiters.delete(w);
      };
      this.waiters.add(w);
    });
  }

  cancelMigration(uuid: string): boolean {
    const id = this.migrations.get(uuid);
    if (!id) return false;
    void this.d.jobs.cancel(id).catch(() => undefined);
    return true;
  }

  close(): void {
    this.closed = true;
    this.gen++;
    this.clearRetry();
    this.drop();
    for (const w of [...this.waiters]) w.done();
  }
}

/** What the host says about itself, stored with its row and shown in its summary. */
export async function probeFacts(conn: LibvirtConnection): Promise<HostFacts> {
  const [v, n] = await Promise.all([conn.versions(), conn.nodeInfo()]);
  return {
    libvirtVersion: v.libvirt,
    // virsh says "QEMU 7.2.0"; the UI puts the name in front itself.
    hypervisorVersion: v.hypervisor === null ? null : v.hypervisor.replace(/^QEMU\s+/i, ''),
    hostname: n.hostname,
    cpus: n.cpus,
    memoryMiB: Math.round(n.memoryKiB / 1024),
    cpuModel: n.model,
  };
}
