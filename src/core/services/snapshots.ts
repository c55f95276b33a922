/**
 * Snapshots: qcow2 internal snapshots of every writable disk of a VM (and its UEFI variable
 * store), plus the RAM and device state when the VM runs. The tree, the "current state"
 * pointer, the config of the moment and a screenshot live in SQLite.
 *
 * How each kind is taken:
 *  - running VM: the RAM goes through a migration stream into `snapshots/<tag>.vmstate`
 *    while the guest keeps running (progress from query-migrate, cancellable with
 *    `vms.cancel`); QEMU stops the guest right before the switch-over, the disks are
 *    snapshotted there in one QMP transaction, the last dirty pages and device state are
 *    written, and the guest runs on. It is paused only for that last step.
 *  - paused VM: QMP's snapshot-save job (RAM inside the first qcow2). A migration would
 *    leave a paused guest's disks inactive until it is resumed (QEMU 7.2 cannot reactivate
 *    them otherwise), and a paused guest has nothing to lose by a one-step save.
 *  - powered off: qemu-img, disks only.
 * A running VM's file systems are frozen through its guest agent for the switch-over when the
 * agent answers (quiesce.ts), and the snapshot records whether they were. A paused VM's are
 * not: its agent cannot answer, and its RAM, saved in the same step, holds what the disks
 * lack. A powered-off VM has nothing to freeze; the automatic snapshot before a start is one.
 * Restoring a snapshot whose RAM is in a file starts a fresh QEMU from it (QEMU cannot load
 * a migration stream into a running machine); the older kind loads with snapshot-load.
 * Taking, restoring and deleting run as jobs of the VM (jobs.ts).
 *
 * Take and restore stay together: they share the resume rules of the three kinds above, so
 * each rule is read next to the kind it serves. Deleting (and its preview) is in
 * snapshotdelete.ts, which QEMU's snapshot-delete reaches through liveJob here; which files a
 * snapshot covers is in snapshotcoverage.ts.
 */
import { refuseWhileShared } from './shares';
import { withClipboardUnplugged } from './clipboard';
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { OpResult, SnapshotDeletePreview, SnapshotInfo, SnapshotList } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { VmConfig } from '../domain/config';
import { isActive } from '../domain/lifecycle';
import { clearSnapshotWork, markSnapshotWork } from './recovery';
import { runJob } from '../qemu/jobs';
import { qemuCommands } from '../qemu/commands';
import type { VmJob } from './jobs';
import { dropNodeSnapshots, nodeTags, snapshotNodes } from '../qemu/internalsnap';
import { looksLikeStateFile, saveStateToFile } from '../qemu/migration';
import type { QemuProcess } from '../qemu/supervisor';
import { crashPoint } from './faults';
import type { QemuImg } from '../storage/qemuimg';
import type { SnapshotRepository, SnapshotRow, VmRepository, VmRow } from '../store/db';
import { snapshotStateFile, snapshotTpmDir, vmFiles } from '../store/paths';
import { tpmStateDir } from '../qemu/swtpm';
import type { EventBus } from './events';
import { GuestFreeze, type FreezeOutcome } from './quiesce';
import { coverage, type Coverage } from './snapshotcoverage';
import { SnapshotDeletes } from './snapshotdelete';
import type { VmService } from './vms';

export interface SnapshotServiceDeps {
  readonly vms: VmService;
  readonly vmRepo: VmRepository;
  readonly repo: SnapshotRepository;
  readonly img: QemuImg | null;
  readonly bus: EventBus;
  /** How fast a live snapshot may write RAM, in bytes per second (null: no limit). */
  readonly bandwidth?: () => number | null;
}


const sameHardware = (a: VmConfig, b: VmConfig): boolean => {
  const hw = (c: VmConfig) => JSON.stringify({ ...c, name: '', description: '', group: '', autoSnapshot: undefined });
  return hw(a) === hw(b);
};


export class SnapshotService {
  /** Deleting snapshots and previewing a delete (snapshotdelete.ts). */
  private readonly deletes: SnapshotDeletes;

  constructor(private readonly d: SnapshotServiceDeps) {
    this.deletes = new SnapshotDeletes({
      ...d,
      find: (row, idOrName) => this.find(row, idOrName),
      list: (ref) => this.list(ref),
      liveJob: (row, command, args) => this.liveJob(row, command, args),
    });
  }

