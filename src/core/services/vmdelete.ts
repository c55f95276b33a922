/**
 * Deleting a VM, crash-safe: its folder goes to the trash in one rename, then its row, then
 * the trash entry; a core stopped in between finishes the job on its next start. Linked
 * clones' base images go with the last VM standing on them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NestboxError } from '../api/errors';
import type { VmRepository, VmRow } from '../store/db';
import { crashPoint } from './faults';
import type { VmRegistry } from './vmregistry';

export class VmDeletes {
  constructor(
    private readonly reg: VmRegistry,
    private readonly vms: VmRepository,
  ) {}

  /**
   * Deletes a VM. Crash-safe in three steps: its folder is first moved into the trash (one
   * rename), then the row goes, then the trash entry is removed. A core stopped between any
   * two of them leaves something `finishInterruptedDeletes` completes on the next start.
   */
  async delete(ref: string, keepFiles: boolean): Promise<{ uuid: string; removedDir: boolean }> {
    const row = this.reg.resolve(ref);
    this.reg.jobs.assertIdle(this.reg.ref(row));
    this.reg.require(row, 'delete', 'delete');
    const dependents = this.reg.d.clones.dependentsOf(row.uuid).map((u) => this.vms.get(u)?.name ?? u);
    if (dependents.length) {
      const names = dependents.map((n) => `'${n}'`).join(', ');
      throw new NestboxError(
        'IN_USE',
        `'${row.name}' cannot be deleted: the linked clone${dependents.length > 1 ? 's' : ''} ${names} ${dependents.length > 1 ? 'stand' : 'stands'} on its disks; delete ${dependents.length > 1 ? 'them' : 'it'} first`,
        dependents.join('\n'),
      );
    }
    const under = this.reg.d.clones.basesUnder(row.uuid);
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
      if (keepFiles || this.reg.d.clones.inUse(b.id)) continue;
      // The row first: a kill in between leaves a stray file, never a row without its file.
      this.reg.d.clones.removeBase(b.id);
      fs.rmSync(b.file, { force: true });
    }
    fs.rmSync(this.reg.d.layout.vmRunDir(row.uuid), { recursive: true, force: true });
    let removedDir = false;
    if (!keepFiles) {
      // Only the VM's own folder goes; disks attached in place elsewhere are the user's.
      fs.rmSync(trashed ?? row.dir, { recursive: true, force: true });
      removedDir = true;
    }
    this.reg.log(row.uuid, 'info', 'deleted', `deleted '${row.name}'${keepFiles ? ` (files kept in ${row.dir})` : ''}`);
    this.reg.d.bus.emit('vm.removed', { uuid: row.uuid });
    return { uuid: row.uuid, removedDir };
  }

  /**
   * A deleted VM's row with its own base images' rows (none has a clone left; the files go
   * with its folder), in one transaction.
   */
  private deleteRows(uuid: string): void {
    this.vms.atomically(() => {
      for (const b of this.reg.d.clones.basesOf(uuid)) this.reg.d.clones.removeBase(b.id);
      crashPoint('delete:base-rows');
      this.vms.delete(uuid);
    });
  }

  /** Moves a VM's folder to trash/<uuid> (null when it is elsewhere on another file system). */
  private moveToTrash(row: VmRow): string | null {
    if (!fs.existsSync(row.dir)) return null;
    const trash = this.reg.d.layout.trashDir;
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

  /** Completes deletes that a stopped core left half done (see `delete`). */
  finishInterrupted(): void {
    const trash = this.reg.d.layout.trashDir;
    if (!fs.existsSync(trash)) return;
    for (const entry of fs.readdirSync(trash)) {
      const row = this.vms.get(entry);
      if (row) {
        this.vms.clearRuntime(row.uuid);
        this.deleteRows(row.uuid);
      }
      fs.rmSync(path.join(trash, entry), { recursive: true, force: true });
      this.reg.log(row?.uuid ?? entry, 'warning', 'reconcile', `finished deleting ${row ? `'${row.name}'` : `VM ${entry}`}, which was interrupted when the core stopped`);
      if (row) this.reg.d.bus.emit('vm.removed', { uuid: row.uuid });
    }
  }
}
