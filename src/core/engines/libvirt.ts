/**
 * A libvirt host as an engine: every VM operation is one call of the host's
 * `LibvirtConnection` (libvirt's own client code), and what the host answers is mapped onto
 * Nestbox's shapes here, in one place. The host's connection, its list of VMs and its
 * liveness belong to the HostService (services/hosts.ts); this class asks it for them.
 */
import type { ConsoleChannel, HostDomainDetails, OpResult, SnapshotInfo, SnapshotList, VmInfo, VmSummary } from '../api/contract';
import { NestboxError, assertNever } from '../api/errors';
import type { DiskBus, DiskFormat, NicModel, VmConfig } from '../domain/config';
import { allowedOperations, type VmOperation, type VmState } from '../domain/lifecycle';
import type { DomainDescription, DomainState, DomainSummary, LibvirtConnection, SnapshotEntry, ByteStream } from '../libvirt';
import type { OpenStream, StreamSink } from '../services/consoles';
import { pngSize, requireCapability, ENGINE_CAPABILITIES, type DeleteOptions, type EngineCapability, type VmEngine } from './engine';

/** What the engine needs of the HostService for one host. */
export interface HostHandle {
  readonly name: string;
  /** The live connection; HOST_UNREACHABLE naming the host (and why) when there is none. */
  connection(): LibvirtConnection;
  /** The VMs last listed (or, while unreachable, last seen). */
  summaries(): readonly VmSummary[];
  /** Whether libvirt keeps the domain's definition when it stops (false: a transient domain). */
  persistent(uuid: string): boolean;
  /** Lists the host's VMs again now (after an operation). */
  refresh(): Promise<void>;
  /** Resolves when `pred` holds for the VM's state (re-checked on every host event), or TIMEOUT. */
  waitFor(vm: string, pred: (s: VmState | null) => boolean, timeoutMs: number, what: string): Promise<void>;
  /** Marks the host unreachable when a call failed that way (and starts reconnecting). */
  failed(err: unknown): never;
  /** Cancels the host's migration of this VM, if one runs. */
  cancelMigration(vm: string): boolean;
}

/** libvirt's domain states in the words of Nestbox's lifecycle. */
export function mapDomainState(s: DomainState, hasManagedSave: boolean): { state: VmState; reason?: string } {
  switch (s) {
    case 'running':
    case 'blocked':
      return { state: 'running' };
    case 'paused':
      return { state: 'paused' };
    case 'pmsuspended':
      return { state: 'paused', reason: 'suspended by the guest (power management)' };
    case 'shutdown':
      return { state: 'stopping' };
    case 'shutoff':
      return hasManagedSave ? { state: 'saved' } : { state: 'poweredOff' };
    case 'crashed':
      return { state: 'aborted', reason: 'libvirt reports that the guest crashed' };
    case 'unknown':
      return { state: 'aborted', reason: 'libvirt reports the state as unknown' };
    default:
      return assertNever(s, 'domain state');
  }
}

/** A libosinfo id (http://debian.org/debian/12) as one of Nestbox's OS types. */
export function osTypeOf(osId: string | null): string {
  if (!osId) return 'other';
  const id = osId.toLowerCase();
  const table: readonly [string, string][] = [
    ['debian', 'linux-debian'],
    ['ubuntu', 'linux-ubuntu'],
    ['fedora', 'linux-fedora'],
    ['archlinux', 'linux-arch'],
    ['alpine', 'linux-alpine'],
    ['microsoft.com/win/11', 'windows-11'],
    ['microsoft.com/win/10', 'windows-10'],
    ['microsoft.com/win/2k22', 'windows-server-2022'],
    ['microsoft.com/win/7', 'windows-7'],
    ['freebsd', 'bsd-freebsd'],
    ['openbsd', 'bsd-openbsd'],
    ['netbsd', 'bsd-netbsd'],
  ];
  for (const [needle, type] of table) if (id.includes(needle)) return type;
  return id.includes('linux') || id.includes('centos') || id.includes('rhel') ? 'linux-other' : 'other';
}

export function domainSummary(host: string, d: DomainSummary): VmSummary {
  const s = mapDomainState(d.state, d.hasManagedSave);
  return {
    uuid: d.uuid,
    name: d.name,
    osType: osTypeOf(d.osId),
    group: '',
    state: s.state,
    ...(s.reason ? { stateReason: s.reason } : {}),
    memoryMiB: Math.round(d.memoryKiB / 1024),
    cpus: d.vcpus,
    host,
  };
}

