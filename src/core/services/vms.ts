/**
 * VM lifecycle orchestration: the state machine, QEMU processes, disks and the inventory,
 * composed. Every mutating operation checks and changes the state synchronously before its
 * first await, so two clients racing for one VM cannot both pass the check.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CreateVmSpec, MediaItem, ModifyVmSpec, OpResult, VmInfo, VmSummary, Accelerator, SettingStatus } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { CdromConfig, DiskConfig, NicConfig, ResourceConfig, VmConfig } from '../domain/config';
import { CONFIG_VERSION, ConfigError, parseVmConfig, RESOURCE_KEYS, validateName } from '../domain/config';
import { applyCgroupLimits, detectCgroups, readKsm, removeCgroups, type CgroupSupport } from '../qemu/cgroups';
import type { MonitoredVm } from './monitor';
import {
  allowedOperations,
  describeState,
  isActive,
  isAllowed,
  transition,
  TransitionError,
  type LifecycleEvent,
  type VmOperation,
  type VmState,
} from '../domain/lifecycle';
import { findOsType } from '../domain/ostypes';
import { formatBytes, parseSize } from '../domain/units';
import { buildQemuArgv, resolveDiskPath, RUNTIME_FILES, usesBridgeHelper } from '../qemu/argv';
import { findBridgeHelper } from '../network/bridges';
import { attachHelperNics } from '../qemu/bridgehelper';
import type { HostCapabilities } from '../qemu/host';
import { resolveAccelerator } from '../qemu/host';
import { QemuProcess, type ExitInfo } from '../qemu/supervisor';
import { LogRotator, logLimitsFromEnv, rotateIfLarge, runningLogs } from './logrotate';
import { inspectImage } from '../storage/inspect';
import { QemuImg } from '../storage/qemuimg';
import { identifyImage } from '../storage/identify';
import type { CloneRepository, EventRepository, VmRepository, VmRow } from '../store/db';
import { snapshotStateFile, vmFiles, type DataLayout } from '../store/paths';
import { loadStateFromFile, saveStateToFile } from '../qemu/migration';
import type { EventBus } from './events';
import { crashPoint } from './faults';
import { CancellableJobs } from './vmjobs';
import type { JobService } from './jobs';
import { SerialHub } from './serial';
import type { AcceleratorChoice } from '../api/contract';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Running {
  readonly proc: QemuProcess;
  readonly accel: Accelerator;
  serial: SerialHub | null;
  /** >0 while a job that stops and resumes the guest itself runs. */
  quiet: number;
  /** Resource settings as applied to this QEMU (cgroups, devices). */
  resources?: SettingStatus[];
}

/** Resource settings that can change while the VM runs (cgroup limits); the rest need power-off. */
const LIVE_RESOURCES: readonly (keyof ResourceConfig)[] = ['cpuShares', 'cpuLimitPct', 'pinCpus', 'memoryMaxMiB'];

export interface VmServiceDeps {
  readonly layout: DataLayout;
  readonly vms: VmRepository;
  readonly events: EventRepository;
  /** Linked clones and the base images they stand on. */
  readonly clones: CloneRepository;
  readonly bus: EventBus;
  readonly host: HostCapabilities;
  readonly accelChoice: () => AcceleratorChoice;
  /** Checks that the host allows the VM's network attachments; returns warnings or throws. */
  readonly preflight?: (config: VmConfig) => string[];
  /** How fast saved states may be written, in bytes per second (null: no limit). */
  readonly stateBandwidth?: () => number | null;
  /** Where a VM's long operations are listed as jobs. */
  readonly jobs?: JobService;
}

function configError(err: unknown): never {
  if (err instanceof ConfigError) throw new NestboxError('INVALID_CONFIG', err.message);
  throw err;
}