  private info(s: SnapshotRow): SnapshotInfo {
    return {
      id: s.id,
      parentId: s.parentId,
      name: s.name,
      description: s.description,
      createdAt: s.createdAt,
      withRam: s.withRam,
      memoryMiB: s.config.memoryMiB,
      cpus: s.config.cpus,
      hasThumbnail: s.hasThumbnail,
      config: s.config,
      auto: s.auto,
      ...(s.frozen !== null ? { frozen: s.frozen } : {}),
      ...(s.freezeNote ? { freezeNote: s.freezeNote } : {}),
    };
  }

  list(ref: string): SnapshotList {
    const row = this.d.vms.resolve(ref);
    return { vm: row.uuid, current: row.currentSnapshot, snapshots: this.d.repo.list(row.uuid).map((s) => this.info(s)) };
  }

  private find(row: VmRow, idOrName: string): SnapshotRow {
    const all = this.d.repo.list(row.uuid);
    const s = all.find((x) => x.id === idOrName) ?? all.filter((x) => x.name === idOrName).at(-1);
    if (!s) throw new NestboxError('NOT_FOUND', `'${row.name}' has no snapshot '${idOrName}'`);
    return s;
  }

  update(ref: string, idOrName: string, changes: { name?: string; description?: string }): SnapshotInfo {
    const row = this.d.vms.resolve(ref);
    const snap = this.find(row, idOrName);
    const name = changes.name === undefined ? snap.name : changes.name.trim();
    if (!name || name.length > 128) throw new NestboxError('INVALID_ARGUMENT', 'a snapshot needs a name of 1 to 128 characters');
    const description = changes.description ?? snap.description;
    if (description.length > 10_000) throw new NestboxError('INVALID_ARGUMENT', 'the description is too long');
    this.d.repo.rename(snap.id, name, description);
    this.d.bus.emit('vm.changed', { uuid: row.uuid });
    return this.info(this.d.repo.get(snap.id)!);
  }

  thumbnail(id: string): { pngBase64: string } | null {
    const t = this.d.repo.thumbnail(id);
    return t ? { pngBase64: t.toString('base64') } : null;
  }

  /**
   * Runs a QMP snapshot job with progress events around it, and makes sure the guest runs
   * afterwards exactly when it ran before: QEMU stops it for the job, and a job that fails
   * (or a QEMU that misses its own resume) must never leave it paused by mistake. QEMU's
   * snapshot jobs run in one piece inside its main loop (7.2 and later alike), so they
   * report no progress in between and cannot be cancelled midway.
   */
  private async liveJob(row: VmRow, command: string, args: Record<string, unknown>): Promise<void> {
    const qemu = this.d.vms.qemuOf(row.uuid);
    if (!qemu) throw new NestboxError('INVALID_STATE', `'${row.name}' has no QEMU process attached`);
    // The state machine knows whether the guest runs (QEMU's own stop/resume for the job is
    // kept out of it), so asking QEMU before the job would only cost a round trip.
    const before = { running: this.d.vms.resolve(row.uuid).state === 'running' };
    {
      await this.d.vms.quietly(row.uuid, async () => {
        try {
          // A snapshot's memory is saved and loaded without the clipboard channel (clipboard.ts).
          await withClipboardUnplugged(this.d.vms.registry, row, qemu, command === 'snapshot-load' ? 'restore a snapshot into' : 'take a snapshot of', () => runJob(qemu.qmp, command, args));
        } finally {
          if (!qemu.exited) {
            const cmd = qemuCommands(qemu.qmp);
            const after = await cmd.queryStatus().catch(() => null);
            if (after && before.running && !after.running && after.status !== 'shutdown' && after.status !== 'internal-error') {
              await cmd.cont().catch(() => undefined);
              this.d.vms.log(row.uuid, 'warning', 'snapshot', `'${row.name}' was left paused after ${command}; resumed it`);
            }
          }
        }
      });
    }
  }

  async take(ref: string, name: string, description = ''): Promise<SnapshotInfo> {
    return this.takeSnapshot(ref, name, description, false);
  }

