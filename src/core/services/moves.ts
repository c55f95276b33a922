/**
 * Moving a powered-off VM between this computer and a libvirt host, as one job each way.
 *
 * To a host: each disk (and the attached ISO, and the UEFI variable store) goes into a volume
 * of one of the host's storage pools through libvirt's own stream (`vol-create-as` then
 * `vol-upload` over the connection the host was added with: SSH or TLS for a remote host, no
 * port opened, nothing installed there), then a domain is defined from the VM's config by the
 * pure builder (firmware, machine, buses, NIC models and MACs kept).
 *
 * To this computer: the domain's XML is read with the safe parser, its disks come back from
 * their pool with `vol-download`, and each file is identified like any image before a VM here
 * uses it (a host is untrusted: a qcow2 naming a backing file here is refused).
 *
 * Either way nothing is deleted where the VM came from unless the user asked, and then only
 * once the other end is complete; a failure or a cancel removes what this job made (volumes,
 * the definition, the half-made VM) and nothing else.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { JobInfo, MoveResult, MoveSpec } from '../api/contract';
import { NestboxError } from '../api/errors';
import { CONFIG_VERSION, parseVmConfig, type DiskConfig, type NicConfig, type VmConfig } from '../domain/config';
import { LOCAL_HOST } from '../domain/hosts';
import { buildDomainXml, checkLibvirtName, type DiskSource } from '../libvirt/domxml';
import { domainSpecFromConfig, localShapeFromDomain } from '../libvirt/moveconfig';
import type { LibvirtConnection } from '../libvirt';
import { resolveDiskPath } from '../qemu/argv';
import { vmFiles } from '../store/paths';
import { identifyImage } from '../storage/identify';
import type { QemuImg } from '../storage/qemuimg';
import type { VmRepository, VmRow } from '../store/db';
import { crashPoint } from './faults';
import type { HostService } from './hosts';
import type { JobContext, JobService } from './jobs';
import { generateMac } from './network';
import type { VmService } from './vms';

export interface MoveServiceDeps {
  readonly hosts: HostService;
  readonly vms: VmService;
  readonly vmRepo: VmRepository;
  readonly img: QemuImg | null;
  readonly jobs: JobService;
  readonly log: (level: 'info' | 'warning' | 'error', kind: string, message: string) => void;
}

/** The libvirt network NAT adapters join on a host: the one a fresh libvirt install has. */
const HOST_NAT_NETWORK = 'default';
const DEFAULT_POOL = 'default';

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A volume name from a file's name: what libvirt names allow, the extension kept. */
function volumeNameFor(file: string): string {
  const base = path
    .basename(file)
    .replace(/[^A-Za-z0-9._+-]/g, '_')
    .replace(/^[-.+]+/, '')
    .slice(-64);
  return base || 'image.iso';
}

/** Adds up bytes copied over several files into one job percentage. */
class Progress {
  private doneBefore = 0;
  constructor(
    private readonly total: number,
    private readonly ctx: JobContext,
  ) {}
  part(): (done: number) => void {
    const base = this.doneBefore;
    return (done) => this.ctx.progress(Math.min(99, ((base + done) / Math.max(1, this.total)) * 100));
  }
  finished(bytes: number): void {
    this.doneBefore += bytes;
  }
  get bytes(): number {
    return this.doneBefore;
  }
}

export class MoveService {
  constructor(private readonly d: MoveServiceDeps) {}

  private needImg(): QemuImg {
    if (!this.d.img) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-img was not found; install QEMU (Debian: qemu-utils)');
    return this.d.img;
  }

