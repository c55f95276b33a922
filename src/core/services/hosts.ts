/**
 * libvirt hosts: which ones Nestbox knows (SQLite), one connection to each, kept alive by
 * libvirt's own client code, and the host's VMs kept current by one long-lived event stream
 * per host (`virsh event --all --loop`): every event re-lists the host's VMs (one call), so
 * there is no polling loop per VM. A host that goes away is shown unreachable with the reason,
 * its VMs stay listed as last seen, and Nestbox reconnects by itself with a backoff.
 *
 * Nestbox never installs anything on a host and never opens a port there: it only speaks to
 * the libvirt daemon the host already runs, over the URI the user gave.
 *
 * This file is the registry (add, change, remove, look up, refs) and the API's rules; one
 * host's connection, event stream and VM list are hostlink.ts, the migration job
 * hostmigrate.ts, the pools, ISO uploads and VM creation on a host hostvms.ts.
 */
import type { CreateVmSpec, HostDetail, HostIsoUpload, HostPool, HostSpec, HostSummary, JobInfo, MigrateSpec, OpResult, VmSummary } from '../api/contract';
import { NestboxError } from '../api/errors';
import { HostRuleError, LOCAL_HOST, parseVmRef, validateHostName, validateHostUri, type VmRef } from '../domain/hosts';
import type { LibvirtEngine } from '../engines/libvirt';
import type { LibvirtConnection } from '../libvirt';
import type { HostFacts, HostRow } from '../store/hosts';
import { HostLink, probeFacts, type HostLinkDeps } from './hostlink';
import { checkMigrateAddr, startMigration } from './hostmigrate';
import { createOnHost, hostPools, startIsoUpload } from './hostvms';

/** Converts the pure rules' errors into API errors at the service's edge. */
function rule<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof HostRuleError) throw new NestboxError(err.kind === 'unknownHost' ? 'NOT_FOUND' : 'INVALID_ARGUMENT', err.message);
    throw err;
  }
}

export class HostService {
  private readonly links = new Map<string, HostLink>();

  constructor(private readonly d: HostLinkDeps) {}

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
    return startMigration(this.d, src, dst, vm, live, spec);
  }

  /** The host's connection once its first connection attempt has ended; null when it is unknown or unreachable. */
  async reach(host: string): Promise<LibvirtConnection | null> {
    if (!this.isHost(host)) return null;
    await this.settled(host);
    try {
      return this.link(host).connection();
    } catch {
      return null;
    }
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