  /**
   * A snapshot is a job of the VM: a running VM's (its RAM streamed to a file) can be
   * cancelled; a paused VM's (QEMU's one-step snapshot-save) and a powered-off VM's cannot.
   */
  private async takeSnapshot(ref: string, name: string, description: string, auto: boolean): Promise<SnapshotInfo> {
    const row = this.d.vms.resolve(ref);
    this.d.vms.jobs.assertIdle({ uuid: row.uuid, name: row.name });
    this.d.vms.require(row, 'takeSnapshot', 'take a snapshot of');
    const snapName = name.trim();
    if (!snapName || snapName.length > 128) throw new NestboxError('INVALID_ARGUMENT', 'a snapshot needs a name of 1 to 128 characters');
    const live = isActive(row.state);
    // A live snapshot keeps the guest's memory, which a shared folder blocks (shares.ts).
    if (live) refuseWhileShared(this.d.vms.registry, row, 'take a live snapshot of');
    return this.d.vms.jobs.run(
      { uuid: row.uuid, name: row.name },
      { kind: 'snapshot', title: `Taking snapshot '${snapName}' of '${row.name}'`, label: `${live ? 'live ' : ''}snapshot '${snapName}'`, cancellable: row.state === 'running' },
      (job) => this.takeIn(row, snapName, description, auto, job),
    );
  }

  private async takeIn(row: VmRow, snapName: string, description: string, auto: boolean, job: VmJob): Promise<SnapshotInfo> {
    const cov = coverage(row, row.config);
    if (cov.nodes.length === 0) throw new NestboxError('INVALID_STATE', `'${row.name}' has no disk that can hold a snapshot`);
    const id = crypto.randomUUID();
    const tag = `nb-${id.slice(0, 13)}`;
    const live = isActive(row.state);
    const streamed = live && row.state === 'running';
    let thumbnail: Buffer | null = null;
    let freeze: FreezeOutcome | null = null;
    if (live) {
      const qemu = this.d.vms.qemuOf(row.uuid);
      if (!qemu) throw new NestboxError('INVALID_STATE', `'${row.name}' has no QEMU process attached`);
      if (!cov.vmstate) throw new NestboxError('INVALID_STATE', `'${row.name}' has no qcow2 disk to hold the RAM state`);
      if (row.config.display.adapter !== 'none') {
        thumbnail = await this.d.vms.screenshot(row.uuid).then((s) => Buffer.from(s.pngBase64, 'base64')).catch(() => null);
      }
      if (streamed) freeze = await this.takeStreamed(row, qemu, cov, tag, snapName, job);
      else {
        await this.liveJob(row, 'snapshot-save', { tag, vmstate: cov.vmstate, devices: cov.nodes });
        freeze = { frozen: false, note: 'the VM was paused (its RAM, saved with the disks, holds what they lack)' };
      }
    } else {
      if (!this.d.img) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-img was not found');
      markSnapshotWork(row.dir);
      const done: string[] = [];
      try {
        for (const f of cov.files) {
          await this.d.img.snapshot(f, 'create', tag);
          done.push(f);
        }
      } catch (err) {
        // All disks or none: undo the ones already taken.
        for (const f of done) await this.d.img.snapshot(f, 'delete', tag).catch(() => undefined);
        clearSnapshotWork(row.dir);
        throw err;
      }
      // A powered-off VM's TPM is a folder beside the disks: kept as a copy for this snapshot
      // (a running VM's travels in the snapshot's state stream instead).
      const tpm = tpmStateDir(row.dir);
      if (row.config.tpm && fs.existsSync(tpm)) fs.cpSync(tpm, snapshotTpmDir(row.dir, tag), { recursive: true });
    }
    this.d.vmRepo.atomically(() => {
      this.d.repo.insert(
        { id, vmUuid: row.uuid, parentId: row.currentSnapshot, name: snapName, description, createdAt: new Date().toISOString(), withRam: live, tag, config: row.config, auto, ramFile: streamed, frozen: freeze?.frozen ?? null, freezeNote: freeze?.note ?? null },
        thumbnail,
      );
      crashPoint('snapshot:row');
      this.d.vmRepo.setCurrentSnapshot(row.uuid, id);
    });
    clearSnapshotWork(row.dir);
    const how = !live ? '' : freeze?.frozen ? ' (with RAM, file systems frozen)' : ` (with RAM, file systems not frozen: ${freeze?.note ?? 'unknown'})`;
    this.d.vms.log(row.uuid, 'info', 'snapshot', `took snapshot '${snapName}' of '${row.name}'${how}`);
    this.d.bus.emit('vm.changed', { uuid: row.uuid });
    return this.info(this.d.repo.get(id)!);
  }

