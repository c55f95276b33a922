/**
 * A VM's lifecycle: start (with its automatic snapshot and the loading of a saved state),
 * pause, resume, reset, shutdown and power-off, and the QEMU process behind it: launched
 * through an injected launcher and re-attached after a core restart (reconcile); once
 * running, each process is watched by qemuwatch.ts (QMP events and its exit drive the state
 * machine). Every mutating operation checks and changes the state synchronously before its
 * first await, so two clients racing for one VM cannot both pass the check. Save state,
 * delete, screenshots and keys are reached through here too, so an engine seam has one
 * service to stand in for.
 *
 * Start, the stop verbs and reconcile stay in one file: they read and change the same table
 * of running processes, and each checks and changes the state before its first await. What
 * does not start or stop a process is elsewhere: the watching of a running one, the disk check
 * after a crash and the guest clock (qemuwatch.ts), save state (statefiles.ts), delete
 * (vmdelete.ts), consoles (vmconsoles.ts), the registry (vmregistry.ts).
 */
import fs from 'node:fs';
import type { Accelerator, OpResult } from '../api/contract';
import { NestboxError } from '../api/errors';
import { isActive, type VmState } from '../domain/lifecycle';
import { findBridgeHelper } from '../network/bridges';
import { buildQemuArgv, resolveDiskPath, usesBridgeHelper } from '../qemu/argv';
import { attachHelperNics } from '../qemu/bridgehelper';
import { qemuCommands } from '../qemu/commands';
import { resolveAccelerator } from '../qemu/host';
import { prepareQemuUser } from '../qemu/runas';
import { QemuProcess, type LaunchSpec } from '../qemu/supervisor';
import { SwtpmProcess, tpmStateDir, type SwtpmPaths } from '../qemu/swtpm';
import { clipboardWiring } from '../qemu/vdagent';
import type { VirtiofsdProcess } from '../qemu/virtiofsd';
import type { AcceleratorChoice } from '../api/contract';
import type { VmConfig } from '../domain/config';
import type { QemuImg } from '../storage/qemuimg';
import type { VmRepository } from '../store/db';
import { snapshotStateFile, vmFiles } from '../store/paths';
import type { StateFiles } from './statefiles';
import type { VmConfigs } from './vmconfigs';
import type { VmConsoles } from './vmconsoles';
import type { VmDeletes } from './vmdelete';
import type { Running, VmRegistry } from './vmregistry';
import { rotateIfLarge, type LogLimits } from './logrotate';
import { attachShares, launchShares, runningShareTags, shareTransport } from './shares';
import { plugClipboard } from './clipboard';
import { QemuWatch } from './qemuwatch';

function tpmPaths(vmDir: string, runDir: string): SwtpmPaths {
  return { stateDir: tpmStateDir(vmDir), runDir, logFile: vmFiles(vmDir).swtpmLog };
}

/**
 * QEMU refuses a TPM whose state swtpm cannot load (CMD_INIT fails on stale or damaged
 * state): the error says so and names the way out.
 */
function tpmLoadError(err: unknown, name: string): unknown {
  const msg = err instanceof Error ? err.message : String(err);
  if (!/tpm-emulator|CMD_INIT|TPM result|swtpm/i.test(msg)) return err;
  const why = msg.split('\n').find((l) => /tpm-emulator|CMD_INIT|TPM result/i.test(l))?.replace(/^.*?(tpm-emulator: )/i, '$1') ?? msg.split('\n').slice(-2).join(' ');
  return new NestboxError(
    'TPM_FAILED',
    `the TPM of '${name}' could not load its state (${why}); if it is stale or damaged, reset the TPM (nestbox modify '${name}' --reset-tpm '${name}', or Settings → System → "Reset the TPM on Apply"): that erases what the guest kept in it (BitLocker keys, Windows Hello)`,
    err instanceof NestboxError ? err.detail : undefined,
  );
}

