/**
 * Media: the operations on the disk images and ISOs of the registry (mediaregistry.ts):
 * creating, converting, resizing, compacting and checking them with qemu-img as cancellable
 * jobs, deleting them, and importing an image as a new VM.
 *
 * The rules every operation checks first live here, read next to the operations they guard:
 * what may be changed in place (requireChangeable) and what is idle (requireIdle). What a
 * file is and who uses it is the registry's. A VM's disks (attach, detach, CD) are in
 * vmdisks.ts, the simple listing and a VM's disk conversion in mediaconvert.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type {
  CheckResult,
  ConvertMediumSpec,
  CreateMediumSpec,
  ImportSpec,
  JobInfo,
  MediaItem,
  MediumInfo,
  OpResult,
  VmInfo,
} from '../api/contract';
import { NestboxError } from '../api/errors';
import type { DiskConfig, DiskFormat, VmConfig } from '../domain/config';
import { ConfigError, DISK_FORMATS, LIMITS, parseVmConfig, validateName } from '../domain/config';
import { isActive } from '../domain/lifecycle';
import { findOsType } from '../domain/ostypes';
import { formatBytes, parseSize } from '../domain/units';
import { identifyImage, type IdentifiedImage } from '../storage/identify';
import { MAX_VIRTUAL_SIZE } from '../storage/inspect';
import type { Preallocation, QemuImg } from '../storage/qemuimg';
import type { SnapshotRepository, VmRepository } from '../store/db';
import type { MediaRepository, MediaRow } from '../store/media';
import type { DataLayout } from '../store/paths';
import type { EventBus } from './events';
import type { JobContext, JobPlan, JobService } from './jobs';
import { convertVmDisk, listMedia } from './mediaconvert';
import { allocated, MediaRegistry } from './mediaregistry';
import { requireNotAttachedWritable } from './vmdisks';
import type { VmService } from './vms';

export interface MediaServiceDeps {
  readonly layout: DataLayout;
  readonly vms: VmService;
  readonly vmRepo: VmRepository;
  readonly snapshots: SnapshotRepository;
  readonly repo: MediaRepository;
  readonly img: QemuImg | null;
  readonly jobs: JobService;
  readonly bus: EventBus;
}

const PREALLOCATIONS: readonly Preallocation[] = ['off', 'metadata', 'falloc', 'full'];

/** A VM name from a file name: its stem, with what names may not contain replaced. */
export function nameFromFile(file: string): string {
  const stem = path.basename(file).replace(/\.(ova|ovf|qcow2|img|raw|vdi|vmdk|vhdx?|iso)$/i, '');
  let name = stem.replace(/[^A-Za-z0-9 ._()+-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, LIMITS.maxNameLength).replace(/[. ]+$/, '');
  if (!name) name = 'Imported VM';
  return name;
}

export class MediaService {
  /** What Nestbox knows of each file and who uses it (mediaregistry.ts). */
  readonly reg: MediaRegistry;

  constructor(private readonly d: MediaServiceDeps) {
    this.reg = new MediaRegistry({ layout: d.layout, vmRepo: d.vmRepo, snapshots: d.snapshots, repo: d.repo, img: d.img, bus: d.bus });
  }

  // ---------------------------------------------------------------- registry

  /** Registers every disk and ISO the VMs and their snapshots use; refreshes sizes; drops owned files that are gone. */
  sync(): void {
    this.reg.sync();
  }

  registry(): MediumInfo[] {
    return this.reg.list();
  }

  /** Identifies an image (inspector + qemu-img must agree) and registers it. */
  info(file: string): Promise<MediumInfo> {
    return this.reg.info(file);
  }

  /** The absolute path of a file argument; the registry is brought up to date first. @internal for disks */
  abs(file: unknown): string {
    return this.reg.abs(file);
  }

  /** A raw image Nestbox created stays raw, whatever its first sector looks like now. @internal for disks */
  identify(abs: string, asDisk = false): Promise<IdentifiedImage> {
    return this.reg.identify(abs, asDisk);
  }

  /** What the registry knows of a file. @internal for disks */
  known(abs: string): MediaRow | undefined {
    return this.reg.known(abs);
  }

  /** Records an identified image in the registry. @internal for disks */
  record(id: IdentifiedImage, owned: boolean): void {
    this.reg.record(id, owned);
  }

  // ---------------------------------------------------------------- rules of the operations

  /**
   * Images are changed in place only when Nestbox knows them: made by Nestbox or used by a
   * VM. A raw "image" can be any file at all, so an unknown one is never resized, compacted
   * or repaired on a path alone; attach it to a VM (or convert it) first.
   */
  private requireChangeable(abs: string, format: string, verb: string): void {
    this.reg.fresh();
    const known = this.d.repo.get(abs);
    const used = this.reg.usesOf(abs).length > 0;
    if (!known && !used) {
      throw new NestboxError('NOT_FOUND', `cannot ${verb} '${abs}': it is not in the media registry (add it with 'nestbox media info PATH', or attach it to a VM)`);
    }
    if (format === 'raw' && !known?.owned && !used) {
      throw new NestboxError('INVALID_STATE', `cannot ${verb} '${path.basename(abs)}': a raw file Nestbox did not make and no VM uses could be any file; attach it to a VM or convert it first`);
    }
  }

  /** Refuses while a running (or saved) VM has the image open or a job works on it. */
  private requireIdle(abs: string, verb: string): void {
    this.d.jobs.assertIdle(null, [abs]);
    for (const u of this.reg.usesOf(abs)) {
      if (!u.current) continue;
      const row = this.d.vmRepo.get(u.uuid);
      if (row && (isActive(row.state) || row.state === 'saved')) {
        throw new NestboxError('INVALID_STATE', `cannot ${verb} '${path.basename(abs)}' while '${row.name}' is using it (power it off first)`);
      }
    }
  }

  /** Every image and ISO in the media folder or used by a VM (`media.list`). */
  listMedia(): MediaItem[] {
    return listMedia(this.d.layout, this.d.vmRepo);
  }

  /** Converts a VM's disk to qcow2 in its folder, as a job of the VM (`vms.convertDisk`). */
  convertDisk(ref: string, diskId?: string): Promise<OpResult> {
    return convertVmDisk({ vms: this.d.vms, vmRepo: this.d.vmRepo, img: this.d.img, jobs: this.d.jobs, bus: this.d.bus }, ref, diskId);
  }

  delete(file: string, deleteFile: boolean): null {
    const abs = this.reg.abs(file);
    if (!this.d.repo.get(abs)) throw new NestboxError('NOT_FOUND', `'${abs}' is not in the media registry`);
    this.d.jobs.assertIdle(null, [abs]);
    const uses = this.reg.usesOf(abs);
    if (uses.length) throw new NestboxError('BUSY', `'${path.basename(abs)}' is in use by ${this.reg.describeUses(uses)}; detach it (or delete those snapshots) first`);
    if (deleteFile) fs.rmSync(abs, { force: true });
    this.d.repo.delete(abs);
    this.d.vms.log(null, 'info', 'media-deleted', `${deleteFile ? 'deleted' : 'removed from the registry'} '${abs}'`);
    this.d.bus.emit('media.changed', { path: abs });
    return null;
  }

  /**
   * Removes a file that web mode's upload put into the media folder and that nothing took up
   * (the import it was for was cancelled). Only a plain file directly inside the media folder,
   * never one Nestbox made itself (media.create/convert), one a VM or a snapshot's
   * configuration uses, or one a job works on. The web server only asks for uploads it wrote.
   */
  discardUpload(file: string): null {
    const abs = this.reg.abs(file);
    const dir = path.resolve(this.d.layout.mediaDir);
    if (path.dirname(abs) !== dir || path.basename(abs).startsWith('.') || abs.endsWith('.partial')) {
      throw new NestboxError('INVALID_ARGUMENT', `only an upload in the media folder (${dir}) can be discarded, not '${abs}'`);
    }
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch {
      throw new NestboxError('NOT_FOUND', `'${path.basename(abs)}' is not in the media folder`);
    }
    if (!st.isFile()) throw new NestboxError('INVALID_ARGUMENT', `'${path.basename(abs)}' is not a plain file; it is left alone`);
    if (fs.realpathSync(path.dirname(abs)) !== fs.realpathSync(dir)) {
      throw new NestboxError('INVALID_ARGUMENT', `only an upload in the media folder (${dir}) can be discarded`);
    }
    this.d.jobs.assertIdle(null, [abs]);
    const uses = this.reg.usesOf(abs);
    if (uses.length) throw new NestboxError('BUSY', `'${path.basename(abs)}' is in use by ${this.reg.describeUses(uses)}`);
    const known = this.d.repo.get(abs);
    if (known?.owned) throw new NestboxError('INVALID_STATE', `'${path.basename(abs)}' was made by Nestbox, not uploaded; delete it in the Media Manager`);
    fs.rmSync(abs, { force: true });
    if (known) this.d.repo.delete(abs);
    this.d.vms.log(null, 'info', 'media-deleted', `discarded the unused upload '${abs}'`);
    this.d.bus.emit('media.changed', { path: abs });
    return null;
  }

  /**
   * Web mode took back a machine upload (a descriptor with its disks, in a `.import-PID-RANDOM`
   * folder of the media folder): the folder goes, unless a VM or a running job uses a file in it.
   * Nothing is followed: a symlink inside is removed as a link, never what it points to.
   */
  discardUploadSet(folder: string): null {
    const abs = this.abs(folder);
    const dir = path.resolve(this.d.layout.mediaDir);
    if (path.dirname(abs) !== dir || !/^\.import-\d+-[0-9a-f]{24}$/.test(path.basename(abs))) {
      throw new NestboxError('INVALID_ARGUMENT', `only a machine upload's folder in the media folder (${dir}) can be discarded, not '${abs}'`);
    }
    const st = fs.lstatSync(abs, { throwIfNoEntry: false });
    if (!st) throw new NestboxError('NOT_FOUND', `'${path.basename(abs)}' is not in the media folder`);
    if (!st.isDirectory()) throw new NestboxError('INVALID_ARGUMENT', `'${path.basename(abs)}' is not a folder; it is left alone`);
    if (fs.realpathSync(path.dirname(abs)) !== fs.realpathSync(dir)) {
      throw new NestboxError('INVALID_ARGUMENT', `only a machine upload's folder in the media folder (${dir}) can be discarded`);
    }
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(abs);
    this.d.jobs.assertIdle(null, files);
    // An import that runs from the folder holds its descriptor, not only disks.
    this.d.jobs.assertIdle(null, [abs]);
    for (const f of files) {
      const uses = this.reg.usesOf(f);
      if (uses.length) throw new NestboxError('BUSY', `'${path.relative(abs, f)}' of the upload is in use by ${this.reg.describeUses(uses)}; the upload is kept`);
    }
    fs.rmSync(abs, { recursive: true, force: true });
    for (const f of files) if (this.d.repo.get(f)) this.d.repo.delete(f);
    this.d.vms.log(null, 'info', 'media-deleted', `discarded the machine upload '${abs}' (${files.length} file${files.length === 1 ? '' : 's'})`);
    this.d.bus.emit('media.changed', { path: abs });
    return null;
  }

  // ---------------------------------------------------------------- jobs

  private needImg(): QemuImg {
    if (!this.d.img) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-img was not found; install QEMU (Debian: qemu-utils)');
    return this.d.img;
  }

  /** Runs `fn` as a job holding `paths` (no other job, and no VM boot, on them) until it ends. */
  private job(kind: JobInfo['kind'], title: string, target: string, paths: readonly string[], fn: (ctx: JobContext) => Promise<unknown>, plan: JobPlan = {}): JobInfo {
    return this.d.jobs.start(kind, title, target, fn, { ...plan, holds: paths });
  }

  private parseSize(size: unknown): number {
    let n: number;
    try {
      n = parseSize(String(size ?? ''));
    } catch (err) {
      throw new NestboxError('INVALID_ARGUMENT', (err as Error).message);
    }
    if (n < 1024 * 1024) throw new NestboxError('INVALID_ARGUMENT', 'a disk must be at least 1 MiB');
    if (n > MAX_VIRTUAL_SIZE) throw new NestboxError('INVALID_ARGUMENT', `a disk may be at most ${MAX_VIRTUAL_SIZE / 1024 ** 4} TiB`);
    return n;
  }

  private newTarget(file: string): string {
    const abs = this.reg.abs(file);
    if (fs.existsSync(abs)) throw new NestboxError('ALREADY_EXISTS', `'${abs}' already exists; Nestbox never overwrites a file`);
    if (!fs.existsSync(path.dirname(abs))) throw new NestboxError('NOT_FOUND', `the folder '${path.dirname(abs)}' does not exist`);
    return abs;
  }

  create(spec: CreateMediumSpec): JobInfo {
    const img = this.needImg();
    if (spec.format !== 'qcow2' && spec.format !== 'raw') throw new NestboxError('INVALID_ARGUMENT', 'a new disk is qcow2 or raw');
    const prealloc = spec.preallocation ?? 'off';
    if (!PREALLOCATIONS.includes(prealloc)) throw new NestboxError('INVALID_ARGUMENT', `preallocation must be one of ${PREALLOCATIONS.join(', ')}`);
    if (spec.format === 'raw' && prealloc === 'metadata') throw new NestboxError('INVALID_ARGUMENT', "preallocation 'metadata' is for qcow2 only");
    const size = this.parseSize(spec.size);
    const abs = this.newTarget(spec.path);
    return this.job('create', `Creating ${path.basename(abs)} (${spec.format}, ${formatBytes(size)})`, abs, [abs], async (ctx) => {
      await img.create(abs, spec.format, size, prealloc, { signal: ctx.signal, output: abs });
      const id = await identifyImage(abs, img, { knownRaw: spec.format === 'raw' });
      this.reg.record(id, true);
      this.d.vms.log(null, 'info', 'media-created', `created ${spec.format} disk '${abs}' (${formatBytes(size)}, preallocation ${prealloc})`);
      return this.reg.medium(abs);
    }, { outputs: [abs] });
  }

  async convert(spec: ConvertMediumSpec): Promise<JobInfo> {
    const img = this.needImg();
    if (!DISK_FORMATS.includes(spec.format)) throw new NestboxError('INVALID_ARGUMENT', `format must be one of ${DISK_FORMATS.join(', ')}`);
    if (spec.subformat !== undefined && spec.format !== 'vmdk') throw new NestboxError('INVALID_ARGUMENT', 'a subformat is for VMDK only');
    const src = this.reg.abs(spec.source);
    const dst = this.newTarget(spec.target);
    this.requireIdle(src, 'convert');
    const id = await this.reg.identify(src, true);
    if (id.format === 'iso') throw new NestboxError('INVALID_ARGUMENT', `'${src}' is an ISO image, not a disk`);
    if (!this.d.repo.get(src)) this.reg.record(id, false);
    return this.job('convert', `Converting ${path.basename(src)} to ${spec.format}`, dst, [src, dst], async (ctx) => {
      await img.convert(src, id.format as DiskFormat, dst, spec.format, {
        ...(spec.format === 'vmdk' ? { subformat: spec.subformat ?? 'monolithicSparse' } : {}),
        ctl: { signal: ctx.signal, onProgress: (p) => ctx.progress(p) },
      });
      this.reg.record(await identifyImage(dst, img, { knownRaw: spec.format === 'raw' }), true);
      this.d.vms.log(null, 'info', 'media-converted', `converted '${src}' (${id.format}) to '${dst}' (${spec.format})`);
      return this.reg.medium(dst);
    }, { outputs: [dst] });
  }

  async resize(file: string, size: unknown, shrink: boolean): Promise<JobInfo> {
    const img = this.needImg();
    const abs = this.reg.abs(file);
    const bytes = this.parseSize(size);
    this.requireIdle(abs, 'resize');
    const id = await this.reg.identify(abs);
    if (id.format === 'iso') throw new NestboxError('INVALID_ARGUMENT', 'an ISO image cannot be resized');
    this.requireChangeable(abs, id.format, 'resize');
    if (bytes < id.virtualSize && !shrink) {
      throw new NestboxError(
        'INVALID_ARGUMENT',
        `${formatBytes(bytes)} is smaller than the disk (${formatBytes(id.virtualSize)}): shrinking loses whatever lies past the new end; shrink the partitions in the guest first, then pass shrink (--shrink)`,
      );
    }
    if (id.snapshots > 0) throw new NestboxError('INVALID_STATE', `'${path.basename(abs)}' has snapshots; qcow2 images with internal snapshots cannot be resized`);
    if (!['qcow2', 'raw', 'vdi', 'vhdx', 'vpc', 'vmdk'].includes(id.format)) throw new NestboxError('INVALID_ARGUMENT', `${id.format} images cannot be resized`);
    return this.job('resize', `Resizing ${path.basename(abs)} to ${formatBytes(bytes)}`, abs, [abs], async () => {
      await img.resize(abs, id.format as DiskFormat, bytes, bytes < id.virtualSize);
      this.reg.record(await this.reg.identify(abs), this.d.repo.get(abs)?.owned ?? false);
      this.d.vms.log(null, bytes < id.virtualSize ? 'warning' : 'info', 'media-resized', `resized '${abs}' from ${formatBytes(id.virtualSize)} to ${formatBytes(bytes)}`);
      return this.reg.medium(abs);
    });
  }

  /** Rewrites the image into a new file next to it without unused space, then swaps it in. */
  async compact(file: string): Promise<JobInfo> {
    const img = this.needImg();
    const abs = this.reg.abs(file);
    this.requireIdle(abs, 'compact');
    const id = await this.reg.identify(abs);
    this.requireChangeable(abs, id.format, 'compact');
    if (id.format !== 'qcow2' && id.format !== 'raw') {
      throw new NestboxError('INVALID_ARGUMENT', `compacting works on qcow2 and raw images; convert this ${id.format} image to qcow2 instead`);
    }
    if (id.snapshots > 0) throw new NestboxError('INVALID_STATE', `'${path.basename(abs)}' has snapshots, which compacting would lose; delete them first`);
    const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.compact-${process.pid}-${Date.now().toString(36)}.partial`);
    return this.job('compact', `Compacting ${path.basename(abs)}`, abs, [abs], async (ctx) => {
      const before = allocated(fs.statSync(abs));
      await img.convert(abs, id.format as DiskFormat, tmp, id.format as DiskFormat, { ctl: { signal: ctx.signal, onProgress: (p) => ctx.progress(p) } });
      try {
        const fd = fs.openSync(tmp, 'r+');
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        const mode = fs.statSync(abs).mode & 0o777;
        fs.chmodSync(tmp, mode);
        fs.renameSync(tmp, abs);
      } catch (err) {
        fs.rmSync(tmp, { force: true });
        throw NestboxError.from(err, 'IO_ERROR');
      }
      const after = allocated(fs.statSync(abs));
      this.reg.record(await this.reg.identify(abs), this.d.repo.get(abs)?.owned ?? false);
      this.d.vms.log(null, 'info', 'media-compacted', `compacted '${abs}' from ${formatBytes(before)} to ${formatBytes(after)}`);
      return this.reg.medium(abs);
    }, { outputs: [tmp] });
  }

  async check(file: string, repair: boolean): Promise<JobInfo> {
    const img = this.needImg();
    const abs = this.reg.abs(file);
    this.requireIdle(abs, 'check');
    const id = await this.reg.identify(abs);
    if (repair) this.requireChangeable(abs, id.format, 'repair');
    if (id.format !== 'qcow2' && id.format !== 'vdi' && id.format !== 'vhdx') {
      throw new NestboxError('INVALID_ARGUMENT', `qemu-img can check qcow2, VDI and VHDX images, not ${id.format}`);
    }
    return this.job('check', `Checking ${path.basename(abs)}`, abs, [abs], async (): Promise<CheckResult> => {
      const r = await img.check(abs, id.format as 'qcow2' | 'vdi' | 'vhdx', repair);
      const what = r.corruptions ? `${r.corruptions} corruption(s)` : r.leaks ? `${r.leaks} leaked cluster(s)${r.leaksFixed ? `, ${r.leaksFixed} repaired` : ''}` : 'no errors';
      this.d.vms.log(null, r.corruptions ? 'error' : 'info', 'media-checked', `checked '${abs}': ${what}`);
      return r;
    });
  }

  // ---------------------------------------------------------------- VMs

  private uniqueName(base: string): string {
    let name = base;
    for (let i = 2; this.d.vmRepo.findByName(name); i++) {
      const suffix = ` (${i})`;
      name = `${base.slice(0, LIMITS.maxNameLength - suffix.length)}${suffix}`;
    }
    return name;
  }

  /** Checks an import's name up front, so a bad one fails before any copying. */
  importName(spec: ImportSpec, fallback: string): string {
    if (spec.name !== undefined) {
      try {
        validateName(spec.name);
      } catch (err) {
        throw new NestboxError('INVALID_CONFIG', (err as Error).message);
      }
      if (this.d.vmRepo.findByName(spec.name)) throw new NestboxError('ALREADY_EXISTS', `a VM named '${spec.name}' already exists`);
      return spec.name;
    }
    return this.uniqueName(nameFromFile(fallback));
  }

  /** A disk image becomes a new VM: used where it is, or converted to qcow2 into the VM's folder. */
  async importDisk(spec: ImportSpec): Promise<JobInfo> {
    const img = this.needImg();
    const src = this.reg.abs(spec.file);
    const id = await this.reg.identify(src, true);
    if (id.format === 'iso') {
      throw new NestboxError('INVALID_ARGUMENT', `'${path.basename(src)}' is an installation ISO, not a disk; create a VM with it instead (nestbox create NAME --iso ${src})`);
    }
    const name = this.importName(spec, src);
    const mode = spec.mode ?? 'copy';
    if (mode !== 'copy' && mode !== 'inPlace') throw new NestboxError('INVALID_ARGUMENT', "mode must be 'copy' or 'inPlace'");
    if (mode === 'inPlace') requireNotAttachedWritable(this.d.vmRepo, src, null);
    this.requireIdle(src, 'import');
    const base = {
      name,
      noDisk: true,
      nic: 'nat' as const,
      ...(spec.osType ? { osType: spec.osType } : {}),
      ...(spec.memoryMiB ? { memoryMiB: spec.memoryMiB } : {}),
      ...(spec.cpus ? { cpus: spec.cpus } : {}),
      ...(spec.firmware ? { firmware: spec.firmware } : {}),
    };
    const title = mode === 'copy' ? `Importing ${path.basename(src)} as '${name}' (converting to qcow2)` : `Importing ${path.basename(src)} as '${name}' (in place)`;
    return this.job('import', title, name, [src], async (ctx): Promise<VmInfo> => {
      const created = await this.d.vms.create(base);
      const uuid = created.vm.uuid;
      ctx.made({ vmUuid: uuid });
      try {
        let disk: DiskConfig;
        const bus = spec.diskBus ?? findOsType(created.vm.osType)?.preset.diskBus ?? 'virtio';
        if (mode === 'copy') {
          const file = `${name}.qcow2`;
          const dst = path.join(created.vm.dir, file);
          await img.convert(src, id.format as DiskFormat, dst, 'qcow2', { ctl: { signal: ctx.signal, onProgress: (p) => ctx.progress(p) } });
          disk = { id: 'disk0', file, format: 'qcow2', bus, readOnly: false, owned: true };
        } else {
          // The file must still be the one that was inspected.
          const again = await this.reg.identify(src, true);
          if (again.format !== id.format || again.stamp.ino !== id.stamp.ino) throw new NestboxError('IMAGE_REJECTED', `'${src}' changed during the import`);
          disk = { id: 'disk0', file: src, format: id.format as DiskFormat, bus, readOnly: false, owned: false };
        }
        this.addDisk(uuid, disk);
        if (!this.d.repo.get(src)) this.reg.record(id, false);
        this.d.vms.log(uuid, 'info', 'imported', `imported '${src}' as '${name}' (${mode === 'copy' ? 'converted to qcow2' : `${id.format}, used in place`})`);
        return this.d.vms.info(uuid);
      } catch (err) {
        await this.d.vms.delete(uuid, false).catch(() => undefined);
        throw err;
      }
    }, { vmName: name });
  }

  /** Adds a disk to a VM's configuration (the VM must allow hardware changes). @internal */
  addDisk(uuid: string, disk: DiskConfig): void {
    const row = this.d.vmRepo.get(uuid);
    if (!row) throw new NestboxError('NOT_FOUND', 'the VM was deleted');
    let next: VmConfig;
    try {
      next = parseVmConfig({ ...row.config, disks: [...row.config.disks, disk] });
    } catch (err) {
      if (err instanceof ConfigError) throw new NestboxError('INVALID_CONFIG', err.message);
      throw err;
    }
    this.d.vmRepo.updateConfig(next);
    this.d.bus.emit('vm.changed', { uuid });
  }
}
