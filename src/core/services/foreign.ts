/**
 * Machine files made by other managers become VMs here: a libvirt domain XML, a VirtualBox
 * `.vbox` and a UTM bundle (a `.utm` folder). Everything is decided before anything is made
 * (the plan, which is also `--dry-run`): the file is parsed with no DTDs (a UTM plist's one
 * Apple DOCTYPE aside, see storage/plist), each disk it names is checked without reading a
 * byte of it (regular file; for a .vbox inside its folder, for a UTM bundle inside its Data
 * folder), and what cannot come along is named. The import is then one journaled job: a killed core removes the half-made VM.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ImportPlan, ImportSpec, JobInfo, VmInfo } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { DiskConfig, DiskFormat } from '../domain/config';
import { findOsType } from '../domain/ostypes';
import { looksLikeDomainXml, readDomainFile } from '../libvirt/domimport';
import type { HostCapabilities } from '../qemu/host';
import { identifyImage } from '../storage/identify';
import type { ForeignMachine } from '../storage/machine';
import type { QemuImg } from '../storage/qemuimg';
import { readUtmConfig } from '../storage/utm';
import { looksLikeVbox, readVboxFile, type VboxChain } from '../storage/vbox';
import { checkVdiChain, overlayVdiLayers, type VdiHeader, type VdiLayer } from '../storage/vdichain';
import { XML_MAX_BYTES } from '../storage/xml';
import type { VmRepository } from '../store/db';
import { vmFiles } from '../store/paths';
import type { JobService } from './jobs';
import type { MediaService } from './media';
import { requireNotAttachedWritable } from './vmdisks';
import type { VmService } from './vms';

export interface ForeignImportDeps {
  readonly vms: VmService;
  readonly vmRepo: VmRepository;
  readonly media: MediaService;
  readonly img: QemuImg | null;
  readonly jobs: JobService;
  readonly host: HostCapabilities | null;
  /** The OVA import's mapping of adapters, CD drives, machine type and boot order; returns what was not carried over. */
  readonly applyHardware: (uuid: string, hw: ForeignMachine['hardware']) => string[];
}

/** A UTM bundle is a folder with a config.plist (a regular file, not a link) in it. */
function isUtmBundle(dir: string): boolean {
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (!st?.isDirectory()) return false;
  return fs.lstatSync(path.join(dir, 'config.plist'), { throwIfNoEntry: false }) !== undefined;
}

/** Reads the start of a regular file (never a FIFO or device) to tell a machine file by its content; a folder with a config.plist is a UTM bundle. */
export function foreignKind(file: string): 'libvirt' | 'vbox' | 'utm' | null {
  if (isUtmBundle(file)) return 'utm';
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch {
    return null;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return null;
    const head = Buffer.alloc(4096);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    const text = head.subarray(0, n).toString('utf8');
    if (looksLikeVbox(text)) return 'vbox';
    if (looksLikeDomainXml(text)) return 'libvirt';
    return /\.vbox$/i.test(file) ? 'vbox' : null;
  } finally {
    fs.closeSync(fd);
  }
}

/** A disk the import will read: where it really is, and what it was checked to be. */
interface CheckedDisk {
  readonly label: string;
  readonly real: string;
  readonly stated: string | null;
  readonly bus: DiskConfig['bus'];
  /** A VirtualBox snapshot chain ending in `real`: every image, the base first, checked (vdichain.ts). */
  readonly chain?: { readonly layers: readonly VdiLayer[]; readonly headers: readonly VdiHeader[] };
}

function kindOf(st: fs.Stats): string {
  return st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isBlockDevice() || st.isCharacterDevice() ? 'a device node' : st.isSocket() ? 'a socket' : 'not a regular file';
}

/** libvirt names disks by absolute path; a symlink is followed only to a regular file. */
function checkDomainDisk(p: string, label: string): string {
  if (!path.isAbsolute(p)) throw new NestboxError('IMAGE_REJECTED', `the disk ${label} names '${p}', which is not an absolute path`);
  const lst = fs.lstatSync(p, { throwIfNoEntry: false });
  if (!lst) throw new NestboxError('NOT_FOUND', `the disk ${label} is '${p}', which does not exist`);
  const real = fs.realpathSync(p);
  const st = fs.statSync(real);
  if (!st.isFile()) throw new NestboxError('IMAGE_REJECTED', `the disk ${label} is '${p}', which is ${lst.isSymbolicLink() ? `a symlink to ${kindOf(st)}` : kindOf(st)}; only regular files are imported`);
  return real;
}