/** Starts QEMU processes and finds those a previous core left running (injected so services can be tested without QEMU). */
export interface QemuLauncher {
  launch(spec: LaunchSpec): Promise<QemuProcess>;
  attach(uuid: string, runDir: string, logFile: string, logOffset: number): ReturnType<typeof QemuProcess.attach>;
}

/** The real one: QEMU processes of the host. */
export const QEMU_LAUNCHER: QemuLauncher = {
  launch: (spec) => QemuProcess.launch(spec),
  attach: (uuid, runDir, logFile, logOffset) => QemuProcess.attach(uuid, runDir, logFile, logOffset),
};

export interface LifecycleDeps {
  readonly reg: VmRegistry;
  readonly vms: VmRepository;
  readonly img: QemuImg | null;
  readonly configs: VmConfigs;
  readonly consoles: VmConsoles;
  readonly states: StateFiles;
  readonly deletes: VmDeletes;
  readonly launcher?: QemuLauncher;
  readonly accelChoice: () => AcceleratorChoice;
  /** Checks that the host allows the VM's network attachments; returns warnings or throws. */
  readonly preflight?: (config: VmConfig) => string[];
  /** How large the serial and QEMU logs may grow (logrotate.ts); rotated before each start too. */
  readonly logLimits: LogLimits;
}

export class LifecycleService {
  /** Runs before a VM is started from powered off (automatic snapshots); returns warnings. */
  beforeStart: ((uuid: string) => Promise<string[]>) | null = null;
  private readonly launcher: QemuLauncher;
  /** Watches each QEMU this starts or re-attaches to (qemuwatch.ts). */
  private readonly watcher: QemuWatch;

  constructor(private readonly d: LifecycleDeps) {
    this.launcher = d.launcher ?? QEMU_LAUNCHER;
    this.watcher = new QemuWatch({ reg: d.reg, vms: d.vms, img: d.img });
  }

  private get reg(): VmRegistry {
    return this.d.reg;
  }

  private get configs(): VmConfigs {
    return this.d.configs;
  }

  private get consoles(): VmConsoles {
    return this.d.consoles;
  }

  private get states(): StateFiles {
    return this.d.states;
  }

  private get deletes(): VmDeletes {
    return this.d.deletes;
  }

  private get img(): QemuImg | null {
    return this.d.img;
  }

