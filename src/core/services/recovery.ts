/**
 * After a core (re)start: snapshot work that the previous core left unfinished. A QMP
 * snapshot job runs inside QEMU, so it carries on when the core is killed; the row that
 * names the snapshot is written only when the job has succeeded. What can be found:
 *  - a job still running or concluded but not dismissed: waited for, then dismissed;
 *  - an internal snapshot on a disk that no row names (a take cut short after the job, or a
 *    job that finished on its own): it has no name, description or config, so it is deleted,
 *    and the event log says so;
 *  - a row whose snapshot is on none of the VM's disks (a delete cut short after the job):
 *    it cannot be restored, so the row goes (children re-parented) and the log says so.
 *  - a live snapshot's RAM save (a migration) still under way or stopped before its
 *    switch-over: cancelled, and a guest that should run is resumed; a state file (or its
 *    `.partial`) that no snapshot row names: removed.
 * Only Nestbox's own tags (`nb-…`) are ever deleted: snapshots made by other tools stay.
 * Running VMs are always checked (two QMP queries); VMs that are off only when marked.
 */
import { qemuCommands, type QemuJob } from '../qemu/commands';
import type { QemuImg } from '../storage/qemuimg';
import { resolveDiskPath } from '../qemu/argv';
import type { QmpClient } from '../qemu/qmp';
import type { SnapshotRepository, VmRepository, VmRow } from '../store/db';
import { vmFiles } from '../store/paths';
import { runJob } from '../qemu/jobs';
import { nodeTags } from '../qemu/internalsnap';
import type { EventBus } from './events';
import type { VmService } from './vms';
import fs from 'node:fs';
import path from 'node:path';

/**
 * A VM that is off is only looked at when it carries this marker: it is written before
 * qemu-img changes the snapshots of its disks and removed once the inventory agrees, so a
 * core start does not have to read the disks of every VM it knows.
 */
const WORK_MARKER = '.snapshot-work';

export function markSnapshotWork(vmDir: string): void {
  fs.writeFileSync(path.join(vmDir, WORK_MARKER), `${new Date().toISOString()}\n`, { mode: 0o600 });
}

export function clearSnapshotWork(vmDir: string): void {
  fs.rmSync(path.join(vmDir, WORK_MARKER), { force: true });
}

export interface RecoveryDeps {
  readonly vms: VmService;
  readonly vmRepo: VmRepository;
  readonly snapshots: SnapshotRepository;
  readonly img: QemuImg | null;
  readonly bus: EventBus;
}

const OUR_TAG = /^nb-[0-9a-f-]{13}$/;
const OUR_JOB = /^nb-snapshot-(save|load|delete)-/;

type QmpJob = QemuJob;

/** Waits for our snapshot jobs QEMU still has, and dismisses them. Returns what they were. */
async function settleJobs(qmp: QmpClient): Promise<QmpJob[]> {
  const settled: QmpJob[] = [];
  for (;;) {
    const jobs = (await qemuCommands(qmp).queryJobs()).filter((j) => OUR_JOB.test(j.id));
    const open = jobs.filter((j) => j.status !== 'concluded' && j.status !== 'null');
    for (const j of jobs.filter((x) => x.status === 'concluded')) {
      await qemuCommands(qmp).jobDismiss(j.id).catch(() => undefined);
      settled.push(j);
    }
    if (open.length === 0) return settled;
    await qmp
      .waitEvent('JOB_STATUS_CHANGE', { timeoutMs: 600_000, predicate: (ev) => open.some((j) => j.id === ev.data['id']) && ev.data['status'] === 'concluded' })
      .catch(() => undefined);
  }
}

/** Internal snapshot tags per qcow2 file of a VM that is not running. */
async function fileTags(img: QemuImg, row: VmRow): Promise<Map<string, Set<string>>> {
  const files = row.config.disks.filter((d) => d.format === 'qcow2').map((d) => resolveDiskPath(row.dir, d.file));
  const efi = vmFiles(row.dir).efiVars;
  if (row.config.firmware === 'uefi' && fs.existsSync(efi)) files.push(efi);
  const out = new Map<string, Set<string>>();
  for (const f of files) {
    if (!fs.existsSync(f)) continue;
    out.set(f, new Set(await img.snapshotTags(f)));
  }
  return out;
}

export async function recoverSnapshots(d: RecoveryDeps): Promise<void> {
  for (const row of d.vmRepo.list()) {
    try {
      await recoverVm(d, row);
    } catch (err) {
      d.vms.log(row.uuid, 'warning', 'reconcile', `could not check the snapshots of '${row.name}' after the restart: ${(err as Error).message}`);
    }
  }
}

/**
 * A migration the previous core started (a live snapshot's RAM save) has lost its reader:
 * cancel it, and resume the guest when the VM is meant to run (QEMU leaves it stopped at
 * the switch-over, or after a completed save until someone says `cont`).
 */
