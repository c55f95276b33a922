/**
 * The VM services, composed: the registry (vmregistry.ts), configurations (vmconfigs.ts),
 * the lifecycle (lifecycle.ts, which has each QEMU watched by qemuwatch.ts), saved states
 * (statefiles.ts), consoles (vmconsoles.ts), deletes (vmdelete.ts) and resources (vmresources.ts). `VmService` is the one object the
 * other services (snapshots, clones, media, network, import/export) and the API dispatch
 * reach VMs through; each method forwards to the service that owns the concern.
 */
import type { AcceleratorChoice, CreateVmSpec, ModifyVmSpec, OpResult, VmInfo, VmSummary } from '../api/contract';
import type { VmConfig } from '../domain/config';
import type { LifecycleEvent, VmOperation } from '../domain/lifecycle';
import type { CgroupSupport } from '../qemu/cgroups';
import type { HostCapabilities } from '../qemu/host';
import type { QemuProcess } from '../qemu/supervisor';
import { QemuImg } from '../storage/qemuimg';
import type { CloneRepository, EventRepository, VmRepository, VmRow } from '../store/db';
import type { DataLayout } from '../store/paths';
import type { EventBus } from './events';
import type { GuestWatch } from './guestwatch';
import type { JobService } from './jobs';
import { LifecycleService, type QemuLauncher } from './lifecycle';
import type { MonitoredVm } from './monitor';
import type { SerialHub } from './serial';
import { StateFiles } from './statefiles';
import { VmConfigs } from './vmconfigs';
import { VmConsoles } from './vmconsoles';
import { VmDeletes } from './vmdelete';
import { VmRegistry } from './vmregistry';
import { LogRotator, logLimitsFromEnv, runningLogs } from './logrotate';

export { randomMac } from './vmconfigs';

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
  /** Where every long operation runs as a job. */
  readonly jobs: JobService;
  /** Starts QEMU (tests pass a fake one); the host's QEMU by default. */
  readonly launcher?: QemuLauncher;
}

export class VmService {
  readonly registry: VmRegistry;
  readonly configs: VmConfigs;
  readonly lifecycle: LifecycleService;
  readonly states: StateFiles;
  readonly consoles: VmConsoles;
  readonly deletes: VmDeletes;
  /** Keeps the serial and QEMU logs of running VMs to a few MiB each (logrotate.ts). */
  readonly logRotator: LogRotator;

  constructor(d: VmServiceDeps) {
    const img = d.host.qemu ? new QemuImg(d.host.qemu.imgBinary) : null;
    this.registry = new VmRegistry({ layout: d.layout, vms: d.vms, events: d.events, clones: d.clones, bus: d.bus, host: d.host, jobs: d.jobs });
    const reg = this.registry;
    this.configs = new VmConfigs({ reg, vms: d.vms, img });
    this.consoles = new VmConsoles(reg);
    this.states = new StateFiles({ reg, vms: d.vms, ...(d.stateBandwidth ? { stateBandwidth: d.stateBandwidth } : {}) });
    this.deletes = new VmDeletes(reg, d.vms);
    this.lifecycle = new LifecycleService({
      reg,
      vms: d.vms,
      img,
      configs: this.configs,
      consoles: this.consoles,
      states: this.states,
      deletes: this.deletes,
      accelChoice: d.accelChoice,
      ...(d.launcher ? { launcher: d.launcher } : {}),
      ...(d.preflight ? { preflight: d.preflight } : {}),
      logLimits: logLimitsFromEnv(),
    });
    this.logRotator = new LogRotator(() => runningLogs([...reg.running.keys()], (u) => d.vms.get(u)?.dir), logLimitsFromEnv());
    this.logRotator.start();
  }

  get jobs(): JobService {
    return this.registry.jobs;
  }

  set beforeStart(fn: ((uuid: string) => Promise<string[]>) | null) {
    this.lifecycle.beforeStart = fn;
  }