  async start(ref: string): Promise<OpResult> {
    const first = this.reg.resolve(ref);
    // No start while a job holds the VM or works on one of its disks (a conversion, a media job).
    this.reg.jobs.assertIdle(this.reg.ref(first), first.config.disks.map((d) => resolveDiskPath(first.dir, d.file)));
    this.reg.require(first, 'start', 'start');
    let early: string[] = [];
    const beforeStart = this.beforeStart;
    if (beforeStart && (first.config.autoSnapshot?.keep ?? 0) > 0 && (first.state === 'poweredOff' || first.state === 'aborted')) {
      // One automatic snapshot per start, even when two clients press Start together: the
      // second finds the VM held by the first one's job.
      early = await this.reg.jobs.run(
        this.reg.ref(first),
        { kind: 'autoSnapshot', title: `Taking the automatic snapshot of '${first.name}' before it starts`, label: 'the automatic snapshot before its start', cancellable: false },
        () => beforeStart(first.uuid),
      );
    }
    const stale = this.reg.resolve(first.uuid);
    // An install whose run ended while no core was watching ends now, before this start.
    if (stale.config.install?.booted && stale.state !== 'saved') this.watcher.installs.finish(stale.uuid, 'it stopped while Nestbox was not running');
    const row0 = this.reg.resolve(first.uuid);
    this.reg.require(row0, 'start', 'start');
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
    const row = this.reg.apply(row0.uuid, { type: 'startRequested' });
    let launched: QemuProcess | null = null;
    let tpm: SwtpmProcess | undefined;
    let shares: VirtiofsdProcess[] = [];
    try {
      const host = this.reg.d.host;
      if (!host.qemu) throw new NestboxError('HOST_UNSUPPORTED', 'QEMU was not found; install qemu-system-x86 (see the README)');
      this.configs.admitHardware(row.config.memoryMiB, row.config.cpus);
      const committed = [...this.reg.running.keys()]
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
      if (row.config.firmware === 'uefi') await this.configs.ensureEfiVars(row.dir, row.config.secureBoot === true);
      if (row.config.secureBoot && !host.secureBoot) {
        throw new NestboxError('HOST_UNSUPPORTED', `'${row.name}' has Secure Boot on, but this host has no UEFI firmware with Secure Boot (Debian/Ubuntu: apt install ovmf); turn Secure Boot off or install it`);
      }
      if (row.config.tpm && !host.swtpm) {
        throw new NestboxError('HOST_UNSUPPORTED', `'${row.name}' has a TPM, but swtpm is not installed on this host (Debian/Ubuntu: apt install swtpm swtpm-tools); remove the TPM or install it`);
      }
      if (previous === 'aborted') await this.watcher.checkDisksAfterCrash(row);
      const runDir = this.reg.d.layout.vmRunDir(row.uuid);
      let argv: string[];
      try {
        argv = buildQemuArgv(
          row.config,
          {
            binary: host.qemu.binary,
            accel,
            ovmfCode: host.ovmf?.code ?? null,
            secureBoot: host.secureBoot ? { code: host.secureBoot.code, format: host.secureBoot.codeFormat, requiresSmm: host.secureBoot.requiresSmm } : null,
            clipboard: clipboardWiring(host.qemu),
            shares: shareTransport(host),
          },
          { vmDir: row.dir, runDir, serialLog: files.serialLog, efiVars: files.efiVars },
          { incoming: incomingFile !== null, ...(loadvm ? { loadvm } : {}) },
        );
      } catch (err) {
        throw new NestboxError('INVALID_CONFIG', (err as Error).message);
      }
      for (const log of [files.serialLog, files.qemuLog]) rotateIfLarge(log, this.d.logLimits);
      // As root, QEMU runs as an unprivileged user that must be able to open what it opens by path.
      const user = prepareQemuUser(
        this.reg.d.layout.dataDir,
        row.dir,
        row.config.disks.map((d) => ({ file: resolveDiskPath(row.dir, d.file), readOnly: d.readOnly, ...(d.backing ? { backing: d.backing.file } : {}) })),
        row.config.cdroms.flatMap((c) => (c.iso ? [c.iso] : [])),
      );
      // The TPM first: QEMU connects to its control socket while it starts.
      if (row.config.tpm && host.swtpm) tpm = await SwtpmProcess.launch(host.swtpm, tpmPaths(row.dir, runDir), user);
      // Each share's virtiofsd too (its folder checked again first): QEMU connects to their sockets.
      shares = await launchShares(host, row, runDir, user);
      try {
        launched = await this.launcher.launch({ uuid: row.uuid, binary: host.qemu.binary, argv, runDir, logFile: files.qemuLog, user, ...(incomingFile ? { incomingFile } : {}) });
      } catch (err) {
        throw tpmLoadError(err, row.name);
      }
      const proc = launched;
      this.d.vms.setRuntime({
        vmUuid: row.uuid,
        pid: proc.pid,
        runDir,
        accel,
        startedAt: new Date().toISOString(),
        logOffset: proc.logOffset,
      });
      const shareTags = (row.config.shares ?? []).map((s) => s.tag);
      const running: Running = { proc, accel, serial: null, quiet: 0, ...(tpm ? { tpm } : {}), ...(shareTags.length ? { shareTags, virtiofsd: shares } : {}) };
      this.reg.running.set(row.uuid, running);
      this.watcher.watch(row.uuid, running);
      // Before the guest runs a single instruction (QEMU starts stopped).
      this.reg.resources.enforce(row, running);
      if (usesBridgeHelper(row.config)) {
        const helper = findBridgeHelper();
        if (!helper) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-bridge-helper is not installed (Debian, Ubuntu: sudo apt install qemu-system-common)');
        await attachHelperNics(row.config, runDir, helper);
      }
      if (incomingFile) {
        try {
          await this.states.loadState(row, proc, incomingFile, snapState ? 'the snapshot\'s memory' : 'the saved state');
        } catch (err) {
          throw tpmLoadError(err, row.name);
        }
      }
      // After the memory is loaded (a saved memory never has the channel, qemu/vdagent.ts), before the guest runs.
      await plugClipboard(this.reg, row, proc);
      await this.consoles.attachSerial(row, running);
      await qemuCommands(proc.qmp).cont();
      this.reg.apply(row.uuid, { type: 'started', paused: false });
      this.watcher.installs.markBooted(row.uuid);
      if (incomingFile || loadvm) this.watcher.setGuestClock(row.uuid, row.config, row.name);
      if (fromSaved) fs.rmSync(files.savedState, { force: true });
      if (pending) this.d.vms.setPendingLoadvm(row.uuid, null);
      this.reg.log(row.uuid, 'info', 'started', `started '${row.name}' (${accel}${fromSaved ? ', from its saved state' : pending ? ', from its snapshot' : ''}, pid ${proc.pid})`);
      for (const w of warnings) this.reg.log(row.uuid, 'warning', 'start-warning', w);
      return this.reg.result(row.uuid, warnings);
    } catch (err) {
      if (launched) {
        this.reg.running.delete(row.uuid);
        await launched.terminate(2000).catch(() => undefined);
        this.d.vms.clearRuntime(row.uuid);
      }
      await tpm?.stop().catch(() => undefined);
      await Promise.all(shares.map((p) => p.stop().catch(() => undefined)));
      const cur = this.d.vms.get(row.uuid);
      if (cur?.state === 'starting') this.reg.apply(row.uuid, { type: 'startFailed', previous });
      const e = NestboxError.from(err, 'QEMU_FAILED');
      this.reg.log(row.uuid, 'error', 'start-failed', `could not start '${row.name}': ${e.message}`);
      throw e;
    }
  }

