/**
 * The core: one per data directory. It owns the database, the host's capabilities and the
 * VMs' QEMU processes, and turns RPC calls from any transport into service calls.
 */
import type { AcceleratorChoice, EventName, HostInfo, Result } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { Session } from '../api/rpc';
import { OS_TYPES } from '../domain/ostypes';
import { parseAccelChoice, probeHost, resolveAccelerator, type HostCapabilities } from '../qemu/host';
import { CloneRepository, EventRepository, openDatabase, SettingsRepository, SnapshotRepository, VmRepository, type Db } from '../store/db';
import { MediaRepository } from '../store/media';
import { StatsRepository } from '../store/stats';
import { CloneService } from './clones';
import { Monitor } from './monitor';
import { readKsm } from '../qemu/cgroups';
import { QemuImg } from '../storage/qemuimg';
import { recoverSnapshots } from './recovery';
import { SnapshotService } from './snapshots';
import { NetworkService } from './network';
import { ShareService } from './shares';
import { DataLayout } from '../store/paths';
import { EventBus } from './events';
import { VmService } from './vms';
import type { QemuLauncher } from './lifecycle';
import { JobService } from './jobs';
import { JobJournal, sweepInterruptedJobs, undoOnHosts, type HostUndo } from './jobjournal';
import { MediaService } from './media';
import { VmDisks } from './vmdisks';
import { OvaService } from './ova';
import { dispatch, isMethod, type HandlerContext } from './handlers';
import { ConsoleStreams, StatsSubscriptions, type ClientSession } from './session';
import { HostService } from './hosts';
import { MoveService } from './moves';
import { HostRepository } from '../store/hosts';
import { LocalEngine } from '../engines/local';
import type { VmEngine } from '../engines/engine';
import { LibvirtConnection } from '../libvirt';
import type { VmSummary } from '../api/contract';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Methods whose `ref` may name a libvirt host's VM (`HOST:VM`); the others are this computer's only. */
const ROUTED: ReadonlySet<string> = new Set([
  'vms.info', 'vms.start', 'vms.pause', 'vms.resume', 'vms.reset', 'vms.shutdown', 'vms.powerOff', 'vms.saveState', 'vms.delete',
  'vms.screenshot', 'vms.cancel', 'vms.migrate', 'vms.move', 'snapshots.list', 'snapshots.take', 'snapshots.restore', 'snapshots.delete', 'console.open',
]);

export const NESTBOX_VERSION = '0.1.0';

export interface CoreOptions {
  readonly dataDir: string;
  /** Reuse an earlier probe (tests start many cores). */
  readonly host?: HostCapabilities;
  /** Starts QEMU; the host's QEMU unless a test passes a fake one. */
  readonly launcher?: QemuLauncher;
}

let cachedProbe: Promise<HostCapabilities> | null = null;

/** Probing starts QEMU once; a process hosting several cores (tests) probes once. */
export function probeHostOnce(): Promise<HostCapabilities> {
  cachedProbe ??= probeHost();
  return cachedProbe;
}

export class Core {
  readonly bus = new EventBus();
  readonly vms: VmService;
  readonly snapshots: SnapshotService;
  readonly network: NetworkService;
  readonly shares: ShareService;
  readonly jobs: JobService;
  readonly media: MediaService;
  readonly disks: VmDisks;
  readonly ova: OvaService;
  readonly monitor: Monitor;
  private readonly history: StatsRepository;
  readonly clones: CloneService;
  private readonly settings: SettingsRepository;
  private readonly eventsRepo: EventRepository;
  readonly hosts: HostService;
  /** Powered-off VMs between this computer and a libvirt host. */
  readonly moves: MoveService;
  /** This computer as a VM engine (the direct-QEMU services behind the engine seam). */
  readonly local: LocalEngine;
  private closed = false;