  // registry
  list(): VmSummary[] {
    return this.registry.list();
  }
  info(ref: string): VmInfo {
    return this.registry.info(ref);
  }
  resolve(ref: string): VmRow {
    return this.registry.resolve(ref);
  }
  hostLimits(): { memoryMiB: number; cpus: number } {
    return this.registry.hostLimits();
  }
  result(uuid: string, warnings: readonly string[] = []): OpResult {
    return this.registry.result(uuid, warnings);
  }
  log(uuid: string | null, level: 'info' | 'warning' | 'error', kind: string, message: string): void {
    this.registry.log(uuid, level, kind, message);
  }
  apply(uuid: string, ev: LifecycleEvent, reason: string | null = null): VmRow {
    return this.registry.apply(uuid, ev, reason);
  }
  require(row: VmRow, op: VmOperation, verb: string): void {
    this.registry.require(row, op, verb);
  }
  qemuOf(uuid: string): QemuProcess | null {
    return this.registry.qemuOf(uuid);
  }
  guestOf(uuid: string, config: VmConfig): GuestWatch | null {
    return this.registry.guestOf(uuid, config);
  }
  quietly<T>(uuid: string, fn: () => Promise<T>): Promise<T> {
    return this.registry.quietly(uuid, fn);
  }
  monitored(): MonitoredVm[] {
    return this.registry.monitored();
  }
  runningCount(): number {
    return this.registry.runningCount();
  }
  cgroups(): CgroupSupport {
    return this.registry.resources.cgroups();
  }
  balloon(ref: string, targetMiB: number): Promise<OpResult> {
    return this.registry.resources.balloon(ref, targetMiB);
  }

  // configuration
  create(spec: CreateVmSpec): Promise<OpResult> {
    return this.configs.create(spec);
  }
  modify(ref: string, changes: ModifyVmSpec): Promise<OpResult> {
    return this.configs.modify(ref, changes);
  }

  // lifecycle
  start(ref: string): Promise<OpResult> {
    return this.lifecycle.start(ref);
  }
  pause(ref: string): Promise<OpResult> {
    return this.lifecycle.pause(ref);
  }
  resume(ref: string): Promise<OpResult> {
    return this.lifecycle.resume(ref);
  }
  reset(ref: string): Promise<OpResult> {
    return this.lifecycle.reset(ref);
  }
  shutdown(ref: string, timeoutS?: number): Promise<OpResult> {
    return this.lifecycle.shutdown(ref, timeoutS);
  }
  powerOff(ref: string): Promise<OpResult> {
    return this.lifecycle.powerOff(ref);
  }
  cancel(ref: string): { cancelled: boolean } {
    return this.lifecycle.cancel(ref);
  }
  reconcile(): Promise<void> {
    return this.lifecycle.reconcile();
  }
  detachAll(): void {
    this.lifecycle.detachAll();
  }

  // saved states, deletes, consoles
  saveState(ref: string): Promise<OpResult> {
    return this.states.saveState(ref);
  }
  discardState(ref: string): Promise<OpResult> {
    return this.states.discardState(ref);
  }
  delete(ref: string, keepFiles: boolean): Promise<{ uuid: string; removedDir: boolean }> {
    return this.deletes.delete(ref, keepFiles);
  }
  keepConsolesOpen(uuid: string): () => void {
    return this.consoles.keepOpen(uuid);
  }
  screenshot(ref: string): Promise<{ pngBase64: string; width: number; height: number }> {
    return this.consoles.screenshot(ref);
  }
  vncRunDir(ref: string): string {
    return this.consoles.vncRunDir(ref);
  }
  sendKeys(ref: string, keys: readonly string[]): Promise<void> {
    return this.consoles.sendKeys(ref, keys);
  }
  serialHub(ref: string): { row: VmRow; hub: SerialHub } {
    return this.consoles.serialHub(ref);
  }
}