  /**
   * Takes a running VM's snapshot through a migration stream (see the top of this file).
   * Cancelled or failed: no disk snapshot, no file and no row stay, and the guest runs. The
   * guest's file systems are frozen around it when its agent answers, and thawed however it ends.
   */
  private async takeStreamed(row: VmRow, qemu: QemuProcess, cov: Coverage, tag: string, snapName: string, job: VmJob): Promise<FreezeOutcome> {
    const signal = job.signal;
    const file = snapshotStateFile(row.dir, tag);
    let disksTaken = false;
    let outcome: FreezeOutcome = { frozen: false, note: null };
    const guest = this.d.vms.guestOf(row.uuid, row.config);
    const log = (level: 'info' | 'warning' | 'error', msg: string) => this.d.vms.log(row.uuid, level, 'snapshot-freeze', `'${row.name}': ${msg}`);
    const freeze = guest ? await GuestFreeze.begin(guest, log) : GuestFreeze.skipped('the VM has no guest agent port (nestbox modify VM --guest-agent on)');
    const progress = (p: { percent: number; bytesDone?: number; bytesTotal?: number }) => job.progress(p.percent, { done: p.bytesDone, total: p.bytesTotal });
    const save = () =>
      saveStateToFile(qemu.qmp, qemu.runDir, file, {
        bandwidth: this.d.bandwidth?.() ?? null,
        signal,
        socketName: 'snapshot.sock',
        onProgress: (p) => progress(p),
        beforeSwitchover: async () => {
          // The guest is stopped here and the RAM almost all written: the disks are
          // snapshotted at this very instant, all together or none.
          outcome = freeze.outcome;
          await snapshotNodes(qemu.qmp, cov.nodes, tag);
          disksTaken = true;
          crashPoint('snapshot:switchover');
        },
      });
    try {
      await this.d.vms.quietly(row.uuid, async () => {
        try {
          // Saved without the clipboard channel, which QEMU 7.2 cannot save (clipboard.ts).
          await withClipboardUnplugged(this.d.vms.registry, row, qemu, 'take a live snapshot of', save);
        } finally {
          await this.resumeIfItRan(row, qemu, 'taking a snapshot');
          await freeze.end();
        }
      });
      return outcome;
    } catch (err) {
      if (disksTaken) await this.dropDiskSnapshots(row, qemu, cov, tag);
      fs.rmSync(file, { force: true });
      const e = NestboxError.from(err, 'QEMU_FAILED');
      if (e.code === 'CANCELLED') {
        this.d.vms.log(row.uuid, 'info', 'cancelled', `taking snapshot '${snapName}' of '${row.name}' was cancelled; nothing was kept`);
        throw new NestboxError('CANCELLED', `taking snapshot '${snapName}' of '${row.name}' was cancelled; nothing was kept and '${row.name}' kept running`);
      }
      throw e;
    }
  }

  /** After a save: the guest runs again if the VM is meant to run (QEMU stopped it for the switch-over). */
  private async resumeIfItRan(row: VmRow, qemu: QemuProcess, what: string): Promise<void> {
    if (qemu.exited) return;
    const cmd = qemuCommands(qemu.qmp);
    const status = await cmd.queryStatus().catch(() => null);
    if (!status || status.running || status.status === 'shutdown' || status.status === 'internal-error') return;
    // A user who paused the VM meanwhile keeps it paused (its disks wake with its resume).
    if (this.d.vms.resolve(row.uuid).state !== 'running') return;
    await cmd.cont().catch((err: Error) => {
      this.d.vms.log(row.uuid, 'error', 'snapshot', `'${row.name}' could not be resumed after ${what}: ${err.message}`);
    });
  }

  /** Removes the disk half of a snapshot that did not complete. */
  private async dropDiskSnapshots(row: VmRow, qemu: QemuProcess, cov: Coverage, tag: string): Promise<void> {
    if (!qemu.exited) return dropNodeSnapshots(qemu.qmp, cov.nodes, tag);
    // QEMU is gone (the VM was powered off meanwhile): its images are free for qemu-img.
    for (const f of cov.files) await this.d.img?.snapshot(f, 'delete', tag).catch(() => undefined);
  }

