/**
 * The core: one per data directory. It owns the database, the host's capabilities and the
 * VMs' QEMU processes, and turns RPC calls from any transport into service calls.
 */
import type { AcceleratorChoice, ApiEvents, CreateVmSpec, ModifyVmSpec, EventName, HostInfo, MethodName, VmSummary, HostSpec } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { Session } from '../api/rpc';
import { OS_TYPES } from '../domain/ostypes';
import { parseAccelChoice, probeHost, resolveAccelerator, type HostCapabilities } from '../qemu/host';
import { CloneRepository, EventRepository, MediaRepository, openDatabase, SettingsRepository, SnapshotRepository, StatsRepository, VmRepository, type Db } from '../store/db';
import { CloneService } from './clones';
import { Monitor } from './monitor';
import { readKsm } from '../qemu/cgroups';
import { QemuImg } from '../storage/qemuimg';
import { recoverSnapshots } from './recovery';
import { SnapshotService } from './snapshots';
import { NetworkService } from './network';
import { DataLayout } from '../store/paths';
import { EventBus } from './events';
import { VmService } from './vms';
import { JobService } from './jobs';
import { JobJournal, sweepInterruptedJobs } from './jobjournal';
import { MediaService } from './media';
import { OvaService } from './ova';
import { resolveDiskPath } from '../qemu/argv';
import { readSerialLog, type OpenStream, type StreamSink } from './consoles';
import { HostService } from './hosts';
import { HostRepository } from '../store/hosts';
import { LocalEngine } from '../engines/local';
import type { VmEngine } from '../engines/engine';
import { LibvirtConnection } from '../libvirt';

export const NESTBOX_VERSION = '0.1.0';

export interface CoreOptions {
  readonly dataDir: string;
  /** Reuse an earlier probe (tests start many cores). */
  readonly host?: HostCapabilities;
}

let cachedProbe: Promise<HostCapabilities> | null = null;

/** Probing starts QEMU once; a process hosting several cores (tests) probes once. */
export function probeHostOnce(): Promise<HostCapabilities> {
  cachedProbe ??= probeHost();
  return cachedProbe;
}

function obj(params: unknown): Record<string, unknown> {
  if (params === undefined || params === null) return {};
  if (typeof params !== 'object' || Array.isArray(params)) throw new NestboxError('INVALID_ARGUMENT', 'parameters must be an object');
  return params as Record<string, unknown>;
}

function str(p: Record<string, unknown>, key: string): string {
  const v = p[key];
  if (typeof v !== 'string' || v === '') throw new NestboxError('INVALID_ARGUMENT', `'${key}' must be a non-empty string`);
  return v;
}

/** An optional number: absent gives undefined; anything but a finite number is refused. */
function optNum(p: Record<string, unknown>, key: string): number | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new NestboxError('INVALID_ARGUMENT', `'${key}' must be a finite number`);
  return v;
}

type FieldType = 'string' | 'number' | 'boolean' | 'object' | 'string|null';

/**
 * Checks a spec object at the edge: every key known, every value of its type (absent is
 * fine; the service applies defaults and deeper rules). What fails is INVALID_ARGUMENT,
 * never a TypeError from deep inside a service.
 */
function spec(v: unknown, what: string, fields: Record<string, FieldType>): Record<string, unknown> {
  const o = obj(v);
  for (const [k, val] of Object.entries(o)) {
    const t = fields[k];
    if (!t) throw new NestboxError('INVALID_ARGUMENT', `${what}: unknown field '${k}' (known: ${Object.keys(fields).join(', ')})`);
    if (val === undefined) continue;
    const ok =
      t === 'string|null' ? val === null || typeof val === 'string' :
      t === 'object' ? typeof val === 'object' && val !== null && !Array.isArray(val) :
      t === 'number' ? typeof val === 'number' && Number.isFinite(val) :
      typeof val === t;
    if (!ok) throw new NestboxError('INVALID_ARGUMENT', `${what}: '${k}' must be ${t === 'string|null' ? 'a string or null' : t === 'object' ? 'an object' : `a ${t}`}`);
  }
  return o;
}

