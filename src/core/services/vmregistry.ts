/**
 * The VM registry: finds VMs by name or UUID, describes them, applies lifecycle events to
 * their stored state and writes their log; it also knows which VMs have a QEMU attached
 * now. Every other VM service goes through it, so a state change is always one atomic
 * check-and-set followed by a `vm.state` event.
 */
import fs from 'node:fs';
import type { Accelerator, OpResult, SettingStatus, VmInfo, VmSummary } from '../api/contract';
import { NestboxError } from '../api/errors';
import { allowedOperations, describeState, isActive, isAllowed, transition, TransitionError, type LifecycleEvent, type VmOperation, type VmState } from '../domain/lifecycle';
import { resolveDiskPath } from '../qemu/argv';
import type { HostCapabilities } from '../qemu/host';
import type { SwtpmProcess } from '../qemu/swtpm';
import type { VirtiofsdProcess } from '../qemu/virtiofsd';
import type { QemuProcess } from '../qemu/supervisor';
import type { CloneRepository, EventRepository, VmRepository, VmRow } from '../store/db';
import { vmFiles, type DataLayout } from '../store/paths';
import type { EventBus } from './events';
import type { JobService, VmRef } from './jobs';
import type { MonitoredVm } from './monitor';
import type { SerialHub } from './serial';
import { VmResources } from './vmresources';
import { GuestWatch } from './guestwatch';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A VM's QEMU as the core holds it while it runs. */
export interface Running {
  readonly proc: QemuProcess;
  readonly accel: Accelerator;
  serial: SerialHub | null;
  /** >0 while a job that stops and resumes the guest itself runs. */
  quiet: number;
  /** Resource settings as applied to this QEMU (cgroups, devices). */
  resources?: SettingStatus[];
  /** The guest agent of a VM with its port (config guestAgent). */
  guest?: GuestWatch;
  /** Resumed from a saved state or snapshot and the guest's clock could not be set. */
  clockNote?: string;
  /** The VM's TPM emulator, when it has a TPM. */
  tpm?: SwtpmProcess;
  /** The shares this QEMU was started with (by tag): they block saving its memory (shares.ts). */
  shareTags?: readonly string[];
  /** The virtiofsd of each of those shares, when they are served through virtiofs. */
  virtiofsd?: readonly VirtiofsdProcess[];
  /** Why the core ended this QEMU itself (its swtpm died): the reason the VM aborted. */
  abortReason?: string;
}

export interface VmRegistryDeps {
  readonly layout: DataLayout;
  readonly vms: VmRepository;
  readonly events: EventRepository;
  readonly clones: CloneRepository;
  readonly bus: EventBus;
  readonly host: HostCapabilities;
  readonly jobs: JobService;
}

export class VmRegistry {
  /** VMs with a QEMU attached, by uuid. */
  readonly running = new Map<string, Running>();
  readonly resources: VmResources;

  constructor(readonly d: VmRegistryDeps) {
    this.resources = new VmResources(d.host, this);
  }

  get jobs(): JobService {
    return this.d.jobs;
  }

  list(): VmSummary[] {
    return this.d.vms.list().map((r) => this.summary(r));
  }

  info(ref: string): VmInfo {
    return this.toInfo(this.resolve(ref));
  }

  resolve(ref: string): VmRow {
    if (typeof ref !== 'string' || ref === '') throw new NestboxError('INVALID_ARGUMENT', 'a VM name or UUID is required');
    const row = UUID_RE.test(ref) ? this.d.vms.get(ref.toLowerCase()) : this.d.vms.findByName(ref);
    if (!row) throw new NestboxError('NOT_FOUND', `no VM named '${ref}'`);
    return row;
  }

  /** What the job service needs to name a VM. */
  ref(row: VmRow): VmRef {
    return { uuid: row.uuid, name: row.name };
  }

  /** What the host can give a VM (an import clamps an appliance's wishes to it). */
  hostLimits(): { memoryMiB: number; cpus: number } {
    return { memoryMiB: this.d.host.memoryMiB, cpus: this.d.host.cpus };
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
      resourceStatus: this.running.get(r.uuid)?.resources ?? this.resources.planned(r.config),
      linkedClones: this.d.clones.dependentsOf(r.uuid).map((u) => this.d.vms.get(u)?.name ?? u),
      linkedTo: this.d.clones.parentsOf(r.uuid).map((u) => this.d.vms.get(u)?.name ?? u),
      ...this.guestInfo(r),
    };
  }

  private guestInfo(r: VmRow): Pick<VmInfo, 'guestAgent' | 'clockNote'> {
    const run = this.running.get(r.uuid);
    if (!run || !isActive(r.state)) return {};
    const g = this.guestOf(r.uuid, r.config);
    return {
      ...(g ? { guestAgent: g.status() } : {}),
      ...(run.clockNote ? { clockNote: run.clockNote } : {}),
    };
  }

  /** The guest agent of a running VM that has its port, created on first use. */
  guestOf(uuid: string, config: { readonly guestAgent?: boolean }): GuestWatch | null {
    const run = this.running.get(uuid);
    if (!run || config.guestAgent !== true) return null;
    run.guest ??= new GuestWatch(run.proc.runDir);
    return run.guest;
  }

  result(uuid: string, warnings: readonly string[] = []): OpResult {
    return { vm: this.info(uuid), warnings };
  }

  log(uuid: string | null, level: 'info' | 'warning' | 'error', kind: string, message: string): void {
    const entry = this.d.events.append(uuid, level, kind, message);
    this.d.bus.emit('log', entry);
  }

  setState(row: VmRow, state: VmState, reason: string | null = null): void {
    this.d.vms.setState(row.uuid, state, reason);
    const data = reason ? { uuid: row.uuid, name: row.name, state, reason } : { uuid: row.uuid, name: row.name, state };
    this.d.bus.emit('vm.state', data);
  }

  /** Applies a lifecycle event to the stored state, atomically with respect to other calls. */
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

  require(row: VmRow, op: VmOperation, verb: string): void {
    if (!isAllowed(row.state, op)) {
      throw new NestboxError('INVALID_STATE', `cannot ${verb} '${row.name}' while it is ${describeState(row.state)}`);
    }
  }

  /** The QEMU of a running VM, or null. */
  qemuOf(uuid: string): QemuProcess | null {
    return this.running.get(uuid)?.proc ?? null;
  }

  /** The running record of a VM that must have a QEMU. */
  proc(row: VmRow): Running {
    const r = this.running.get(row.uuid);
    if (!r) throw new NestboxError('INVALID_STATE', `'${row.name}' has no QEMU process attached`);
    return r;
  }

  /**
   * Runs `fn` while QEMU's own STOP/RESUME around a job (snapshot-save pauses the guest
   * briefly) are not mistaken for the user pausing the VM.
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

  /** The VMs the sampler watches. */
  monitored(): MonitoredVm[] {
    const out: MonitoredVm[] = [];
    for (const [uuid, r] of this.running) {
      const row = this.d.vms.get(uuid);
      if (row && !r.proc.exited) {
        const guest = this.guestOf(uuid, row.config);
        guest?.tick(row.state !== 'running');
        out.push({ uuid, config: row.config, proc: r.proc, guest });
      }
    }
    return out;
  }

  runningCount(): number {
    return this.running.size;
  }
}