  /**
   * Restores a snapshot. Running: the guest continues from the snapshot's RAM in seconds
   * (a fresh QEMU fed from the snapshot's state file, or QMP snapshot-load for the kind that
   * keeps RAM inside the qcow2). Off: the disks go back with qemu-img, and a snapshot with RAM
   * leaves the VM "saved", resuming from that moment on its next start. The VM's config of
   * that time comes back with it.
   */
  async restore(ref: string, idOrName: string): Promise<OpResult> {
    const row = this.d.vms.resolve(ref);
    this.d.vms.jobs.assertIdle({ uuid: row.uuid, name: row.name });
    this.d.vms.require(row, 'restoreSnapshot', 'restore a snapshot of');
    const snap = this.find(row, idOrName);
    return this.d.vms.jobs.run(
      { uuid: row.uuid, name: row.name },
      { kind: 'restoreSnapshot', title: `Restoring snapshot '${snap.name}' of '${row.name}'`, label: `the restore of snapshot '${snap.name}'`, cancellable: false },
      () => this.restoreIn(row, snap),
    );
  }

  private async restoreIn(row: VmRow, snap: SnapshotRow): Promise<OpResult> {
    const cov = coverage(row, snap.config);
    if (isActive(row.state)) {
      const qemu = this.d.vms.qemuOf(row.uuid);
      if (!qemu) throw new NestboxError('INVALID_STATE', `'${row.name}' has no QEMU process attached`);
      if (!snap.withRam) {
        throw new NestboxError('INVALID_STATE', `snapshot '${snap.name}' was taken while '${row.name}' was off; power the VM off to restore it`);
      }
      // QEMU runs with a share's memory backend and device, which a snapshot's memory (always taken without) cannot be loaded into.
      refuseWhileShared(this.d.vms.registry, row, `restore snapshot '${snap.name}' with its memory into`, 'load');
      if (!sameHardware(snap.config, row.config)) {
        throw new NestboxError('INVALID_STATE', `the hardware of '${row.name}' changed since snapshot '${snap.name}'; power it off to restore it`);
      }
      if (snap.ramFile) return this.restoreStreamed(row, snap, cov);
      await this.liveJob(row, 'snapshot-load', { tag: snap.tag, vmstate: cov.vmstate, devices: cov.nodes });
    } else {
      if (!this.d.img) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-img was not found');
      for (const f of cov.files) {
        if (!fs.existsSync(f)) throw new NestboxError('NOT_FOUND', `disk image ${f} is missing`);
      }
      const stateMissing = snap.ramFile && !looksLikeStateFile(snapshotStateFile(row.dir, snap.tag));
      for (const f of cov.files) await this.d.img.snapshot(f, 'apply', snap.tag);
      const tpmCopy = snapshotTpmDir(row.dir, snap.tag);
      if (fs.existsSync(tpmCopy)) {
        fs.rmSync(tpmStateDir(row.dir), { recursive: true, force: true });
        fs.cpSync(tpmCopy, tpmStateDir(row.dir), { recursive: true });
      }
      const discardSaved = row.state === 'saved';
      // The config, the saved-state flag and the current-snapshot pointer change together.
      this.d.vmRepo.atomically(() => {
        if (discardSaved) {
          this.d.vmRepo.setPendingLoadvm(row.uuid, null);
          this.d.vms.apply(row.uuid, { type: 'stateDiscarded' });
        }
        this.d.vmRepo.updateConfig({ ...snap.config, name: row.name, description: row.config.description, group: row.config.group });
        crashPoint('snapshot-restore:config');
        if (snap.withRam && !stateMissing) {
          this.d.vmRepo.setPendingLoadvm(row.uuid, snap.tag);
          this.d.vms.apply(row.uuid, { type: 'snapshotStateRestored' });
        }
        this.d.vmRepo.setCurrentSnapshot(row.uuid, snap.id);
      });
      if (discardSaved) fs.rmSync(vmFiles(row.dir).savedState, { force: true });
      if (stateMissing) {
        const warning = `the RAM state of snapshot '${snap.name}' is missing or damaged (${snapshotStateFile(row.dir, snap.tag)}); its disks and settings were restored, and '${row.name}' will boot afresh`;
        this.d.vms.log(row.uuid, 'warning', 'snapshot-restored', warning);
        this.d.bus.emit('vm.changed', { uuid: row.uuid });
        return this.d.vms.result(row.uuid, [warning]);
      }
    }
    this.d.vmRepo.setCurrentSnapshot(row.uuid, snap.id);
    this.d.vms.log(row.uuid, 'info', 'snapshot-restored', `restored snapshot '${snap.name}' of '${row.name}'`);
    this.d.bus.emit('vm.changed', { uuid: row.uuid });
    return this.d.vms.result(row.uuid);
  }

