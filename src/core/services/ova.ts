/**
 * OVA import and export. Import streams the tar: the OVF comes first and is parsed with no
 * DTDs; after it, only regular files the OVF names (plus its manifest and certificate) are
 * accepted, each written under a name Nestbox chooses inside the new VM's folder, checked
 * against the manifest, inspected like any image and converted to qcow2. Anything else ends
 * the import and removes the half-made VM. Export writes what VirtualBox itself writes: the
 * OVF 1.0 descriptor (with its `vbox:Machine` section), the streamOptimized VMDK disks, then a
 * SHA256 manifest in VirtualBox's spelling, into a partial file renamed into place at the end.
 *
 * Just over 500 lines because import and export are one format's two directions: they share
 * the tar entries, the manifest's digests and the rule that a partial result is removed, and a
 * change to what Nestbox writes must be read beside what it accepts. The descriptor itself is
 * read and written in storage/ovf.ts, the other machine formats in foreign.ts.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ImportPlan, ImportSpec, JobInfo, VmInfo } from '../api/contract';
import type { HostCapabilities } from '../qemu/host';
import { NestboxError } from '../api/errors';
import type { CdromConfig, DiskConfig, NicConfig, VmConfig } from '../domain/config';
import { ConfigError, LIMITS, parseVmConfig } from '../domain/config';
import type { ForeignHardware } from '../storage/machine';
import { randomMac } from './vmconfigs';
import { findOsType } from '../domain/ostypes';
import { resolveDiskPath } from '../qemu/argv';
import { identifyImage } from '../storage/identify';
import { generateManifest, generateOvf, parseManifest, parseOvf, type OvfDescriptor } from '../storage/ovf';
import type { QemuImg } from '../storage/qemuimg';
import { readTarEntries, TAR_END, tarHeader, tarPadding, type TarEntry } from '../storage/tar';
import { XML_MAX_BYTES } from '../storage/xml';
import type { VmRepository } from '../store/db';
import type { DataLayout } from '../store/paths';
import { foreignKind, ForeignImport } from './foreign';
import { planFromDisk, planFromOvf } from './importplan';
import type { JobContext, JobService } from './jobs';
import type { MediaService } from './media';
import type { VmService } from './vms';

export interface OvaServiceDeps {
  readonly layout: DataLayout;
  readonly vms: VmService;
  readonly vmRepo: VmRepository;
  readonly media: MediaService;
  readonly img: QemuImg | null;
  readonly jobs: JobService;
  /** The host's firmware (a domain XML's UEFI variables must fit it). */
  readonly host?: HostCapabilities;
}

const CHUNK = 1024 * 1024;

function readText(fd: number, e: TarEntry, max: number, what: string): string {
  if (e.size > max) throw new NestboxError('IMAGE_REJECTED', `the ${what} '${e.name}' is larger than ${max} bytes`);
  const b = Buffer.alloc(e.size);
  fs.readSync(fd, b, 0, e.size, e.dataOffset);
  return b.toString('utf8');
}

/**
 * What an OVF 1.0 appliance has no place for. VirtualBox keeps NVRAM and TPM state in its
 * own .vbox extension, which other OVF readers ignore, so Nestbox names what stays behind
 * instead of writing state nobody would read.
 */
export function exportOmissions(config: VmConfig): string[] {
  const out: string[] = [];
  if (config.tpm) out.push('the TPM 2.0 and its state (keys, BitLocker/Windows Hello secrets): the VM gets a new, empty TPM there, so re-enable it afterwards');
  if (config.firmware === 'uefi') out.push(`the UEFI variables (boot entries${config.secureBoot ? ', Secure Boot on' : ''}): the receiving hypervisor begins with the defaults of its firmware${config.secureBoot ? '; turn Secure Boot on there' : ''}`);
  return out;
}

export class OvaService {
  private readonly foreign: ForeignImport;

  constructor(private readonly d: OvaServiceDeps) {
    this.foreign = new ForeignImport({ ...d, host: d.host ?? null, applyHardware: (uuid, hw) => this.applyHardware(uuid, hw) });
  }