  /** `vms.move`: checks everything it can before the job starts, so bad input makes nothing. */
  async move(spec: MoveSpec): Promise<JobInfo> {
    const ref = this.d.hosts.parseRef(spec.ref);
    const toLocal = spec.to.toLowerCase() === LOCAL_HOST;
    if (ref.kind === 'local') {
      if (toLocal) throw new NestboxError('INVALID_ARGUMENT', `'${spec.ref}' is already on this computer`);
      await this.d.hosts.settled(spec.to);
      return this.toHost(ref.ref, spec);
    }
    if (!toLocal) {
      throw new NestboxError('UNSUPPORTED', `'${spec.ref}' is on host '${ref.host}': between two hosts a VM moves with migrate (nestbox migrate ${spec.ref} --to ${spec.to} --offline)`);
    }
    if (spec.pool !== undefined) throw new NestboxError('INVALID_ARGUMENT', "'pool' is for a move to a host; a VM moved here goes into its own folder");
    await this.d.hosts.settled(ref.host);
    return this.toLocal(ref.host, ref.vm, spec);
  }

  // ---------------------------------------------------------------- this computer → host

  private async toHost(vmRef: string, spec: MoveSpec): Promise<JobInfo> {
    const img = this.needImg();
    const row = this.d.vms.resolve(vmRef);
    if (row.state !== 'poweredOff' && row.state !== 'aborted') {
      throw new NestboxError('INVALID_STATE', `'${row.name}' is ${row.state}: power it off before moving it (its disks must not change while they are copied)`);
    }
    const host = this.d.hosts.hostName(spec.to);
    const conn = this.d.hosts.connectionOf(host);
    const name = checkLibvirtName(spec.name ?? row.name, `name on host '${host}' (choose another with --name)`);
    const pool = checkLibvirtName(spec.pool ?? DEFAULT_POOL, 'storage pool name');
    const config = row.config;
    // What cannot cross is refused now, before anything is copied.
    domainSpecFromConfig(config, { disks: config.disks.map(() => ({ source: { pool, volume: 'x' }, format: 'qcow2' as const })), cdrom: null, nvram: null }, { name, domainType: 'qemu', natNetwork: HOST_NAT_NETWORK });

    if (this.d.hosts.vms(host).some((v) => v.name === name)) throw new NestboxError('ALREADY_EXISTS', `host '${host}' already has a VM named '${name}' (choose another with --name)`);
    const pools = await conn.listPools();
    const p = pools.find((x) => x.name === pool);
    if (!p) throw new NestboxError('NOT_FOUND', `host '${host}' has no storage pool '${pool}' (it has: ${pools.map((x) => x.name).join(', ') || 'none'})`);
    if (!p.active) throw new NestboxError('INVALID_STATE', `the storage pool '${pool}' on host '${host}' is not active`);
    const existing = new Map((await conn.listVolumes(pool)).map((v) => [v.name, v]));

    // Each disk as the file to send and its format; what needs converting first is noted.
    const disks = await Promise.all(
      config.disks.map(async (dk, i) => {
        const file = resolveDiskPath(row.dir, dk.file);
        const direct = (dk.format === 'qcow2' || dk.format === 'raw') && !dk.backing;
        const info = await img.info(file, dk.format);
        if (info.backingFile && !dk.backing) throw new NestboxError('IMAGE_REJECTED', `disk ${i + 1} (${file}) has a backing file Nestbox does not know`);
        const format: 'qcow2' | 'raw' = direct ? (dk.format as 'qcow2' | 'raw') : 'qcow2';
        return { file, srcFormat: dk.format, format, direct, virtualSize: info.virtualSize, size: fs.statSync(file).size, volume: `${name}-disk${i}.${format}` };
      }),
    );
    const iso = config.cdroms.find((c) => c.iso)?.iso ?? null;
    const isoSize = iso ? (fs.statSync(iso, { throwIfNoEntry: false })?.size ?? null) : null;
    if (iso && isoSize === null) throw new NestboxError('NOT_FOUND', `the CD-ROM image '${iso}' of '${row.name}' is missing; eject it or put it back before moving`);
    const isoVolume = iso ? volumeNameFor(iso) : null;
    const isoExisting = isoVolume ? existing.get(isoVolume) : undefined;
    const isoReuse = isoExisting !== undefined && isoExisting.capacity === isoSize;
    if (isoExisting && !isoReuse) throw new NestboxError('ALREADY_EXISTS', `the pool '${pool}' on host '${host}' already has a different '${isoVolume}'; eject the CD-ROM or rename the image`);
    const efi = config.firmware === 'uefi' && fs.existsSync(vmFiles(row.dir).efiVars) ? vmFiles(row.dir).efiVars : null;
    const nvramVolume = efi ? `${name}_VARS.fd` : null;
    for (const v of [...disks.map((x) => x.volume), ...(nvramVolume ? [nvramVolume] : [])]) {
      if (existing.has(v)) throw new NestboxError('ALREADY_EXISTS', `the pool '${pool}' on host '${host}' already has a volume '${v}' (choose another name with --name)`);
    }
    const needed = disks.reduce((a, x) => a + (x.direct ? x.size : x.virtualSize), 0) + (iso && !isoReuse ? isoSize! : 0);
    if (p.available > 0 && needed > p.available) {
      throw new NestboxError('NO_SPACE', `the pool '${pool}' on host '${host}' has ${p.available} bytes free; '${row.name}' needs up to ${needed}`);
    }

    const temps = disks.map((x, i) => (x.direct ? null : path.join(row.dir, `.move-disk${i}.qcow2`)));
    const nvramTemp = efi ? path.join(row.dir, '.move-vars.fd') : null;
    const outputs = [...temps.filter((t): t is string => t !== null), ...(nvramTemp ? [nvramTemp] : [])];
    const title = `Moving '${row.name}' to ${host}${name !== row.name ? ` as '${name}'` : ''}`;
    return this.d.jobs.start(
      'move',
      title,
      row.name,
      async (ctx): Promise<MoveResult> => {
        const started = Date.now();
        const made: string[] = [];
        let defined: string | null = null;
        // Noted before each volume is created, in the journal too: a core killed midway has
        // the next one remove them (jobjournal.ts undoOnHosts); a failure or cancel removes them here.
        const madeOnHost = (volume: string) => {
          made.push(volume);
          ctx.made({ onHost: { kind: 'volume', host, pool, volume } });
        };
        const checkCancel = () => {
          if (ctx.signal.aborted) throw new NestboxError('CANCELLED', `moving '${row.name}' was cancelled`);
        };
        try {
          this.d.log('info', 'move', title);
          const progress = new Progress(needed + (efi ? 1024 * 1024 : 0), ctx);
          const sources: { source: DiskSource; format: 'qcow2' | 'raw' }[] = [];
          for (const [i, x] of disks.entries()) {
            checkCancel();
            let file = x.file;
            if (!x.direct) {
              // A linked clone or a foreign format: one self-contained qcow2 first.
              await img.convert(x.file, x.srcFormat, temps[i]!, 'qcow2', { ctl: { signal: ctx.signal } });
              file = temps[i]!;
            }
            const bytes = fs.statSync(file).size;
            madeOnHost(x.volume);
            await conn.createVolume(pool, x.volume, x.format === 'qcow2' ? x.virtualSize : bytes, x.format);
            await conn.uploadVolume(pool, x.volume, file, progress.part(), ctx.signal);
            progress.finished(bytes);
            crashPoint('move:volume-uploaded');
            if (temps[i]) fs.rmSync(temps[i]!, { force: true });
            sources.push({ source: { pool, volume: x.volume }, format: x.format });
          }
          let cdrom: DiskSource | null = null;
          if (iso && isoVolume) {
            checkCancel();
            if (!isoReuse) {
              madeOnHost(isoVolume);
              await conn.createVolume(pool, isoVolume, isoSize!, 'raw');
              await conn.uploadVolume(pool, isoVolume, iso, progress.part(), ctx.signal);
              progress.finished(isoSize!);
            }
            cdrom = { pool, volume: isoVolume };
          }
          let nvram: string | null = null;
          if (efi && nvramTemp && nvramVolume) {
            checkCancel();
            // libvirt keeps UEFI variables as a raw file; here they are qcow2 (so they snapshot).
            await img.convert(efi, 'qcow2', nvramTemp, 'raw', { ctl: { signal: ctx.signal } });
            const bytes = fs.statSync(nvramTemp).size;
            madeOnHost(nvramVolume);
            nvram = await conn.createVolume(pool, nvramVolume, bytes, 'raw');
            await conn.uploadVolume(pool, nvramVolume, nvramTemp, undefined, ctx.signal);
            progress.finished(bytes);
          }
          await conn.refreshPool(pool);
          checkCancel();
          const { spec: domain, warnings } = domainSpecFromConfig(config, { disks: sources, cdrom, nvram }, { name, domainType: (await conn.hasKvm()) ? 'kvm' : 'qemu', natNetwork: HOST_NAT_NETWORK });
          // Its UUID is chosen here so the journal names it before it exists.
          const uuid = randomUUID();
          ctx.made({ onHost: { kind: 'domain', host, uuid } });
          await conn.define(buildDomainXml({ ...domain, uuid }));
          defined = uuid;
          checkCancel();
          // Complete on the host: a core killed from here on leaves it there (the source may go next).
          ctx.keepOnHosts();
          let deletedSource = false;
          if (spec.deleteSource === true) {
            await this.d.vms.delete(row.uuid, false);
            deletedSource = true;
          }
          await this.d.hosts.refreshHost(host).catch(() => undefined);
          const result: MoveResult = { vm: row.name, from: LOCAL_HOST, to: host, ref: `${host}:${name}`, bytesCopied: progress.bytes, elapsedMs: Date.now() - started, deletedSource, warnings };
          this.d.log('info', 'move', `moved '${row.name}' to host '${host}' as '${name}' (${progress.bytes} bytes in ${((Date.now() - started) / 1000).toFixed(1)} s)${deletedSource ? '; removed it here' : '; it is still here too'}`);
          for (const w of warnings) this.d.log('warning', 'move', `'${row.name}' on '${host}': ${w}`);
          return result;
        } catch (err) {
          await this.undoOnHost(host, conn, pool, made, defined);
          await this.d.hosts.refreshHost(host).catch(() => undefined);
          if (ctx.signal.aborted) this.d.log('info', 'move', `moving '${row.name}' to '${host}' was cancelled; nothing was left on the host`);
          else this.d.log('error', 'move', `moving '${row.name}' to '${host}' failed: ${message(err)}; nothing was left on the host`);
          throw err;
        } finally {
          for (const t of outputs) fs.rmSync(t, { force: true });
        }
      },
      { vm: { uuid: row.uuid, name: row.name }, outputs, holds: disks.map((x) => x.file) },
    );
  }

