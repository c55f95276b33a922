/**
 * Media: the registry of every disk image and ISO Nestbox knows, the qemu-img operations on
 * them as cancellable jobs, importing an image as a new VM and attaching one to a VM.
 *
 * Usage is never stored: it is read from the VMs' configurations and their snapshots'
 * configurations, so it cannot drift from what QEMU would really open.
 *
 * Over 500 lines because the registry's rules (what may be changed, what is idle, who uses
 * a file) are shared by every qemu-img job and the import below; splitting them apart would
 * spread one set of checks over several files. A VM's disks (attach, detach, CD) are in
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
  MediumFormat,
  MediumInfo,
  MediumUse,
  OpResult,
  VmInfo,
} from '../api/contract';
import { NestboxError } from '../api/errors';
import type { DiskConfig, DiskFormat, VmConfig } from '../domain/config';
import { ConfigError, DISK_FORMATS, LIMITS, parseVmConfig, validateName } from '../domain/config';
import { isActive } from '../domain/lifecycle';
import { findOsType } from '../domain/ostypes';
import { formatBytes, parseSize } from '../domain/units';
import { resolveDiskPath } from '../qemu/argv';
import { identifyImage, type IdentifiedImage } from '../storage/identify';
import { inspectImage, MAX_VIRTUAL_SIZE } from '../storage/inspect';
import type { Preallocation, QemuImg } from '../storage/qemuimg';
import type { SnapshotRepository, SnapshotRow, VmRepository, VmRow } from '../store/db';
import type { MediaRepository, MediaRow } from '../store/media';
import type { DataLayout } from '../store/paths';
import type { EventBus } from './events';
import type { JobContext, JobPlan, JobService } from './jobs';
import { convertVmDisk, listMedia } from './mediaconvert';
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

/** Space the file takes on the host (sparse files count what is allocated). */
function allocated(st: fs.Stats): number {
  return typeof st.blocks === 'number' && st.blocks >= 0 ? st.blocks * 512 : st.size;
}