const DISK_FORMATS: readonly DiskFormat[] = ['qcow2', 'raw', 'vdi', 'vmdk', 'vpc', 'vhdx'];
const BUS: Readonly<Record<string, DiskBus>> = { virtio: 'virtio', sata: 'sata', ide: 'ide', nvme: 'nvme', scsi: 'scsi' };
const NIC_MODELS: Readonly<Record<string, NicModel>> = { virtio: 'virtio-net-pci', e1000: 'e1000', e1000e: 'e1000e', rtl8139: 'rtl8139', vmxnet3: 'vmxnet3', pcnet: 'pcnet' };

/**
 * The domain XML's hardware as a Nestbox config, so the details pane, the CLI's `info` and a
 * later move read one shape. Lossy by nature (libvirt can say more); `domain` keeps what
 * libvirt said.
 */
export function configFromDomain(d: DomainDescription): VmConfig {
  const disks = d.disks.filter((x) => x.device === 'disk');
  const cds = d.disks.filter((x) => x.device === 'cdrom');
  const id = (p: string, i: number) => `${p}${i}`;
  return {
    version: 1,
    uuid: d.uuid,
    name: d.name,
    osType: osTypeOf(d.osId),
    description: d.description ?? '',
    group: '',
    memoryMiB: Math.round(d.memoryKiB / 1024),
    cpus: d.vcpus,
    firmware: d.firmware,
    machine: d.machine && d.machine.includes('q35') ? 'q35' : 'pc',
    disks: disks.map((x, i) => ({
      id: id('disk', i),
      file: x.source ?? (x.pool && x.volume ? `${x.pool}/${x.volume}` : ''),
      format: (DISK_FORMATS as readonly string[]).includes(x.format ?? '') ? (x.format as DiskFormat) : 'raw',
      bus: BUS[x.bus] ?? 'virtio',
      readOnly: x.readOnly,
      owned: false,
    })),
    cdroms: cds.map((x, i) => ({ id: id('cd', i), iso: x.source })),
    bootOrder: ['disk', 'cdrom'],
    nics: d.nics.map((n, i) => ({
      id: id('net', i),
      mode: n.type === 'bridge' || n.type === 'direct' ? 'bridged' : n.type === 'network' || n.type === 'user' ? 'nat' : 'none',
      model: NIC_MODELS[n.model ?? ''] ?? 'virtio-net-pci',
      mac: n.mac ?? '',
      forwards: [],
      ...(n.type === 'bridge' && n.source ? { bridge: n.source } : {}),
    })),
    display: { adapter: d.graphics.length ? 'vga' : 'none' },
    serial: { enabled: d.serials > 0 },
  } as VmConfig;
}

function details(d: DomainDescription, persistent: boolean): HostDomainDetails {
  return {
    type: d.type,
    machine: d.machine,
    arch: d.arch,
    firmware: d.firmware,
    persistent,
    osId: d.osId,
    disks: d.disks.map((x) => ({ device: x.device, bus: x.bus, target: x.target, source: x.source, format: x.format, readOnly: x.readOnly })),
    nics: d.nics.map((n) => ({ type: n.type, source: n.source, model: n.model, mac: n.mac })),
    graphics: d.graphics.map((g) => ({ type: g.type })),
    serials: d.serials,
  };
}

/** What a libvirt host's QEMU driver does; said once, here. */
const LIBVIRT_CAPS: ReadonlyMap<EngineCapability, true> = new Map(ENGINE_CAPABILITIES.map((c) => [c, true] as const));

const OP_CAP: Partial<Record<VmOperation, EngineCapability>> = {
  start: 'start',
  shutdown: 'shutdown',
  powerOff: 'powerOff',
  reset: 'reset',
  pause: 'pause',
  resume: 'resume',
  saveState: 'saveState',
  delete: 'delete',
  screenshot: 'screenshot',
  console: 'console.serial',
  takeSnapshot: 'snapshots',
  restoreSnapshot: 'snapshots',
  deleteSnapshot: 'snapshots',
};

export class LibvirtEngine implements VmEngine {
  constructor(private readonly h: HostHandle) {}

  get name(): string {
    return this.h.name;
  }

  capabilities(): ReadonlyMap<EngineCapability, true | string> {
    return LIBVIRT_CAPS;
  }

  list(): Promise<readonly VmSummary[]> {
    return Promise.resolve(this.h.summaries());
  }

