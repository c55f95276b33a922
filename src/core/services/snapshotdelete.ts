/**
 * Deleting snapshots: one (its children move up to its parent and keep their data), a whole
 * branch (children first), and the preview of what either would remove and free. A running
 * VM's snapshots are deleted through QEMU (snapshot-delete, run by snapshots.ts like its other
 * snapshot jobs), a stopped VM's with qemu-img; the row, the RAM state file and the TPM copy
 * go with them. Deletes run as jobs of the VM, like taking and restoring (snapshots.ts).
 */
import fs from 'node:fs';
import type { SnapshotDeletePreview, SnapshotList } from '../api/contract';
import { NestboxError } from '../api/errors';
import { isActive } from '../domain/lifecycle';
import { deletionOrder, reparentOnDelete, subtree } from '../domain/snapshots';
import type { QemuImg } from '../storage/qemuimg';
import type { SnapshotRepository, SnapshotRow, VmRepository, VmRow } from '../store/db';
import { snapshotStateFile, snapshotTpmDir } from '../store/paths';
import type { EventBus } from './events';
import { crashPoint } from './faults';
import { clearSnapshotWork, markSnapshotWork } from './recovery';
import { coverage, type Coverage } from './snapshotcoverage';
import type { VmService } from './vms';

export interface SnapshotDeleteDeps {
  readonly vms: VmService;
  readonly vmRepo: VmRepository;
  readonly repo: SnapshotRepository;
  readonly img: QemuImg | null;
  readonly bus: EventBus;
  /** A VM's snapshot by id or name (NOT_FOUND otherwise). */
  readonly find: (row: VmRow, idOrName: string) => SnapshotRow;
  /** The VM's snapshot tree, as `snapshots.list` answers. */
  readonly list: (ref: string) => SnapshotList;
  /** Runs a QMP snapshot job on the running VM, leaving the guest running if it ran. */
  readonly liveJob: (row: VmRow, command: string, args: Record<string, unknown>) => Promise<void>;
}

export class SnapshotDeletes {
  constructor(private readonly d: SnapshotDeleteDeps) {}

  /** Deletes a snapshot and every snapshot below it, children first. */
  async deleteBranch(ref: string, idOrName: string): Promise<SnapshotList> {
    const row = this.d.vms.resolve(ref);
    this.d.vms.require(row, 'deleteSnapshot', 'delete snapshots of');
    const top = this.d.find(row, idOrName);
    const all = this.d.repo.list(row.uuid);
    const ids = deletionOrder(all, top.id);
    const pending = all.find((x) => ids.includes(x.id) && x.tag === row.pendingLoadvm);
    if (pending) {
      throw new NestboxError('INVALID_STATE', `'${row.name}' resumes from snapshot '${pending.name}' on its next start; discard its saved state first`);
    }
    await this.d.vms.jobs.run(
      { uuid: row.uuid, name: row.name },
      { kind: 'deleteSnapshot', title: `Deleting the branch of snapshot '${top.name}' of '${row.name}'`, label: `the delete of snapshot '${top.name}' and those below it`, cancellable: false },
      async () => {
        for (const id of ids) await this.delete(row.uuid, id);
      },
    );
    this.d.vms.log(row.uuid, 'info', 'snapshot-deleted', `deleted the branch of '${top.name}' of '${row.name}' (${ids.length} snapshot${ids.length > 1 ? 's' : ''})`);
    return this.d.list(row.uuid);
  }

