/**
 * libvirt hosts: which ones Nestbox knows (SQLite), one connection to each, kept alive by
 * libvirt's own client code, and the host's VMs kept current by one long-lived event stream
 * per host (`virsh event --all --loop`): every event re-lists the host's VMs (one call), so
 * there is no polling loop per VM. A host that goes away is shown unreachable with the reason,
 * its VMs stay listed as last seen, and Nestbox reconnects by itself with a backoff.
 *
 * Nestbox never installs anything on a host and never opens a port there: it only speaks to
 * the libvirt daemon the host already runs, over the URI the user gave.
 */
import type { CreateVmSpec, HostDetail, HostIsoUpload, HostPool, HostSpec, HostStatus, HostSummary, JobInfo, MigrateResult, MigrateSpec, OpResult, VmSummary } from '../api/contract';
import { NestboxError } from '../api/errors';
import { HostRuleError, LOCAL_HOST, parseVmRef, validateHostName, validateHostUri, type VmRef } from '../domain/hosts';
import type { VmState } from '../domain/lifecycle';
import { LibvirtEngine, domainSummary, type HostHandle } from '../engines/libvirt';
import type { DomainSummary, LibvirtConnection } from '../libvirt';
import type { HostFacts, HostRepository, HostRow } from '../store/hosts';
import type { EventBus } from './events';
import type { JobService } from './jobs';
import { createOnHost, hostPools, startIsoUpload } from './hostvms';

export interface HostServiceDeps {
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

/** Converts the pure rules' errors into API errors at the service's edge. */
function rule<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof HostRuleError) throw new NestboxError(err.kind === 'unknownHost' ? 'NOT_FOUND' : 'INVALID_ARGUMENT', err.message);
    throw err;
  }
}

const MIGRATE_ADDR_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*|\[[0-9A-Fa-f:.]+\])$/;