  /** The VM as last listed; NOT_FOUND naming the host. Accepts a name or a UUID. */
  summary(vm: string): VmSummary {
    const low = vm.toLowerCase();
    const s = this.h.summaries().find((x) => x.name === vm) ?? this.h.summaries().find((x) => x.uuid === low);
    if (!s) throw new NestboxError('NOT_FOUND', `no VM named '${vm}' on host '${this.h.name}'`);
    return s;
  }

  private conn(): LibvirtConnection {
    return this.h.connection();
  }

  /** Runs a libvirt call; a lost host is marked unreachable, every other error passes as it is. */
  private async call<T>(fn: (c: LibvirtConnection) => Promise<T>): Promise<T> {
    const c = this.conn();
    try {
      return await fn(c);
    } catch (err) {
      if (err instanceof NestboxError && err.code === 'HOST_UNREACHABLE') this.h.failed(err);
      throw err;
    }
  }

  private require(s: VmSummary, op: VmOperation, verb: string): void {
    const cap = OP_CAP[op];
    if (cap) requireCapability(this, cap);
    if (s.unreachable) throw new NestboxError('HOST_UNREACHABLE', `host '${this.h.name}' is unreachable: ${s.unreachable}`);
    if (!allowedOperations(s.state).includes(op)) {
      throw new NestboxError('INVALID_STATE', `cannot ${verb} '${this.h.name}:${s.name}' while it is ${s.state}`);
    }
  }

  async info(vm: string): Promise<VmInfo> {
    const s = this.summary(vm);
    if (s.unreachable) return this.offlineInfo(s);
    const d = await this.call((c) => c.describe(s.name));
    const persistent = this.h.persistent(s.uuid);
    const allowed = allowedOperations(s.state).filter((op) => {
      const cap = OP_CAP[op];
      return op !== 'modifyHardware' && op !== 'discardState' && (cap === undefined || this.capabilities().get(cap) === true);
    });
    return {
      ...s,
      config: configFromDomain(d),
      dir: '',
      allowed,
      runtime: null,
      hasSavedState: s.state === 'saved',
      createdAt: '',
      serialLog: '',
      qemuLog: '',
      linkedClones: [],
      linkedTo: [],
      domain: details(d, persistent),
    };
  }

  private offlineInfo(s: VmSummary): VmInfo {
    return {
      ...s,
      config: {
        version: 1,
        uuid: s.uuid,
        name: s.name,
        osType: s.osType,
        description: '',
        group: '',
        memoryMiB: s.memoryMiB,
        cpus: s.cpus,
        firmware: 'bios',
        machine: 'pc',
        disks: [],
        cdroms: [],
        bootOrder: ['disk'],
        nics: [],
        display: { adapter: 'vga' },
        serial: { enabled: false },
      } as VmConfig,
      dir: '',
      allowed: [],
      runtime: null,
      hasSavedState: s.state === 'saved',
      createdAt: '',
      serialLog: '',
      qemuLog: '',
      linkedClones: [],
      linkedTo: [],
    };
  }

  private async after(vm: string, warnings: readonly string[] = []): Promise<OpResult> {
    await this.h.refresh();
    return { vm: await this.info(vm), warnings };
  }

  async start(vm: string): Promise<OpResult> {
    const s = this.summary(vm);
    this.require(s, 'start', 'start');
    await this.call((c) => c.start(s.name));
    return this.after(s.uuid);
  }

  async shutdown(vm: string, timeoutS = 60): Promise<OpResult> {
    const s = this.summary(vm);
    this.require(s, 'shutdown', 'shut down');
    await this.call((c) => c.shutdown(s.name));
    await this.h.waitFor(s.uuid, (st) => st === 'poweredOff' || st === null, timeoutS * 1000, `'${this.h.name}:${s.name}' did not power off within ${timeoutS} s of the ACPI shutdown (the guest may ignore it; power it off instead)`);
    return this.after(s.uuid);
  }

  powerOff(vm: string): Promise<OpResult> {
    return this.verb(vm, 'powerOff', 'power off', (c, n) => c.destroy(n));
  }

  reset(vm: string): Promise<OpResult> {
    return this.verb(vm, 'reset', 'reset', (c, n) => c.reset(n));
  }

  pause(vm: string): Promise<OpResult> {
    return this.verb(vm, 'pause', 'pause', (c, n) => c.suspend(n));
  }

  resume(vm: string): Promise<OpResult> {
    return this.verb(vm, 'resume', 'resume', (c, n) => c.resume(n));
  }

  saveState(vm: string): Promise<OpResult> {
    return this.verb(vm, 'saveState', 'save the state of', (c, n) => c.managedSave(n));
  }