  /**
   * Restores a snapshot whose RAM is in a file into a VM that runs: QEMU cannot take a
   * migration stream into a machine that is running, so this one is ended, the disks go back
   * with qemu-img, and a fresh QEMU starts from the file (which stays for the next restore).
   * Everything that can be checked is checked before the running guest is ended.
   */
  private async restoreStreamed(row: VmRow, snap: SnapshotRow, cov: Coverage): Promise<OpResult> {
    const file = snapshotStateFile(row.dir, snap.tag);
    if (!looksLikeStateFile(file)) {
      throw new NestboxError(
        'NOT_FOUND',
        `the RAM state of snapshot '${snap.name}' is missing or damaged (${file}); power '${row.name}' off to restore its disks and settings`,
      );
    }
    if (!this.d.img) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-img was not found');
    for (const f of cov.files) if (!fs.existsSync(f)) throw new NestboxError('NOT_FOUND', `disk image ${f} is missing`);
    // Every disk must still hold the snapshot, or the guest would be ended for nothing.
    const qemu = this.d.vms.qemuOf(row.uuid);
    if (qemu) {
      const tags = await nodeTags(qemu.qmp);
      for (const node of cov.nodes) {
        const held = tags.get(node);
        if (held && !held.has(snap.tag)) {
          throw new NestboxError('NOT_FOUND', `disk '${node}' of '${row.name}' no longer holds snapshot '${snap.name}' (${snap.tag}); nothing was changed`);
        }
      }
    }
    const wasPaused = row.state === 'paused';
    {
      this.d.vms.log(row.uuid, 'info', 'snapshot', `restoring snapshot '${snap.name}' of '${row.name}': its QEMU is restarted from the snapshot's state`);
      const closeConsoles = this.d.vms.keepConsolesOpen(row.uuid);
      try {
        await this.d.vms.powerOff(row.uuid);
        await this.restore(row.uuid, snap.id);
        const started = await this.d.vms.start(row.uuid);
        if (wasPaused) await this.d.vms.pause(row.uuid);
        return { ...this.d.vms.result(row.uuid), warnings: started.warnings };
      } finally {
        closeConsoles();
      }
    }
  }

  /** Deletes one snapshot; its children move up to its parent and keep their data. */
  delete(ref: string, idOrName: string): Promise<SnapshotList> {
    return this.deletes.delete(ref, idOrName);
  }

  /** Deletes a snapshot and every snapshot below it, children first. */
  deleteBranch(ref: string, idOrName: string): Promise<SnapshotList> {
    return this.deletes.deleteBranch(ref, idOrName);
  }

  /** What deleting `idOrName` (or its whole branch) removes and roughly frees. */
  previewDelete(ref: string, idOrName: string, branch: boolean): Promise<SnapshotDeletePreview> {
    return this.deletes.previewDelete(ref, idOrName, branch);
  }

  /**
   * "Undo this session": a disk-only snapshot before a start, when the VM asks for them,
   * then the oldest automatic ones beyond its retention count are deleted. Returns warnings
   * (a failure here must not keep the VM from starting).
   */
  async beforeStart(uuid: string): Promise<string[]> {
    const row = this.d.vms.resolve(uuid);
    const keep = row.config.autoSnapshot?.keep ?? 0;
    if (keep <= 0 || (row.state !== 'poweredOff' && row.state !== 'aborted')) return [];
    try {
      coverage(row, row.config);
    } catch (err) {
      return [`no automatic snapshot was taken: ${(err as Error).message}`];
    }
    if (row.config.disks.every((d) => d.readOnly)) return [];
    const warnings: string[] = [];
    try {
      const stamp = new Date().toISOString().replace('T', ' ').slice(0, 16);
      await this.takeSnapshot(row.uuid, `Before start ${stamp} UTC`, 'Taken automatically before the VM started; restore it to undo that session.', true);
    } catch (err) {
      return [`the automatic snapshot before starting failed: ${(err as Error).message}`];
    }
    const autos = this.d.repo.list(row.uuid).filter((x) => x.auto);
    for (const old of autos.slice(0, Math.max(0, autos.length - keep))) {
      try {
        await this.delete(row.uuid, old.id);
      } catch (err) {
        warnings.push(`could not prune the automatic snapshot '${old.name}': ${(err as Error).message}`);
      }
    }
    return warnings;
  }
}