/** A VM name from a file name: its stem, with what names may not contain replaced. */
export function nameFromFile(file: string): string {
  const stem = path.basename(file).replace(/\.(ova|ovf|qcow2|img|raw|vdi|vmdk|vhdx?|iso)$/i, '');
  let name = stem.replace(/[^A-Za-z0-9 ._()+-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, LIMITS.maxNameLength).replace(/[. ]+$/, '');
  if (!name) name = 'Imported VM';
  return name;
}

export class MediaService {
  /** VMs changed since the registry was last brought up to date. */
  private stale = false;
  private syncTimer: NodeJS.Timeout | null = null;

  constructor(private readonly d: MediaServiceDeps) {
    // A burst of VM changes (every state change of every VM is one) costs one sync, a
    // quarter of a second later, instead of one each; anything that reads the registry
    // first brings it up to date itself (fresh()).
    d.bus.on((name) => {
      if (name !== 'vm.changed' && name !== 'vm.removed') return;
      this.stale = true;
      if (this.syncTimer) return;
      this.syncTimer = setTimeout(() => {
        this.syncTimer = null;
        try {
          if (this.stale) this.sync();
        } catch {
          // The core closed its database meanwhile; the next core syncs when it opens.
        }
      }, 250);
      this.syncTimer.unref();
    });
  }

  /** Brings the registry up to date if VMs changed since it last was. */
  private fresh(): void {
    if (this.stale) this.sync();
  }

  // ---------------------------------------------------------------- registry

  /** Registers every disk and ISO the VMs and their snapshots use; refreshes sizes; drops owned files that are gone. */
  sync(): void {
    this.stale = false;
    const used = this.usageMap();
    for (const [file, u] of used) {
      if (!this.d.repo.get(file)) this.refresh(file, u.kind, u.format, u.owned);
    }
    this.scanMediaDir();
    for (const m of this.d.repo.list()) {
      if (!fs.existsSync(m.path) && m.owned && !used.has(m.path)) {
        this.d.repo.delete(m.path);
        continue;
      }
      this.refresh(m.path, m.kind, m.format, m.owned);
    }
  }

  /** Re-reads one entry's sizes from the file (headers only: cheap, no qemu-img). */
  private refresh(file: string, kind: 'disk' | 'iso', format: string, owned: boolean): void {
    const known = this.d.repo.get(file);
    let virtualSize = known?.virtualSize ?? 0;
    let actualSize = known?.actualSize ?? 0;
    let problem: string | null = null;
    let st: fs.Stats | null = null;
    try {
      st = fs.statSync(file);
    } catch {
      problem = 'the file is missing';
    }
    if (st && !st.isFile()) problem = 'it is no longer a regular file';
    else if (st) {
      actualSize = allocated(st);
      if (format === 'raw' || format === 'iso') virtualSize = st.size;
      else {
        try {
          const facts = inspectImage(file);
          if (facts.virtualSize !== null) virtualSize = facts.virtualSize;
          // A file from outside keeps saying why it is refused (Nestbox's own chains, e.g. linked clones, are fine).
          if (!owned && facts.problems.length) problem = `refused: ${facts.problems.join('; ')}`;
        } catch {
          // Being written right now (a running VM): keep the last known size.
        }
        if (!virtualSize) virtualSize = st.size;
      }
    }
    if (known && known.virtualSize === virtualSize && known.actualSize === actualSize && known.problem === problem && known.format === format) return;
    this.d.repo.upsert({ path: file, kind, format, virtualSize, actualSize, owned, problem });
  }

  /** Files in the media folder (web-mode uploads) are part of the registry too. */
  private scanMediaDir(): void {
    const dir = this.d.layout.mediaDir;
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      // An uploaded OVA/OVF is an appliance to import, not a medium (a tar would pass for raw).
      if (n.endsWith('.partial') || n.startsWith('.') || /\.(ova|ovf)$/i.test(n)) continue;
      const file = path.join(dir, n);
      if (this.d.repo.get(file)) continue;
      try {
        const facts = inspectImage(file);
        this.d.repo.upsert({
          path: file,
          kind: facts.format === 'iso' ? 'iso' : 'disk',
          format: facts.format,
          virtualSize: facts.virtualSize ?? facts.size,
          actualSize: facts.size,
          owned: false,
          problem: facts.problems.length ? `refused: ${facts.problems.join('; ')}` : null,
        });
      } catch {
        // not a regular file, or unreadable: not a medium
      }
    }
  }

  private usageMap(): Map<string, { kind: 'disk' | 'iso'; format: MediumFormat; owned: boolean; uses: MediumUse[] }> {
    const map = new Map<string, { kind: 'disk' | 'iso'; format: MediumFormat; owned: boolean; uses: MediumUse[] }>();
    // One use per (file, VM, device); indexed so that an ISO shared by every VM stays linear.
    const index = new Map<string, number>();
    const note = (file: string, kind: 'disk' | 'iso', format: MediumFormat, owned: boolean, row: VmRow, device: string, snapshot: string | null) => {
      let e = map.get(file);
      if (!e) map.set(file, (e = { kind, format, owned, uses: [] }));
      const key = `${file}\0${row.uuid}\0${device}`;
      let i = index.get(key);
      if (i === undefined) {
        i = e.uses.push({ vm: row.name, uuid: row.uuid, device, current: false, snapshots: [] }) - 1;
        index.set(key, i);
      }
      const use = e.uses[i]!;
      e.uses[i] = snapshot === null ? { ...use, current: true } : { ...use, snapshots: [...use.snapshots, snapshot] };
    };
    const walk = (row: VmRow, config: VmConfig, snapshot: string | null) => {
      for (const disk of config.disks) note(resolveDiskPath(row.dir, disk.file), 'disk', disk.format, disk.owned, row, disk.id, snapshot);
      for (const c of config.cdroms) if (c.iso) note(c.iso, 'iso', 'iso', false, row, c.id, snapshot);
    };
    // Two queries for the whole inventory, not one per VM.
    const snapshotsByVm = new Map<string, SnapshotRow[]>();
    for (const s of this.d.snapshots.listAll()) {
      const l = snapshotsByVm.get(s.vmUuid);
      if (l) l.push(s);
      else snapshotsByVm.set(s.vmUuid, [s]);
    }
    for (const row of this.d.vmRepo.list()) {
      walk(row, row.config, null);
      for (const s of snapshotsByVm.get(row.uuid) ?? []) walk(row, s.config, s.name);
    }
    return map;
  }

  private toInfo(m: MediaRow, uses: readonly MediumUse[]): MediumInfo {
    const info: MediumInfo = {
      path: m.path,
      name: path.basename(m.path),
      kind: m.kind,
      format: m.format as MediumFormat,
      virtualSize: m.virtualSize,
      actualSize: m.actualSize,
      owned: m.owned,
      missing: m.problem !== null,
      usedBy: uses,
      addedAt: m.addedAt,
    };
    return m.problem ? { ...info, problem: m.problem } : info;
  }

  registry(): MediumInfo[] {
    this.sync();
    const usage = this.usageMap();
    return this.d.repo
      .list()
      .map((m) => this.toInfo(m, usage.get(m.path)?.uses ?? []))
      .sort((a, b) => a.name.localeCompare(b.name) || a.path.localeCompare(b.path));
  }

  private medium(file: string): MediumInfo {
    const m = this.d.repo.get(file);
    if (!m) throw new NestboxError('NOT_FOUND', `'${file}' is not in the media registry`);
    return this.toInfo(m, this.usageMap().get(file)?.uses ?? []);
  }

  /** Identifies an image (inspector + qemu-img must agree) and registers it. */
  async info(file: string): Promise<MediumInfo> {
    const abs = this.abs(file);
    const known = this.d.repo.get(abs);
    const id = await this.identify(abs);
    this.record(id, known?.owned ?? false);
    return this.medium(abs);
  }

  /** The absolute path of a file argument; the registry is brought up to date first. @internal for disks */
  abs(file: unknown): string {
    this.fresh();
    if (typeof file !== 'string' || file === '') throw new NestboxError('INVALID_ARGUMENT', 'a file path is required');
    return path.resolve(file);
  }

  /** A raw image Nestbox created stays raw, whatever its first sector looks like now. @internal for disks */
  identify(abs: string, asDisk = false): Promise<IdentifiedImage> {
    this.fresh();
    const known = this.d.repo.get(abs);
    return identifyImage(abs, this.d.img, { knownRaw: known?.owned === true && known.format === 'raw', asDisk: asDisk || known?.format === 'raw' });
  }

  /** What the registry knows of a file. @internal for disks */
  known(abs: string): MediaRow | undefined {
    return this.d.repo.get(abs);
  }

  /** Records an identified image in the registry. @internal for disks */
  record(id: IdentifiedImage, owned: boolean): void {
    let actual = id.actualSize;
    try {
      actual = allocated(fs.statSync(id.path));
    } catch {
      // keep qemu-img's figure
    }
    this.d.repo.upsert({
      path: id.path,
      kind: id.format === 'iso' ? 'iso' : 'disk',
      format: id.format,
      virtualSize: id.virtualSize,
      actualSize: actual,
      owned,
      problem: null,
    });
    this.d.bus.emit('media.changed', { path: id.path });
  }

  private usesOf(abs: string): MediumUse[] {
    return this.usageMap().get(abs)?.uses ?? [];
  }

  private describeUses(uses: readonly MediumUse[]): string {
    return uses
      .map((u) => (u.current ? `'${u.vm}' (${u.device})` : `snapshot${u.snapshots.length > 1 ? 's' : ''} ${u.snapshots.map((s) => `'${s}'`).join(', ')} of '${u.vm}'`))
      .join(', ');
  }

  /** Refuses while a running (or saved) VM has the image open or a job works on it. */
  /**
   * Images are changed in place only when Nestbox knows them: made by Nestbox or used by a
   * VM. A raw "image" can be any file at all, so an unknown one is never resized, compacted
   * or repaired on a path alone; attach it to a VM (or convert it) first.
   */
  private requireChangeable(abs: string, format: string, verb: string): void {
    this.fresh();
    const known = this.d.repo.get(abs);
    const used = this.usesOf(abs).length > 0;
    if (!known && !used) {
      throw new NestboxError('NOT_FOUND', `cannot ${verb} '${abs}': it is not in the media registry (add it with 'nestbox media info PATH', or attach it to a VM)`);
    }
    if (format === 'raw' && !known?.owned && !used) {
      throw new NestboxError('INVALID_STATE', `cannot ${verb} '${path.basename(abs)}': a raw file Nestbox did not make and no VM uses could be any file; attach it to a VM or convert it first`);
    }
  }

  private requireIdle(abs: string, verb: string): void {
    this.d.jobs.assertIdle(null, [abs]);
    for (const u of this.usesOf(abs)) {
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
    const abs = this.abs(file);
    if (!this.d.repo.get(abs)) throw new NestboxError('NOT_FOUND', `'${abs}' is not in the media registry`);
    this.d.jobs.assertIdle(null, [abs]);
    const uses = this.usesOf(abs);
    if (uses.length) throw new NestboxError('BUSY', `'${path.basename(abs)}' is in use by ${this.describeUses(uses)}; detach it (or delete those snapshots) first`);
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
    const abs = this.abs(file);
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
    const uses = this.usesOf(abs);
    if (uses.length) throw new NestboxError('BUSY', `'${path.basename(abs)}' is in use by ${this.describeUses(uses)}`);
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
      const uses = this.usesOf(f);
      if (uses.length) throw new NestboxError('BUSY', `'${path.relative(abs, f)}' of the upload is in use by ${this.describeUses(uses)}; the upload is kept`);
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
    const abs = this.abs(file);
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
      this.record(id, true);
      this.d.vms.log(null, 'info', 'media-created', `created ${spec.format} disk '${abs}' (${formatBytes(size)}, preallocation ${prealloc})`);
      return this.medium(abs);
    }, { outputs: [abs] });
  }

  async convert(spec: ConvertMediumSpec): Promise<JobInfo> {
    const img = this.needImg();
    if (!DISK_FORMATS.includes(spec.format)) throw new NestboxError('INVALID_ARGUMENT', `format must be one of ${DISK_FORMATS.join(', ')}`);
    if (spec.subformat !== undefined && spec.format !== 'vmdk') throw new NestboxError('INVALID_ARGUMENT', 'a subformat is for VMDK only');
    const src = this.abs(spec.source);
    const dst = this.newTarget(spec.target);
    this.requireIdle(src, 'convert');
    const id = await this.identify(src, true);
    if (id.format === 'iso') throw new NestboxError('INVALID_ARGUMENT', `'${src}' is an ISO image, not a disk`);
    if (!this.d.repo.get(src)) this.record(id, false);
    return this.job('convert', `Converting ${path.basename(src)} to ${spec.format}`, dst, [src, dst], async (ctx) => {
      await img.convert(src, id.format as DiskFormat, dst, spec.format, {
        ...(spec.format === 'vmdk' ? { subformat: spec.subformat ?? 'monolithicSparse' } : {}),
        ctl: { signal: ctx.signal, onProgress: (p) => ctx.progress(p) },
      });
      this.record(await identifyImage(dst, img, { knownRaw: spec.format === 'raw' }), true);
      this.d.vms.log(null, 'info', 'media-converted', `converted '${src}' (${id.format}) to '${dst}' (${spec.format})`);
      return this.medium(dst);
    }, { outputs: [dst] });
  }

  async resize(file: string, size: unknown, shrink: boolean): Promise<JobInfo> {
    const img = this.needImg();
    const abs = this.abs(file);
    const bytes = this.parseSize(size);
    this.requireIdle(abs, 'resize');
    const id = await this.identify(abs);
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
      this.record(await this.identify(abs), this.d.repo.get(abs)?.owned ?? false);
      this.d.vms.log(null, bytes < id.virtualSize ? 'warning' : 'info', 'media-resized', `resized '${abs}' from ${formatBytes(id.virtualSize)} to ${formatBytes(bytes)}`);
      return this.medium(abs);
    });
  }

  /** Rewrites the image into a new file next to it without unused space, then swaps it in. */
  async compact(file: string): Promise<JobInfo> {
    const img = this.needImg();
    const abs = this.abs(file);
    this.requireIdle(abs, 'compact');
    const id = await this.identify(abs);
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
      this.record(await this.identify(abs), this.d.repo.get(abs)?.owned ?? false);
      this.d.vms.log(null, 'info', 'media-compacted', `compacted '${abs}' from ${formatBytes(before)} to ${formatBytes(after)}`);
      return this.medium(abs);
    }, { outputs: [tmp] });
  }

  async check(file: string, repair: boolean): Promise<JobInfo> {
    const img = this.needImg();
    const abs = this.abs(file);
    this.requireIdle(abs, 'check');
    const id = await this.identify(abs);
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
    const src = this.abs(spec.file);
    const id = await this.identify(src, true);
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
          const again = await this.identify(src, true);
          if (again.format !== id.format || again.stamp.ino !== id.stamp.ino) throw new NestboxError('IMAGE_REJECTED', `'${src}' changed during the import`);
          disk = { id: 'disk0', file: src, format: id.format as DiskFormat, bus, readOnly: false, owned: false };
        }
        this.addDisk(uuid, disk);
        if (!this.d.repo.get(src)) this.record(id, false);
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