function checkMigrateAddr(a: string | null | undefined): string | null {
  if (a === undefined || a === null || a === '') return null;
  if (!MIGRATE_ADDR_RE.test(a)) throw new NestboxError('INVALID_ARGUMENT', `'${a}' is not a host name or address for migration data`);
  return a;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface Waiter {
  readonly uuid: string;
  readonly pred: (s: VmState | null) => boolean;
  readonly done: () => void;
}

/** One host: its row, its connection and what it last said. */
class HostLink implements HostHandle {
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
  readonly engine: LibvirtEngine;
  private closed = false;
  /** Settles when the first connection attempt has (either way): a short-lived CLI waits for it. */
  firstAttempt: Promise<void> = Promise.resolve();

  constructor(
    public row: HostRow,
    private readonly d: HostServiceDeps,
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
        () => this.onEvent(gen),
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

  private onEvent(gen: number): void {
    if (gen !== this.gen || this.debounce) return;
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
    const domains = await conn.listDomains();
    const next = domains.map((d) => domainSummary(this.name, d));
    const old = new Map(this.list.map((v) => [v.uuid, v]));
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
    if (old.size > 0 || next.length !== this.list.length) this.d.bus.emit('host.changed', { name: this.name, status: this.status });
    this.wake();
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

async function probeFacts(conn: LibvirtConnection): Promise<HostFacts> {
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

export class HostService {
  private readonly links = new Map<string, HostLink>();

  constructor(private readonly d: HostServiceDeps) {}

  /** Loads the hosts and connects to each in the background (an unreachable host never holds up the core). */
  start(): void {
    for (const row of this.d.repo.list()) {
      const link = new HostLink(row, this.d);
      this.links.set(row.name.toLowerCase(), link);
      link.firstAttempt = link.connect();
    }
  }

  /**
   * Waits (at most `maxMs`) for hosts still making their first connection, so a command run
   * right after the core started (the CLI hosts one per command) sees them connected rather
   * than "connecting"; an unreachable host costs at most `maxMs`.
   */
  async settled(host?: string, maxMs = 45_000): Promise<void> {
    const links = host === undefined ? [...this.links.values()] : [this.link(host)];
    const waiting = links.filter((l) => l.status === 'connecting').map((l) => l.firstAttempt);
    if (waiting.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(waiting), new Promise<void>((r) => (timer = setTimeout(r, maxMs)))]);
    clearTimeout(timer);
  }

  private link(name: string): HostLink {
    if (typeof name !== 'string' || name === '') throw new NestboxError('INVALID_ARGUMENT', 'a host name is required');
    const l = this.links.get(name.toLowerCase());
    if (!l) throw new NestboxError('NOT_FOUND', `no host named '${name}' (see: nestbox host list)`);
    return l;
  }

  isHost = (name: string): boolean => this.links.has(name.toLowerCase());

  /** `HOST:VM`, `local:VM` or a local ref. */
  parseRef(ref: string): VmRef {
    if (typeof ref !== 'string' || ref === '') throw new NestboxError('INVALID_ARGUMENT', 'a VM name or UUID is required');
    return rule(() => parseVmRef(ref, this.isHost));
  }

  /** The host VM with this UUID (clients that keep a VM's UUID, as the renderer does, name host VMs by it too). */
  findByUuid(uuid: string): { host: string; vm: string } | null {
    const low = uuid.toLowerCase();
    for (const l of this.links.values()) {
      const v = l.summaries().find((x) => x.uuid === low);
      if (v) return { host: l.name, vm: v.uuid };
    }
    return null;
  }

  engine(host: string): LibvirtEngine {
    return this.link(host).engine;
  }

  list(): HostSummary[] {
    return [...this.links.values()].sort((a, b) => a.name.localeCompare(b.name)).map((l) => l.summary());
  }

  info(name: string): HostDetail {
    const l = this.link(name);
    return { ...l.summary(), vms: l.summaries() };
  }

  /** The VMs of every host (or of one), unreachable ones marked. */
  vms(host?: string): VmSummary[] {
    const links = host === undefined ? [...this.links.values()].sort((a, b) => a.name.localeCompare(b.name)) : [this.link(host)];
    return links.flatMap((l) => l.summaries());
  }

  private checkSpec(spec: Partial<HostSpec>): { uri?: string; peerUri?: string | null; migrateAddr?: string | null } {
    return rule(() => ({
      ...(spec.uri !== undefined ? { uri: validateHostUri(spec.uri, 'host URI') } : {}),
      ...(spec.peerUri !== undefined ? { peerUri: spec.peerUri === null || spec.peerUri === '' ? null : validateHostUri(spec.peerUri, 'peer URI') } : {}),
      ...(spec.migrateAddr !== undefined ? { migrateAddr: checkMigrateAddr(spec.migrateAddr) } : {}),
    }));
  }

  /** Connects once to check the URI (with libvirt's own error when it fails); nothing is stored on failure. */
  private async probe(name: string, uri: string): Promise<{ conn: LibvirtConnection; facts: HostFacts }> {
    let conn: LibvirtConnection;
    try {
      conn = this.d.connect(uri);
    } catch (err) {
      throw NestboxError.from(err, 'INVALID_ARGUMENT');
    }
    try {
      return { conn, facts: await probeFacts(conn) };
    } catch (err) {
      conn.close();
      const e = NestboxError.from(err, 'HOST_UNREACHABLE');
      throw new NestboxError(e.code, e.message.includes(name) ? e.message : `cannot connect to host '${name}' (${uri}): ${e.message}`, e.detail);
    }
  }

  async add(spec: HostSpec): Promise<HostSummary> {
    if (typeof spec !== 'object' || spec === null) throw new NestboxError('INVALID_ARGUMENT', 'a host needs a name and a URI');
    const name = rule(() => validateHostName(spec.name));
    if (typeof spec.uri !== 'string') throw new NestboxError('INVALID_ARGUMENT', 'a host needs a URI, e.g. qemu+ssh://user@server/system');
    const c = this.checkSpec(spec);
    if (this.isHost(name)) throw new NestboxError('ALREADY_EXISTS', `a host named '${name}' already exists`);
    const dup = [...this.links.values()].find((l) => l.row.uri === c.uri);
    if (dup) throw new NestboxError('ALREADY_EXISTS', `host '${dup.name}' already uses ${c.uri}`);
    const probed = await this.probe(name, c.uri!);
    if (this.isHost(name)) {
      probed.conn.close();
      throw new NestboxError('ALREADY_EXISTS', `a host named '${name}' already exists`);
    }
    const row: HostRow = { name, uri: c.uri!, peerUri: c.peerUri ?? null, migrateAddr: c.migrateAddr ?? null, createdAt: new Date().toISOString(), facts: probed.facts };
    this.d.repo.insert(row, probed.facts);
    const link = new HostLink(row, this.d);
    this.links.set(name.toLowerCase(), link);
    this.d.log('info', 'host', `added host '${name}' (${row.uri})`);
    await link.connect(probed);
    return link.summary();
  }

  async update(name: string, changes: Partial<HostSpec>): Promise<HostSummary> {
    const link = this.link(name);
    if (typeof changes !== 'object' || changes === null) throw new NestboxError('INVALID_ARGUMENT', "'changes' must be an object");
    const newName = changes.name === undefined ? link.name : rule(() => validateHostName(changes.name!));
    const c = this.checkSpec(changes);
    if (newName.toLowerCase() !== link.name.toLowerCase() && this.isHost(newName)) throw new NestboxError('ALREADY_EXISTS', `a host named '${newName}' already exists`);
    if (link.migrations.size > 0) throw new NestboxError('BUSY', `host '${link.name}' has a migration under way`);
    const uri = c.uri ?? link.row.uri;
    const probed = uri !== link.row.uri ? await this.probe(newName, uri) : undefined;
    const next: HostRow = {
      ...link.row,
      name: newName,
      uri,
      peerUri: c.peerUri !== undefined ? c.peerUri : link.row.peerUri,
      migrateAddr: c.migrateAddr !== undefined ? c.migrateAddr : link.row.migrateAddr,
    };
    this.d.repo.update(link.name, next);
    link.close();
    this.links.delete(link.name.toLowerCase());
    if (newName !== link.name) this.d.bus.emit('host.changed', { name: link.name, removed: true });
    const fresh = new HostLink(this.d.repo.get(newName) ?? next, this.d);
    this.links.set(newName.toLowerCase(), fresh);
    this.d.log('info', 'host', `changed host '${link.name}'${newName !== link.name ? ` (now '${newName}')` : ''}`);
    await fresh.connect(probed);
    return fresh.summary();
  }

  remove(name: string): void {
    const link = this.link(name);
    if (link.migrations.size > 0) throw new NestboxError('BUSY', `host '${link.name}' has a migration under way; cancel it first`);
    const vms = link.summaries();
    link.close();
    this.links.delete(link.name.toLowerCase());
    this.d.repo.delete(link.name);
    for (const v of vms) this.d.bus.emit('vm.removed', { uuid: v.uuid });
    this.d.bus.emit('host.changed', { name: link.name, removed: true });
    this.d.log('info', 'host', `removed host '${link.name}' (nothing on the host was changed)`);
  }

  /**
   * Starts a migration as a job: peer-to-peer, so the source host's daemon dials the
   * destination's (its `peerUri`) and the desktop only starts it and watches.
   */
  migrate(spec: MigrateSpec): JobInfo {
    // Types and ranges were checked at the API's edge (schemas.ts); what is left is meaning.
    const ref = this.parseRef(spec.ref);
    if (ref.kind !== 'host') throw new NestboxError('UNSUPPORTED', `'${spec.ref}' is on this computer: live migration is between libvirt hosts (a VM here moves to a host with move)`);
    if (spec.to.toLowerCase() === LOCAL_HOST) throw new NestboxError('UNSUPPORTED', 'live migration to this computer is not possible: it runs VMs without libvirt (move the VM instead)');
    const src = this.link(ref.host);
    const dst = this.link(spec.to);
    if (src === dst) throw new NestboxError('INVALID_ARGUMENT', `'${spec.ref}' is already on host '${dst.name}'`);
    const vm = src.engine.summary(ref.vm);
    src.connection();
    dst.connection();
    const active = vm.state === 'running' || vm.state === 'paused';
    const live = spec.live ?? active;
    if (live && !active) throw new NestboxError('INVALID_STATE', `'${src.name}:${vm.name}' is ${vm.state}: only a running or paused VM migrates live (use offline)`);
    if (!live && vm.state !== 'poweredOff') throw new NestboxError('INVALID_STATE', `'${src.name}:${vm.name}' is ${vm.state}: an offline migration needs it powered off`);
    const { maxDowntimeMs, bandwidthMiBps } = spec;
    if (src.migrations.has(vm.uuid)) throw new NestboxError('BUSY', `'${src.name}:${vm.name}' is already being migrated`);
    const destUri = dst.row.peerUri ?? dst.row.uri;
    const title = `Migrating ${src.name}:${vm.name} to ${dst.name}${live ? '' : ' (offline)'}`;
    const job = this.d.jobs.start(
      'migrate',
      title,
      `${src.name}:${vm.name}`,
      async (ctx): Promise<MigrateResult> => {
        try {
          this.d.log('info', 'migrate', `${title}${spec.copyStorage ? ', copying storage' : ''}`);
          const r = await src.connection().migrate(
            vm.name,
            destUri,
            {
              live,
              copyStorage: spec.copyStorage === true,
              ...(spec.unsafe === true ? { unsafe: true } : {}),
              ...(maxDowntimeMs !== undefined ? { maxDowntimeMs } : {}),
              ...(bandwidthMiBps !== undefined ? { bandwidthMiBps } : {}),
              ...(dst.row.migrateAddr ? { migrateUri: `tcp://${dst.row.migrateAddr}` } : {}),
              // The source daemon dials the peer URI; this computer reads the result and
              // cleans up through the URI it already uses for the destination.
              destClientUri: dst.row.uri,
              persistent: true,
              undefineSource: true,
            },
            (p) => {
              const pct = p.dataTotal > 0 ? Math.min(99, (p.dataProcessed / p.dataTotal) * 100) : 0;
              ctx.migration({ dataTotal: p.dataTotal, dataProcessed: p.dataProcessed, dataRemaining: p.dataRemaining, dirtyRate: p.dirtyRate, elapsedMs: p.elapsedMs }, pct);
            },
            ctx.signal,
          );
          await Promise.allSettled([src.refresh(), dst.refresh()]);
          const result: MigrateResult = { vm: vm.name, from: src.name, to: dst.name, live, elapsedMs: r.elapsedMs, downtimeMs: r.downtimeMs, dataBytes: r.dataBytes };
          this.d.log('info', 'migrate', `migrated '${vm.name}' from '${src.name}' to '${dst.name}' in ${(r.elapsedMs / 1000).toFixed(1)} s${r.downtimeMs !== null ? `, downtime ${r.downtimeMs} ms` : ''}`);
          return result;
        } catch (err) {
          await Promise.allSettled([src.refresh(), dst.refresh()]);
          if (!ctx.signal.aborted) this.d.log('error', 'migrate', `migrating '${vm.name}' from '${src.name}' to '${dst.name}' failed: ${message(err)}`);
          else this.d.log('info', 'migrate', `migration of '${vm.name}' from '${src.name}' to '${dst.name}' cancelled; it keeps running on '${src.name}'`);
          throw err;
        } finally {
          src.migrations.delete(vm.uuid);
        }
      },
      { vm: { uuid: vm.uuid, name: `${src.name}:${vm.name}` } },
    );
    src.migrations.set(vm.uuid, job.id);
    return job;
  }

  /** A connected host's libvirt connection (HOST_UNREACHABLE otherwise), for moves. */
  connectionOf(host: string): LibvirtConnection {
    return this.link(host).connection();
  }

  /** The host's name as it was added (the user may type it in another case). */
  hostName(host: string): string {
    return this.link(host).name;
  }

  /** Re-lists a host's VMs now (after a move defined or removed one). */
  async refreshHost(host: string): Promise<void> {
    await this.link(host).refresh();
  }

  /**
   * Marks a host VM as taken by a job (a move) the way a migration marks it: a migration or a
   * second move of it is refused as BUSY (at once, before the job starts), and cancelling the
   * VM's job cancels this one once `job` names it.
   */
  hold(host: string, uuid: string): { job(id: string): void; release(): void } {
    const l = this.link(host);
    if (l.migrations.has(uuid)) throw new NestboxError('BUSY', `'${l.name}:${l.engine.summary(uuid).name}' is already being migrated or moved`);
    let id = `pending-${uuid}`;
    l.migrations.set(uuid, id);
    return {
      job: (jobId) => {
        if (l.migrations.get(uuid) === id) l.migrations.set(uuid, jobId);
        id = jobId;
      },
      release: () => {
        if (l.migrations.get(uuid) === id) l.migrations.delete(uuid);
      },
    };
  }

  /** A host's storage pools and the ISO volumes in them (services/hostvms.ts). */
  pools(name: string): Promise<HostPool[]> {
    return hostPools(this.link(name));
  }

  /** Copies an ISO from this machine into a host's pool, as a job (services/hostvms.ts). */
  uploadIso(spec: HostIsoUpload): Promise<JobInfo> {
    const link = this.link(spec.name);
    return startIsoUpload(link, this.d.jobs, spec, (m) => this.d.log('info', 'host', m));
  }

  /** Creates a VM on the host `spec.host` names (services/hostvms.ts). */
  createVm(spec: CreateVmSpec): Promise<OpResult> {
    const link = this.link(spec.host ?? '');
    return createOnHost(link, spec, (m) => this.d.log('info', 'host', m));
  }

  close(): void {
    for (const l of this.links.values()) l.close();
  }
}