/** Where a machine file's disks must lie, in the words of its messages. */
const VBOX_FOLDER = "the .vbox file's folder";
const UTM_DATA = "the UTM bundle's Data folder";
const UPLOADED = 'the files uploaded with the domain XML (add it to the upload)';

/**
 * A .vbox's media must lie inside its folder, a UTM bundle's inside its Data folder: no
 * absolute path elsewhere, no `..`, no symlink out (the folder itself included).
 */
/**
 * The file at `rel` inside `folder`, also when its name is in the other Unicode form: macOS
 * writes names decomposed (NFD) into a .vbox or a plist, while a web upload stores them composed
 * (NFC) and a copy made on Linux keeps whichever it was given. The form written in the file
 * comes first; null when no form exists.
 */
function lstatAnyForm(folder: string, rel: string): string | null {
  for (const form of new Set([rel, rel.normalize('NFC'), rel.normalize('NFD')])) {
    const at = path.join(folder, form);
    if (fs.lstatSync(at, { throwIfNoEntry: false })) return at;
  }
  return null;
}

function checkInsideDisk(folder: string, p: string, label: string, where: string = VBOX_FOLDER): string {
  const lexical = path.resolve(folder, p.replace(/\\/g, '/'));
  const rel = path.relative(folder, lexical);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new NestboxError('IMAGE_REJECTED', `the disk on ${label} is '${p}', outside ${where}; Nestbox imports only disks inside that folder (move the disk there, or import it alone with 'nestbox import DISK')`);
  }
  const found = lstatAnyForm(folder, rel);
  if (!found) throw new NestboxError('NOT_FOUND', `the disk on ${label} is '${p}', which is not in ${where}`);
  const real = fs.realpathSync(found);
  const realRel = path.relative(fs.realpathSync(folder), real);
  if (realRel.startsWith('..') || path.isAbsolute(realRel)) throw new NestboxError('IMAGE_REJECTED', `the disk on ${label} is '${p}', a symlink to a file outside ${where}; it is not read`);
  const st = fs.lstatSync(real);
  if (!st.isFile()) throw new NestboxError('IMAGE_REJECTED', `the disk on ${label} is '${p}', which is ${kindOf(st)}; only regular files are imported`);
  return real;
}

/**
 * A VirtualBox snapshot chain under a .vbox's disk: every image inside the .vbox's folder, all
 * VDI (the format VirtualBox gives snapshots of VDI disks), linked as the file says (vdichain.ts).
 */
function checkChain(folder: string, label: string, chain: VboxChain): { layers: VdiLayer[]; headers: VdiHeader[] } {
  const other = chain.layers.find((l) => l.format !== 'vdi');
  if (other) {
    throw new NestboxError(
      'IMAGE_REJECTED',
      `the disk on ${label} is a VirtualBox snapshot chain with '${other.location}' in the ${other.format.toUpperCase()} format; Nestbox flattens chains of VDI images only, so nothing was imported. In VirtualBox, delete the snapshots (or clone the machine's current state) and import that`,
    );
  }
  const layers = chain.layers.map((l, i) => ({ path: checkInsideDisk(folder, l.location, i === chain.layers.length - 1 ? label : `${label} (snapshot chain image '${l.location}')`), label: l.location, uuid: l.uuid }));
  return { layers, headers: checkVdiChain(layers) };
}

