/**
 * Deciding what an image is, safely: our header inspector decides the format and refuses
 * what is dangerous; `qemu-img info -f FMT` (under limits) must then agree on the format and
 * on the image referring to no other file; and the file must be the same file, unchanged,
 * when both are done.
 */
import path from 'node:path';
import type { DiskFormat } from '../domain/config';
import { NestboxError } from '../api/errors';
import { inspectImage, MAX_VIRTUAL_SIZE, sameStamp, stampFile, type FileStamp } from './inspect';
import type { QemuImg } from './qemuimg';
import { requirePlausibleRaw } from './sniff';

export interface IdentifiedImage {
  readonly path: string;
  readonly format: DiskFormat | 'iso';
  readonly virtualSize: number;
  readonly actualSize: number;
  readonly snapshots: number;
  readonly stamp: FileStamp;
}

export interface IdentifyOptions {
  /** Nestbox created this file as raw: a first sector that looks like a header does not count. */
  readonly knownRaw?: boolean;
  /**
   * The image is wanted as a disk: a hybrid ISO (ISO 9660 with an MBR, as written with dd to a
   * USB stick) that is not named .iso is then a raw disk image.
   */
  readonly asDisk?: boolean;
}

export async function identifyImage(file: string, img: QemuImg | null, opts: IdentifyOptions = {}): Promise<IdentifiedImage> {
  const abs = path.resolve(file);
  const facts = inspectImage(abs);
  const hybridDisk = opts.asDisk === true && facts.format === 'iso' && facts.hybrid === true && !/\.iso$/i.test(abs);
  const format = (opts.knownRaw && facts.format !== 'iso') || hybridDisk ? 'raw' : facts.format;
  if (format !== 'raw' && facts.problems.length) {
    throw new NestboxError('IMAGE_REJECTED', `refusing '${abs}': ${facts.problems.join('; ')}`);
  }
  if (format === 'iso') {
    return { path: abs, format, virtualSize: facts.size, actualSize: facts.size, snapshots: 0, stamp: facts.stamp };
  }
  // No header named it: it must at least be able to be a raw disk (not a note, an XML file, an
  // archive), unless Nestbox made it raw itself.
  if (format === 'raw' && !opts.knownRaw && !hybridDisk) requirePlausibleRaw(abs);
  if (!img) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-img was not found; install QEMU (Debian: qemu-utils)');
  const info = await img.info(abs, format);
  if (info.format !== format) {
    throw new NestboxError('IMAGE_REJECTED', `refusing '${abs}': its header says ${format} but qemu-img reads ${info.format}`);
  }
  if (info.backingFile) throw new NestboxError('IMAGE_REJECTED', `refusing '${abs}': it names a backing file (${info.backingFile})`);
  if (info.dataFile) throw new NestboxError('IMAGE_REJECTED', `refusing '${abs}': it uses an external data file (${info.dataFile})`);
  if (!Number.isFinite(info.virtualSize) || info.virtualSize <= 0) {
    throw new NestboxError('IMAGE_REJECTED', `refusing '${abs}': qemu-img reads no usable size from it`);
  }
  if (info.virtualSize > MAX_VIRTUAL_SIZE) {
    throw new NestboxError('IMAGE_REJECTED', `refusing '${abs}': it declares ${info.virtualSize} bytes, more than the ${MAX_VIRTUAL_SIZE / 1024 ** 4} TiB Nestbox accepts`);
  }
  if (facts.virtualSize !== null && format !== 'raw' && format !== 'vpc' && info.virtualSize !== facts.virtualSize) {
    throw new NestboxError('IMAGE_REJECTED', `refusing '${abs}': its header declares ${facts.virtualSize} bytes but qemu-img reads ${info.virtualSize}`);
  }
  if (!sameStamp(facts.stamp, stampFile(abs))) throw new NestboxError('IMAGE_REJECTED', `refusing '${abs}': it changed while it was being read`);
  return { path: abs, format, virtualSize: info.virtualSize, actualSize: info.actualSize, snapshots: info.snapshots, stamp: facts.stamp };
}
