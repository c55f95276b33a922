/**
 * Per-VM resource limits: cgroup limits applied to a running QEMU (and changed live), what
 * the device-level settings (balloon, page sharing, topology) mean on this host, and the
 * balloon target of a running VM.
 */
import type { ModifyVmSpec, OpResult, SettingStatus } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { ResourceConfig, VmConfig } from '../domain/config';
import { applyCgroupLimits, detectCgroups, readKsm, removeCgroups, type CgroupSupport } from '../qemu/cgroups';
import { qemuCommands } from '../qemu/commands';
import type { HostCapabilities } from '../qemu/host';
import type { VmRow } from '../store/db';
import type { Running, VmRegistry } from './vmregistry';

/** Resource settings that can change while the VM runs (cgroup limits); the rest need power-off. */
export const LIVE_RESOURCES: readonly (keyof ResourceConfig)[] = ['cpuShares', 'cpuLimitPct', 'pinCpus', 'memoryMaxMiB'];

/** Applies resource changes (null clears a setting) to the current resources. */
export function mergeResources(cur: ResourceConfig | undefined, changes: NonNullable<ModifyVmSpec['resources']>): ResourceConfig {
  const out: Record<string, unknown> = { ...(cur ?? {}) };
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) delete out[k];
    else if (v !== undefined) out[k] = v;
  }
  return out as ResourceConfig;
}

export class VmResources {
  private support: CgroupSupport | null = null;

  constructor(
    private readonly host: HostCapabilities,
    private readonly reg: VmRegistry,
  ) {}

  /** Where this host lets per-VM limits be enforced (probed once). */
  cgroups(): CgroupSupport {
    this.support ??= detectCgroups();
    return this.support;
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
  planned(cfg: VmConfig): SettingStatus[] {
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
  enforce(row: VmRow, r: Running): void {
    const res = row.config.resources ?? {};
    const knobs = applyCgroupLimits(this.cgroups(), row.uuid, r.proc.pid, res, this.host.cpus);
    r.resources = [...knobs, ...this.deviceStatus(row.config)];
    for (const k of r.resources) if (!k.enforced) this.reg.log(row.uuid, 'warning', 'resources', `${k.setting} of '${row.name}' is ${k.detail}`);
  }

  /** Removes a stopped VM's cgroups; the kernel may take a moment to let the last thread go. */
  drop(uuid: string, tries = 20): void {
    if (this.reg.running.has(uuid) || removeCgroups(this.cgroups(), uuid) || tries <= 0) return;
    setTimeout(() => this.drop(uuid, tries - 1), 250).unref();
  }

  /** Sets the balloon target of a running VM. */
  async balloon(ref: string, targetMiB: number): Promise<OpResult> {
    const row = this.reg.resolve(ref);
    if (!Number.isInteger(targetMiB) || targetMiB < 16) throw new NestboxError('INVALID_ARGUMENT', 'the balloon target must be a whole number of MiB, at least 16');
    if (!row.config.resources?.balloon) {
      throw new NestboxError('INVALID_STATE', `'${row.name}' has no memory balloon; enable it (nestbox modify ${row.name} --balloon on) while it is powered off`);
    }
    if (targetMiB > row.config.memoryMiB) throw new NestboxError('INVALID_ARGUMENT', `the balloon target cannot exceed the VM's memory (${row.config.memoryMiB} MiB)`);
    this.reg.require(row, 'screenshot', 'set the balloon of');
    await qemuCommands(this.reg.proc(row).proc.qmp).balloon(targetMiB * 1024 * 1024);
    this.reg.log(row.uuid, 'info', 'balloon', `set the memory balloon of '${row.name}' to leave the guest ${targetMiB} MiB`);
    return this.reg.result(row.uuid);
  }
}