  /** A one-step libvirt verb: allowed in the VM's state, asked of the host, the VM as it is after. */
  private async verb(vm: string, op: VmOperation, words: string, act: (c: LibvirtConnection, name: string) => Promise<void>): Promise<OpResult> {
    const s = this.summary(vm);
    this.require(s, op, words);
    await this.call((c) => act(c, s.name));
    return this.after(s.uuid);
  }

  async delete(vm: string, opts: DeleteOptions): Promise<{ uuid: string; removedDir: boolean }> {
    const s = this.summary(vm);
    this.require(s, 'delete', 'delete');
    if (s.state === 'saved') await this.call((c) => c.managedSaveRemove(s.name));
    await this.call((c) => c.undefine(s.name, { removeStorage: !opts.keepStorage }));
    await this.h.refresh();
    return { uuid: s.uuid, removedDir: !opts.keepStorage };
  }

  async screenshot(vm: string): Promise<{ pngBase64: string; width: number; height: number }> {
    const s = this.summary(vm);
    this.require(s, 'screenshot', 'take a screenshot of');
    const png = await this.call((c) => c.screenshot(s.name));
    return { pngBase64: png.toString('base64'), ...pngSize(png) };
  }

  private snapshotInfo(e: SnapshotEntry, cfg: VmConfig): SnapshotInfo {
    return {
      id: e.name,
      parentId: e.parent,
      name: e.name,
      description: e.description,
      createdAt: new Date(e.createdAt * (e.createdAt < 1e11 ? 1000 : 1)).toISOString(),
      withRam: e.hasMemory,
      memoryMiB: cfg.memoryMiB,
      cpus: cfg.cpus,
      hasThumbnail: false,
      config: cfg,
      auto: false,
    };
  }

  async listSnapshots(vm: string): Promise<SnapshotList> {
    const s = this.summary(vm);
    requireCapability(this, 'snapshots');
    const [entries, d] = await Promise.all([this.call((c) => c.listSnapshots(s.name)), this.call((c) => c.describe(s.name))]);
    const cfg = configFromDomain(d);
    return { vm: s.uuid, current: entries.find((e) => e.current)?.name ?? null, snapshots: entries.map((e) => this.snapshotInfo(e, cfg)) };
  }

  async takeSnapshot(vm: string, name: string, description: string): Promise<SnapshotInfo> {
    const s = this.summary(vm);
    this.require(s, 'takeSnapshot', 'take a snapshot of');
    await this.call((c) => c.takeSnapshot(s.name, name, description));
    const list = await this.listSnapshots(s.uuid);
    const snap = list.snapshots.find((x) => x.name === name);
    if (!snap) throw new NestboxError('FAILED', `host '${this.h.name}' took snapshot '${name}' of '${s.name}' but does not list it`);
    return snap;
  }

  async restoreSnapshot(vm: string, id: string): Promise<OpResult> {
    const s = this.summary(vm);
    this.require(s, 'restoreSnapshot', 'restore a snapshot of');
    await this.call((c) => c.revertSnapshot(s.name, id));
    return this.after(s.uuid);
  }

  async deleteSnapshot(vm: string, id: string): Promise<SnapshotList> {
    const s = this.summary(vm);
    this.require(s, 'deleteSnapshot', 'delete a snapshot of');
    await this.call((c) => c.deleteSnapshot(s.name, id));
    return this.listSnapshots(s.uuid);
  }

  async openConsole(vm: string, channel: ConsoleChannel, sink: StreamSink): Promise<OpenStream> {
    const s = this.summary(vm);
    requireCapability(this, channel === 'serial' ? 'console.serial' : 'console.vnc');
    this.require(s, 'console', 'open the console of');
    let stream: ByteStream;
    switch (channel) {
      case 'serial':
        stream = await this.call((c) => c.openSerial(s.name));
        break;
      case 'vnc':
        stream = await this.call((c) => c.openVnc(s.name));
        break;
      default:
        return assertNever(channel, 'console channel');
    }
    let closed = false;
    stream.onData((b) => {
      if (!closed) sink.data(b);
    });
    stream.onClose((reason) => {
      if (closed) return;
      closed = true;
      sink.closed(reason);
    });
    return {
      write: (b) => stream.write(b),
      close: () => {
        if (closed) return;
        closed = true;
        stream.close();
      },
    };
  }

  cancel(vm: string): Promise<{ cancelled: boolean }> {
    const s = this.summary(vm);
    return Promise.resolve({ cancelled: this.h.cancelMigration(s.uuid) });
  }
}