  /**
   * Removes what a failed move made on the host: its definition, then its volumes. Through the
   * host's current connection (the one the job started with is closed if the host reconnected
   * meanwhile); what cannot be removed is said in the log, by name.
   */
  private async undoOnHost(host: string, started: LibvirtConnection, pool: string, volumes: readonly string[], defined: string | null): Promise<void> {
    await this.d.hosts.settled(host, 15_000).catch(() => undefined);
    let conn = started;
    try {
      conn = this.d.hosts.connectionOf(host);
    } catch {
      /* unreachable now: the calls below fail and say so */
    }
    const left: string[] = [];
    if (defined) await conn.undefine(defined, { removeStorage: false }).catch((e: unknown) => left.push(`the definition ${defined} (${message(e)})`));
    for (const v of volumes) {
      // A volume never created (the failure was its creation) is not a leftover.
      await conn.deleteVolume(pool, v).catch(async (e: unknown) => {
        const still = await conn.listVolumes(pool).then((l) => l.some((x) => x.name === v)).catch(() => true);
        if (still) left.push(`volume '${pool}/${v}' (${message(e)})`);
      });
    }
    if (left.length) this.d.log('warning', 'move', `could not remove from host '${host}' what the failed move had made: ${left.join(', ')}; remove it with virsh`);
  }