  private constructor(
    readonly layout: DataLayout,
    private readonly db: Db,
    readonly host: HostCapabilities,
    launcher?: QemuLauncher,
  ) {
    this.settings = new SettingsRepository(db);
    this.eventsRepo = new EventRepository(db);
    const cloneRepo = new CloneRepository(db);
    this.jobs = new JobService(this.bus, new JobJournal(db));
    this.vms = new VmService({
      jobs: this.jobs,
      clones: cloneRepo,
      layout,
      vms: new VmRepository(db),
      events: this.eventsRepo,
      bus: this.bus,
      host,
      accelChoice: () => this.accelChoice(),
      preflight: (config) => this.network.preflight(config),
      stateBandwidth: () => this.stateBandwidth(),
      ...(launcher ? { launcher } : {}),
    });
    const vmRepo = new VmRepository(db);
    this.snapshots = new SnapshotService({
      vms: this.vms,
      vmRepo,
      repo: new SnapshotRepository(db),
      img: host.qemu ? new QemuImg(host.qemu.imgBinary) : null,
      bus: this.bus,
      bandwidth: () => this.stateBandwidth(),
    });
    this.network = new NetworkService({ vms: this.vms, vmRepo, bus: this.bus });
    this.shares = new ShareService({ reg: this.vms.registry, vms: vmRepo, bus: this.bus });
    const img = host.qemu ? new QemuImg(host.qemu.imgBinary) : null;
    this.media = new MediaService({
      layout,
      vms: this.vms,
      vmRepo,
      snapshots: new SnapshotRepository(db),
      repo: new MediaRepository(db),
      img,
      jobs: this.jobs,
      bus: this.bus,
    });
    this.disks = new VmDisks({ vms: this.vms, vmRepo, media: this.media, jobs: this.jobs, bus: this.bus });
    this.ova = new OvaService({ layout, vms: this.vms, vmRepo, media: this.media, img, jobs: this.jobs, host });
    this.history = new StatsRepository(db);
    this.monitor = new Monitor({ running: () => this.vms.monitored(), history: this.history, bus: this.bus });
    this.clones = new CloneService({
      layout,
      vms: this.vms,
      vmRepo,
      snapshots: new SnapshotRepository(db),
      clones: cloneRepo,
      img,
      bus: this.bus,
    });
    this.vms.beforeStart = (uuid) => this.snapshots.beforeStart(uuid);
    this.local = new LocalEngine({
      vms: this.vms,
      snapshots: this.snapshots,
    });
    this.hosts = new HostService({
      repo: new HostRepository(db),
      bus: this.bus,
      jobs: this.jobs,
      log: (level, kind, message) => this.bus.emit('log', this.eventsRepo.append(null, level, kind, message)),
      // NESTBOX_SSH_SHARE=off: every virsh call to a qemu+ssh host connects anew (an ssh without ControlMaster).
      connect: (uri) => new LibvirtConnection(uri, process.env['NESTBOX_SSH_SHARE'] === 'off' ? {} : { sshMuxDir: layout.sshMuxDir }),
    });
    this.moves = new MoveService({
      hosts: this.hosts,
      vms: this.vms,
      vmRepo,
      img,
      jobs: this.jobs,
      log: (level, kind, message) => this.bus.emit('log', this.eventsRepo.append(null, level, kind, message)),
    });
  }

  /** The engine a VM reference names (`HOST:VM` a libvirt host's VM, anything else this computer's) and the VM's name there. */
  async route(ref: string): Promise<{ engine: VmEngine; vm: string }> {
    const r = this.hosts.parseRef(ref);
    if (r.kind === 'local') {
      // Clients that keep a VM's UUID (the renderer) name a host's VM by it too.
      if (UUID_RE.test(r.ref) && !this.localExists(r.ref)) {
        const h = this.hosts.findByUuid(r.ref);
        if (h) return { engine: this.hosts.engine(h.host), vm: h.vm };
      }
      return { engine: this.local, vm: r.ref };
    }
    await this.hosts.settled(r.host);
    return { engine: this.hosts.engine(r.host), vm: r.vm };
  }

  private localExists(ref: string): boolean {
    try {
      this.vms.resolve(ref);
      return true;
    } catch {
      return false;
    }
  }

  /** A ref of a method only this computer's VMs have: a host VM's ref is a clear UNSUPPORTED. */
  private localOnly(ref: unknown, method: string): void {
    if (typeof ref !== 'string') return;
    let host: string | null = null;
    if (ref.includes(':')) {
      const r = this.hosts.parseRef(ref);
      if (r.kind === 'host') host = r.host;
    } else if (UUID_RE.test(ref) && !this.localExists(ref)) {
      host = this.hosts.findByUuid(ref)?.host ?? null;
    }
    if (host !== null) throw new NestboxError('UNSUPPORTED', `host '${host}' cannot do ${method} for its VMs (Nestbox offers it for this computer's VMs only)`);
  }