async function settleMigration(d: RecoveryDeps, row: VmRow, qmp: QmpClient): Promise<void> {
  const cmd = qemuCommands(qmp);
  const m = await cmd.queryMigrate();
  if (m.status && ['setup', 'active', 'pre-switchover', 'device', 'cancelling'].includes(m.status)) {
    const ended = qmp.waitEvent('MIGRATION', { timeoutMs: 30_000, predicate: (ev) => ['completed', 'failed', 'cancelled'].includes(String(ev.data['status'])) });
    ended.catch(() => undefined);
    await cmd.migrateCancel();
    await ended.catch(() => undefined);
    d.vms.log(row.uuid, 'warning', 'reconcile', `a snapshot of '${row.name}' was saving its RAM when the core stopped; that save was cancelled`);
  }
  const status = await cmd.queryStatus();
  if (!status.running && ['postmigrate', 'finish-migrate'].includes(status.status) && row.state === 'running') {
    await cmd.cont();
    d.vms.log(row.uuid, 'warning', 'reconcile', `'${row.name}' was left stopped by a snapshot the core could not finish; it runs again`);
  }
}

/** State files in the VM's snapshots folder that no snapshot row names (or half-written ones). */
function dropOrphanStates(d: RecoveryDeps, row: VmRow): void {
  const dir = vmFiles(row.dir).snapshotsDir;
  // Most VMs never had a RAM snapshot and have no such folder: a stat that does not throw is a
  // tenth of the cost of a readdir that does (an Error per VM), which counts at 5,000 VMs.
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  const known = new Set(d.snapshots.list(row.uuid).filter((s) => s.ramFile).map((s) => `${s.tag}.vmstate`));
  for (const n of names) {
    if (known.has(n) || !/^nb-[0-9a-f-]{13}\.vmstate(\.partial)?$/.test(n)) continue;
    fs.rmSync(path.join(dir, n), { force: true });
    d.vms.log(row.uuid, 'warning', 'reconcile', `removed the RAM state of a snapshot of '${row.name}' that was not finished when the core stopped (${n})`);
  }
}

async function recoverVm(d: RecoveryDeps, row: VmRow): Promise<void> {
  const qemu = d.vms.qemuOf(row.uuid);
  let tags: Map<string, Set<string>>;
  if (qemu) await settleMigration(d, row, qemu.qmp);
  dropOrphanStates(d, row);
  if (qemu) {
    const jobs = await settleJobs(qemu.qmp);
    for (const j of jobs) {
      d.vms.log(row.uuid, j.error ? 'warning' : 'info', 'reconcile', `a ${j.type} job on '${row.name}' was under way when the core stopped; it ${j.error ? `failed: ${j.error}` : 'finished'}`);
    }
    tags = await nodeTags(qemu.qmp);
  } else if (d.img && fs.existsSync(path.join(row.dir, WORK_MARKER)) && !['starting', 'stopping', 'saving'].includes(row.state)) {
    tags = await fileTags(d.img, row);
  } else {
    return;
  }
  const rows = d.snapshots.list(row.uuid);
  const known = new Set(rows.map((s) => s.tag));
  const orphans = new Map<string, string[]>();
  for (const [node, set] of tags) {
    for (const t of set) if (OUR_TAG.test(t) && !known.has(t)) orphans.set(t, [...(orphans.get(t) ?? []), node]);
  }
  for (const [tag, where] of orphans) {
    if (qemu) {
      await d.vms.quietly(row.uuid, () => runJob(qemu.qmp, 'snapshot-delete', { tag, devices: where }));
    } else {
      for (const f of where) await d.img!.snapshot(f, 'delete', tag);
    }
    d.vms.log(row.uuid, 'warning', 'reconcile', `removed an unfinished snapshot (${tag}) of '${row.name}' that was being taken when the core stopped`);
  }
  if (tags.size === 0) {
    if (!qemu) clearSnapshotWork(row.dir);
    return;
  }
  for (const s of rows) {
    const present = [...tags.values()].some((set) => set.has(s.tag));
    if (present) continue;
    const children = rows.filter((c) => c.parentId === s.id).map((c) => ({ id: c.id, parentId: s.parentId }));
    d.vmRepo.atomically(() => {
      d.snapshots.remove(s.id, children);
      const cur = d.vmRepo.get(row.uuid);
      if (cur?.currentSnapshot === s.id) d.vmRepo.setCurrentSnapshot(row.uuid, s.parentId);
    });
    d.vms.log(row.uuid, 'warning', 'reconcile', `snapshot '${s.name}' of '${row.name}' is on none of its disks any more (a delete was cut short); it was removed from the list`);
  }
  if (!qemu) clearSnapshotWork(row.dir);
  if (orphans.size || rows.length !== d.snapshots.list(row.uuid).length) d.bus.emit('vm.changed', { uuid: row.uuid });
}