  async pause(ref: string): Promise<OpResult> {
    const row = this.reg.resolve(ref);
    this.reg.require(row, 'pause', 'pause');
    await qemuCommands(this.reg.proc(row).proc.qmp).stop();
    this.reg.apply(row.uuid, { type: 'guestStopped' });
    this.reg.log(row.uuid, 'info', 'paused', `paused '${row.name}'`);
    return this.reg.result(row.uuid);
  }

  async resume(ref: string): Promise<OpResult> {
    const row = this.reg.resolve(ref);
    this.reg.require(row, 'resume', 'resume');
    await qemuCommands(this.reg.proc(row).proc.qmp).cont();
    this.reg.apply(row.uuid, { type: 'guestResumed' });
    this.reg.log(row.uuid, 'info', 'resumed', `resumed '${row.name}'`);
    return this.reg.result(row.uuid);
  }

  async reset(ref: string): Promise<OpResult> {
    const row = this.reg.resolve(ref);
    this.reg.require(row, 'reset', 'reset');
    await qemuCommands(this.reg.proc(row).proc.qmp).systemReset();
    return this.reg.result(row.uuid);
  }

  /**
   * ACPI power button; resolves when the guest has powered off, or TIMEOUT. The wait is a
   * job of the VM (listed, and cancelled like any other: the VM is then left running).
   */
  async shutdown(ref: string, timeoutS = 60): Promise<OpResult> {
    const row = this.reg.resolve(ref);
    this.reg.jobs.assertIdle(this.reg.ref(row));
    this.reg.require(row, 'shutdown', 'shut down');
    const { proc } = this.reg.proc(row);
    const job = this.reg.jobs.begin(this.reg.ref(row), { kind: 'shutdown', title: `Shutting down '${row.name}'`, label: 'a shutdown' });
    const qemu = qemuCommands(proc.qmp);
    try {
      this.reg.apply(row.uuid, { type: 'shutdownRequested' });
      // The guest agent first (it works when the guest ignores ACPI), then the power button.
      const agent = this.reg.guestOf(row.uuid, row.config);
      let viaAgent = false;
      if (agent) {
        try {
          await agent.cmd.shutdown(3000);
          viaAgent = true;
          this.reg.log(row.uuid, 'info', 'shutdown', `asked the guest agent of '${row.name}' to shut down`);
        } catch (err) {
          this.reg.log(row.uuid, 'info', 'shutdown', `the guest agent of '${row.name}' did not take the shutdown (${(err as Error).message}); using ACPI`);
        }
      }
      if (!viaAgent) this.reg.log(row.uuid, 'info', 'shutdown', `sent the ACPI power button to '${row.name}'`);
      try {
        if (!viaAgent) await qemu.systemPowerdown();
      } catch (err) {
        if (!proc.exited) {
          this.reg.apply(row.uuid, { type: 'shutdownTimedOut', paused: false });
          throw err;
        }
      }
      const info = await proc.waitExit(Math.max(1, timeoutS) * 1000, job.signal);
      if (!info) {
        const status = await qemu.queryStatus().catch(() => ({ running: true, status: 'running' }));
        if (this.d.vms.get(row.uuid)?.state === 'stopping') {
          this.reg.apply(row.uuid, { type: 'shutdownTimedOut', paused: status.status === 'paused' });
        }
        if (job.signal.aborted) throw new NestboxError('CANCELLED', `stopped waiting for '${row.name}' to shut down; it is still running`);
        throw new NestboxError(
          'TIMEOUT',
          `'${row.name}' did not shut down within ${timeoutS} s (the guest may ignore the ACPI power button); use power off to force it`,
        );
      }
      return this.reg.result(row.uuid);
    } catch (err) {
      job.fail(err);
      throw err;
    } finally {
      job.end();
    }
  }