  /** `vms.list`: this computer's VMs, then each host's (or one host's; 'local' is this computer). */
  async listVms(host: string | undefined, wait: boolean): Promise<VmSummary[]> {
    if (host !== undefined && host.toLowerCase() === 'local') return this.vms.list();
    if (wait) await this.hosts.settled(host);
    return host === undefined ? [...this.vms.list(), ...this.hosts.vms()] : this.hosts.vms(host);
  }

  /** Opens the data directory. The caller must hold its lock (see server/lock.ts). */
  static async open(opts: CoreOptions): Promise<Core> {
    const layout = new DataLayout(opts.dataDir);
    layout.prepare();
    const host = opts.host ?? (await probeHostOnce());
    const db = openDatabase(layout.database);
    const core = new Core(layout, db, host, opts.launcher);
    await core.vms.reconcile();
    // Storage jobs the previous core was killed in the middle of: their half-made files and VMs go.
    await sweepInterruptedJobs({
      journal: new JobJournal(db),
      vmRepo: new VmRepository(db),
      media: new MediaRepository(db),
      deleteVm: async (uuid) => {
        await core.vms.delete(uuid, false);
      },
      log: (uuid, message) => core.vms.log(uuid, 'warning', 'job-interrupted', message),
    });
    // Before any client is served: a snapshot being taken now must not look unfinished.
    await recoverSnapshots({ vms: core.vms, vmRepo: new VmRepository(db), snapshots: new SnapshotRepository(db), img: host.qemu ? new QemuImg(host.qemu.imgBinary) : null, bus: core.bus });
    core.media.sync();
    await core.network.reattachAll();
    core.monitor.start();
    core.hosts.start();
    // What interrupted jobs had made on hosts goes once each host is reached (in the background: a host may be slow).
    void undoOnHosts({
      journal: new JobJournal(db),
      reach: async (name) => {
        const conn = await core.hosts.reach(name);
        return conn ? hostUndo(conn) : null;
      },
      log: (message) => core.bus.emit('log', core.eventsRepo.append(null, 'warning', 'job-interrupted', message)),
    }).catch(() => undefined);
    return core;
  }

  accelChoice(): AcceleratorChoice {
    return parseAccelChoice(process.env['NESTBOX_ACCEL']) ?? parseAccelChoice(this.settings.get('accel')) ?? 'auto';
  }

  private static readonly SETTINGS = ['accel', 'snapshotBandwidth'] as const;

  /**
   * The `snapshotBandwidth` setting (MiB/s) in bytes per second: how fast live snapshots and
   * saved states may write RAM, for hosts whose disk must stay responsive. Unset: no limit.
   */
  stateBandwidth(): number | null {
    const v = this.settings.get('snapshotBandwidth');
    return v ? Number(v) * 1024 * 1024 : null;
  }

  getSetting(key: string): string | null {
    if (!(Core.SETTINGS as readonly string[]).includes(key)) throw new NestboxError('INVALID_ARGUMENT', `unknown setting '${key}' (known: ${Core.SETTINGS.join(', ')})`);
    return this.settings.get(key) ?? null;
  }

  setSetting(key: string, value: string | null): void {
    this.getSetting(key);
    if (key === 'accel' && value !== null) parseAccelChoice(value);
    if (key === 'snapshotBandwidth' && value !== null && !/^[1-9][0-9]{0,6}$/.test(value)) {
      throw new NestboxError('INVALID_ARGUMENT', `snapshotBandwidth is a whole number of MiB per second (1 to 9999999), not '${value}'`);
    }
    if (value === null) this.settings.delete(key);
    else this.settings.set(key, value);
    this.eventsRepo.append(null, 'info', 'setting', `setting '${key}' ${value === null ? 'reset to its default' : `set to '${value}'`}`);
  }