  // ---------------------------------------------------------------- host → this computer

  private async toLocal(hostRef: string, vmRef: string, spec: MoveSpec): Promise<JobInfo> {
    const img = this.needImg();
    const host = this.d.hosts.hostName(hostRef);
    const conn = this.d.hosts.connectionOf(host);
    const vm = this.d.hosts.engine(host).summary(vmRef);
    if (vm.state !== 'poweredOff') throw new NestboxError('INVALID_STATE', `'${host}:${vm.name}' is ${vm.state}: shut it down before moving it (its disks must not change while they are copied)`);
    const desc = await conn.describe(vm.uuid);
    const shape = localShapeFromDomain(desc);
    const name = spec.name ?? desc.name;
    if (this.d.vmRepo.findByName(name)) throw new NestboxError('ALREADY_EXISTS', `a VM named '${name}' already exists on this computer (choose another with --name)`);
    // Only what is in a pool can be copied through libvirt; say which disk is not, before starting.
    const sources = await Promise.all(
      shape.disks.map(async (dk, i) => {
        if (dk.pool && dk.volume) return { pool: dk.pool, volume: dk.volume };
        const found = dk.path ? await conn.volumeOfPath(dk.path) : null;
        if (!found) {
          throw new NestboxError('UNSUPPORTED', `disk ${i + 1} of '${host}:${vm.name}' (${dk.path ?? 'no file'}) is in no storage pool of '${host}'; libvirt copies only pool volumes (define a pool on its folder)`);
        }
        return found;
      }),
    );
    const warnings = [...shape.warnings];
    const nvramSource = desc.firmware === 'uefi' && desc.nvram ? await conn.volumeOfPath(desc.nvram) : null;
    if (desc.firmware === 'uefi' && !nvramSource) warnings.push('its UEFI variables are in no storage pool of the host; it starts here with fresh ones (boot entries may need to be made again)');
    const caps = await Promise.all(sources.map((s) => conn.volumeCapacity(s.pool, s.volume)));
    const total = caps.reduce((a, b) => a + b, 0);
    const hold = this.d.hosts.hold(host, vm.uuid);
    const title = `Moving ${host}:${vm.name} to this computer${name !== desc.name ? ` as '${name}'` : ''}`;
    let job: JobInfo;
    try {
      job = this.d.jobs.start(
        'move',
        title,
        `${host}:${vm.name}`,
        async (ctx): Promise<MoveResult> => {
          const started = Date.now();
          let uuid: string | null = null;
          try {
            this.d.log('info', 'move', title);
            const created = await this.d.vms.create({ name, noDisk: true, nic: 'none', memoryMiB: shape.memoryMiB, cpus: shape.cpus, firmware: shape.firmware, ...(shape.description ? { description: shape.description } : {}) });
            uuid = created.vm.uuid;
            const dir = created.vm.dir;
            ctx.made({ vmUuid: uuid });
            const progress = new Progress(total, ctx);
            const disks: DiskConfig[] = [];
            for (const [i, s] of sources.entries()) {
              if (ctx.signal.aborted) throw new NestboxError('CANCELLED', 'cancelled');
              const fmt = shape.disks[i]!.format;
              const file = `${name}-disk${i}.${fmt}`;
              const full = path.join(dir, file);
              await conn.downloadVolume(s.pool, s.volume, full, progress.part(), ctx.signal);
              progress.finished(fs.statSync(full).size);
              // The host is untrusted: the file must be what the domain said, referring to nothing else.
              const id = await identifyImage(full, img, { asDisk: true, ...(fmt === 'raw' ? { knownRaw: true } : {}) });
              if (id.format !== fmt) throw new NestboxError('IMAGE_REJECTED', `disk ${i + 1} from '${host}' is ${id.format}, not the ${fmt} its domain says`);
              disks.push({ id: `disk${i}`, file, format: fmt, bus: shape.disks[i]!.bus, readOnly: false, owned: true });
            }
            if (nvramSource) {
              const raw = path.join(dir, '.move-vars.fd');
              try {
                await conn.downloadVolume(nvramSource.pool, nvramSource.volume, raw, undefined, ctx.signal);
                const st = fs.statSync(raw);
                if (st.size > 64 * 1024 * 1024) throw new NestboxError('IMAGE_REJECTED', `the UEFI variable store from '${host}' is ${st.size} bytes`);
                const vars = vmFiles(dir).efiVars;
                fs.rmSync(vars, { force: true });
                await img.convert(raw, 'raw', vars, 'qcow2', { ctl: { signal: ctx.signal } });
              } finally {
                fs.rmSync(raw, { force: true });
              }
            }
            const row = this.d.vmRepo.get(uuid);
            if (!row) throw new NestboxError('NOT_FOUND', `'${name}' was deleted while it was being moved here`);
            const { nics, macWarnings } = this.localNics(shape.nics);
            warnings.push(...macWarnings);
            const next: VmConfig = parseVmConfig({
              ...row.config,
              version: CONFIG_VERSION,
              machine: shape.machine,
              disks,
              nics,
              bootOrder: shape.bootOrder,
            });
            this.d.vmRepo.updateConfig(next);
            let deletedSource = false;
            if (spec.deleteSource === true) {
              await this.deleteOnHost(conn, vm.uuid, sources);
              deletedSource = true;
            }
            await this.d.hosts.refreshHost(host).catch(() => undefined);
            this.d.vms.log(uuid, 'info', 'moved', `moved here from host '${host}' (${progress.bytes} bytes in ${((Date.now() - started) / 1000).toFixed(1)} s)${deletedSource ? '; removed it there' : '; it is still on the host too'}`);
            for (const w of warnings) this.d.vms.log(uuid, 'warning', 'moved', w);
            return { vm: vm.name, from: host, to: LOCAL_HOST, ref: name, bytesCopied: progress.bytes, elapsedMs: Date.now() - started, deletedSource, warnings };
          } catch (err) {
            if (uuid) await this.d.vms.delete(uuid, false).catch(() => undefined);
            if (ctx.signal.aborted) this.d.log('info', 'move', `moving '${host}:${vm.name}' here was cancelled; nothing was kept here`);
            else this.d.log('error', 'move', `moving '${host}:${vm.name}' here failed: ${message(err)}; nothing was kept here`);
            throw err;
          } finally {
            hold.release();
          }
        },
        { vmName: name },
      );
    } catch (err) {
      hold.release();
      throw err;
    }
    hold.job(job.id);
    return job;
  }