/** Reads a whole small regular file (never a FIFO or device, never more than `max` bytes). */
function readDescriptor(file: string): string {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw new NestboxError((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'NOT_FOUND' : 'IMAGE_REJECTED', `'${file}' cannot be read: ${(err as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new NestboxError('IMAGE_REJECTED', `'${file}' is not a regular file`);
    if (st.size > XML_MAX_BYTES) throw new NestboxError('IMAGE_REJECTED', `'${file}' is larger than ${XML_MAX_BYTES} bytes; it is not a machine file`);
    const b = Buffer.alloc(st.size);
    fs.readSync(fd, b, 0, st.size, 0);
    return b.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A snapshot chain into one qcow2: the base to a raw copy (qemu-img), the differencing layers
 * written over it, topmost winning (vdichain.ts), the raw copy to qcow2 (qemu-img), the raw
 * copy removed whatever happens.
 */
async function flattenChain(
  img: QemuImg,
  chain: NonNullable<CheckedDisk['chain']>,
  target: string,
  signal: AbortSignal,
  share: (from: number, to: number) => (p: number) => void,
): Promise<void> {
  const raw = `${target}.flatten.raw`;
  try {
    const base = chain.layers[0]!;
    const id = await identifyImage(base.path, img, { asDisk: true });
    if (id.format !== 'vdi') throw new NestboxError('IMAGE_REJECTED', `the base image '${base.label}' of a snapshot chain is ${id.format}, not VDI; nothing was imported`);
    await img.convert(base.path, 'vdi', raw, 'raw', { ctl: { signal, onProgress: share(0, 0.4) } });
    await overlayVdiLayers(raw, chain.layers.slice(1), chain.headers.slice(1), { signal, onProgress: share(0.4, 0.6) });
    await img.convert(raw, 'raw', target, 'qcow2', { ctl: { signal, onProgress: share(0.6, 1) } });
  } finally {
    fs.rmSync(raw, { force: true });
  }
}

const SOURCE_WORDS: Readonly<Record<ForeignMachine['source'], string>> = { vbox: 'VirtualBox machine', libvirt: 'libvirt domain', utm: 'UTM machine' };

const bridgeExists = (name: string): boolean => fs.existsSync(`/sys/class/net/${name}/bridge`);

export class ForeignImport {
  constructor(private readonly d: ForeignImportDeps) {}

  /** Parses and checks everything; throws what would make the import fail. */
  private prepare(spec: ImportSpec): { src: string; m: ForeignMachine; disks: CheckedDisk[]; nvram: string | null; notes: string[] } {
    const src = path.resolve(spec.file);
    const kind = foreignKind(src);
    if (!kind) throw new NestboxError('IMAGE_REJECTED', `'${path.basename(src)}' is neither a libvirt domain XML, a VirtualBox machine file nor a UTM bundle`);
    if (kind === 'utm') return this.prepareUtm(src);
    const text = readDescriptor(src);
    const label = path.basename(src);
    const notes: string[] = [];
    let m: ForeignMachine;
    let disks: CheckedDisk[];
    if (kind === 'vbox') {
      const v = readVboxFile(text, label);
      m = v;
      const folder = path.dirname(src);
      disks = v.disks.map((x) => {
        const real = checkInsideDisk(folder, x.path, x.label);
        const chain = v.chains.find((c) => c.disk === x.path);
        return { label: x.label, real, stated: x.format, bus: x.bus, ...(chain ? { chain: checkChain(folder, x.label, chain) } : {}) };
      });
    } else {
      m = readDomainFile(text, label, bridgeExists);
      const folder = spec.diskFolder === undefined ? null : path.resolve(spec.diskFolder);
      // Copied away from their host (uploaded beside the XML): each disk by its file name in that folder.
      const at = (p: string) => (folder === null ? p : path.join(folder, path.posix.basename(p)));
      disks = m.disks.map((x) => ({
        label: x.label,
        real: folder === null ? checkDomainDisk(x.path, x.label) : checkInsideDisk(folder, path.posix.basename(x.path), x.label, UPLOADED),
        stated: x.format,
        bus: x.bus,
      }));
      if (m.nvram) m = { ...m, nvram: at(m.nvram) };
    }
    let nvram: string | null = null;
    if (m.nvram) {
      const why = this.nvramProblem(m.nvram);
      if (why) notes.push(`the UEFI variables in '${m.nvram}' (${why}; the VM starts with fresh variables)`);
      else nvram = fs.realpathSync(m.nvram);
    }
    return { src, m, disks, nvram, notes };
  }

  /**
   * A UTM bundle: its config.plist and its Data folder must be the bundle's own (no links out),
   * each disk a regular file inside Data, the UEFI variables (Data/efi_vars.fd) too.
   */
  private prepareUtm(src: string): { src: string; m: ForeignMachine; disks: CheckedDisk[]; nvram: string | null; notes: string[] } {
    const label = path.basename(src);
    const plist = path.join(src, 'config.plist');
    const pst = fs.lstatSync(plist);
    if (!pst.isFile()) throw new NestboxError('IMAGE_REJECTED', `the config.plist of '${label}' is ${pst.isSymbolicLink() ? 'a symlink' : kindOf(pst)}; only a regular file is read`);
    const m = readUtmConfig(readDescriptor(plist), `${label}/config.plist`, bridgeExists);
    const data = path.join(src, 'Data');
    const dst = fs.lstatSync(data, { throwIfNoEntry: false });
    const notes: string[] = [];
    if (dst && !dst.isDirectory()) throw new NestboxError('IMAGE_REJECTED', `the Data folder of '${label}' is ${dst.isSymbolicLink() ? 'a symlink' : kindOf(dst)}; Nestbox reads disks only from the bundle's own Data folder`);
    if (!dst && m.disks.length) throw new NestboxError('NOT_FOUND', `'${label}' has no Data folder, where its disks belong`);
    const disks = m.disks.map((x) => ({ label: x.label, real: checkInsideDisk(data, x.path, x.label, UTM_DATA), stated: x.format, bus: x.bus }));
    let nvram: string | null = null;
    if (m.nvram && dst) {
      const lexical = path.join(data, m.nvram);
      const lst = fs.lstatSync(lexical, { throwIfNoEntry: false });
      // No variables yet (the machine never started in UTM): fresh ones here too, nothing lost.
      if (lst) {
        const why = lst.isFile() ? this.nvramProblem(lexical) : `it is ${lst.isSymbolicLink() ? 'a symlink' : kindOf(lst)}`;
        if (why) notes.push(`the UEFI variables in '${m.nvram}' (${why}; the VM starts with fresh variables)`);
        else nvram = lexical;
      }
    }
    return { src, m, disks, nvram, notes };
  }

  private nvramProblem(p: string): string | null {
    if (!path.isAbsolute(p)) return 'not an absolute path';
    const lst = fs.lstatSync(p, { throwIfNoEntry: false });
    if (!lst) return 'the file does not exist';
    const st = fs.statSync(p);
    if (!st.isFile()) return `it is ${kindOf(st)}`;
    const tpl = this.d.host?.ovmf?.vars;
    if (!tpl) return "this host's UEFI firmware (OVMF) is not installed";
    const want = fs.statSync(tpl).size;
    if (st.size !== want) return `it is ${st.size} bytes, and this host's firmware keeps ${want}`;
    return null;
  }

  plan(spec: ImportSpec): ImportPlan {
    const { src, m, disks, notes } = this.prepare(spec);
    return this.planOf(spec, this.d.media.importName(spec, m.name || src), m, disks, notes);
  }

  private planOf(spec: ImportSpec, name: string, m: ForeignMachine, disks: readonly CheckedDisk[], notes: readonly string[]): ImportPlan {
    const hw = m.hardware;
    const host = this.d.vms.hostLimits();
    const osType = spec.osType ?? m.osType ?? 'other';
    const preset = findOsType(osType)?.preset;
    const taken = new Set(this.d.vmRepo.list().flatMap((r) => r.config.nics.map((n) => n.mac)));
    const macNotes: string[] = [];
    const nics = (hw.nics ?? []).map((n, i) => {
      const clash = n.mac !== null && taken.has(n.mac);
      if (clash) macNotes.push(`adapter ${i + 1}'s MAC ${n.mac} (another VM has it; a new one is made)`);
      return { model: n.model, mac: n.mac && !clash ? n.mac : '(new)', mode: n.mode, ...(n.bridge ? { bridge: n.bridge } : {}), forwards: n.forwards.length };
    });
    const sata = disks.some((x) => (spec.diskBus ?? x.bus) === 'sata') || hw.attachments.some((a) => a.bus === 'sata');
    return {
      source: m.source,
      name,
      osType,
      firmware: spec.firmware ?? hw.firmware ?? preset?.firmware ?? 'bios',
      machine: sata ? 'q35' : (hw.machine ?? 'pc'),
      memoryMiB: spec.memoryMiB ?? Math.min(Math.max(hw.memoryMiB ?? 1024, 16), host.memoryMiB),
      cpus: spec.cpus ?? Math.min(Math.max(hw.cpus ?? 1, 1), host.cpus),
      disks: disks.map((x) => ({ source: x.real, bus: spec.diskBus ?? x.bus, format: x.stated ?? '?', inPlace: spec.mode === 'inPlace', ...(x.chain ? { flattened: x.chain.layers.length } : {}) })),
      cdroms: hw.attachments.filter((a) => a.kind === 'cdrom').length,
      nics,
      bootOrder: hw.bootOrder ?? ['disk', 'cdrom'],
      notCarried: [...hw.dropped, ...notes, ...macNotes],
    };
  }

  import(spec: ImportSpec): JobInfo {
    const { src, m, disks, nvram, notes } = this.prepare(spec);
    const img = this.d.img;
    if (!img) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-img was not found; install QEMU (Debian: qemu-utils)');
    const name = this.d.media.importName(spec, m.name || src);
    const plan = this.planOf(spec, name, m, disks, notes);
    const inPlace = spec.mode === 'inPlace';
    if (inPlace) for (const x of disks) requireNotAttachedWritable(this.d.vmRepo, x.real, null);
    const chained = disks.find((x) => x.chain);
    if (inPlace && chained) throw new NestboxError('INVALID_ARGUMENT', `the disk on ${chained.label} is a VirtualBox snapshot chain, which is flattened into a new image; import it without --in-place`);
    return this.d.jobs.start('import', `Importing ${path.basename(src)} as '${name}'${inPlace ? ' (disks in place)' : ''}`, name, async (ctx): Promise<VmInfo & { notCarried: readonly string[] }> => {
      const created = await this.d.vms.create({
        name,
        noDisk: true,
        nic: 'nat',
        osType: plan.osType,
        memoryMiB: plan.memoryMiB,
        cpus: plan.cpus,
        firmware: plan.firmware,
        ...(m.description ? { description: m.description.slice(0, 4000) } : {}),
      });
      const uuid = created.vm.uuid;
      const dir = created.vm.dir;
      ctx.made({ vmUuid: uuid });
      try {
        const configs: DiskConfig[] = [];
        for (const [i, x] of disks.entries()) {
          const bus = spec.diskBus ?? x.bus;
          const target = `${name.replace(/[/\\]/g, '_')}-disk${i}.qcow2`;
          const share = (from: number, to: number) => (p: number) => ctx.progress(((i + (from + (p / 100) * (to - from))) / Math.max(disks.length, 1)) * 95);
          if (x.chain) {
            // A snapshot chain: its layers were checked (vdichain.ts), its base is identified as it is flattened.
            await flattenChain(img, x.chain, path.join(dir, target), ctx.signal, share);
            configs.push({ id: `disk${i}`, file: target, format: 'qcow2', bus, readOnly: false, owned: true });
            continue;
          }
          // Our inspector and qemu-img (under limits) decide the format; the source's word must agree.
          const id = await identifyImage(x.real, img, { asDisk: true });
          if (id.format === 'iso') throw new NestboxError('IMAGE_REJECTED', `the disk ${x.label} ('${x.real}') is an ISO image, not a disk`);
          if (x.stated && x.stated !== id.format) throw new NestboxError('IMAGE_REJECTED', `the disk ${x.label} ('${x.real}') is ${id.format}, but '${path.basename(src)}' says ${x.stated}`);
          if (inPlace) {
            configs.push({ id: `disk${i}`, file: x.real, format: id.format as DiskFormat, bus, readOnly: false, owned: false });
            continue;
          }
          await img.convert(x.real, id.format as DiskFormat, path.join(dir, target), 'qcow2', { ctl: { signal: ctx.signal, onProgress: share(0, 1) } });
          configs.push({ id: `disk${i}`, file: target, format: 'qcow2', bus, readOnly: false, owned: true });
        }
        if (nvram) {
          const vars = vmFiles(dir).efiVars;
          fs.rmSync(vars, { force: true });
          await img.convert(nvram, 'raw', vars, 'qcow2', { ctl: { signal: ctx.signal } });
        }
        for (const dk of configs) this.d.media.addDisk(uuid, dk);
        const applied = this.d.applyHardware(uuid, m.hardware);
        const notCarried = [...notes, ...applied];
        for (const n of notes) this.d.vms.log(uuid, 'warning', 'imported', `not carried over: ${n}`);
        this.d.vms.log(uuid, 'info', 'imported', `imported the ${SOURCE_WORDS[m.source]} '${path.basename(src)}' as '${name}' (${configs.length} disk${configs.length === 1 ? '' : 's'}${nvram ? ', UEFI variables kept' : ''})`);
        ctx.progress(100);
        return { ...this.d.vms.info(uuid), notCarried };
      } catch (err) {
        await this.d.vms.delete(uuid, false).catch(() => undefined);
        throw err;
      }
    }, { vmName: name, holds: [src, ...disks.flatMap((x) => (x.chain ? x.chain.layers.map((l) => l.path) : [x.real])), ...(nvram ? [nvram] : [])] });
  }
}