  private needImg(): QemuImg {
    if (!this.d.img) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-img was not found; install QEMU (Debian: qemu-utils)');
    return this.d.img;
  }

  /** An .ova by name, or any file with a ustar header (an OVA renamed). */
  isOva(file: string): boolean {
    if (/\.ova$/i.test(file)) return true;
    if (/\.ovf$/i.test(file)) return true;
    try {
      const st = fs.statSync(file);
      if (!st.isFile() || st.size < 512) return false;
      const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
      try {
        const b = Buffer.alloc(6);
        fs.readSync(fd, b, 0, 6, 257);
        return b.toString('latin1').startsWith('ustar');
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return false;
    }
  }

  /** `vms.import`: an OVA/OVF becomes a VM here; any other image is the media service's disk import. */
  async import(spec: ImportSpec): Promise<JobInfo> {
    // A machine file by its content first: a domain XML named .ovf or .img is still one.
    if (foreignKind(path.resolve(spec.file))) return this.foreign.import(spec);
    return this.isOva(spec.file) ? this.importOva(spec) : this.d.media.importDisk(spec);
  }

  /** `vms.importPlan`: what `import` would create; nothing is made or copied. */
  async importPlan(spec: ImportSpec): Promise<ImportPlan> {
    const src = path.resolve(spec.file);
    if (foreignKind(src)) return this.foreign.plan(spec);
    if (this.isOva(src)) {
      const ovf = /\.ovf$/i.test(src) ? parseOvf(readRegular(src, XML_MAX_BYTES, 'descriptor').toString('utf8')) : this.readOvaDescriptor(src);
      return this.planOvf(spec, ovf, this.d.media.importName(spec, ovf.name || src), /\.ovf$/i.test(src) ? 'ovf' : 'ova');
    }
    const id = await identifyImage(src, this.d.img, { asDisk: true });
    if (id.format === 'iso') throw new NestboxError('INVALID_ARGUMENT', `'${path.basename(src)}' is an installation ISO, not a disk; create a VM with it instead (nestbox create NAME --iso ${src})`);
    return planFromDisk(spec, src, id.format, this.d.media.importName(spec, src));
  }

  private planOvf(spec: ImportSpec, ovf: OvfDescriptor, name: string, source: 'ova' | 'ovf'): ImportPlan {
    const taken = new Set(this.d.vmRepo.list().flatMap((r) => r.config.nics.map((n) => n.mac)));
    return planFromOvf(spec, ovf, name, source, this.d.vms.hostLimits(), taken);
  }

  /** The descriptor, the first entry of an OVA, read before anything is created. */
  private readOvaDescriptor(src: string): OvfDescriptor {
    const st = fs.statSync(src, { throwIfNoEntry: false });
    if (!st) throw new NestboxError('NOT_FOUND', `'${src}' does not exist`);
    if (!st.isFile()) throw new NestboxError('IMAGE_REJECTED', `'${src}' is not a regular file`);
    const fd0 = fs.openSync(src, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
    try {
      if (!fs.fstatSync(fd0).isFile()) throw new NestboxError('IMAGE_REJECTED', `'${src}' is not a regular file`);
      const first = readTarEntries(fd0, st.size).next();
      if (first.done || first.value.type !== 'file' || !/\.ovf$/i.test(first.value.name) || first.value.name.includes('/')) {
        throw new NestboxError('IMAGE_REJECTED', `'${path.basename(src)}' is not an OVA: its first entry must be the .ovf descriptor`);
      }
      return parseOvf(readText(fd0, first.value, XML_MAX_BYTES, 'descriptor'));
    } finally {
      fs.closeSync(fd0);
    }
  }

  async importOva(spec: ImportSpec): Promise<JobInfo> {
    const img = this.needImg();
    const src = path.resolve(spec.file);
    if (/\.ovf$/i.test(src)) return this.importOvf(img, src, spec);
    // Read the descriptor before anything is created: a bad OVA fails with nothing made.
    const ovf = this.readOvaDescriptor(src);
    const size = fs.statSync(src).size;
    const name = this.d.media.importName(spec, ovf.name || src);
    const collect = (dir: string, ctx: JobContext) => this.collectFromOva(src, size, ovf, dir, ctx);
    return this.d.jobs.start('import', `Importing ${path.basename(src)} as '${name}'`, name, (ctx) => this.runImport(img, src, ovf, name, spec, ctx, collect), { vmName: name });
  }

  /**
   * A loose OVF: the descriptor and, next to it, the files it names (only plain names, only
   * regular files, symlinks refused) and an optional manifest NAME.mf.
   */
  private importOvf(img: QemuImg, src: string, spec: ImportSpec): JobInfo {
    const text = readRegular(src, XML_MAX_BYTES, 'descriptor');
    const ovf = parseOvf(text.toString('utf8'));
    const folder = path.dirname(src);
    const sources = ovf.files.map((f) => {
      const file = path.join(folder, f.href);
      const st = fs.lstatSync(file, { throwIfNoEntry: false });
      if (!st) throw new NestboxError('NOT_FOUND', `the OVF names '${f.href}', which is not next to it`);
      if (!st.isFile()) throw new NestboxError('IMAGE_REJECTED', `'${f.href}' next to the OVF is ${st.isSymbolicLink() ? 'a symlink' : 'not a regular file'}; only regular files are imported`);
      if (f.size !== null && f.size !== st.size) throw new NestboxError('IMAGE_REJECTED', `'${f.href}' is ${st.size} bytes but the descriptor says ${f.size}`);
      return { href: f.href, file, size: st.size };
    });
    const mfPath = src.replace(/\.ovf$/i, '.mf');
    const manifestText = fs.existsSync(mfPath) ? readRegular(mfPath, 1024 * 1024, 'manifest').toString('utf8') : null;
    const name = this.d.media.importName(spec, ovf.name || src);
    const total = sources.reduce((a, x) => a + x.size, 0) || 1;
    const collect = async (dir: string, ctx: JobContext): Promise<Collected> => {
      const written = new Map<string, Digests & { file: string }>();
      let done = 0;
      for (const x of sources) {
        const fd = fs.openSync(x.file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOFOLLOW ?? 0));
        try {
          const st = fs.fstatSync(fd);
          if (!st.isFile() || st.size !== x.size) throw new NestboxError('IMAGE_REJECTED', `'${x.href}' changed while it was being imported`);
          const out = path.join(dir, `.import-${written.size}.vmdk`);
          const base = done;
          const digests = await copyOut(fd, { name: x.href, type: 'file', typeflag: '0', size: x.size, dataOffset: 0 }, out, ctx, (pos) => ctx.progress(((base + pos) / total) * 50));
          done += x.size;
          written.set(x.href, { file: out, ...digests });
        } finally {
          fs.closeSync(fd);
        }
      }
      return { written, manifest: manifestText, ovfDigests: digestsOf(text) };
    };
    return this.d.jobs.start('import', `Importing ${path.basename(src)} as '${name}'`, name, (ctx) => this.runImport(img, src, ovf, name, spec, ctx, collect), { vmName: name });
  }

  /** Streams the OVA: after the OVF, only regular files it names, plus a manifest and a certificate. */
  private async collectFromOva(src: string, size: number, ovf: OvfDescriptor, dir: string, ctx: JobContext): Promise<Collected> {
    const byHref = new Map(ovf.files.map((f) => [f.href, f]));
    const written = new Map<string, Digests & { file: string }>();
    let manifest: string | null = null;
    let ovfDigests: Digests | null = null;
    const fd = fs.openSync(src, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
    try {
      let first = true;
      for (const e of readTarEntries(fd, size)) {
        if (ctx.signal.aborted) throw new NestboxError('CANCELLED', 'cancelled');
        if (first) {
          first = false;
          const b = Buffer.alloc(e.size);
          fs.readSync(fd, b, 0, e.size, e.dataOffset);
          ovfDigests = digestsOf(b);
          continue;
        }
        if (e.type !== 'file') throw new NestboxError('IMAGE_REJECTED', `the OVA contains '${e.name}', which is a ${e.type}, not a regular file`);
        if (e.name.includes('/') || e.name.includes('\\')) throw new NestboxError('IMAGE_REJECTED', `the OVA entry '${e.name}' lies in a folder; OVA entries are plain names`);
        if (/\.mf$/i.test(e.name)) {
          if (manifest !== null) throw new NestboxError('IMAGE_REJECTED', 'the OVA contains two manifests');
          manifest = readText(fd, e, 1024 * 1024, 'manifest');
          continue;
        }
        if (/\.cert$/i.test(e.name)) continue; // signatures are not checked; the manifest is
        const ref = byHref.get(e.name);
        if (!ref) throw new NestboxError('IMAGE_REJECTED', `the OVA contains '${e.name}', which its descriptor does not name`);
        if (written.has(e.name)) throw new NestboxError('IMAGE_REJECTED', `the OVA contains '${e.name}' twice`);
        if (ref.size !== null && ref.size !== e.size) throw new NestboxError('IMAGE_REJECTED', `'${e.name}' is ${e.size} bytes but the descriptor says ${ref.size}`);
        // Our own name inside the VM's folder; the OVA's name never becomes a path.
        const file = path.join(dir, `.import-${written.size}.vmdk`);
        const digests = await copyOut(fd, e, file, ctx, (pos) => ctx.progress((pos / size) * 50));
        written.set(e.name, { file, ...digests });
      }
    } finally {
      fs.closeSync(fd);
    }
    return { written, manifest, ovfDigests: ovfDigests! };
  }

  private async runImport(
    img: QemuImg,
    src: string,
    ovf: OvfDescriptor,
    name: string,
    spec: ImportSpec,
    ctx: JobContext,
    collect: (dir: string, ctx: JobContext) => Promise<Collected>,
  ): Promise<VmInfo & { notCarried: readonly string[] }> {
    const host = this.d.vms.hostLimits();
    const memoryMiB = spec.memoryMiB ?? Math.min(Math.max(ovf.memoryMiB ?? 1024, 16), host.memoryMiB);
    const cpus = spec.cpus ?? Math.min(Math.max(ovf.cpus ?? 1, 1), host.cpus);
    // The descriptor's firmware wins over the OS type's preset (a BIOS install does not boot under UEFI).
    const created = await this.d.vms.create({
      name,
      noDisk: true,
      nic: 'nat',
      osType: spec.osType ?? ovf.osType,
      memoryMiB,
      cpus,
      firmware: spec.firmware ?? ovf.firmware,
      ...(ovf.description ? { description: ovf.description.slice(0, 4000) } : {}),
    });
    const uuid = created.vm.uuid;
    const dir = created.vm.dir;
    ctx.made({ vmUuid: uuid });
    try {
      const { written, manifest, ovfDigests } = await collect(dir, ctx);
      if (manifest !== null) {
        const entries = parseManifest(manifest);
        for (const [fileName, want] of entries) {
          const got = fileName.toLowerCase().endsWith('.ovf') ? ovfDigests : written.get(fileName);
          if (!got) throw new NestboxError('IMAGE_REJECTED', `the manifest lists '${fileName}', which the OVA does not contain`);
          if (got[want.algorithm] !== want.digest) throw new NestboxError('IMAGE_REJECTED', `'${fileName}' does not match its ${want.algorithm.toUpperCase()} digest in the manifest (damaged or altered)`);
        }
      }
      const disks: DiskConfig[] = [];
      for (const [i, disk] of ovf.disks.entries()) {
        // The source's bus, so a guest installed on SATA/IDE/SCSI finds its disk; the preset only when the source says nothing.
        const bus = spec.diskBus ?? ovf.diskBuses[i] ?? findOsType(created.vm.osType)?.preset.diskBus ?? 'virtio';
        const href = ovf.files.find((f) => f.id === disk.fileRef)!.href;
        const w = written.get(href);
        if (!w) throw new NestboxError('IMAGE_REJECTED', `the disk file '${href}' is missing from the OVA`);
        const id = await identifyImage(w.file, img);
        if (id.format !== 'vmdk') throw new NestboxError('IMAGE_REJECTED', `'${href}' is ${id.format}, not the VMDK the descriptor promises`);
        const target = `${name}-disk${i}.qcow2`;
        await img.convert(w.file, 'vmdk', path.join(dir, target), 'qcow2', {
          ctl: { signal: ctx.signal, onProgress: (p) => ctx.progress(50 + ((i + p / 100) / ovf.disks.length) * 50) },
        });
        fs.rmSync(w.file, { force: true });
        disks.push({ id: `disk${i}`, file: target, format: 'qcow2', bus, readOnly: false, owned: true });
      }
      for (const w of written.values()) fs.rmSync(w.file, { force: true });
      for (const dk of disks) this.d.media.addDisk(uuid, dk);
      const notCarried = this.applyHardware(uuid, ovf.hardware);
      this.d.vms.log(uuid, 'info', 'imported', `imported the appliance '${path.basename(src)}' as '${name}' (${disks.length} disk${disks.length === 1 ? '' : 's'})`);
      return { ...this.d.vms.info(uuid), notCarried };
    } catch (err) {
      await this.d.vms.delete(uuid, false).catch(() => undefined);
      throw err;
    }
  }

  /**
   * The source's machine type, CD drives, adapters (models, MACs unless another VM has them,
   * NAT forwards) and boot order onto the freshly created VM. What was not carried over is
   * logged by name. Also used by the import of machine files (services/foreign). @internal
   */
  applyHardware(uuid: string, hw: ForeignHardware): string[] {
    const row = this.d.vmRepo.get(uuid);
    if (!row) throw new NestboxError('NOT_FOUND', 'the VM was deleted');
    const notes = [...hw.dropped];
    const taken = new Set(this.d.vmRepo.list().filter((r) => r.uuid !== uuid).flatMap((r) => r.config.nics.map((n) => n.mac)));
    let nics: NicConfig[] = [...row.config.nics];
    if (hw.nics !== null) {
      nics = hw.nics.slice(0, LIMITS.maxNics).map((n, i): NicConfig => {
        let mac = n.mac;
        if (mac === null || taken.has(mac)) {
          if (mac !== null) notes.push(`adapter ${i + 1}'s MAC ${mac} (another VM has it; a new one was made)`);
          mac = randomMac(taken);
        }
        taken.add(mac);
        return { id: `net${i}`, mode: n.mode, model: n.model, mac, forwards: n.forwards, ...(n.network ? { network: n.network } : {}), ...(n.bridge ? { bridge: n.bridge } : {}) };
      });
    }
    const cdCount = Math.min(hw.attachments.filter((a) => a.kind === 'cdrom').length, LIMITS.maxCdroms);
    const cdroms: CdromConfig[] = Array.from({ length: cdCount }, (_, i) => ({ id: `cd${i}`, iso: null }));
    // QEMU's pc machine has only IDE: a source with an AHCI (SATA) controller gets q35, whose ports are AHCI.
    const sata = row.config.disks.some((d) => d.bus === 'sata') || hw.attachments.some((a) => a.bus === 'sata');
    const machine = sata ? 'q35' : (hw.machine ?? row.config.machine);
    let next: VmConfig;
    try {
      next = parseVmConfig({ ...row.config, machine, nics, cdroms, ...(hw.bootOrder && hw.bootOrder.length ? { bootOrder: hw.bootOrder } : {}), ...(hw.display ? { display: { ...row.config.display, adapter: hw.display } } : {}) });
    } catch (err) {
      if (err instanceof ConfigError) throw new NestboxError('IMAGE_REJECTED', `the imported hardware is not usable: ${err.message}`);
      throw err;
    }
    this.d.vmRepo.updateConfig(next);
    for (const n of notes) this.d.vms.log(uuid, 'warning', 'imported', `not carried over: ${n}`);
    return notes;
  }

  async exportOva(ref: string, file: string): Promise<JobInfo> {
    const img = this.needImg();
    const row = this.d.vms.resolve(ref);
    if (row.state !== 'poweredOff' && row.state !== 'aborted') {
      throw new NestboxError('INVALID_STATE', `power off '${row.name}' before exporting it (its disks must not change while they are copied)`);
    }
    const out = path.resolve(file);
    if (!/\.ova$/i.test(out)) throw new NestboxError('INVALID_ARGUMENT', 'the export file must end in .ova');
    if (fs.existsSync(out)) throw new NestboxError('ALREADY_EXISTS', `'${out}' already exists; Nestbox never overwrites a file`);
    if (!fs.existsSync(path.dirname(out))) throw new NestboxError('NOT_FOUND', `the folder '${path.dirname(out)}' does not exist`);
    if (row.config.disks.length === 0) throw new NestboxError('INVALID_STATE', `'${row.name}' has no disks to export`);
    const disks = row.config.disks.map((dk) => ({ ...dk, path: resolveDiskPath(row.dir, dk.file) }));
    // The VM and its disks are held by the export job: no start, conversion or clone meanwhile.
    const base = row.name.replace(/[^A-Za-z0-9._-]/g, '_');
    const os = findOsType(row.config.osType);
    const config = row.config;
    return this.d.jobs.start('export', `Exporting '${row.name}' to ${path.basename(out)}`, row.name, async (ctx) => {
      const work = fs.mkdtempSync(path.join(path.dirname(out), `.${path.basename(out)}.`));
      ctx.made({ outputs: [work] });
      const partial = `${out}.partial`;
      try {
        const parts: { href: string; file: string; capacity: number }[] = [];
        for (const [i, dk] of disks.entries()) {
          const id = await identifyImage(dk.path, img, { knownRaw: dk.format === 'raw' });
          const href = `${base}-disk${String(i + 1).padStart(3, '0')}.vmdk`;
          const f = path.join(work, href);
          await img.convert(dk.path, dk.format, f, 'vmdk', {
            subformat: 'streamOptimized',
            ctl: { signal: ctx.signal, onProgress: (p) => ctx.progress(((i + p / 100) / disks.length) * 80) },
          });
          parts.push({ href, file: f, capacity: id.virtualSize });
        }
        const ovfText = generateOvf({
          name: row.name,
          description: config.description,
          osType: config.osType,
          osFamily: os?.family ?? 'other',
          memoryMiB: config.memoryMiB,
          cpus: config.cpus,
          firmware: config.firmware,
          machine: config.machine,
          disks: parts.map((p, i) => ({ href: p.href, size: fs.statSync(p.file).size, capacity: p.capacity, bus: disks[i]!.bus, uuid: crypto.randomUUID() })),
          cdroms: config.cdroms.length,
          nics: config.nics.map((n) => ({ model: n.model, mac: n.mac, mode: n.mode, ...(n.network ? { network: n.network } : {}), ...(n.bridge ? { bridge: n.bridge } : {}), forwards: n.forwards })),
          bootOrder: config.bootOrder,
          uuid: crypto.randomUUID(),
        });
        const ovfName = `${base}.ovf`;
        const fd = fs.openSync(partial, 'wx', 0o644);
        try {
          const sums: { name: string; sha256: string }[] = [];
          const ovfBuf = Buffer.from(ovfText, 'utf8');
          writeEntry(fd, ovfName, ovfBuf);
          sums.push({ name: ovfName, sha256: hash('sha256', ovfBuf) });
          let total = 0;
          const all = parts.reduce((a, p) => a + fs.statSync(p.file).size, 0) || 1;
          for (const p of parts) {
            const h = crypto.createHash('sha256');
            const sz = fs.statSync(p.file).size;
            fs.writeSync(fd, tarHeader(p.href, sz));
            const inFd = fs.openSync(p.file, 'r');
            try {
              const buf = Buffer.alloc(CHUNK);
              for (let pos = 0; pos < sz; ) {
                if (ctx.signal.aborted) throw new NestboxError('CANCELLED', 'cancelled');
                const n = fs.readSync(inFd, buf, 0, CHUNK, pos);
                if (n <= 0) throw new NestboxError('IO_ERROR', `'${p.file}' ended early`);
                h.update(buf.subarray(0, n));
                writeAll(fd, buf.subarray(0, n));
                pos += n;
                total += n;
                ctx.progress(80 + (total / all) * 19);
                await tick();
              }
            } finally {
              fs.closeSync(inFd);
            }
            fs.writeSync(fd, tarPadding(sz));
            sums.push({ name: p.href, sha256: h.digest('hex') });
          }
          writeEntry(fd, `${base}.mf`, Buffer.from(generateManifest(sums), 'utf8'));
          fs.writeSync(fd, TAR_END);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(partial, out);
        this.d.vms.log(row.uuid, 'info', 'exported', `exported '${row.name}' to '${out}'`);
        const notExported = exportOmissions(config);
        if (notExported.length) this.d.vms.log(row.uuid, 'warning', 'exported', `not in '${path.basename(out)}': ${notExported.join('; ')}`);
        return { file: out, notExported };
      } catch (err) {
        fs.rmSync(partial, { force: true });
        const e = NestboxError.from(err, 'IO_ERROR');
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new NestboxError('NO_SPACE', `there is not enough space on the disk holding ${path.dirname(out)}; the partial file was removed`);
        throw e;
      } finally {
        fs.rmSync(work, { recursive: true, force: true });
      }
    }, { outputs: [`${out}.partial`], vm: { uuid: row.uuid, name: row.name }, holds: disks.map((dk) => dk.path) });
  }
}

/** Lets other clients' calls run between chunks of a long copy. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

type Digests = { sha1: string; sha256: string; sha512: string };

interface Collected {
  readonly written: ReadonlyMap<string, Digests & { file: string }>;
  readonly manifest: string | null;
  readonly ovfDigests: Digests;
}

function digestsOf(b: Buffer): Digests {
  return { sha1: hash('sha1', b), sha256: hash('sha256', b), sha512: hash('sha512', b) };
}

/** Reads a whole small regular file (never a FIFO or device, never more than `max` bytes). */
function readRegular(file: string, max: number, what: string): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw new NestboxError((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'NOT_FOUND' : 'IMAGE_REJECTED', `the ${what} '${file}' cannot be read: ${(err as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new NestboxError('IMAGE_REJECTED', `the ${what} '${file}' is not a regular file`);
    if (st.size > max) throw new NestboxError('IMAGE_REJECTED', `the ${what} '${file}' is larger than ${max} bytes`);
    const b = Buffer.alloc(st.size);
    fs.readSync(fd, b, 0, st.size, 0);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

function hash(alg: string, b: Buffer): string {
  return crypto.createHash(alg).update(b).digest('hex');
}

function writeAll(fd: number, b: Buffer): void {
  for (let off = 0; off < b.length; ) off += fs.writeSync(fd, b, off, b.length - off);
}

function writeEntry(fd: number, name: string, data: Buffer): void {
  writeAll(fd, tarHeader(name, data.length));
  writeAll(fd, data);
  writeAll(fd, tarPadding(data.length));
}

/** Copies one tar entry's data into a new file (never an existing one), hashing it as it goes. */
async function copyOut(fd: number, e: TarEntry, file: string, ctx: JobContext, progress: (absPos: number) => void): Promise<{ sha1: string; sha256: string; sha512: string }> {
  const out = fs.openSync(file, 'wx', 0o600);
  const h1 = crypto.createHash('sha1');
  const h256 = crypto.createHash('sha256');
  const h512 = crypto.createHash('sha512');
  try {
    const buf = Buffer.alloc(CHUNK);
    for (let done = 0; done < e.size; ) {
      if (ctx.signal.aborted) throw new NestboxError('CANCELLED', 'cancelled');
      const n = fs.readSync(fd, buf, 0, Math.min(CHUNK, e.size - done), e.dataOffset + done);
      if (n <= 0) throw new NestboxError('IMAGE_REJECTED', `the OVA ends in the middle of '${e.name}'`);
      const chunk = buf.subarray(0, n);
      h1.update(chunk);
      h256.update(chunk);
      h512.update(chunk);
      try {
        writeAll(out, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new NestboxError('NO_SPACE', `there is not enough space on the disk holding ${path.dirname(file)}`);
        throw err;
      }
      done += n;
      progress(e.dataOffset + done);
      await tick();
    }
    fs.fsyncSync(out);
  } finally {
    fs.closeSync(out);
  }
  return { sha1: h1.digest('hex'), sha256: h256.digest('hex'), sha512: h512.digest('hex') };
}
