/**
 * Clones of a VM, from one of its snapshots or from its current state, as in VirtualBox:
 *
 * - full: every disk is copied (`qemu-img convert`, reading the snapshot's data) into a new,
 *   independent qcow2 in the clone's folder;
 * - linked: the clone's disks are qcow2 overlays on read-only base images. A qcow2 backing
 *   file cannot point into another image's internal snapshot, so the base is that disk
 *   state exported once into the parent's folder (`bases/`), then shared by every linked
 *   clone made from the same snapshot. Nestbox made each base and tracks it in SQLite; the
 *   parent cannot be deleted while a clone stands on one of its bases, and a base goes away
 *   with its last clone.
 *
 * A clone gets a new UUID, name and MAC addresses, boots from its disks (the parent's RAM is
 * not copied) and keeps the hardware of the moment it was cloned from.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CloneSpec, OpResult } from '../api/contract';
import { NestboxError } from '../api/errors';
import { crashPoint } from './faults';
import type { DiskConfig, VmConfig } from '../domain/config';
import { ConfigError, parseVmConfig, validateName } from '../domain/config';
import { isActive } from '../domain/lifecycle';
import { resolveDiskPath } from '../qemu/argv';
import { dropNodeSnapshots, snapshotNodes } from '../qemu/internalsnap';
import type { QemuImg } from '../storage/qemuimg';
import type { CloneRepository, DiskBaseRow, SnapshotRepository, SnapshotRow, VmRepository, VmRow } from '../store/db';
import { tpmStateDir } from '../qemu/swtpm';
import { vmFiles, type DataLayout } from '../store/paths';
import type { EventBus } from './events';
import { coverage } from './snapshotcoverage';
import { randomMac, type VmService } from './vms';

export interface CloneServiceDeps {
  readonly layout: DataLayout;
  readonly vms: VmService;
  readonly vmRepo: VmRepository;
  readonly snapshots: SnapshotRepository;
  readonly clones: CloneRepository;
  readonly img: QemuImg | null;
  readonly bus: EventBus;
}

/** Where a disk's data is read from: a file, at an internal snapshot or as it is. */
interface Source {
  readonly tag: string | null;
  /** The image is open in a running QEMU (read with --force-share). */
  readonly shared: boolean;
}

export class CloneService {
  constructor(private readonly d: CloneServiceDeps) {}