  hostInfo(): HostInfo {
    const choice = this.accelChoice();
    let effective: HostInfo['accelEffective'] = null;
    let note: string | undefined;
    try {
      const r = resolveAccelerator(choice, this.host.accelerators);
      effective = r.accel;
      note = r.note;
    } catch (err) {
      note = (err as Error).message;
    }
    const q = this.host.qemu;
    return {
      nestboxVersion: NESTBOX_VERSION,
      platform: process.platform,
      arch: process.arch,
      dataDir: this.layout.dataDir,
      qemu: q ? { binary: q.binary, version: q.version, imgBinary: q.imgBinary } : null,
      accelerators: this.host.accelerators,
      accelChoice: choice,
      accelEffective: effective,
      ...(note ? { accelNote: note } : {}),
      firmware: { bios: q !== null, uefi: this.host.ovmf?.code ?? null, secureBoot: this.host.secureBoot?.code ?? null },
      swtpm: this.host.swtpm?.swtpm ?? null,
      memoryMiB: this.host.memoryMiB,
      cpus: this.host.cpus,
      osTypes: OS_TYPES,
      ksm: readKsm(),
      cgroups: (() => {
        const c = this.vms.cgroups();
        const d = (e: { dir: string } | { reason: string }) => ('dir' in e ? `available (${e.dir})` : `not available: ${e.reason}`);
        return { version: c.version, cpu: d(c.controllers.cpu), cpuset: d(c.controllers.cpuset), memory: d(c.controllers.memory) };
      })(),
    };
  }

  /** The event log, newest last: 1 to 10,000 entries (100 when not asked), of one VM or all. */
  recentEvents(ref: string | undefined, limit: number | undefined): Result<'events.recent'> {
    const uuid = ref !== undefined ? this.vms.resolve(ref).uuid : undefined;
    return this.eventsRepo.recent(uuid, Math.min(Math.max(1, Math.floor(limit ?? 100)), 10_000));
  }

  /** A VM's per-minute history since `since` (ms since the epoch; default the last hour). */
  statsHistory(ref: string, since: number | undefined): Result<'stats.history'> {
    return this.history.since(this.vms.resolve(ref).uuid, since ?? Date.now() - 3600_000);
  }

  /**
   * A session for one connected client: each call is looked up in the API table, its params
   * checked against the method's schema, and handed to its handler. Console streams the
   * client opened close with it.
   */
  session(push: (name: EventName, data: unknown) => void, congested: () => boolean = () => false): Session {
    const client: ClientSession = { consoles: new ConsoleStreams(
        async (ref, channel, sink) => {
          const r = await this.route(ref);
          return r.engine.openConsole(r.vm, channel, sink);
        },
        push,
        congested,
      ), stats: new StatsSubscriptions() };
    const ctx: HandlerContext = { core: this, session: client };
    const offBus = this.bus.on((name, data) => {
      if (client.stats.wants(name, data)) push(name, data);
    });
    const call = async (method: string, params: unknown): Promise<unknown> => {
      if (this.closed) throw new NestboxError('BUSY', 'the Nestbox core is shutting down');
      if (!isMethod(method)) throw new NestboxError('UNKNOWN_METHOD', `unknown method '${method}'`);
      return dispatch(method, params, ctx, ROUTED.has(method) ? undefined : (checked) => this.localOnly((checked as { ref?: unknown }).ref, method));
    };
    return {
      call,
      dispose: () => {
        offBus();
        client.consoles.closeAll();
      },
    };
  }

  /** Closes the database and lets go of QEMU; running VMs keep running. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Running jobs end (qemu-img is stopped, partial files removed) before the database closes.
    void this.jobs.cancelAll();
    this.monitor.stop();
    this.vms.logRotator.stop();
    this.hosts.close();
    this.vms.detachAll();
    this.network.internal.close();
    this.db.close();
  }
}

/**
 * A host connection as the journal's undo needs it: a domain or volume already gone counts as
 * removed, and a domain that runs (started by someone since) is left alone.
 */
function hostUndo(conn: LibvirtConnection): HostUndo {
  return {
    async undefine(uuid) {
      const d = (await conn.listDomains()).find((x) => x.uuid === uuid);
      if (!d) return;
      if (d.state !== 'shutoff') throw new NestboxError('INVALID_STATE', `it is ${d.state}; left as it is`);
      await conn.undefine(uuid, { removeStorage: false });
    },
    async deleteVolume(pool, volume) {
      try {
        await conn.deleteVolume(pool, volume);
      } catch (err) {
        if ((await conn.listVolumes(pool)).some((v) => v.name === volume)) throw err;
      }
    },
  };
}
