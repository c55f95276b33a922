/**
 * Media work on a VM's own disks: the simple listing of every image and ISO the VMs and the
 * media folder hold (`media.list`), and converting a VM's disk that cannot hold snapshots
 * into qcow2 (`vms.convertDisk`), run as a job of the VM that holds its source and target.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MediaItem, OpResult } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { VmConfig } from '../domain/config';
import { parseVmConfig } from '../domain/config';
import { resolveDiskPath } from '../qemu/argv';
import { inspectImage } from '../storage/inspect';
import type { QemuImg } from '../storage/qemuimg';
import type { VmRepository } from '../store/db';
import type { DataLayout } from '../store/paths';
import type { EventBus } from './events';
import type { JobService } from './jobs';
import { configError } from './vmconfigs';
import type { VmService } from './vms';

export interface DiskConversionDeps {
  readonly vms: VmService;
  readonly vmRepo: VmRepository;
  readonly img: QemuImg | null;
  readonly jobs: JobService;
  readonly bus: EventBus;
}

/** Every image and ISO in the media folder or used by a VM, with the VMs using it. */
export function listMedia(layout: DataLayout, vmRepo: VmRepository): MediaItem[] {
  const items = new Map<string, { kind: 'iso' | 'disk'; usedBy: string[] }>();
  const add = (file: string, kind: 'iso' | 'disk', vm?: string) => {
    const it = items.get(file) ?? { kind, usedBy: [] };
    if (vm && !it.usedBy.includes(vm)) it.usedBy.push(vm);
    items.set(file, it);
  };
  const mediaDir = layout.mediaDir;
  if (fs.existsSync(mediaDir)) {
    for (const f of fs.readdirSync(mediaDir)) {
      if (f.endsWith('.partial')) continue;
      const full = path.join(mediaDir, f);
      if (!fs.statSync(full).isFile()) continue;
      add(full, /\.iso$/i.test(f) ? 'iso' : 'disk');
    }
  }
  for (const r of vmRepo.list()) {
    for (const c of r.config.cdroms) if (c.iso) add(c.iso, 'iso', r.name);
    for (const x of r.config.disks) add(resolveDiskPath(r.dir, x.file), 'disk', r.name);
  }
  return [...items.entries()]
    .map(([file, it]) => {
      let size = 0;
      try {
        size = fs.statSync(file).size;
      } catch {
        // missing media are listed with size 0; the VM's start will say what is missing
      }
      return { path: file, name: path.basename(file), kind: it.kind, size, usedBy: it.usedBy };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Converts a disk that cannot hold snapshots (raw, VDI, VMDK, ...) into a qcow2 in the VM's
 * folder. The config points at the new image only once it is converted, checked and the
 * same size; the original is kept where it is for the user to delete.
 */
export async function convertVmDisk(d: DiskConversionDeps, ref: string, diskId?: string): Promise<OpResult> {
  const row = d.vms.resolve(ref);
  d.vms.require(row, 'modifyHardware', 'convert a disk of');
  const img = d.img;
  if (!img) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-img was not found; install QEMU');
  const disk = diskId ? row.config.disks.find((x) => x.id === diskId) : row.config.disks.find((x) => !x.readOnly && x.format !== 'qcow2');
  if (!disk) {
    throw new NestboxError(diskId ? 'NOT_FOUND' : 'INVALID_ARGUMENT', diskId ? `'${row.name}' has no disk '${diskId}'` : `every disk of '${row.name}' is qcow2 already`);
  }
  if (disk.format === 'qcow2') throw new NestboxError('INVALID_ARGUMENT', `disk '${disk.id}' of '${row.name}' is qcow2 already`);
  const src = resolveDiskPath(row.dir, disk.file);
  const facts = inspectImage(src);
  if (facts.format !== disk.format) {
    throw new NestboxError('IMAGE_REJECTED', `disk '${disk.id}' (${src}) was attached as ${disk.format} but now looks like ${facts.format}; not converting it`);
  }
  const stem = path.basename(src).replace(/\.[^.]*$/, '') || disk.id;
  let dst = path.join(row.dir, `${stem}.qcow2`);
  for (let i = 2; fs.existsSync(dst); i++) dst = path.join(row.dir, `${stem}-${i}.qcow2`);
  const job = d.jobs.begin(
    { uuid: row.uuid, name: row.name },
    { kind: 'convertDisk', title: `Converting disk '${disk.id}' of '${row.name}' to qcow2`, label: `the conversion of disk '${disk.id}'`, holds: [src, dst] },
  );
  const signal = job.signal;
  let swapped = false;
  try {
    const before = await img.info(src, disk.format);
    let last = 0;
    await img.exportQcow2(src, disk.format, dst, {
      signal,
      onProgress: (pct) => {
        const p = Math.min(99, Math.floor(pct));
        if (p > last) {
          last = p;
          job.progress(p);
        }
      },
    });
    const check = await img.check(dst);
    const after = await img.info(dst, 'qcow2');
    if (check.corruptions > 0 || after.virtualSize !== before.virtualSize) {
      fs.rmSync(dst, { force: true });
      throw new NestboxError('IO_ERROR', `the converted copy of disk '${disk.id}' did not check out (${check.corruptions} corruptions, ${after.virtualSize} of ${before.virtualSize} bytes); the original is unchanged`);
    }
    const cur = d.vms.resolve(row.uuid);
    let next: VmConfig;
    try {
      next = parseVmConfig({
        ...cur.config,
        disks: cur.config.disks.map((x) => (x.id === disk.id ? { ...x, file: path.basename(dst), format: 'qcow2', owned: true } : x)),
      });
    } catch (err) {
      fs.rmSync(dst, { force: true });
      configError(err);
    }
    d.vmRepo.updateConfig(next);
    swapped = true;
    const note = `the original ${src} is kept; delete it when you no longer need it`;
    d.vms.log(row.uuid, 'info', 'disk-converted', `converted disk '${disk.id}' of '${row.name}' from ${disk.format} to qcow2 (${dst}); ${note}`);
    d.bus.emit('vm.changed', { uuid: row.uuid });
    return d.vms.result(row.uuid, [note]);
  } catch (err) {
    job.fail(err);
    if (!swapped) fs.rmSync(dst, { force: true });
    throw NestboxError.from(err, 'IO_ERROR');
  } finally {
    job.end();
  }
}