export function randomMac(taken: ReadonlySet<string>): string {
  for (;;) {
    const b = crypto.randomBytes(3);
    const mac = `52:54:00:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
    if (!taken.has(mac)) return mac;
  }
}

function pngSize(buf: Buffer): { width: number; height: number } {
  if (buf.length < 24 || buf.readUInt32BE(12) !== 0x49484452) return { width: 0, height: 0 };
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

/** Applies resource changes (null clears a setting) to the current resources. */
function mergeResources(cur: ResourceConfig | undefined, changes: NonNullable<ModifyVmSpec['resources']>): ResourceConfig {
  const out: Record<string, unknown> = { ...(cur ?? {}) };
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) delete out[k];
    else if (v !== undefined) out[k] = v;
  }
  return out as ResourceConfig;
}

export class VmService {
  private readonly running = new Map<string, Running>();
  private readonly img: QemuImg | null;
  private cgroupSupport: CgroupSupport | null = null;
  /** Runs before a VM is started from powered off (automatic snapshots); returns warnings. */
  beforeStart: ((uuid: string) => Promise<string[]>) | null = null;
  /** VMs whose disk is being converted, or whose automatic snapshot is being taken: no start meanwhile. */
  private readonly converting = new Set<string>();
  /** Clones, conversions, live snapshots and saves in flight, which `cancel` can stop. */
  readonly jobs: CancellableJobs;

  /** Keeps the serial and QEMU logs of running VMs to a few MiB each (logrotate.ts). */
  readonly logRotator: LogRotator;

  constructor(private readonly d: VmServiceDeps) {
    this.img = d.host.qemu ? new QemuImg(d.host.qemu.imgBinary) : null;
    this.jobs = new CancellableJobs(d.jobs ?? null, d.bus);
    this.logRotator = new LogRotator(() => runningLogs([...this.running.keys()], (u) => this.d.vms.get(u)?.dir), logLimitsFromEnv());
    this.logRotator.start();
  }

  // ---------------------------------------------------------------- queries

  list(): VmSummary[] {
    return this.d.vms.list().map((r) => this.summary(r));
  }

  info(ref: string): VmInfo {
    return this.toInfo(this.resolve(ref));
  }

  listMedia(): MediaItem[] {
    const items = new Map<string, { kind: 'iso' | 'disk'; usedBy: string[] }>();
    const add = (file: string, kind: 'iso' | 'disk', vm?: string) => {
      const it = items.get(file) ?? { kind, usedBy: [] };
      if (vm && !it.usedBy.includes(vm)) it.usedBy.push(vm);
      items.set(file, it);
    };
    const mediaDir = this.d.layout.mediaDir;
    if (fs.existsSync(mediaDir)) {
      for (const f of fs.readdirSync(mediaDir)) {
        if (f.endsWith('.partial')) continue;
        const full = path.join(mediaDir, f);
        if (!fs.statSync(full).isFile()) continue;
        add(full, /\.iso$/i.test(f) ? 'iso' : 'disk');
      }
    }
    for (const r of this.d.vms.list()) {
      for (const c of r.config.cdroms) if (c.iso) add(c.iso, 'iso', r.name);
      for (const d of r.config.disks) add(resolveDiskPath(r.dir, d.file), 'disk', r.name);
    }
    return [...items.entries()]
      .map(([file, it]) => {
        let size = 0;
        try {
          size = fs.statSync(file).size;
        } catch {
          // missing media are listed with size 0; the VM's start will say what is missing
        }
        return { path: file, name: path.basename(file), kind: it.kind, size, usedBy: it.usedBy };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** What the host can give a VM (an import clamps an appliance's wishes to it). */
  hostLimits(): { memoryMiB: number; cpus: number } {
    return { memoryMiB: this.d.host.memoryMiB, cpus: this.d.host.cpus };
  }

  resolve(ref: string): VmRow {
    if (typeof ref !== 'string' || ref === '') throw new NestboxError('INVALID_ARGUMENT', 'a VM name or UUID is required');
    const row = UUID_RE.test(ref) ? this.d.vms.get(ref.toLowerCase()) : this.d.vms.findByName(ref);
    if (!row) throw new NestboxError('NOT_FOUND', `no VM named '${ref}'`);
    return row;
  }

  private summary(r: VmRow): VmSummary {
    const s: VmSummary = {
      uuid: r.uuid,
      name: r.name,
      osType: r.config.osType,
      group: r.config.group,
      state: r.state,
      memoryMiB: r.config.memoryMiB,
      cpus: r.config.cpus,
    };
    const missing = r.config.disks.find((d) => !fs.existsSync(resolveDiskPath(r.dir, d.file)));
    return {
      ...s,
      ...(r.stateReason ? { stateReason: r.stateReason } : {}),
      ...(missing ? { inaccessible: `disk '${missing.id}' is missing: ${resolveDiskPath(r.dir, missing.file)}` } : {}),
    };
  }

  private toInfo(r: VmRow): VmInfo {
    const rt = this.d.vms.getRuntime(r.uuid);
    const files = vmFiles(r.dir);
    return {
      ...this.summary(r),
      config: r.config,
      dir: r.dir,
      allowed: allowedOperations(r.state),
      runtime: rt && isActive(r.state) ? { pid: rt.pid, accel: rt.accel as Accelerator, startedAt: rt.startedAt } : null,
      hasSavedState: fs.existsSync(files.savedState) || r.pendingLoadvm !== null,
      createdAt: r.createdAt,
      serialLog: files.serialLog,
      qemuLog: files.qemuLog,
      resourceStatus: this.running.get(r.uuid)?.resources ?? this.plannedResources(r.config),
      linkedClones: this.d.clones.dependentsOf(r.uuid).map((u) => this.d.vms.get(u)?.name ?? u),
      linkedTo: this.d.clones.parentsOf(r.uuid).map((u) => this.d.vms.get(u)?.name ?? u),
    };
  }

  /** Where this host lets per-VM limits be enforced (probed once). */
  cgroups(): CgroupSupport {
    this.cgroupSupport ??= detectCgroups();
    return this.cgroupSupport;
  }

  /** The VMs the sampler watches. @internal */
  monitored(): MonitoredVm[] {
    const out: MonitoredVm[] = [];
    for (const [uuid, r] of this.running) {
      const row = this.d.vms.get(uuid);
      if (row && !r.proc.exited) out.push({ uuid, config: row.config, proc: r.proc });
    }
    return out;
  }

  /** What the device-level settings mean on this host (balloon, page sharing, topology). */
  private deviceStatus(cfg: VmConfig): SettingStatus[] {
    const r = cfg.resources ?? {};
    const out: SettingStatus[] = [];
    if (r.sockets !== undefined || r.cores !== undefined || r.threads !== undefined) {
      out.push({ setting: 'topology', enforced: true, detail: `QEMU -smp ${cfg.cpus} as ${r.sockets ?? 1} socket(s) × ${r.cores ?? 1} core(s) × ${r.threads ?? 1} thread(s)` });
    }
    if (r.balloon) out.push({ setting: 'balloon', enforced: true, detail: 'virtio-balloon device; the target is set while the VM runs' });
    if (r.memMerge !== undefined) {
      const ksm = readKsm();
      out.push(
        !r.memMerge
          ? { setting: 'memMerge', enforced: true, detail: 'QEMU mem-merge=off: the guest’s RAM is never shared' }
          : ksm.running
            ? { setting: 'memMerge', enforced: true, detail: 'QEMU mem-merge=on and host KSM is running' }
            : { setting: 'memMerge', enforced: false, detail: `not enforced: QEMU marks the RAM mergeable, but ${ksm.reason ?? 'KSM is not running'}` },
      );
    }
    return out;
  }

  /** For a VM that is not running: what would be enforced at its next start. */
  private plannedResources(cfg: VmConfig): SettingStatus[] {
    const r = cfg.resources ?? {};
    const sup = this.cgroups();
    const ctl = { cpuShares: 'cpu', cpuLimitPct: 'cpu', pinCpus: 'cpuset', memoryMaxMiB: 'memory' } as const;
    const out: SettingStatus[] = [];
    for (const k of LIVE_RESOURCES as readonly (keyof typeof ctl)[]) {
      if (r[k] === undefined) continue;
      const e = sup.controllers[ctl[k]];
      out.push('dir' in e ? { setting: k, enforced: true, detail: `applied at start (cgroup ${sup.version}, ${e.dir})` } : { setting: k, enforced: false, detail: `not enforced: ${e.reason}` });
    }
    return [...out, ...this.deviceStatus(cfg)];
  }

  /** Puts a VM's QEMU into its cgroups with the config's limits; logs what is not enforced. */
  private enforceResources(row: VmRow, r: Running): void {
    const res = row.config.resources ?? {};
    const knobs = applyCgroupLimits(this.cgroups(), row.uuid, r.proc.pid, res, this.d.host.cpus);
    r.resources = [...knobs, ...this.deviceStatus(row.config)];
    for (const k of r.resources) if (!k.enforced) this.log(row.uuid, 'warning', 'resources', `${k.setting} of '${row.name}' is ${k.detail}`);
  }

  /** Sets the balloon target of a running VM. */
  async balloon(ref: string, targetMiB: number): Promise<OpResult> {
    const row = this.resolve(ref);
    if (!Number.isInteger(targetMiB) || targetMiB < 16) throw new NestboxError('INVALID_ARGUMENT', 'the balloon target must be a whole number of MiB, at least 16');
    if (!row.config.resources?.balloon) {
      throw new NestboxError('INVALID_STATE', `'${row.name}' has no memory balloon; enable it (nestbox modify ${row.name} --balloon on) while it is powered off`);
    }
    if (targetMiB > row.config.memoryMiB) throw new NestboxError('INVALID_ARGUMENT', `the balloon target cannot exceed the VM's memory (${row.config.memoryMiB} MiB)`);
    this.require(row, 'screenshot', 'set the balloon of');
    await this.proc(row).proc.qmp.execute('balloon', { value: targetMiB * 1024 * 1024 });
    this.log(row.uuid, 'info', 'balloon', `set the memory balloon of '${row.name}' to leave the guest ${targetMiB} MiB`);
    return this.result(row.uuid);
  }

  /** @internal for the snapshot service */
  result(uuid: string, warnings: readonly string[] = []): OpResult {
    return { vm: this.info(uuid), warnings };
  }

  // ---------------------------------------------------------------- state

  /** @internal */
  log(uuid: string | null, level: 'info' | 'warning' | 'error', kind: string, message: string): void {
    const entry = this.d.events.append(uuid, level, kind, message);
    this.d.bus.emit('log', entry);
  }

  private setState(row: VmRow, state: VmState, reason: string | null = null): void {
    this.d.vms.setState(row.uuid, state, reason);
    const data = reason ? { uuid: row.uuid, name: row.name, state, reason } : { uuid: row.uuid, name: row.name, state };
    this.d.bus.emit('vm.state', data);
  }

  /** Applies a lifecycle event to the stored state, atomically with respect to other calls. */
  /** @internal */
  apply(uuid: string, ev: LifecycleEvent, reason: string | null = null): VmRow {
    const row = this.d.vms.get(uuid);
    if (!row) throw new NestboxError('NOT_FOUND', 'the VM was deleted');
    let next: VmState;
    try {
      next = transition(row.state, ev);
    } catch (err) {
      if (err instanceof TransitionError) throw new NestboxError('INVALID_STATE', `'${row.name}' is ${describeState(row.state)}`);
      throw err;
    }
    if (next !== row.state || reason !== row.stateReason) this.setState(row, next, reason);
    return { ...row, state: next, stateReason: reason };
  }

  /** @internal */
  require(row: VmRow, op: VmOperation, verb: string): void {
    if (!isAllowed(row.state, op)) {
      throw new NestboxError('INVALID_STATE', `cannot ${verb} '${row.name}' while it is ${describeState(row.state)}`);
    }
  }

  /** The QEMU of a running VM, or null. @internal */
  qemuOf(uuid: string): QemuProcess | null {
    return this.running.get(uuid)?.proc ?? null;
  }

  /**
   * Runs `fn` while QEMU's own STOP/RESUME around a job (snapshot-save pauses the guest
   * briefly) are not mistaken for the user pausing the VM. @internal
   */
  async quietly<T>(uuid: string, fn: () => Promise<T>): Promise<T> {
    const r = this.running.get(uuid);
    if (r) r.quiet++;
    try {
      return await fn();
    } finally {
      if (r) r.quiet--;
    }
  }

  private proc(row: VmRow): Running {
    const r = this.running.get(row.uuid);
    if (!r) throw new NestboxError('INVALID_STATE', `'${row.name}' has no QEMU process attached`);
    return r;
  }

  // ---------------------------------------------------------------- create / modify / delete

  async create(spec: CreateVmSpec): Promise<OpResult> {
    if (!spec || typeof spec !== 'object') throw new NestboxError('INVALID_ARGUMENT', 'a VM specification is required');
    const warnings: string[] = [];
    let name: string;
    try {
      name = validateName(String(spec.name ?? ''));
    } catch (err) {
      configError(err);
    }
    if (this.d.vms.findByName(name)) throw new NestboxError('ALREADY_EXISTS', `a VM named '${name}' already exists`);
    const osId = spec.osType ?? 'other';
    const os = findOsType(osId);
    if (!os) throw new NestboxError('INVALID_ARGUMENT', `unknown OS type '${osId}' (see 'nestbox ostypes')`);
    const p = os.preset;
    const memoryMiB = spec.memoryMiB ?? p.memoryMiB;
    const cpus = spec.cpus ?? p.cpus;
    this.admitHardware(memoryMiB, cpus);

    let firmware = spec.firmware ?? p.firmware;
    if (firmware === 'uefi' && !this.d.host.ovmf) {
      if (spec.firmware === 'uefi') {
        throw new NestboxError('HOST_UNSUPPORTED', 'UEFI firmware (OVMF) is not installed on this host (Debian/Ubuntu: apt install ovmf)');
      }
      firmware = 'bios';
      warnings.push(`${os.label} prefers UEFI, but OVMF is not installed; using BIOS`);
    }

    let iso: string | null = null;
    if (spec.iso) iso = this.checkIso(spec.iso);

    const uuid = crypto.randomUUID();
    const dir = this.d.layout.newVmDir(name);
    const disks: DiskConfig[] = [];
    const bus = spec.diskBus ?? p.diskBus;
    let newDisk: { file: string; size: number } | null = null;
    if (spec.disk) {
      disks.push(await this.adoptDisk(spec.disk, bus));
    } else if (!spec.noDisk) {
      let size: number;
      try {
        size = parseSize(spec.diskSize ?? `${p.diskGiB}G`);
      } catch (err) {
        throw new NestboxError('INVALID_ARGUMENT', (err as Error).message);
      }
      if (size < 1024 * 1024) throw new NestboxError('INVALID_ARGUMENT', 'a disk must be at least 1 MiB');
      if (size > 64 * 1024 ** 4) throw new NestboxError('INVALID_ARGUMENT', 'a disk may be at most 64 TiB');
      const file = `${name}.qcow2`;
      newDisk = { file: path.join(dir, file), size };
      disks.push({ id: 'disk0', file, format: 'qcow2', bus, readOnly: false, owned: true });
    }
    const cdroms: CdromConfig[] = [{ id: 'cd0', iso }];
    const takenMacs = new Set(this.d.vms.list().flatMap((r) => r.config.nics.map((n) => n.mac)));
    const nicMode = spec.nic ?? 'nat';
    if (!(['nat', 'bridged', 'internal', 'none'] as const).includes(nicMode)) throw new NestboxError('INVALID_ARGUMENT', `nic must be nat, bridged, internal or none, not '${String(nicMode)}'`);
    if (nicMode === 'internal' && !spec.nicNetwork) throw new NestboxError('INVALID_ARGUMENT', 'an internal adapter needs the name of its network (nicNetwork)');
    if (nicMode === 'bridged' && !spec.nicBridge) throw new NestboxError('INVALID_ARGUMENT', 'a bridged adapter needs the host bridge to join (nicBridge)');
    const nics: NicConfig[] =
      nicMode === 'none'
        ? []
        : [
            {
              id: 'net0',
              mode: nicMode,
              model: p.nicModel,
              mac: randomMac(takenMacs),
              forwards: [],
              ...(nicMode === 'internal' ? { network: spec.nicNetwork! } : {}),
              ...(nicMode === 'bridged' ? { bridge: spec.nicBridge! } : {}),
            },
          ];

    let config: VmConfig;
    try {
      config = parseVmConfig({
        version: CONFIG_VERSION,
        uuid,
        name,
        osType: os.id,
        description: spec.description ?? '',
        group: spec.group ?? '',
        memoryMiB,
        cpus,
        firmware,
        machine: p.machine,
        disks,
        cdroms,
        bootOrder: iso ? ['cdrom', 'disk'] : ['disk', 'cdrom'],
        nics,
        display: { adapter: spec.display ?? p.display },
        serial: { enabled: true },
        ...(spec.autoSnapshots ? { autoSnapshot: { keep: spec.autoSnapshots } } : {}),
      });
    } catch (err) {
      configError(err);
    }

    try {
      fs.mkdirSync(vmFiles(dir).logsDir, { recursive: true, mode: 0o700 });
      if (newDisk) {
        if (!this.img) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-img was not found; install QEMU');
        await this.img.create(newDisk.file, 'qcow2', newDisk.size);
      }
      if (firmware === 'uefi') await this.ensureEfiVars(dir);
      if (this.d.vms.findByName(name)) throw new NestboxError('ALREADY_EXISTS', `a VM named '${name}' already exists`);
      this.d.vms.insert(config, dir, 'poweredOff');
    } catch (err) {
      // Nothing half-made stays behind: the folder is ours, it was created just now.
      fs.rmSync(dir, { recursive: true, force: true });
      const full = (err instanceof NestboxError && err.code === 'NO_SPACE') || (err as NodeJS.ErrnoException).code === 'ENOSPC' || /SQLITE_FULL/.test(String((err as { code?: unknown }).code));
      if (full) {
        throw new NestboxError(
          'NO_SPACE',
          `there is not enough space on the disk holding ${path.dirname(dir)} to create '${name}'${newDisk ? ` and its ${formatBytes(newDisk.size)} disk` : ''}; nothing was kept`,
          err instanceof NestboxError ? err.detail : (err as Error).message,
        );
      }
      throw err;
    }
    const disk = newDisk ? `, a new ${formatBytes(newDisk.size)} disk` : spec.disk ? `, disk ${spec.disk}` : '';
    this.log(uuid, 'info', 'created', `created '${name}' (${os.label}, ${memoryMiB} MiB, ${cpus} CPU${cpus > 1 ? 's' : ''}${disk})`);
    this.d.bus.emit('vm.changed', { uuid });
    return this.result(uuid, warnings);
  }

  private admitHardware(memoryMiB: number, cpus: number): void {
    if (!Number.isInteger(memoryMiB) || memoryMiB < 16) throw new NestboxError('INVALID_ARGUMENT', 'memory must be a whole number of MiB, at least 16');
    if (memoryMiB > this.d.host.memoryMiB) {
      throw new NestboxError(
        'ADMISSION_DENIED',
        `${memoryMiB} MiB of memory is more than this host has (${this.d.host.memoryMiB} MiB)`,
      );
    }
    if (!Number.isInteger(cpus) || cpus < 1) throw new NestboxError('INVALID_ARGUMENT', 'the number of CPUs must be a whole number, at least 1');
    if (cpus > this.d.host.cpus) {
      throw new NestboxError('ADMISSION_DENIED', `${cpus} virtual CPUs is more than this host has (${this.d.host.cpus})`);
    }
  }

  private checkIso(file: string): string {
    const abs = path.resolve(file);
    const facts = inspectImage(abs);
    if (facts.format !== 'iso') {
      throw new NestboxError('IMAGE_REJECTED', `'${file}' is not an ISO 9660 image (it looks like ${facts.format})`);
    }
    return abs;
  }

  /** Attaches an existing image in place after our inspector and qemu-img agree on it. */
  private async adoptDisk(file: string, bus: DiskConfig['bus']): Promise<DiskConfig> {
    const id = await identifyImage(file, this.img, { asDisk: true });
    if (id.format === 'iso') throw new NestboxError('IMAGE_REJECTED', `'${file}' is an ISO image; pass it with --iso`);
    return { id: 'disk0', file: id.path, format: id.format, bus, readOnly: false, owned: false };
  }

  private async ensureEfiVars(dir: string): Promise<void> {
    const vars = vmFiles(dir).efiVars;
    if (fs.existsSync(vars)) return;
    if (!this.d.host.ovmf || !this.img) throw new NestboxError('HOST_UNSUPPORTED', 'UEFI firmware (OVMF) is not installed on this host');
    // The variable store is qcow2 so that it is snapshotted together with the disks.
    await this.img.convertToQcow2(this.d.host.ovmf.vars, 'raw', vars);
  }

  async modify(ref: string, changes: ModifyVmSpec): Promise<OpResult> {
    const row = this.resolve(ref);
    if (!changes || typeof changes !== 'object') throw new NestboxError('INVALID_ARGUMENT', 'no changes given');
    const resChanges = changes.resources ?? {};
    if (typeof resChanges !== 'object' || Array.isArray(resChanges)) throw new NestboxError('INVALID_ARGUMENT', 'resources must be an object');
    for (const k of Object.keys(resChanges)) {
      if (!(RESOURCE_KEYS as readonly string[]).includes(k)) throw new NestboxError('INVALID_ARGUMENT', `unknown resource setting '${k}' (known: ${RESOURCE_KEYS.join(', ')})`);
    }
    const resKeys = Object.keys(resChanges) as (keyof ResourceConfig)[];
    const pins = resChanges.pinCpus;
    if (Array.isArray(pins)) {
      const missing = pins.filter((c) => typeof c === 'number' && c >= this.d.host.cpus);
      if (missing.length) {
        throw new NestboxError('INVALID_ARGUMENT', `host CPU ${missing.join(', ')} does not exist (this host has ${this.d.host.cpus}: 0–${this.d.host.cpus - 1})`);
      }
    }
    const offlineRes = resKeys.filter((k) => !LIVE_RESOURCES.includes(k));
    const hardware = [...(['memoryMiB', 'cpus', 'firmware', 'display'] as const).filter((k) => changes[k] !== undefined), ...offlineRes];
    if (hardware.length && !isAllowed(row.state, 'modifyHardware')) {
      throw new NestboxError(
        'INVALID_STATE',
        `cannot change ${hardware.join(', ')} of '${row.name}' while it is ${describeState(row.state)}; power it off first` +
          (row.state === 'saved' ? ' (or discard its saved state)' : ''),
      );
    }
    if (changes.autoSnapshots !== undefined && (!Number.isInteger(changes.autoSnapshots) || changes.autoSnapshots < 0 || changes.autoSnapshots > 100)) {
      throw new NestboxError('INVALID_ARGUMENT', 'the number of automatic snapshots to keep must be a whole number from 0 (off) to 100');
    }
    if (changes.memoryMiB !== undefined || changes.cpus !== undefined) {
      this.admitHardware(changes.memoryMiB ?? row.config.memoryMiB, changes.cpus ?? row.config.cpus);
    }
    if (changes.name !== undefined && changes.name !== row.name) {
      if (row.state === 'starting' || row.state === 'saving') throw new NestboxError('INVALID_STATE', `cannot rename '${row.name}' while it is ${describeState(row.state)}`);
      const other = this.d.vms.findByName(changes.name);
      if (other && other.uuid !== row.uuid) throw new NestboxError('ALREADY_EXISTS', `a VM named '${changes.name}' already exists`);
    }
    if (changes.firmware === 'uefi' && !this.d.host.ovmf) {
      throw new NestboxError('HOST_UNSUPPORTED', 'UEFI firmware (OVMF) is not installed on this host');
    }
    let cdroms = row.config.cdroms;
    let liveIso: string | null | undefined;
    if (changes.iso !== undefined) {
      const iso = changes.iso === null || changes.iso === '' ? null : this.checkIso(changes.iso);
      if (row.state === 'saved' || row.state === 'saving' || row.state === 'starting') {
        throw new NestboxError('INVALID_STATE', `cannot change the ISO of '${row.name}' while it is ${describeState(row.state)}`);
      }
      if (cdroms.length === 0) throw new NestboxError('INVALID_STATE', `'${row.name}' has no CD/DVD drive`);
      cdroms = cdroms.map((c, i) => (i === 0 ? { ...c, iso } : c));
      if (isActive(row.state)) liveIso = iso;
    }
    let next: VmConfig;
    try {
      next = parseVmConfig({
        ...row.config,
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.memoryMiB !== undefined ? { memoryMiB: changes.memoryMiB } : {}),
        ...(changes.cpus !== undefined ? { cpus: changes.cpus } : {}),
        ...(changes.description !== undefined ? { description: changes.description } : {}),
        ...(changes.group !== undefined ? { group: changes.group } : {}),
        ...(changes.firmware !== undefined ? { firmware: changes.firmware } : {}),
        ...(changes.display !== undefined ? { display: { adapter: changes.display } } : {}),
        ...(resKeys.length || row.config.resources ? { resources: mergeResources(row.config.resources, resChanges) } : {}),
        ...(changes.autoSnapshots !== undefined ? { autoSnapshot: { keep: changes.autoSnapshots } } : {}),
        cdroms,
      });
    } catch (err) {
      configError(err);
    }
    if (next.firmware === 'uefi') await this.ensureEfiVars(row.dir);
    if (liveIso !== undefined) await this.changeMedium(row, cdroms[0]!.id, liveIso);
    this.d.vms.updateConfig(next);
    const live = this.running.get(row.uuid);
    if (live && resKeys.some((k) => LIVE_RESOURCES.includes(k))) this.enforceResources({ ...row, config: next }, live);
    const what = Object.keys(changes).map((k) => (k === 'resources' ? `resources (${resKeys.join(', ')})` : k));
    this.log(row.uuid, 'info', 'modified', `changed ${what.join(', ')} of '${next.name}'`);
    this.d.bus.emit('vm.changed', { uuid: row.uuid });
    return this.result(row.uuid);
  }

  /**
   * Converts a disk that cannot hold snapshots (raw, VDI, VMDK, ...) into a qcow2 in the VM's
   * folder. The config points at the new image only once it is converted, checked and the
   * same size; the original is kept where it is for the user to delete.
   */
  async convertDisk(ref: string, diskId?: string): Promise<OpResult> {
    const row = this.resolve(ref);
    this.require(row, 'modifyHardware', 'convert a disk of');
    if (!this.img) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-img was not found; install QEMU');
    const disk = diskId ? row.config.disks.find((d) => d.id === diskId) : row.config.disks.find((d) => !d.readOnly && d.format !== 'qcow2');
    if (!disk) {
      throw new NestboxError(diskId ? 'NOT_FOUND' : 'INVALID_ARGUMENT', diskId ? `'${row.name}' has no disk '${diskId}'` : `every disk of '${row.name}' is qcow2 already`);
    }
    if (disk.format === 'qcow2') throw new NestboxError('INVALID_ARGUMENT', `disk '${disk.id}' of '${row.name}' is qcow2 already`);
    if (this.converting.has(row.uuid)) throw new NestboxError('BUSY', `a disk of '${row.name}' is being converted already`);
    const src = resolveDiskPath(row.dir, disk.file);
    const facts = inspectImage(src);
    if (facts.format !== disk.format) {
      throw new NestboxError('IMAGE_REJECTED', `disk '${disk.id}' (${src}) was attached as ${disk.format} but now looks like ${facts.format}; not converting it`);
    }
    const stem = path.basename(src).replace(/\.[^.]*$/, '') || disk.id;
    let dst = path.join(row.dir, `${stem}.qcow2`);
    for (let i = 2; fs.existsSync(dst); i++) dst = path.join(row.dir, `${stem}-${i}.qcow2`);
    const signal = this.jobs.begin(row.uuid, `cannot convert a disk of '${row.name}'`, `disk '${disk.id}' is being converted`, {
      kind: 'convertDisk',
      title: `Converting disk '${disk.id}' of '${row.name}' to qcow2`,
      target: row.name,
    });
    this.converting.add(row.uuid);
    this.d.bus.emit('vm.progress', { uuid: row.uuid, operation: 'convertDisk', percent: 0, done: false });
    let swapped = false;
    try {
      const before = await this.img.info(src, disk.format);
      let last = 0;
      await this.img.exportQcow2(src, disk.format, dst, {
        signal,
        onProgress: (pct) => {
          const p = Math.min(99, Math.floor(pct));
          if (p > last) {
            last = p;
            this.d.bus.emit('vm.progress', { uuid: row.uuid, operation: 'convertDisk', percent: p, done: false });
          }
        },
      });
      const check = await this.img.check(dst);
      const after = await this.img.info(dst, 'qcow2');
      if (check.corruptions > 0 || after.virtualSize !== before.virtualSize) {
        fs.rmSync(dst, { force: true });
        throw new NestboxError('IO_ERROR', `the converted copy of disk '${disk.id}' did not check out (${check.corruptions} corruptions, ${after.virtualSize} of ${before.virtualSize} bytes); the original is unchanged`);
      }
      const cur = this.resolve(row.uuid);
      let next: VmConfig;
      try {
        next = parseVmConfig({
          ...cur.config,
          disks: cur.config.disks.map((d) => (d.id === disk.id ? { ...d, file: path.basename(dst), format: 'qcow2', owned: true } : d)),
        });
      } catch (err) {
        fs.rmSync(dst, { force: true });
        configError(err);
      }
      this.d.vms.updateConfig(next);
      swapped = true;
      const note = `the original ${src} is kept; delete it when you no longer need it`;
      this.log(row.uuid, 'info', 'disk-converted', `converted disk '${disk.id}' of '${row.name}' from ${disk.format} to qcow2 (${dst}); ${note}`);
      this.d.bus.emit('vm.changed', { uuid: row.uuid });
      return this.result(row.uuid, [note]);
    } catch (err) {
      this.jobs.fail(row.uuid, signal, err);
      if (!swapped) fs.rmSync(dst, { force: true });
      throw NestboxError.from(err, 'IO_ERROR');
    } finally {
      this.jobs.end(row.uuid, signal);
      this.converting.delete(row.uuid);
      this.d.bus.emit('vm.progress', { uuid: row.uuid, operation: 'convertDisk', percent: 100, done: true });
    }
  }

  /**
   * Stops what this VM is doing that can be stopped midway (a clone or disk conversion that
   * is still copying, a live snapshot or a Save state still writing RAM); nothing of it stays.
   */
  cancel(ref: string): { cancelled: boolean } {
    const row = this.resolve(ref);
    const label = this.jobs.current(row.uuid);
    const cancelled = this.jobs.cancel(row.uuid);
    if (cancelled) this.log(row.uuid, 'info', 'cancelled', `cancelling what '${row.name}' was doing (${label ?? 'a job'})`);
    return { cancelled };
  }

  /** Swaps the medium of a running VM's CD drive (QMP tray/medium commands). */
  private async changeMedium(row: VmRow, driveId: string, iso: string | null): Promise<void> {
    const { proc } = this.proc(row);
    const qmp = proc.qmp;
    const dev = `${driveId}-dev`;
    await qmp.execute('blockdev-open-tray', { id: dev, force: true });
    await qmp.execute('blockdev-remove-medium', { id: dev });
    if (iso) {
      const node = `${driveId}-m${Date.now().toString(36)}`;
      await qmp.execute('blockdev-add', {
        driver: 'raw',
        'node-name': node,
        'read-only': true,
        file: { driver: 'file', filename: iso, 'read-only': true },
      });
      await qmp.execute('blockdev-insert-medium', { id: dev, 'node-name': node });
    }
    await qmp.execute('blockdev-close-tray', { id: dev });
  }

  /**
   * Deletes a VM. Crash-safe in three steps: its folder is first moved into the trash (one
   * rename), then the row goes, then the trash entry is removed. A core stopped between any
   * two of them leaves something `finishInterruptedDeletes` completes on the next start.
   */
  async delete(ref: string, keepFiles: boolean): Promise<{ uuid: string; removedDir: boolean }> {
    const row = this.resolve(ref);
    this.require(row, 'delete', 'delete');
    const dependents = this.d.clones.dependentsOf(row.uuid).map((u) => this.d.vms.get(u)?.name ?? u);
    if (dependents.length) {
      const names = dependents.map((n) => `'${n}'`).join(', ');
      throw new NestboxError(
        'IN_USE',
        `'${row.name}' cannot be deleted: the linked clone${dependents.length > 1 ? 's' : ''} ${names} ${dependents.length > 1 ? 'stand' : 'stands'} on its disks; delete ${dependents.length > 1 ? 'them' : 'it'} first`,
        dependents.join('\n'),
      );
    }
    const under = this.d.clones.basesUnder(row.uuid);
    const trashed = keepFiles ? null : this.moveToTrash(row);
    crashPoint('delete:trashed');
    try {
      this.deleteRows(row.uuid);
    } catch (err) {
      if (trashed) fs.renameSync(trashed, row.dir);
      throw err;
    }
    crashPoint('delete:row-removed');
    // A linked clone was the last to stand on a base of another VM: that base is freed,
    // unless its files are kept (the kept overlay still needs it).
    for (const b of under) {
      if (keepFiles || this.d.clones.inUse(b.id)) continue;
      // The row first: a kill in between leaves a stray file, never a row without its file.
      this.d.clones.removeBase(b.id);
      fs.rmSync(b.file, { force: true });
    }
    fs.rmSync(this.d.layout.vmRunDir(row.uuid), { recursive: true, force: true });
    let removedDir = false;
    if (!keepFiles) {
      // Only the VM's own folder goes; disks attached in place elsewhere are the user's.
      fs.rmSync(trashed ?? row.dir, { recursive: true, force: true });
      removedDir = true;
    }
    this.log(row.uuid, 'info', 'deleted', `deleted '${row.name}'${keepFiles ? ` (files kept in ${row.dir})` : ''}`);
    this.d.bus.emit('vm.removed', { uuid: row.uuid });
    return { uuid: row.uuid, removedDir };
  }

  /** Moves a VM's folder to trash/<uuid> (null when it is elsewhere on another file system). */
  private moveToTrash(row: VmRow): string | null {
    if (!fs.existsSync(row.dir)) return null;
    const trash = this.d.layout.trashDir;
    fs.mkdirSync(trash, { recursive: true, mode: 0o700 });
    const dest = path.join(trash, row.uuid);
    fs.rmSync(dest, { recursive: true, force: true });
    try {
      fs.renameSync(row.dir, dest);
      return dest;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EXDEV') return null;
      throw NestboxError.from(err, 'IO_ERROR');
    }
  }

  /**
   * A deleted VM's row with its own base images' rows (none has a clone left; the files go
   * with its folder), in one transaction.
   */
  private deleteRows(uuid: string): void {
    this.d.vms.atomically(() => {
      for (const b of this.d.clones.basesOf(uuid)) this.d.clones.removeBase(b.id);
      crashPoint('delete:base-rows');
      this.d.vms.delete(uuid);
    });
  }

  /** Completes deletes that a stopped core left half done (see `delete`). */
  private finishInterruptedDeletes(): void {
    const trash = this.d.layout.trashDir;
    if (!fs.existsSync(trash)) return;
    for (const entry of fs.readdirSync(trash)) {
      const row = this.d.vms.get(entry);
      if (row) {
        this.d.vms.clearRuntime(row.uuid);
        this.deleteRows(row.uuid);
      }
      fs.rmSync(path.join(trash, entry), { recursive: true, force: true });
      this.log(row?.uuid ?? entry, 'warning', 'reconcile', `finished deleting ${row ? `'${row.name}'` : `VM ${entry}`}, which was interrupted when the core stopped`);
      if (row) this.d.bus.emit('vm.removed', { uuid: row.uuid });
    }
  }

  // ---------------------------------------------------------------- lifecycle

  async start(ref: string): Promise<OpResult> {
    const first = this.resolve(ref);
    this.require(first, 'start', 'start');
    if (this.converting.has(first.uuid)) throw new NestboxError('BUSY', `a disk of '${first.name}' is being converted; wait until it is done`);
    let early: string[] = [];
    if (this.beforeStart && (first.config.autoSnapshot?.keep ?? 0) > 0) {
      // One automatic snapshot per start, even when two clients press Start together.
      if (this.converting.has(first.uuid)) throw new NestboxError('BUSY', `'${first.name}' is being prepared to start already`);
      this.converting.add(first.uuid);
      try {
        early = await this.beforeStart(first.uuid);
      } finally {
        this.converting.delete(first.uuid);
      }
    }
    const row0 = this.resolve(first.uuid);
    this.require(row0, 'start', 'start');
    const previous = row0.state;
    // A saved VM resumes either from the state file (Save state) or from a snapshot with RAM.
    const pending = previous === 'saved' ? row0.pendingLoadvm : null;
    // A live snapshot keeps its RAM in a file of its own (fed in like a saved state, and
    // kept); older ones and those of paused VMs have it inside the first qcow2 (-loadvm).
    const snapState = pending && fs.existsSync(snapshotStateFile(row0.dir, pending)) ? snapshotStateFile(row0.dir, pending) : null;
    const loadvm = snapState ? null : pending;
    const fromSaved = previous === 'saved' && !pending;
    const incomingFile = snapState ?? (fromSaved ? vmFiles(row0.dir).savedState : null);
    const warnings: string[] = [...early];
    // Synchronous check-and-set: a second start now fails with INVALID_STATE.
    const row = this.apply(row0.uuid, { type: 'startRequested' });
    let launched: QemuProcess | null = null;
    try {
      const host = this.d.host;
      if (!host.qemu) throw new NestboxError('HOST_UNSUPPORTED', 'QEMU was not found; install qemu-system-x86 (see the README)');
      this.admitHardware(row.config.memoryMiB, row.config.cpus);
      const committed = [...this.running.keys()]
        .map((u) => this.d.vms.get(u)?.config.memoryMiB ?? 0)
        .reduce((a, b) => a + b, 0);
      if (committed + row.config.memoryMiB > host.memoryMiB) {
        warnings.push(
          `running VMs would be given ${committed + row.config.memoryMiB} MiB of memory, more than the host's ${host.memoryMiB} MiB`,
        );
      }
      const { accel, note } = resolveAccelerator(this.d.accelChoice(), host.accelerators);
      if (note) warnings.push(note);
      for (const d of row.config.disks) {
        const f = resolveDiskPath(row.dir, d.file);
        if (!fs.existsSync(f)) throw new NestboxError('NOT_FOUND', `'${row.name}' is inaccessible: disk '${d.id}' is missing: ${f}; put the file back or detach the disk`);
      }
      for (const c of row.config.cdroms) {
        if (c.iso && !fs.existsSync(c.iso)) throw new NestboxError('NOT_FOUND', `the ISO in '${c.id}' is missing: ${c.iso}`);
      }
      const files = vmFiles(row.dir);
      if (fromSaved && !fs.existsSync(files.savedState)) {
        throw new NestboxError('NOT_FOUND', `the saved state of '${row.name}' is missing; discard it to start afresh`);
      }
      if (pending && !snapState && this.d.vms.snapshotRamInFile(row.uuid, pending)) {
        throw new NestboxError(
          'NOT_FOUND',
          `'${row.name}' was to resume from its snapshot's memory, but that state file is missing (${snapshotStateFile(row.dir, pending)}); discard the saved state to boot from the snapshot's disks`,
        );
      }
      if (this.d.preflight) warnings.push(...this.d.preflight(row.config));
      if (loadvm && usesBridgeHelper(row.config)) {
        // -loadvm runs before the core can hot-add the helper's adapters, so the devices would not match.
        throw new NestboxError(
          'INVALID_STATE',
          `'${row.name}' resumes from a snapshot with RAM, which cannot be combined yet with an adapter bridged through qemu-bridge-helper; bridge it through a prepared tap device (nestbox nic ${row.name} set N --via tap --tap TAP), or discard the saved state`,
        );
      }
      if (row.config.firmware === 'uefi') await this.ensureEfiVars(row.dir);
      if (previous === 'aborted') await this.checkDisksAfterCrash(row);
      const runDir = this.d.layout.vmRunDir(row.uuid);
      let argv: string[];
      try {
        argv = buildQemuArgv(
          row.config,
          {
            binary: host.qemu.binary,
            accel,
            ovmfCode: host.ovmf?.code ?? null,
            clipboard: host.qemu.major > 8 || (host.qemu.major === 8 && host.qemu.minor >= 1),
          },
          { vmDir: row.dir, runDir, serialLog: files.serialLog, efiVars: files.efiVars },
          { incoming: incomingFile !== null, ...(loadvm ? { loadvm } : {}) },
        );
      } catch (err) {
        throw new NestboxError('INVALID_CONFIG', (err as Error).message);
      }
      for (const log of [files.serialLog, files.qemuLog]) rotateIfLarge(log, this.logRotator.limits);
      launched = await QemuProcess.launch({ uuid: row.uuid, binary: host.qemu.binary, argv, runDir, logFile: files.qemuLog });
      const proc = launched;
      this.d.vms.setRuntime({
        vmUuid: row.uuid,
        pid: proc.pid,
        runDir,
        accel,
        startedAt: new Date().toISOString(),
        logOffset: proc.logOffset,
      });
      const running: Running = { proc, accel, serial: null, quiet: 0 };
      this.running.set(row.uuid, running);
      this.watch(row.uuid, running);
      // Before the guest runs a single instruction (QEMU starts stopped).
      this.enforceResources(row, running);
      if (usesBridgeHelper(row.config)) {
        const helper = findBridgeHelper();
        if (!helper) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-bridge-helper is not installed (Debian, Ubuntu: sudo apt install qemu-system-common)');
        await attachHelperNics(row.config, runDir, helper);
      }
      if (incomingFile) await this.loadState(proc, incomingFile);
      await this.attachSerial(row, running);
      await proc.qmp.execute('cont');
      this.apply(row.uuid, { type: 'started', paused: false });
      if (fromSaved) fs.rmSync(files.savedState, { force: true });
      if (pending) this.d.vms.setPendingLoadvm(row.uuid, null);
      this.log(row.uuid, 'info', 'started', `started '${row.name}' (${accel}${fromSaved ? ', from its saved state' : pending ? ', from its snapshot' : ''}, pid ${proc.pid})`);
      for (const w of warnings) this.log(row.uuid, 'warning', 'start-warning', w);
      return this.result(row.uuid, warnings);
    } catch (err) {
      if (launched) {
        this.running.delete(row.uuid);
        await launched.terminate(2000).catch(() => undefined);
        this.d.vms.clearRuntime(row.uuid);
      }
      const cur = this.d.vms.get(row.uuid);
      if (cur?.state === 'starting') this.apply(row.uuid, { type: 'startFailed', previous });
      const e = NestboxError.from(err, 'QEMU_FAILED');
      this.log(row.uuid, 'error', 'start-failed', `could not start '${row.name}': ${e.message}`);
      throw e;
    }
  }

  /**
   * After QEMU died, its qcow2 images may have leaked clusters (repaired here) or, rarely,
   * corruption, which is reported and never booted over.
   */
  private async checkDisksAfterCrash(row: VmRow): Promise<void> {
    if (!this.img) return;
    for (const d of row.config.disks) {
      if (d.format !== 'qcow2' || d.readOnly) continue;
      const file = resolveDiskPath(row.dir, d.file);
      const r = await this.img.check(file);
      if (r.corruptions > 0) {
        throw new NestboxError(
          'IMAGE_REJECTED',
          `disk '${d.id}' of '${row.name}' has ${r.corruptions} corrupt cluster(s) after QEMU died; it was not started so nothing gets worse (inspect it with: qemu-img check -f qcow2 "${file}")`,
        );
      }
      if (r.leaksFixed > 0) this.log(row.uuid, 'warning', 'disk-check', `repaired ${r.leaksFixed} leaked cluster(s) in disk '${d.id}' after the crash`);
    }
  }

  /** Routes QMP events and QEMU's exit into the state machine. */
  private watch(uuid: string, r: Running): void {
    const qmp = r.proc.qmp;
    qmp.onEvent((ev) => {
      const row = this.d.vms.get(uuid);
      if (!row) return;
      try {
        switch (ev.event) {
          case 'STOP':
            if (r.quiet > 0) break;
            this.apply(uuid, { type: 'guestStopped' });
            break;
          case 'RESUME':
            if (r.quiet > 0) break;
            this.apply(uuid, { type: 'guestResumed' });
            break;
          case 'RESET':
            this.log(uuid, 'info', 'reset', `'${row.name}' was reset`);
            break;
          case 'SHUTDOWN':
            if (ev.data['guest'] === true) this.log(uuid, 'info', 'guest-shutdown', `the guest of '${row.name}' shut down`);
            break;
          case 'GUEST_PANICKED':
            this.log(uuid, 'error', 'guest-panic', `the guest of '${row.name}' panicked`);
            break;
          default:
            break;
        }
      } catch {
        // An event that does not fit the current state (e.g. RESUME during a restore) is noise.
      }
    });
    r.proc.onExit((info) => this.onExit(uuid, r, info));
  }

  private onExit(uuid: string, r: Running, info: ExitInfo): void {
    if (this.running.get(uuid) === r) this.running.delete(uuid);
    if (r.resources?.length) this.dropCgroups(uuid, 20);
    r.serial?.end(info.reason);
    const row = this.d.vms.get(uuid);
    if (!row) return;
    this.d.vms.clearRuntime(uuid);
    if (row.state === 'saved' || !isActive(row.state)) return;
    if (info.clean) {
      this.apply(uuid, { type: 'exited' });
      this.log(uuid, 'info', 'stopped', `'${row.name}' is powered off (${info.reason})`);
    } else {
      this.apply(uuid, { type: 'crashed' }, info.reason);
      this.log(uuid, 'error', 'aborted', `'${row.name}' aborted: ${info.reason}`);
    }
  }

  /** Removes a stopped VM's cgroups; the kernel may take a moment to let the last thread go. */
  private dropCgroups(uuid: string, tries: number): void {
    if (this.running.has(uuid) || removeCgroups(this.cgroups(), uuid) || tries <= 0) return;
    setTimeout(() => this.dropCgroups(uuid, tries - 1), 250).unref();
  }

  /** Serial hubs whose consoles wait for the VM's next QEMU (see keepConsolesOpen). */
  private readonly waitingConsoles = new Map<string, SerialHub>();

  /**
   * The serial consoles open now stay open across the VM's next power-off and start (a
   * restore that replaces QEMU): they are handed to the new QEMU's hub. @internal
   */
  keepConsolesOpen(uuid: string): () => void {
    const r = this.running.get(uuid);
    if (!r?.serial) return () => undefined;
    const carrier = new SerialHub('');
    r.serial.handOver(carrier);
    this.waitingConsoles.set(uuid, carrier);
    // If the start never comes, the consoles close as they would have.
    return () => {
      if (this.waitingConsoles.get(uuid) === carrier) {
        this.waitingConsoles.delete(uuid);
        carrier.end('the VM is not running');
      }
    };
  }

  private async attachSerial(row: VmRow, r: Running): Promise<void> {
    if (!row.config.serial.enabled) return;
    const hub = new SerialHub(path.join(r.proc.runDir, RUNTIME_FILES.serial));
    try {
      await hub.connect();
      r.serial = hub;
      const waiting = this.waitingConsoles.get(row.uuid);
      if (waiting) {
        this.waitingConsoles.delete(row.uuid);
        waiting.handOver(hub);
      }
    } catch (err) {
      this.log(row.uuid, 'warning', 'serial', `could not attach to the serial console: ${(err as Error).message}`);
    }
  }

  async pause(ref: string): Promise<OpResult> {
    const row = this.resolve(ref);
    this.require(row, 'pause', 'pause');
    await this.proc(row).proc.qmp.execute('stop');
    this.apply(row.uuid, { type: 'guestStopped' });
    this.log(row.uuid, 'info', 'paused', `paused '${row.name}'`);
    return this.result(row.uuid);
  }

  async resume(ref: string): Promise<OpResult> {
    const row = this.resolve(ref);
    this.require(row, 'resume', 'resume');
    await this.proc(row).proc.qmp.execute('cont');
    this.apply(row.uuid, { type: 'guestResumed' });
    this.log(row.uuid, 'info', 'resumed', `resumed '${row.name}'`);
    return this.result(row.uuid);
  }

  async reset(ref: string): Promise<OpResult> {
    const row = this.resolve(ref);
    this.require(row, 'reset', 'reset');
    await this.proc(row).proc.qmp.execute('system_reset');
    return this.result(row.uuid);
  }

  /** ACPI power button; resolves when the guest has powered off, or TIMEOUT. */
  async shutdown(ref: string, timeoutS = 60): Promise<OpResult> {
    const row = this.resolve(ref);
    this.require(row, 'shutdown', 'shut down');
    const { proc } = this.proc(row);
    this.apply(row.uuid, { type: 'shutdownRequested' });
    this.log(row.uuid, 'info', 'shutdown', `sent the ACPI power button to '${row.name}'`);
    try {
      await proc.qmp.execute('system_powerdown');
    } catch (err) {
      if (!proc.exited) {
        this.apply(row.uuid, { type: 'shutdownTimedOut', paused: false });
        throw err;
      }
    }
    const info = await proc.waitExit(Math.max(1, timeoutS) * 1000);
    if (!info) {
      const status = await proc.qmp.execute<{ status: string }>('query-status').catch(() => ({ status: 'running' }));
      if (this.d.vms.get(row.uuid)?.state === 'stopping') {
        this.apply(row.uuid, { type: 'shutdownTimedOut', paused: status.status === 'paused' });
      }
      throw new NestboxError(
        'TIMEOUT',
        `'${row.name}' did not shut down within ${timeoutS} s (the guest may ignore the ACPI power button); use power off to force it`,
      );
    }
    return this.result(row.uuid);
  }

  async powerOff(ref: string): Promise<OpResult> {
    const row = this.resolve(ref);
    this.require(row, 'powerOff', 'power off');
    const { proc } = this.proc(row);
    await proc.terminate(3000);
    // The exit handler has moved the state; make sure before answering.
    const after = this.d.vms.get(row.uuid);
    if (after && isActive(after.state)) this.apply(row.uuid, { type: 'exited' });
    return this.result(row.uuid);
  }

  /**
   * Saves the machine state like VirtualBox: pause, stream RAM and device state through a
   * unix socket the core serves (QEMU 7.2 has no file: URI, and the sandbox forbids exec:),
   * then end QEMU. On failure the guest is resumed: it is never left paused by mistake.
   */
  async saveState(ref: string): Promise<OpResult> {
    const row = this.resolve(ref);
    this.require(row, 'saveState', 'save the state of');
    const { proc } = this.proc(row);
    const wasPaused = row.state === 'paused';
    const signal = this.jobs.begin(row.uuid, `cannot save the state of '${row.name}' now`, 'its state is being saved', {
      kind: 'saveState',
      title: `Saving the state of '${row.name}'`,
      target: row.name,
    });
    try {
      this.apply(row.uuid, { type: 'saveRequested' });
    } catch (err) {
      this.jobs.fail(row.uuid, signal, err);
      this.jobs.end(row.uuid, signal);
      throw err;
    }
    const files = vmFiles(row.dir);
    try {
      if (!wasPaused) await proc.qmp.execute('stop');
      this.d.bus.emit('vm.progress', { uuid: row.uuid, operation: 'saveState', percent: 0, done: false });
      const size = await saveStateToFile(proc.qmp, proc.runDir, files.savedState, {
        signal,
        bandwidth: this.d.stateBandwidth?.() ?? null,
        onProgress: (p) => this.d.bus.emit('vm.progress', { uuid: row.uuid, operation: 'saveState', percent: p.percent, done: false, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal }),
      }).finally(() => this.d.bus.emit('vm.progress', { uuid: row.uuid, operation: 'saveState', percent: 100, done: true }));
      this.apply(row.uuid, { type: 'saveCompleted' });
      await proc.terminate(5000);
      this.log(row.uuid, 'info', 'saved', `saved the state of '${row.name}' (${formatBytes(size)})`);
      return this.result(row.uuid);
    } catch (err) {
      this.jobs.fail(row.uuid, signal, err);
      const cur = this.d.vms.get(row.uuid);
      if (cur?.state === 'saving') {
        if (!wasPaused && !proc.exited) await proc.qmp.execute('cont').catch(() => undefined);
        this.apply(row.uuid, { type: 'saveFailed', paused: wasPaused });
      }
      const e = NestboxError.from(err, 'QEMU_FAILED');
      if (e.code === 'CANCELLED') {
        this.log(row.uuid, 'info', 'cancelled', `saving the state of '${row.name}' was cancelled`);
        throw new NestboxError('CANCELLED', `saving the state of '${row.name}' was cancelled; nothing was kept and '${row.name}' is ${wasPaused ? 'paused' : 'running'} as before`);
      }
      throw e;
    } finally {
      this.jobs.end(row.uuid, signal);
    }
  }

  /** Feeds a saved state into a QEMU started with `-incoming defer`, reporting progress. */
  private async loadState(proc: QemuProcess, file: string): Promise<void> {
    let lastPct = -1;
    await loadStateFromFile(proc, file, (pct) => {
      if (pct === lastPct) return;
      lastPct = pct;
      this.d.bus.emit('vm.progress', { uuid: proc.uuid, operation: 'restoreState', percent: pct, done: pct >= 100 });
    });
  }

  async discardState(ref: string): Promise<OpResult> {
    const row = this.resolve(ref);
    this.require(row, 'discardState', 'discard the saved state of');
    fs.rmSync(vmFiles(row.dir).savedState, { force: true });
    this.d.vms.setPendingLoadvm(row.uuid, null);
    this.apply(row.uuid, { type: 'stateDiscarded' });
    this.log(row.uuid, 'info', 'discarded', `discarded the saved state of '${row.name}'`);
    return this.result(row.uuid);
  }

  async screenshot(ref: string): Promise<{ pngBase64: string; width: number; height: number }> {
    const row = this.resolve(ref);
    this.require(row, 'screenshot', 'take a screenshot of');
    if (row.config.display.adapter === 'none') throw new NestboxError('INVALID_STATE', `'${row.name}' has no display`);
    const { proc } = this.proc(row);
    const file = path.join(proc.runDir, `screen-${crypto.randomBytes(4).toString('hex')}.png`);
    try {
      await proc.qmp.execute('screendump', { filename: file, format: 'png' });
      const buf = fs.readFileSync(file);
      return { pngBase64: buf.toString('base64'), ...pngSize(buf) };
    } finally {
      fs.rmSync(file, { force: true });
    }
  }

  /** The runtime directory of a running VM with a screen, for VNC streams. */
  vncRunDir(ref: string): string {
    const row = this.resolve(ref);
    this.require(row, 'console', 'open the screen of');
    if (row.config.display.adapter === 'none') throw new NestboxError('INVALID_STATE', `'${row.name}' has no display`);
    return this.proc(row).proc.runDir;
  }

  async sendKeys(ref: string, keys: readonly string[]): Promise<void> {
    const row = this.resolve(ref);
    this.require(row, 'screenshot', 'send keys to');
    await this.proc(row).proc.qmp.execute('send-key', { keys: keys.map((k) => ({ type: 'qcode', data: k })) });
    this.log(row.uuid, 'info', 'keys', `sent ${keys.join('+')} to '${row.name}'`);
  }

  /** The serial hub of a running VM, for console streams. */
  serialHub(ref: string): { row: VmRow; hub: SerialHub } {
    const row = this.resolve(ref);
    this.require(row, 'console', 'open the console of');
    const r = this.proc(row);
    if (!r.serial) throw new NestboxError('INVALID_STATE', `'${row.name}' has no serial console attached`);
    return { row, hub: r.serial };
  }

  // ---------------------------------------------------------------- core start / stop

  /**
   * Brings the inventory in line with reality after a core (re)start: re-attaches to every
   * QEMU still running, and marks VMs whose QEMU went away as powered off or aborted.
   */
  async reconcile(): Promise<void> {
    this.finishInterruptedDeletes();
    for (const row of this.d.vms.list()) {
      if (row.state === 'saved' && !row.pendingLoadvm && !fs.existsSync(vmFiles(row.dir).savedState)) {
        this.setState(row, 'poweredOff', 'the saved state file was missing');
        this.log(row.uuid, 'warning', 'reconcile', `the saved state of '${row.name}' was missing; it is powered off`);
        continue;
      }
      if (!isActive(row.state)) continue;
      const rt = this.d.vms.getRuntime(row.uuid);
      const runDir = rt?.runDir ?? this.d.layout.vmRunDir(row.uuid);
      const files = vmFiles(row.dir);
      let found: Awaited<ReturnType<typeof QemuProcess.attach>>;
      try {
        found = await QemuProcess.attach(row.uuid, runDir, files.qemuLog, rt?.logOffset ?? 0);
      } catch (err) {
        found = { gone: 'crashed', reason: `QEMU did not answer on its QMP socket: ${(err as Error).message}` };
      }
      if (!(found instanceof QemuProcess)) {
        this.d.vms.clearRuntime(row.uuid);
        const state: VmState = found.gone === 'clean' ? 'poweredOff' : 'aborted';
        this.setState(row, state, state === 'aborted' ? found.reason : null);
        this.log(row.uuid, state === 'aborted' ? 'error' : 'info', 'reconcile', `'${row.name}': ${found.reason}`);
        continue;
      }
      const running: Running = { proc: found, accel: (rt?.accel as Accelerator) ?? 'tcg', serial: null, quiet: 0 };
      this.running.set(row.uuid, running);
      this.watch(row.uuid, running);
      this.enforceResources(row, running);
      const status = await found.qmp.execute<{ status: string }>('query-status').catch(() => ({ status: 'unknown' }));
      const state: VmState = status.status === 'running' ? 'running' : 'paused';
      if (row.state !== state) this.setState(row, state);
      await this.attachSerial(row, running);
    }
  }

  /** Lets go of every QEMU without stopping it: VMs keep running after the core exits. */
  detachAll(): void {
    for (const r of this.running.values()) {
      r.serial?.end('the Nestbox core is shutting down');
      r.proc.detach();
    }
    this.running.clear();
  }

  runningCount(): number {
    return this.running.size;
  }
}