  /** NICs for this computer: the host's MACs, unless a VM here already has one (then a new one, said). */
  private localNics(from: ReturnType<typeof localShapeFromDomain>['nics']): { nics: NicConfig[]; macWarnings: string[] } {
    const taken = new Set(this.d.vmRepo.list().flatMap((r: VmRow) => r.config.nics.map((n) => n.mac)));
    const macWarnings: string[] = [];
    const nics = from.map((n, i): NicConfig => {
      let mac = n.mac?.toLowerCase() ?? '';
      if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac) || taken.has(mac)) {
        const fresh = generateMac(taken);
        if (mac) macWarnings.push(`adapter ${i + 1}: its MAC ${mac} is ${taken.has(mac) ? 'already used by a VM here' : 'not valid'}; it has ${fresh} now`);
        mac = fresh;
      }
      taken.add(mac);
      return { id: `net${i}`, mode: n.mode, model: n.model, mac, forwards: [], ...(n.mode === 'bridged' && n.bridge ? { bridge: n.bridge } : {}) };
    });
    return { nics, macWarnings };
  }

  /** `deleteSource` on a host: the definition (with its UEFI variables) and the disk volumes copied; never a CD-ROM image other VMs may share. */
  private async deleteOnHost(conn: LibvirtConnection, uuid: string, disks: readonly { pool: string; volume: string }[]): Promise<void> {
    await conn.undefine(uuid, { removeStorage: false });
    for (const d of disks) await conn.deleteVolume(d.pool, d.volume);
  }
}