  async powerOff(ref: string): Promise<OpResult> {
    const row = this.reg.resolve(ref);
    this.reg.require(row, 'powerOff', 'power off');
    const { proc } = this.reg.proc(row);
    await proc.terminate(3000);
    // The exit handler has moved the state; make sure before answering.
    const after = this.d.vms.get(row.uuid);
    if (after && isActive(after.state)) this.reg.apply(row.uuid, { type: 'exited' });
    return this.reg.result(row.uuid);
  }

  /**
   * Saves the machine state like VirtualBox: pause, stream RAM and device state through a

  // ---------------------------------------------------------------- core start / stop

  /**
   * Brings the inventory in line with reality after a core (re)start: re-attaches to every
   * QEMU still running, and marks VMs whose QEMU went away as powered off or aborted.
   */
  async reconcile(): Promise<void> {
    this.deletes.finishInterrupted();
    for (const row of this.d.vms.list()) {
      if (row.state === 'saved' && !row.pendingLoadvm && !fs.existsSync(vmFiles(row.dir).savedState)) {
        this.reg.setState(row, 'poweredOff', 'the saved state file was missing');
        this.reg.log(row.uuid, 'warning', 'reconcile', `the saved state of '${row.name}' was missing; it is powered off`);
        continue;
      }
      if (!isActive(row.state)) continue;
      const rt = this.d.vms.getRuntime(row.uuid);
      const runDir = rt?.runDir ?? this.reg.d.layout.vmRunDir(row.uuid);
      const files = vmFiles(row.dir);
      let found: Awaited<ReturnType<typeof QemuProcess.attach>>;
      try {
        found = await this.launcher.attach(row.uuid, runDir, files.qemuLog, rt?.logOffset ?? 0);
      } catch (err) {
        found = { gone: 'crashed', reason: `QEMU did not answer on its QMP socket: ${(err as Error).message}` };
      }
      if (!(found instanceof QemuProcess)) {
        this.d.vms.clearRuntime(row.uuid);
        const state: VmState = found.gone === 'clean' ? 'poweredOff' : 'aborted';
        this.reg.setState(row, state, state === 'aborted' ? found.reason : null);
        this.reg.log(row.uuid, state === 'aborted' ? 'error' : 'info', 'reconcile', `'${row.name}': ${found.reason}`);
        this.watcher.finishInstall(row.uuid, found.reason);
        continue;
      }
      const running: Running = { proc: found, accel: (rt?.accel as Accelerator) ?? 'tcg', serial: null, quiet: 0 };
      if (row.config.tpm) {
        const tpm = SwtpmProcess.attach(tpmPaths(row.dir, runDir));
        if (tpm instanceof SwtpmProcess) running.tpm = tpm;
        else {
          // QEMU runs on without its TPM: end it, as when swtpm dies under a running core.
          running.abortReason = `its TPM emulator was gone when the core restarted (${tpm.gone})`;
          this.reg.log(row.uuid, 'error', 'reconcile', `'${row.name}': ${running.abortReason}`);
        }
      }
      const shareTags = runningShareTags(row, runDir, this.reg.d.host);
      if (shareTags.length) {
        const { procs, gone } = attachShares(row, runDir, shareTags);
        running.shareTags = shareTags;
        running.virtiofsd = procs;
        for (const g of gone) this.reg.log(row.uuid, 'error', 'reconcile', `'${row.name}': ${g}; the share comes back at the next start`);
      }
      this.reg.running.set(row.uuid, running);
      this.watcher.watch(row.uuid, running);
      this.reg.resources.enforce(row, running);
      const status = await qemuCommands(found.qmp).queryStatus().catch(() => ({ running: false, status: 'unknown' }));
      const state: VmState = status.status === 'running' ? 'running' : 'paused';
      if (row.state !== state) this.reg.setState(row, state);
      await this.consoles.attachSerial(row, running);
      // A core that ended between unplugging the clipboard channel and plugging it back left it out.
      if (!running.abortReason) await plugClipboard(this.reg, row, found);
      if (running.abortReason) await found.terminate(2000).catch(() => undefined);
    }
  }

