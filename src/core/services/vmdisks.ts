/**
 * A VM's disks and CD drive: attaching an existing image (inspected first; never one another
 * VM writes), detaching one (the file stays), and changing the CD of a running VM over QMP.
 * The images themselves are media's: the registry (mediaregistry.ts), qemu-img jobs and
 * imports (media.ts).
 */
import path from 'node:path';
import type { OpResult } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { DiskBus, DiskConfig, DiskFormat } from '../domain/config';
import { DISK_BUSES, LIMITS, parseVmConfig } from '../domain/config';
import { findOsType } from '../domain/ostypes';
import { resolveDiskPath } from '../qemu/argv';
import { qemuCommands } from '../qemu/commands';
import { prepareIsoForQemu } from '../qemu/runas';
import type { QemuProcess } from '../qemu/supervisor';
import type { VmRepository } from '../store/db';
import type { EventBus } from './events';
import type { JobService } from './jobs';
import type { MediaService } from './media';
import type { VmService } from './vms';

export interface VmDiskDeps {
  readonly vms: VmService;
  readonly vmRepo: VmRepository;
  readonly media: MediaService;
  readonly jobs: JobService;
  readonly bus: EventBus;
}

/** Swaps the medium in a CD drive of a running VM (`iso` null: empties it). */
export function changeCd(qemu: QemuProcess, driveId: string, iso: string | null, dataDir: string): Promise<void> {
  // QEMU opens the ISO by path, as the unprivileged user when Nestbox runs as root.
  if (iso) prepareIsoForQemu(dataDir, iso);
  return qemuCommands(qemu.qmp).changeMedium(driveId, iso);
}

/** Two VMs writing one image corrupt it: refuse an image another VM already uses writable. */
export function requireNotAttachedWritable(vmRepo: VmRepository, abs: string, exceptUuid: string | null): void {
  for (const row of vmRepo.list()) {
    if (row.uuid === exceptUuid) continue;
    const d = row.config.disks.find((x) => resolveDiskPath(row.dir, x.file) === abs);
    if (d) throw new NestboxError('BUSY', `'${path.basename(abs)}' is already a disk of '${row.name}' (${d.id}); two VMs must not write one image`);
  }
}

export class VmDisks {
  constructor(private readonly d: VmDiskDeps) {}

  async attachDisk(ref: string, file: string, bus: DiskBus | undefined, readOnly: boolean): Promise<OpResult> {
    const row = this.d.vms.resolve(ref);
    this.d.vms.require(row, 'modifyHardware', 'attach a disk to');
    const abs = this.d.media.abs(file);
    if (bus !== undefined && !DISK_BUSES.includes(bus)) throw new NestboxError('INVALID_ARGUMENT', `bus must be one of ${DISK_BUSES.join(', ')}`);
    if (row.config.disks.some((d) => resolveDiskPath(row.dir, d.file) === abs)) {
      throw new NestboxError('ALREADY_EXISTS', `'${path.basename(abs)}' is already attached to '${row.name}'`);
    }
    if (row.config.disks.length >= LIMITS.maxDisks) throw new NestboxError('INVALID_CONFIG', `'${row.name}' already has ${LIMITS.maxDisks} disks`);
    if (!readOnly) requireNotAttachedWritable(this.d.vmRepo, abs, row.uuid);
    this.d.jobs.assertIdle(null, [abs]);
    const id = await this.d.media.identify(abs, true);
    if (id.format === 'iso') throw new NestboxError('INVALID_ARGUMENT', `'${path.basename(abs)}' is an ISO image; insert it into the CD/DVD drive instead`);
    const taken = new Set(row.config.disks.map((d) => d.id));
    let n = 0;
    while (taken.has(`disk${n}`)) n++;
    const disk: DiskConfig = {
      id: `disk${n}`,
      file: abs,
      format: id.format as DiskFormat,
      bus: bus ?? row.config.disks[0]?.bus ?? findOsType(row.config.osType)?.preset.diskBus ?? 'virtio',
      readOnly,
      owned: false,
    };
    const known = this.d.media.known(abs);
    this.d.media.record(id, known?.owned ?? false);
    this.d.media.addDisk(row.uuid, disk);
    this.d.vms.log(row.uuid, 'info', 'disk-attached', `attached '${abs}' (${id.format}) to '${row.name}' as ${disk.id}`);
    return this.d.vms.result(row.uuid);
  }

  detachDisk(ref: string, diskId: string): OpResult {
    const row = this.d.vms.resolve(ref);
    this.d.vms.require(row, 'modifyHardware', 'detach a disk from');
    const disk = row.config.disks.find((d) => d.id === diskId);
    if (!disk) throw new NestboxError('NOT_FOUND', `'${row.name}' has no disk '${diskId}'`);
    const next = parseVmConfig({ ...row.config, disks: row.config.disks.filter((d) => d.id !== diskId) });
    this.d.vmRepo.updateConfig(next);
    this.d.vms.log(row.uuid, 'info', 'disk-detached', `detached ${diskId} (${resolveDiskPath(row.dir, disk.file)}) from '${row.name}'; the file is kept`);
    this.d.bus.emit('vm.changed', { uuid: row.uuid });
    return this.d.vms.result(row.uuid);
  }
}