  /**
   * What deleting `idOrName` (or its whole branch) removes and roughly frees. The RAM states
   * are exact (qemu-img reports their size); the disk data only these snapshots keep is not
   * reported by qcow2, so it is estimated from how much the images hold beyond their virtual
   * data, shared out between all snapshots.
   */
  async previewDelete(ref: string, idOrName: string, branch: boolean): Promise<SnapshotDeletePreview> {
    const row = this.d.vms.resolve(ref);
    const top = this.d.find(row, idOrName);
    const all = this.d.repo.list(row.uuid);
    const ids = branch ? subtree(all, top.id) : [top.id];
    const gone = all.filter((x) => ids.includes(x.id));
    let ramBytes = 0;
    let extraBytes = 0;
    if (this.d.img) {
      const tags = new Set(gone.map((x) => x.tag));
      let cov: Coverage | null = null;
      try {
        cov = coverage(row, row.config);
      } catch {
        cov = null;
      }
      for (const f of cov?.files ?? []) {
        if (!fs.existsSync(f)) continue;
        const snaps = await this.d.img.snapshots(f).catch(() => []);
        ramBytes += snaps.filter((x) => tags.has(x.name)).reduce((a, x) => a + x.vmStateSize, 0);
        // Space the image takes beyond its RAM states, minus what the current state needs at
        // most (its virtual size), shared out evenly between the snapshots: a rough share.
        const info = await this.d.img.info(f, 'qcow2').catch(() => null);
        if (info && snaps.length > 0) {
          const allRam = snaps.reduce((a, x) => a + x.vmStateSize, 0);
          const beyond = Math.max(0, info.actualSize - allRam - Math.min(info.actualSize, info.virtualSize));
          extraBytes += Math.round((beyond * snaps.filter((x) => tags.has(x.name)).length) / snaps.length);
        }
      }
    }
    for (const x of gone) {
      if (!x.ramFile) continue;
      try {
        ramBytes += fs.statSync(snapshotStateFile(row.dir, x.tag)).size;
      } catch {
        // A missing state file frees nothing.
      }
    }
    let currentMovesTo: string | null | undefined;
    if (row.currentSnapshot && ids.includes(row.currentSnapshot)) {
      const parent = branch ? top.parentId : all.find((x) => x.id === row.currentSnapshot)?.parentId ?? null;
      currentMovesTo = parent ? (all.find((x) => x.id === parent)?.name ?? null) : null;
    }
    return {
      snapshots: gone.map((x) => ({ id: x.id, name: x.name, withRam: x.withRam })),
      ramBytes,
      approxBytes: ramBytes + extraBytes,
      ...(currentMovesTo !== undefined ? { currentMovesTo } : {}),
    };
  }

  /** Deletes one snapshot; its children move up to its parent and keep their data. */
  async delete(ref: string, idOrName: string): Promise<SnapshotList> {
    const row = this.d.vms.resolve(ref);
    this.d.vms.jobs.assertIdle({ uuid: row.uuid, name: row.name });
    this.d.vms.require(row, 'deleteSnapshot', 'delete a snapshot of');
    const snap = this.d.find(row, idOrName);
    if (row.pendingLoadvm === snap.tag) {
      throw new NestboxError('INVALID_STATE', `'${row.name}' resumes from snapshot '${snap.name}' on its next start; discard its saved state first`);
    }
    const cov = coverage(row, row.config);
    return this.d.vms.jobs.run(
      { uuid: row.uuid, name: row.name },
      { kind: 'deleteSnapshot', title: `Deleting snapshot '${snap.name}' of '${row.name}'`, label: `the delete of snapshot '${snap.name}'`, cancellable: false },
      () => this.deleteIn(row, snap, cov),
    );
  }

  private async deleteIn(row: VmRow, snap: SnapshotRow, cov: Coverage): Promise<SnapshotList> {
    const qemu = isActive(row.state) ? this.d.vms.qemuOf(row.uuid) : null;
    if (qemu) {
      await this.d.liveJob(row, 'snapshot-delete', { tag: snap.tag, devices: cov.nodes });
    } else {
      if (!this.d.img) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-img was not found');
      markSnapshotWork(row.dir);
      for (const f of cov.files) if (fs.existsSync(f)) await this.d.img.snapshot(f, 'delete', snap.tag).catch((err: Error) => {
        if (!/not found|Can't find/i.test(err.message + String((err as NestboxError).detail ?? ''))) throw err;
      });
    }
    const all = this.d.repo.list(row.uuid);
    this.d.vmRepo.atomically(() => {
      this.d.repo.remove(snap.id, reparentOnDelete(all, snap.id).updates);
      crashPoint('snapshot-delete:row');
      if (row.currentSnapshot === snap.id) this.d.vmRepo.setCurrentSnapshot(row.uuid, snap.parentId);
    });
    if (snap.ramFile) fs.rmSync(snapshotStateFile(row.dir, snap.tag), { force: true });
    fs.rmSync(snapshotTpmDir(row.dir, snap.tag), { recursive: true, force: true });
    clearSnapshotWork(row.dir);
    this.d.vms.log(row.uuid, 'info', 'snapshot-deleted', `deleted snapshot '${snap.name}' of '${row.name}'`);
    this.d.bus.emit('vm.changed', { uuid: row.uuid });
    return this.d.list(row.uuid);
  }
}