  async clone(ref: string, spec: CloneSpec): Promise<OpResult> {
    const src = this.d.vms.resolve(ref);
    this.d.vms.jobs.assertIdle({ uuid: src.uuid, name: src.name });
    if (!spec || typeof spec !== 'object') throw new NestboxError('INVALID_ARGUMENT', 'a clone specification is required');
    let name: string;
    try {
      name = validateName(String(spec.name ?? '').trim());
    } catch (err) {
      throw new NestboxError('INVALID_ARGUMENT', (err as ConfigError).message);
    }
    if (this.d.vmRepo.findByName(name)) throw new NestboxError('ALREADY_EXISTS', `a VM named '${name}' already exists`);
    if (!this.d.img) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-img was not found; install QEMU');
    const img = this.d.img;
    if (src.state === 'starting' || src.state === 'saving' || src.state === 'stopping') {
      throw new NestboxError('INVALID_STATE', `cannot clone '${src.name}' while it is ${src.state}; wait until it is done`);
    }
    const linked = spec.linked === true;
    let snap: SnapshotRow | null = null;
    if (spec.snapshot) {
      const all = this.d.snapshots.list(src.uuid);
      snap = all.find((x) => x.id === spec.snapshot) ?? all.filter((x) => x.name === spec.snapshot).at(-1) ?? null;
      if (!snap) throw new NestboxError('NOT_FOUND', `'${src.name}' has no snapshot '${spec.snapshot}'`);
    }
    const base: VmConfig = snap ? snap.config : src.config;
    const live = isActive(src.state);
    const warnings: string[] = [];
    if (!snap && src.state === 'saved') warnings.push(`the clone starts afresh from the disks of '${src.name}'; its saved memory is not copied`);
    if (snap?.withRam) warnings.push(`the clone boots from the disks of snapshot '${snap.name}'; its memory stays with '${src.name}'`);
    const writable = base.disks.filter((d) => !d.readOnly);
    if ((snap || live) && writable.some((d) => d.format !== 'qcow2')) {
      // Snapshots (and the temporary one a running VM needs) live inside qcow2 images only.
      coverage(src, base);
    }

    // A running VM's current state is read from a temporary internal snapshot of all its
    // disks, taken atomically in one QMP transaction and dropped at the end.
    let temp: { tag: string; nodes: string[] } | null = null;
    const source: Source = { tag: snap?.tag ?? null, shared: live };
    const uuid = crypto.randomUUID();
    const dir = this.d.layout.newVmDir(name);
    const madeBases: DiskBaseRow[] = [];
    const job = this.d.vms.jobs.begin(
      { uuid: src.uuid, name: src.name },
      // A core killed while copying: the sweep removes the clone's folder (and the clone, if it was registered).
      { kind: 'clone', title: `Cloning '${src.name}' as '${name}'`, label: `a clone as '${name}'`, outputs: [dir], vmName: name },
    );
    const signal = job.signal;
    // Progress over all the copies: each disk (and the UEFI store) is an equal share.
    const copies = base.disks.filter((d) => !d.readOnly).length + (base.firmware === 'uefi' ? 1 : 0);
    let done = 0;
    let last = 0;
    const progress = (pct: number) => {
      const p = Math.min(99, Math.floor(((done + pct / 100) / Math.max(1, copies)) * 100));
      if (p > last) {
        last = p;
        job.progress(p);
      }
    };
    const links: { diskId: string; baseId: string }[] = [];
    try {
      if (!snap && live) {
        const qemu = this.d.vms.qemuOf(src.uuid);
        if (!qemu) throw new NestboxError('INVALID_STATE', `'${src.name}' has no QEMU process attached`);
        const cov = coverage(src, src.config);
        const tag = `nb-clone-${crypto.randomBytes(4).toString('hex')}`;
        await snapshotNodes(qemu.qmp, cov.nodes, tag);
        temp = { tag, nodes: cov.nodes };
      }
      const tag = temp?.tag ?? source.tag;
      fs.mkdirSync(vmFiles(dir).logsDir, { recursive: true, mode: 0o700 });
      const disks: DiskConfig[] = [];
      for (const d of base.disks) {
        if (d.readOnly) {
          disks.push(d);
          continue;
        }
        const from = resolveDiskPath(src.dir, d.file);
        if (!fs.existsSync(from)) throw new NestboxError('NOT_FOUND', `disk '${d.id}' of '${src.name}' is missing: ${from}`);
        const file = d.id === 'disk0' ? `${name}.qcow2` : `${name}-${d.id}.qcow2`;
        const dst = path.join(dir, file);
        const opts = { ...(tag ? { snapshot: tag } : {}), shared: source.shared, signal, onProgress: progress };
        if (!linked) {
          await img.exportQcow2(from, d.format, dst, opts);
          done++;
          disks.push({ id: d.id, file, format: 'qcow2', bus: d.bus, readOnly: false, owned: true });
          continue;
        }
        let b = snap ? this.d.clones.findBase(src.uuid, snap.id, d.id) : undefined;
        if (b && !fs.existsSync(b.file)) {
          throw new NestboxError('NOT_FOUND', `the base image ${b.file} that linked clones of '${src.name}' stand on is missing`);
        }
        if (!b) {
          const id = crypto.randomUUID();
          const file2 = path.join(src.dir, 'bases', `${(snap?.id ?? id).slice(0, 8)}-${d.id}.qcow2`);
          await img.exportQcow2(from, d.format, file2, opts);
          fs.chmodSync(file2, 0o444);
          // Its row is written with the clone's, in one transaction, below.
          b = { id, ownerUuid: src.uuid, snapshotId: snap?.id ?? null, diskId: d.id, file: file2, createdAt: new Date().toISOString() };
          madeBases.push(b);
        }
        done++;
        await img.createOverlay(dst, b.file);
        links.push({ diskId: d.id, baseId: b.id });
        disks.push({ id: d.id, file, format: 'qcow2', bus: d.bus, readOnly: false, owned: true, backing: { file: b.file, format: 'qcow2' } });
      }
      if (base.firmware === 'uefi') {
        const vars = vmFiles(src.dir).efiVars;
        if (fs.existsSync(vars)) await img.exportQcow2(vars, 'qcow2', vmFiles(dir).efiVars, { ...(tag ? { snapshot: tag } : {}), shared: source.shared, signal, onProgress: progress });
      }
      // The TPM's state (keys, sealed secrets, NV data) is copied as it is now: the clone's
      // TPM starts as a twin of the source's (the clone dialog says so).
      const tpmFrom = tpmStateDir(src.dir);
      if (base.tpm && fs.existsSync(tpmFrom)) fs.cpSync(tpmFrom, tpmStateDir(dir), { recursive: true });
      const taken = new Set(this.d.vmRepo.list().flatMap((r) => r.config.nics.map((n) => n.mac)));
      const nics = base.nics.map((n) => {
        if (spec.keepMacs === true) return n;
        const mac = randomMac(taken);
        taken.add(mac);
        return { ...n, mac };
      });
      let config: VmConfig;
      try {
        config = parseVmConfig({ ...base, uuid, name, description: src.config.description, group: src.config.group, disks, nics });
      } catch (err) {
        throw new NestboxError('INVALID_CONFIG', (err as Error).message);
      }
      if (this.d.vmRepo.findByName(name)) throw new NestboxError('ALREADY_EXISTS', `a VM named '${name}' already exists`);
      const made = config;
      // New bases, the VM and its links: all or nothing, or a killed core could leave a
      // linked clone with no link row, whose base would later be freed under it.
      this.d.vmRepo.atomically(() => {
        for (const b of madeBases) {
          this.d.clones.insertBase(b);
          crashPoint('clone:base-rows');
        }
        this.d.vmRepo.insert(made, dir, 'poweredOff');
        crashPoint('clone:vm-row');
        for (const l of links) this.d.clones.link(uuid, l.diskId, l.baseId);
      });
    } catch (err) {
      job.fail(err);
      // Nothing half-made stays behind: the clone's folder and any base made for it.
      fs.rmSync(dir, { recursive: true, force: true });
      for (const b of madeBases) {
        this.d.clones.removeBase(b.id);
        fs.rmSync(b.file, { force: true });
      }
      if (err instanceof NestboxError && err.code === 'CANCELLED') {
        this.d.vms.log(src.uuid, 'info', 'cancelled', `cancelled cloning '${src.name}' as '${name}'; nothing was kept`);
        throw new NestboxError('CANCELLED', `cloning '${src.name}' was cancelled; nothing was kept`);
      }
      throw NestboxError.from(err, 'IO_ERROR');
    } finally {
      job.end();
      if (temp) {
        const qemu = this.d.vms.qemuOf(src.uuid);
        if (qemu) await dropNodeSnapshots(qemu.qmp, temp.nodes, temp.tag);
      }
    }
    const from = snap ? `snapshot '${snap.name}' of '${src.name}'` : `the current state of '${src.name}'`;
    this.d.vms.log(uuid, 'info', 'cloned', `created '${name}' as a ${linked ? 'linked' : 'full'} clone of ${from}`);
    this.d.vms.log(src.uuid, 'info', 'cloned', `cloned ${from} as '${name}' (${linked ? 'linked' : 'full'})`);
    this.d.bus.emit('vm.changed', { uuid });
    this.d.bus.emit('vm.changed', { uuid: src.uuid });
    return this.d.vms.result(uuid, warnings);
  }

  /** Names of the VMs that stand on bases made from this one. */
  dependents(row: VmRow): string[] {
    return this.d.clones.dependentsOf(row.uuid).map((u) => this.d.vmRepo.get(u)?.name ?? u);
  }
}