// Typed against the contract: a field added there and not here fails to compile.
const CREATE_FIELDS: Record<keyof CreateVmSpec, FieldType> = {
  name: 'string', osType: 'string', memoryMiB: 'number', cpus: 'number', firmware: 'string', diskSize: 'string', disk: 'string',
  noDisk: 'boolean', diskBus: 'string', iso: 'string', nic: 'string', nicNetwork: 'string', nicBridge: 'string', display: 'string',
  description: 'string', group: 'string', autoSnapshots: 'number',
};

const MODIFY_FIELDS: Record<keyof ModifyVmSpec, FieldType> = {
  name: 'string', memoryMiB: 'number', cpus: 'number', iso: 'string|null', description: 'string', group: 'string',
  firmware: 'string', display: 'string', resources: 'object', autoSnapshots: 'number',
};

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const HOST_FIELDS: Record<keyof HostSpec, FieldType> = { name: 'string', uri: 'string', peerUri: 'string|null', migrateAddr: 'string|null' };

/** Methods whose `ref` may name a libvirt host's VM (`HOST:VM`); the others are this computer's only. */
const ROUTED: ReadonlySet<string> = new Set([
  'vms.info', 'vms.start', 'vms.pause', 'vms.resume', 'vms.reset', 'vms.shutdown', 'vms.powerOff', 'vms.saveState', 'vms.delete',
  'vms.screenshot', 'vms.cancel', 'vms.migrate', 'snapshots.list', 'snapshots.take', 'snapshots.restore', 'snapshots.delete', 'console.open',
]);

export class Core {
  readonly bus = new EventBus();
  readonly vms: VmService;
  readonly snapshots: SnapshotService;
  readonly network: NetworkService;
  readonly jobs: JobService;
  readonly media: MediaService;
  readonly ova: OvaService;
  readonly monitor: Monitor;
  private readonly history: StatsRepository;
  readonly clones: CloneService;
  private readonly settings: SettingsRepository;
  private readonly eventsRepo: EventRepository;
  readonly hosts: HostService;
  /** This computer as a VM engine (the direct-QEMU services behind the engine seam). */
  readonly local: LocalEngine;
  private closed = false;