  /** Lets go of every QEMU without stopping it: VMs keep running after the core exits. */
  detachAll(): void {
    for (const r of this.reg.running.values()) {
      r.serial?.end('the Nestbox core is shutting down');
      // QEMU's agent socket takes one client at a time: the next core's would wait behind this one.
      r.guest?.close();
      r.tpm?.detach();
      for (const p of r.virtiofsd ?? []) p.detach();
      r.proc.detach();
    }
    this.reg.running.clear();
  }

  // ---------------------------------------------------------------- reached through here

  saveState(ref: string): Promise<OpResult> {
    return this.states.saveState(ref);
  }

  discardState(ref: string): Promise<OpResult> {
    return this.states.discardState(ref);
  }

  delete(ref: string, keepFiles: boolean): Promise<{ uuid: string; removedDir: boolean }> {
    return this.deletes.delete(ref, keepFiles);
  }

  screenshot(ref: string): Promise<{ pngBase64: string; width: number; height: number }> {
    return this.consoles.screenshot(ref);
  }

  sendKeys(ref: string, keys: readonly string[]): Promise<void> {
    return this.consoles.sendKeys(ref, keys);
  }

  /** Cancels what the VM's job is doing, when it can stop midway. */
  cancel(ref: string): { cancelled: boolean } {
    const row = this.reg.resolve(ref);
    const r = this.reg.jobs.cancelVm(this.reg.ref(row));
    if (r.cancelled) this.reg.log(row.uuid, 'info', 'cancelled', `cancelling what '${row.name}' was doing (${r.job?.title ?? 'a job'})`);
    return { cancelled: r.cancelled };
  }
}