  private constructor(
    readonly layout: DataLayout,
    private readonly db: Db,
    readonly host: HostCapabilities,
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
    this.ova = new OvaService({ layout, vms: this.vms, vmRepo, media: this.media, img, jobs: this.jobs });
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
      beforeStart: (ref) => {
        const row = this.vms.resolve(ref);
        this.media.assertNotBusy(row.config.disks.map((d) => resolveDiskPath(row.dir, d.file)));
      },
    });
    this.hosts = new HostService({
      repo: new HostRepository(db),
      bus: this.bus,
      jobs: this.jobs,
      log: (level, kind, message) => this.bus.emit('log', this.eventsRepo.append(null, level, kind, message)),
      connect: (uri) => new LibvirtConnection(uri),
    });
  }

  /** The engine a VM reference names (`HOST:VM` a libvirt host's VM, anything else this computer's) and the VM's name there. */
  async route(ref: string): Promise<{ engine: VmEngine; vm: string }> {
    const r = this.hosts.parseRef(ref);
    if (r.kind === 'local') {
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
    const core = new Core(layout, db, host);
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
      firmware: { bios: q !== null, uefi: this.host.ovmf?.code ?? null },
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

  /** A session for one connected client; serial streams it opened close with it. */
  session(push: (name: EventName, data: unknown) => void, congested: () => boolean = () => false): Session {
    const streams = new Map<string, OpenStream>();
    /** VM uuids this client wants `vm.stats` for; '*' is every VM plus `host.stats`. */
    const statsSubs = new Set<string>();
    const offBus = this.bus.on((name, data) => {
      if (name === 'console.data' || name === 'console.closed') return;
      if (name === 'vm.stats') {
        if (!statsSubs.has('*') && !statsSubs.has((data as ApiEvents['vm.stats']).uuid)) return;
      } else if (name === 'host.stats' && !statsSubs.has('*')) return;
      push(name, data);
    });
    const call = async (method: string, params: unknown): Promise<unknown> => {
      if (this.closed) throw new NestboxError('BUSY', 'the Nestbox core is shutting down');
      const p = obj(params);
      const m = method as MethodName;
      if (!ROUTED.has(m)) this.localOnly(p['ref'], m);
      switch (m) {
        case 'host.info':
          return this.hostInfo();
        case 'vms.list':
          if (p['host'] !== undefined && typeof p['host'] !== 'string') throw new NestboxError('INVALID_ARGUMENT', "'host' must be a host name");
          return this.listVms(p['host'] as string | undefined, p['wait'] === true);
        case 'vms.info': {
          const r = await this.route(str(p, 'ref'));
          return r.engine.info(r.vm);
        }
        case 'vms.create':
          return this.vms.create(spec(p, 'vms.create', CREATE_FIELDS) as never);
        case 'vms.modify':
          return this.vms.modify(str(p, 'ref'), spec(p['changes'], 'vms.modify changes', MODIFY_FIELDS) as never);
        case 'vms.start': {
          const r = await this.route(str(p, 'ref'));
          return r.engine.start(r.vm);
        }
        case 'vms.pause': {
          const r = await this.route(str(p, 'ref'));
          return r.engine.pause(r.vm);
        }
        case 'vms.resume': {
          const r = await this.route(str(p, 'ref'));
          return r.engine.resume(r.vm);
        }
        case 'vms.reset': {
          const r = await this.route(str(p, 'ref'));
          return r.engine.reset(r.vm);
        }
        case 'vms.shutdown': {
          const r = await this.route(str(p, 'ref'));
          return r.engine.shutdown(r.vm, optNum(p, 'timeoutS'));
        }
        case 'vms.powerOff': {
          const r = await this.route(str(p, 'ref'));
          return r.engine.powerOff(r.vm);
        }
        case 'vms.saveState': {
          const r = await this.route(str(p, 'ref'));
          return r.engine.saveState(r.vm);
        }
        case 'vms.discardState':
          return this.vms.discardState(str(p, 'ref'));
        case 'vms.delete': {
          const r = await this.route(str(p, 'ref'));
          return r.engine.delete(r.vm, { keepStorage: p['keepFiles'] === true });
        }
        case 'vms.screenshot': {
          const r = await this.route(str(p, 'ref'));
          return r.engine.screenshot(r.vm);
        }
        case 'vms.migrate':
          await this.hosts.settled();
          return this.hosts.migrate(p as never);
        case 'hosts.list':
          if (p['wait'] === true) await this.hosts.settled();
          return this.hosts.list();
        case 'hosts.add':
          return this.hosts.add(spec(p, 'hosts.add', HOST_FIELDS) as never);
        case 'hosts.update':
          return this.hosts.update(str(p, 'name'), spec(p['changes'], 'hosts.update changes', HOST_FIELDS) as never);
        case 'hosts.remove':
          this.hosts.remove(str(p, 'name'));
          return null;
        case 'hosts.info':
          if (p['wait'] === true) await this.hosts.settled(str(p, 'name'));
          return this.hosts.info(str(p, 'name'));
        case 'network.addForward':
          return this.network.addForward(str(p, 'ref'), typeof p['nic'] === 'string' ? p['nic'] : undefined, obj(p['rule']) as never);
        case 'network.removeForward':
          return this.network.removeForward(str(p, 'ref'), typeof p['nic'] === 'string' ? p['nic'] : undefined, str(p, 'name'));
        case 'network.setLink':
          if (typeof p['connected'] !== 'boolean') throw new NestboxError('INVALID_ARGUMENT', "'connected' must be true or false");
          return this.network.setLink(str(p, 'ref'), typeof p['nic'] === 'string' ? p['nic'] : undefined, p['connected']);
        case 'network.host':
          return this.network.hostInfo();
        case 'network.setNic':
          return this.network.setNic(str(p, 'ref'), str(p, 'nic'), obj(p['changes']) as never);
        case 'network.addNic':
          return this.network.addNic(str(p, 'ref'), obj(p['spec']) as never);
        case 'network.removeNic':
          return this.network.removeNic(str(p, 'ref'), str(p, 'nic'));
        case 'network.newMac':
          return this.network.newMac();
        case 'snapshots.list': {
          const r = await this.route(str(p, 'ref'));
          return r.engine.listSnapshots(r.vm);
        }
        case 'snapshots.take': {
          const r = await this.route(str(p, 'ref'));
          return r.engine.takeSnapshot(r.vm, str(p, 'name'), typeof p['description'] === 'string' ? p['description'] : '');
        }
        case 'snapshots.restore': {
          const r = await this.route(str(p, 'ref'));
          return r.engine.restoreSnapshot(r.vm, str(p, 'id'));
        }
        case 'snapshots.delete': {
          const r = await this.route(str(p, 'ref'));
          return r.engine.deleteSnapshot(r.vm, str(p, 'id'));
        }
        case 'snapshots.deleteBranch':
          return this.snapshots.deleteBranch(str(p, 'ref'), str(p, 'id'));
        case 'snapshots.previewDelete':
          return this.snapshots.previewDelete(str(p, 'ref'), str(p, 'id'), p['branch'] === true);
        case 'vms.clone':
          return this.clones.clone(str(p, 'ref'), {
            name: str(p, 'name'),
            ...(typeof p['snapshot'] === 'string' && p['snapshot'] !== '' ? { snapshot: p['snapshot'] } : {}),
            linked: p['linked'] === true,
            keepMacs: p['keepMacs'] === true,
          });
        case 'vms.cancel': {
          const r = await this.route(str(p, 'ref'));
          return r.engine.cancel(r.vm);
        }
        case 'vms.convertDisk':
          return this.vms.convertDisk(str(p, 'ref'), typeof p['disk'] === 'string' && p['disk'] !== '' ? p['disk'] : undefined);
        case 'snapshots.update':
          return this.snapshots.update(str(p, 'ref'), str(p, 'id'), {
            ...(typeof p['name'] === 'string' ? { name: p['name'] } : {}),
            ...(typeof p['description'] === 'string' ? { description: p['description'] } : {}),
          });
        case 'snapshots.thumbnail':
          return this.snapshots.thumbnail(str(p, 'id'));
        case 'settings.get':
          return this.getSetting(str(p, 'key'));
        case 'settings.set':
          this.setSetting(str(p, 'key'), p['value'] === null ? null : str(p, 'value'));
          return null;
        case 'media.list':
          return this.vms.listMedia();
        case 'events.recent': {
          const ref = typeof p['ref'] === 'string' ? this.vms.resolve(p['ref']).uuid : undefined;
          const limit = Math.min(Math.max(1, Math.floor(optNum(p, 'limit') ?? 100)), 10_000);
          return this.eventsRepo.recent(ref, limit);
        }
        case 'console.open': {
          const ref = str(p, 'ref');
          const channel = str(p, 'channel');
          const stream = str(p, 'stream');
          if (!/^[A-Za-z0-9_-]{8,64}$/.test(stream)) throw new NestboxError('INVALID_ARGUMENT', 'a console stream id must be 8 to 64 letters, digits, _ or -');
          if (streams.has(stream)) throw new NestboxError('ALREADY_EXISTS', 'that console stream id is already open');
          const sink: StreamSink = {
            data: (chunk) => push('console.data', { stream, data: chunk.toString('base64') } satisfies ApiEvents['console.data']),
            closed: (reason) => {
              streams.delete(stream);
              push('console.closed', { stream, reason } satisfies ApiEvents['console.closed']);
            },
            congested,
          };
          if (channel !== 'serial' && channel !== 'vnc') throw new NestboxError('INVALID_ARGUMENT', `unknown console channel '${channel}' (serial or vnc)`);
          const r = await this.route(ref);
          streams.set(stream, await r.engine.openConsole(r.vm, channel, sink));
          return { stream };
        }
        case 'console.write': {
          const s = streams.get(str(p, 'stream'));
          if (!s) throw new NestboxError('NOT_FOUND', 'that console stream is not open');
          s.write(Buffer.from(str(p, 'data'), 'base64'));
          return null;
        }
        case 'console.close': {
          const id = str(p, 'stream');
          streams.get(id)?.close();
          streams.delete(id);
          return null;
        }
        case 'console.serialLog': {
          const vm = this.vms.info(str(p, 'ref'));
          const query = typeof p['query'] === 'string' && p['query'] !== '' ? p['query'] : undefined;
          return readSerialLog(vm.serialLog, query, optNum(p, 'maxBytes'));
        }
        case 'vms.sendKeys': {
          const keys = p['keys'];
          if (!Array.isArray(keys) || keys.length === 0 || keys.length > 8 || !keys.every((k) => typeof k === 'string' && /^[a-z0-9_]{1,20}$/.test(k))) {
            throw new NestboxError('INVALID_ARGUMENT', 'keys must be 1 to 8 QEMU key names such as ctrl, alt, delete, f1');
          }
          await this.vms.sendKeys(str(p, 'ref'), keys as string[]);
          return null;
        }
        case 'media.registry':
          return this.media.registry();
        case 'media.info':
          return this.media.info(str(p, 'path'));
        case 'media.delete':
          return this.media.delete(str(p, 'path'), p['deleteFile'] === true);
        case 'media.discardUpload':
          return this.media.discardUpload(str(p, 'path'));
        case 'media.create':
          return this.media.create({
            path: str(p, 'path'),
            format: str(p, 'format') as 'qcow2',
            size: str(p, 'size'),
            ...(typeof p['preallocation'] === 'string' ? { preallocation: p['preallocation'] as 'off' } : {}),
          });
        case 'media.convert':
          return this.media.convert({
            source: str(p, 'source'),
            target: str(p, 'target'),
            format: str(p, 'format') as 'qcow2',
            ...(typeof p['subformat'] === 'string' ? { subformat: p['subformat'] as 'streamOptimized' } : {}),
          });
        case 'media.resize':
          return this.media.resize(str(p, 'path'), str(p, 'size'), p['shrink'] === true);
        case 'media.compact':
          return this.media.compact(str(p, 'path'));
        case 'media.check':
          return this.media.check(str(p, 'path'), p['repair'] !== false);
        case 'vms.import': {
          const spec = { ...p, file: str(p, 'file') } as never;
          return this.ova.isOva(str(p, 'file')) ? this.ova.importOva(spec) : this.media.importDisk(spec);
        }
        case 'vms.export':
          return this.ova.exportOva(str(p, 'ref'), str(p, 'file'));
        case 'vms.attachDisk':
          return this.media.attachDisk(str(p, 'ref'), str(p, 'path'), typeof p['bus'] === 'string' ? (p['bus'] as 'virtio') : undefined, p['readOnly'] === true);
        case 'vms.detachDisk':
          return this.media.detachDisk(str(p, 'ref'), str(p, 'disk'));
        case 'jobs.list':
          return this.jobs.list();
        case 'jobs.cancel':
          return this.jobs.cancel(str(p, 'id'));
        case 'jobs.wait':
          return this.jobs.wait(str(p, 'id'));
        case 'stats.subscribe':
          statsSubs.add(typeof p['ref'] === 'string' ? this.vms.resolve(p['ref']).uuid : '*');
          return null;
        case 'stats.unsubscribe':
          if (typeof p['ref'] === 'string') statsSubs.delete(this.vms.resolve(p['ref']).uuid);
          else statsSubs.clear();
          return null;
        case 'stats.current':
          return this.monitor.current();
        case 'stats.recent':
          return this.monitor.recent(this.vms.resolve(str(p, 'ref')).uuid);
        case 'stats.history': {
          const row = this.vms.resolve(str(p, 'ref'));
          const since = typeof p['since'] === 'number' && Number.isFinite(p['since']) ? p['since'] : Date.now() - 3600_000;
          return this.history.since(row.uuid, since);
        }
        case 'vms.balloon':
          if (typeof p['targetMiB'] !== 'number') throw new NestboxError('INVALID_ARGUMENT', "'targetMiB' must be a number");
          return this.vms.balloon(str(p, 'ref'), p['targetMiB']);
        case 'vms.qemuLog': {
          const vm = this.vms.info(str(p, 'ref'));
          const query = typeof p['query'] === 'string' && p['query'] !== '' ? p['query'] : undefined;
          return readSerialLog(vm.qemuLog, query, optNum(p, 'maxBytes'));
        }
        default: {
          const never: never = m;
          throw new NestboxError('UNKNOWN_METHOD', `unknown method '${String(never)}'`);
        }
      }
    };
    return {
      call,
      dispose: () => {
        offBus();
        for (const s of streams.values()) s.close();
        streams.clear();
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
    this.hosts.close();
    this.vms.detachAll();
    this.network.internal.close();
    this.db.close();
  }
}
