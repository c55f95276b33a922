/**
 * A VM's configuration: creating a VM (its folder, its first disk, its UEFI variable store)
 * and changing it (hardware while powered off; name, notes, the CD and live resource limits
 * at any time). The rules on what a host can give a VM live here too.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CreateVmSpec, ModifyVmSpec, OpResult } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { CdromConfig, DiskConfig, NicConfig, ResourceConfig, ShareConfig, VmConfig } from '../domain/config';
import { CONFIG_VERSION, ConfigError, parseVmConfig, RESOURCE_KEYS, validateName } from '../domain/config';
import { describeState, isActive, isAllowed } from '../domain/lifecycle';
import { findOsType, matchOsType, unknownOsTypeMessage } from '../domain/ostypes';
import { detectOsFromIso } from '../domain/osdetect';
import { checkMinimums } from '../domain/osminimums';
import { seedKindFor, UnattendedError } from '../domain/unattended';
import { readIsoFacts } from '../storage/isofacts';
import { planSeed, type SeedPlan } from './installs';
import { formatBytes, parseSize } from '../domain/units';
import { inspectImage } from '../storage/inspect';
import { identifyImage } from '../storage/identify';
import type { QemuImg } from '../storage/qemuimg';
import type { VmRepository } from '../store/db';
import { vmFiles } from '../store/paths';
import { tpmStateDir } from '../qemu/swtpm';
import { planShare } from './shares';
import { changeCd } from './vmdisks';
import type { VmRegistry } from './vmregistry';
import { LIVE_RESOURCES, mergeResources } from './vmresources';

export const SECURE_BOOT_MISSING = 'UEFI firmware with Secure Boot is not installed on this host (QEMU\'s firmware descriptors list none with secure-boot and enrolled-keys; Debian/Ubuntu: apt install ovmf)';
export const TPM_MISSING = 'swtpm is not installed on this host, so a VM cannot have a TPM (Debian/Ubuntu: apt install swtpm swtpm-tools)';

export function configError(err: unknown): never {
  if (err instanceof ConfigError) throw new NestboxError('INVALID_CONFIG', err.message);
  throw err;
}

export function randomMac(taken: ReadonlySet<string>): string {
  for (;;) {
    const b = crypto.randomBytes(3);
    const mac = `52:54:00:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
    if (!taken.has(mac)) return mac;
  }
}

export interface VmConfigDeps {
  readonly reg: VmRegistry;
  readonly vms: VmRepository;
  readonly img: QemuImg | null;
}

export class VmConfigs {
  private readonly img: QemuImg | null;

  constructor(private readonly d: VmConfigDeps) {
    this.img = d.img;
  }

  private get reg(): VmRegistry {
    return this.d.reg;
  }

  async create(spec: CreateVmSpec): Promise<OpResult> {
    if (!spec || typeof spec !== 'object') throw new NestboxError('INVALID_ARGUMENT', 'a VM specification is required');
    const warnings: string[] = [];
    let name: string;
    try {
      name = validateName(String(spec.name ?? ''));
    } catch (err) {
      configError(err);
    }
    if (this.d.vms.findByName(name)) throw new NestboxError('ALREADY_EXISTS', `a VM named '${name}' already exists`);
    let osId = spec.osType ?? 'other';
    // Unpicked OS type, an ISO given: the ISO's own metadata says what it installs.
    if (!spec.osType && spec.iso) {
      let guess = null;
      try {
        guess = detectOsFromIso(readIsoFacts(this.checkIso(spec.iso)));
      } catch (err) {
        // An ISO our reader cannot follow is still booted as before; only the guess is lost.
        if (!(err instanceof NestboxError) || err.code !== 'IMAGE_REJECTED') throw err;
        warnings.push(`the OS type could not be detected from the ISO (${err.message}); using '${osId}'`);
      }
      if (guess && findOsType(guess.osType)) {
        osId = guess.osType;
        warnings.push(`detected ${findOsType(guess.osType)!.label} from ${guess.evidence}; pass --os-type to choose otherwise`);
      }
    }
    const os = matchOsType(osId);
    if (!os) throw new NestboxError('INVALID_ARGUMENT', unknownOsTypeMessage(osId));
    const p = os.preset;
    const memoryMiB = spec.memoryMiB ?? p.memoryMiB;
    const cpus = spec.cpus ?? p.cpus;
    this.admitHardware(memoryMiB, cpus);

    let firmware = spec.firmware ?? p.firmware;
    if (firmware === 'uefi' && !this.reg.d.host.ovmf) {
      if (spec.firmware === 'uefi') {
        throw new NestboxError('HOST_UNSUPPORTED', 'UEFI firmware (OVMF) is not installed on this host (Debian/Ubuntu: apt install ovmf)');
      }
      firmware = 'bios';
      warnings.push(`${os.label} prefers UEFI, but OVMF is not installed; using BIOS`);
    }

    // Secure Boot and a TPM: asked for explicitly, a host without them is refused naming the
    // package; wanted only by the OS's preset, they are left off with a warning.
    let secureBoot = spec.secureBoot ?? (p.secureBoot === true && firmware === 'uefi');
    if (secureBoot && firmware !== 'uefi') throw new NestboxError('INVALID_ARGUMENT', 'Secure Boot needs UEFI firmware (--firmware uefi)');
    if (secureBoot && !this.reg.d.host.secureBoot) {
      if (spec.secureBoot === true) throw new NestboxError('HOST_UNSUPPORTED', SECURE_BOOT_MISSING);
      secureBoot = false;
      warnings.push(`${os.label} prefers Secure Boot, but this host has no UEFI firmware with Secure Boot (Debian/Ubuntu: apt install ovmf); created without it`);
    }
    let tpm = spec.tpm ?? p.tpm === true;
    if (tpm && !this.reg.d.host.swtpm) {
      if (spec.tpm === true) throw new NestboxError('HOST_UNSUPPORTED', TPM_MISSING);
      tpm = false;
      warnings.push(`${os.label} needs a TPM 2.0, but swtpm is not installed on this host (Debian/Ubuntu: apt install swtpm swtpm-tools); created without it`);
    }

    let iso: string | null = null;
    if (spec.iso) iso = this.checkIso(spec.iso);

    const shares: ShareConfig[] = [];
    for (const s of spec.shares ?? []) {
      const planned = planShare(name, shares, s);
      shares.push(planned.share);
      if (planned.note) warnings.push(planned.note);
    }

    // The OS's own minimums: a warning, and a refusal for an unattended install (its installer
    // would fail or crawl with nobody watching).
    let newDiskBytes: number | null = null;
    if (!spec.disk && !spec.noDisk) {
      try {
        newDiskBytes = parseSize(spec.diskSize ?? `${p.diskGiB}G`);
      } catch {
        newDiskBytes = null;
      }
    }
    const short = checkMinimums(os.id, { memoryMiB, cpus, diskBytes: newDiskBytes });
    if (short.length && spec.unattended) {
      throw new NestboxError('INVALID_ARGUMENT', `cannot install ${os.label} unattended on this VM: ${short.map((s) => s.message).join('; ')}`);
    }
    for (const s of short) warnings.push(s.message);

    const uuid = crypto.randomUUID();
    const dir = this.reg.d.layout.newVmDir(name);
    let seed: SeedPlan | null = null;
    if (spec.unattended) {
      let kind;
      try {
        kind = seedKindFor(os.id, Boolean(spec.disk) && !iso);
      } catch (err) {
        if (err instanceof UnattendedError) throw new NestboxError('INVALID_ARGUMENT', `unattended install: ${err.message}`);
        throw err;
      }
      if (kind !== 'cloud' && !iso) throw new NestboxError('INVALID_ARGUMENT', `unattended install: ${os.label} is installed from its ISO (--iso)`);
      if (kind !== 'cloud' && spec.noDisk) throw new NestboxError('INVALID_ARGUMENT', 'unattended install: an install needs a disk to install to');
      // Debian's and Ubuntu's installers are booted from their kernel and initrd directly,
      // which are signed for shim, not for the firmware's keys: Secure Boot refuses them.
      if ((kind === 'debian' || kind === 'ubuntu') && secureBoot) {
        const off = `turn it on after the install (nestbox modify '${name}' --secure-boot on; the installed system boots through the signed shim)`;
        if (spec.secureBoot === true) {
          throw new NestboxError('INVALID_ARGUMENT', `unattended install: ${os.label}'s installer kernel is booted directly, and Secure Boot refuses it (it is signed for shim, not for the firmware's keys); create the VM without Secure Boot and ${off}`);
        }
        secureBoot = false;
        warnings.push(`Secure Boot is off for the unattended install (${os.label}'s installer kernel is booted directly, which Secure Boot refuses); ${off}`);
      }
      seed = planSeed(kind, spec.unattended, { name, uuid, dir, firmware, iso });
    }
    const disks: DiskConfig[] = [];
    const bus = spec.diskBus ?? p.diskBus;
    let newDisk: { file: string; size: number } | null = null;
    if (spec.disk) {
      disks.push(await this.adoptDisk(spec.disk, bus));
    } else if (!spec.noDisk) {
      let size: number;
      try {
        size = parseSize(spec.diskSize ?? `${p.diskGiB}G`);
      } catch (err) {
        throw new NestboxError('INVALID_ARGUMENT', (err as Error).message);
      }
      if (size < 1024 * 1024) throw new NestboxError('INVALID_ARGUMENT', 'a disk must be at least 1 MiB');
      if (size > 64 * 1024 ** 4) throw new NestboxError('INVALID_ARGUMENT', 'a disk may be at most 64 TiB');
      const file = `${name}.qcow2`;
      newDisk = { file: path.join(dir, file), size };
      disks.push({ id: 'disk0', file, format: 'qcow2', bus, readOnly: false, owned: true });
    }
    const cdroms: CdromConfig[] = [{ id: 'cd0', iso }, ...(seed?.cdrom ? [seed.cdrom] : [])];
    const takenMacs = new Set(this.d.vms.list().flatMap((r) => r.config.nics.map((n) => n.mac)));
    const nicMode = spec.nic ?? 'nat';
    if (!(['nat', 'bridged', 'internal', 'none'] as const).includes(nicMode)) throw new NestboxError('INVALID_ARGUMENT', `nic must be nat, bridged, internal or none, not '${String(nicMode)}'`);
    if (nicMode === 'internal' && !spec.nicNetwork) throw new NestboxError('INVALID_ARGUMENT', 'an internal adapter needs the name of its network (nicNetwork)');
    if (nicMode === 'bridged' && !spec.nicBridge) throw new NestboxError('INVALID_ARGUMENT', 'a bridged adapter needs the host bridge to join (nicBridge)');
    const nics: NicConfig[] =
      nicMode === 'none'
        ? []
        : [
            {
              id: 'net0',
              mode: nicMode,
              model: p.nicModel,
              mac: randomMac(takenMacs),
              forwards: [],
              ...(nicMode === 'internal' ? { network: spec.nicNetwork! } : {}),
              ...(nicMode === 'bridged' ? { bridge: spec.nicBridge! } : {}),
            },
          ];

    let config: VmConfig;
    try {
      config = parseVmConfig({
        version: CONFIG_VERSION,
        uuid,
        name,
        osType: os.id,
        description: spec.description ?? '',
        group: spec.group ?? '',
        memoryMiB,
        cpus,
        firmware,
        machine: p.machine,
        disks,
        cdroms,
        bootOrder: iso ? ['cdrom', 'disk'] : ['disk', 'cdrom'],
        nics,
        display: { adapter: spec.display ?? p.display },
        serial: { enabled: true },
        guestAgent: true,
        ...(spec.autoSnapshots ? { autoSnapshot: { keep: spec.autoSnapshots } } : {}),
        ...(secureBoot ? { secureBoot } : {}),
        ...(tpm ? { tpm } : {}),
        ...(spec.clipboard === false ? { clipboard: false } : {}),
        ...(shares.length ? { shares } : {}),
        ...(seed ? { install: seed.install } : {}),
      });
    } catch (err) {
      configError(err);
    }

    try {
      fs.mkdirSync(vmFiles(dir).logsDir, { recursive: true, mode: 0o700 });
      if (newDisk) {
        if (!this.img) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-img was not found; install QEMU');
        await this.img.create(newDisk.file, 'qcow2', newDisk.size);
      }
      if (firmware === 'uefi') await this.ensureEfiVars(dir, secureBoot);
      seed?.write();
      if (this.d.vms.findByName(name)) throw new NestboxError('ALREADY_EXISTS', `a VM named '${name}' already exists`);
      this.d.vms.insert(config, dir, 'poweredOff');
    } catch (err) {
      // Nothing half-made stays behind: the folder is ours, it was created just now.
      fs.rmSync(dir, { recursive: true, force: true });
      const full = (err instanceof NestboxError && err.code === 'NO_SPACE') || (err as NodeJS.ErrnoException).code === 'ENOSPC' || /SQLITE_FULL/.test(String((err as { code?: unknown }).code));
      if (full) {
        throw new NestboxError(
          'NO_SPACE',
          `there is not enough space on the disk holding ${path.dirname(dir)} to create '${name}'${newDisk ? ` and its ${formatBytes(newDisk.size)} disk` : ''}; nothing was kept`,
          err instanceof NestboxError ? err.detail : (err as Error).message,
        );
      }
      throw err;
    }
    const disk = newDisk ? `, a new ${formatBytes(newDisk.size)} disk` : spec.disk ? `, disk ${spec.disk}` : '';
    const how = seed ? `, unattended install as user '${spec.unattended!.user}'` : '';
    this.reg.log(uuid, 'info', 'created', `created '${name}' (${os.label}, ${memoryMiB} MiB, ${cpus} CPU${cpus > 1 ? 's' : ''}${disk}${how})`);
    this.reg.d.bus.emit('vm.changed', { uuid });
    return this.reg.result(uuid, warnings);
  }

  admitHardware(memoryMiB: number, cpus: number): void {
    if (!Number.isInteger(memoryMiB) || memoryMiB < 16) throw new NestboxError('INVALID_ARGUMENT', 'memory must be a whole number of MiB, at least 16');
    if (memoryMiB > this.reg.d.host.memoryMiB) {
      throw new NestboxError(
        'ADMISSION_DENIED',
        `${memoryMiB} MiB of memory is more than this host has (${this.reg.d.host.memoryMiB} MiB)`,
      );
    }
    if (!Number.isInteger(cpus) || cpus < 1) throw new NestboxError('INVALID_ARGUMENT', 'the number of CPUs must be a whole number, at least 1');
    if (cpus > this.reg.d.host.cpus) {
      throw new NestboxError('ADMISSION_DENIED', `${cpus} virtual CPUs is more than this host has (${this.reg.d.host.cpus})`);
    }
  }

  checkIso(file: string): string {
    const abs = path.resolve(file);
    const facts = inspectImage(abs);
    if (facts.format !== 'iso') {
      throw new NestboxError('IMAGE_REJECTED', `'${file}' is not an ISO 9660 image (it looks like ${facts.format})`);
    }
    return abs;
  }

  /** Attaches an existing image in place after our inspector and qemu-img agree on it. */
  private async adoptDisk(file: string, bus: DiskConfig['bus']): Promise<DiskConfig> {
    const id = await identifyImage(file, this.img, { asDisk: true });
    if (id.format === 'iso') throw new NestboxError('IMAGE_REJECTED', `'${file}' is an ISO image; pass it with --iso`);
    return { id: 'disk0', file: id.path, format: id.format, bus, readOnly: false, owned: false };
  }

  /**
   * The VM's UEFI variable store, made from the firmware's template: with Secure Boot, the
   * template with the keys enrolled (so Secure Boot is on from the first boot).
   */
  async ensureEfiVars(dir: string, secureBoot = false): Promise<void> {
    const vars = vmFiles(dir).efiVars;
    if (fs.existsSync(vars)) return;
    const host = this.reg.d.host;
    if (!this.img) throw new NestboxError('HOST_UNSUPPORTED', 'qemu-img was not found; install QEMU');
    // The variable store is qcow2 so that it is snapshotted together with the disks.
    if (secureBoot) {
      if (!host.secureBoot) throw new NestboxError('HOST_UNSUPPORTED', SECURE_BOOT_MISSING);
      await this.img.convertToQcow2(host.secureBoot.vars, host.secureBoot.varsFormat, vars);
      return;
    }
    if (!host.ovmf) throw new NestboxError('HOST_UNSUPPORTED', 'UEFI firmware (OVMF) is not installed on this host');
    await this.img.convertToQcow2(host.ovmf.vars, 'raw', vars);
  }

  /**
   * Erases a VM's TPM (its state folder): the way out of stale or damaged state. What the
   * guest kept in it (BitLocker keys, Windows Hello) is gone, so callers confirm first.
   */
  resetTpm(ref: string): OpResult {
    const row = this.reg.resolve(ref);
    if (!isAllowed(row.state, 'modifyHardware')) {
      throw new NestboxError('INVALID_STATE', `cannot reset the TPM of '${row.name}' while it is ${describeState(row.state)}; power it off first${row.state === 'saved' ? ' (or discard its saved state)' : ''}`);
    }
    fs.rmSync(tpmStateDir(row.dir), { recursive: true, force: true });
    this.reg.log(row.uuid, 'warning', 'tpm-reset', `reset the TPM of '${row.name}': its state was erased; a new one is made at the next start`);
    this.reg.d.bus.emit('vm.changed', { uuid: row.uuid });
    return this.reg.result(row.uuid);
  }

  async modify(ref: string, changes0: ModifyVmSpec): Promise<OpResult> {
    if (!changes0 || typeof changes0 !== 'object') throw new NestboxError('INVALID_ARGUMENT', 'no changes given');
    const { resetTpm, ...changes } = changes0;
    if (resetTpm) {
      this.resetTpm(ref);
      if (Object.keys(changes).length === 0) return this.reg.result(this.reg.resolve(ref).uuid);
    }
    const row = this.reg.resolve(ref);
    const resChanges = changes.resources ?? {};
    if (typeof resChanges !== 'object' || Array.isArray(resChanges)) throw new NestboxError('INVALID_ARGUMENT', 'resources must be an object');
    for (const k of Object.keys(resChanges)) {
      if (!(RESOURCE_KEYS as readonly string[]).includes(k)) throw new NestboxError('INVALID_ARGUMENT', `unknown resource setting '${k}' (known: ${RESOURCE_KEYS.join(', ')})`);
    }
    const resKeys = Object.keys(resChanges) as (keyof ResourceConfig)[];
    const pins = resChanges.pinCpus;
    if (Array.isArray(pins)) {
      const missing = pins.filter((c) => typeof c === 'number' && c >= this.reg.d.host.cpus);
      if (missing.length) {
        throw new NestboxError('INVALID_ARGUMENT', `host CPU ${missing.join(', ')} does not exist (this host has ${this.reg.d.host.cpus}: 0–${this.reg.d.host.cpus - 1})`);
      }
    }
    const offlineRes = resKeys.filter((k) => !LIVE_RESOURCES.includes(k));
    const hardware = [...(['memoryMiB', 'cpus', 'firmware', 'display', 'secureBoot', 'tpm', 'guestAgent', 'clipboard'] as const).filter((k) => changes[k] !== undefined), ...offlineRes];
    if (hardware.length && !isAllowed(row.state, 'modifyHardware')) {
      throw new NestboxError(
        'INVALID_STATE',
        `cannot change ${hardware.join(', ')} of '${row.name}' while it is ${describeState(row.state)}; power it off first` +
          (row.state === 'saved' ? ' (or discard its saved state)' : ''),
      );
    }
    if (changes.autoSnapshots !== undefined && (!Number.isInteger(changes.autoSnapshots) || changes.autoSnapshots < 0 || changes.autoSnapshots > 100)) {
      throw new NestboxError('INVALID_ARGUMENT', 'the number of automatic snapshots to keep must be a whole number from 0 (off) to 100');
    }
    if (changes.memoryMiB !== undefined || changes.cpus !== undefined) {
      this.admitHardware(changes.memoryMiB ?? row.config.memoryMiB, changes.cpus ?? row.config.cpus);
    }
    if (changes.name !== undefined && changes.name !== row.name) {
      if (row.state === 'starting' || row.state === 'saving') throw new NestboxError('INVALID_STATE', `cannot rename '${row.name}' while it is ${describeState(row.state)}`);
      const other = this.d.vms.findByName(changes.name);
      if (other && other.uuid !== row.uuid) throw new NestboxError('ALREADY_EXISTS', `a VM named '${changes.name}' already exists`);
    }
    if (changes.firmware === 'uefi' && !this.reg.d.host.ovmf) {
      throw new NestboxError('HOST_UNSUPPORTED', 'UEFI firmware (OVMF) is not installed on this host');
    }
    if (changes.secureBoot === true && !this.reg.d.host.secureBoot) throw new NestboxError('HOST_UNSUPPORTED', SECURE_BOOT_MISSING);
    if (changes.tpm === true && !this.reg.d.host.swtpm) throw new NestboxError('HOST_UNSUPPORTED', TPM_MISSING);
    // BIOS has no Secure Boot: switching to BIOS turns it off.
    const secureBootNext = changes.firmware === 'bios' ? false : (changes.secureBoot ?? row.config.secureBoot ?? false);
    let cdroms = row.config.cdroms;
    let liveIso: string | null | undefined;
    if (changes.iso !== undefined) {
      const iso = changes.iso === null || changes.iso === '' ? null : this.checkIso(changes.iso);
      if (row.state === 'saved' || row.state === 'saving' || row.state === 'starting') {
        throw new NestboxError('INVALID_STATE', `cannot change the ISO of '${row.name}' while it is ${describeState(row.state)}`);
      }
      if (cdroms.length === 0) throw new NestboxError('INVALID_STATE', `'${row.name}' has no CD/DVD drive`);
      cdroms = cdroms.map((c, i) => (i === 0 ? { ...c, iso } : c));
      if (isActive(row.state)) liveIso = iso;
    }
    let next: VmConfig;
    try {
      next = parseVmConfig({
        ...row.config,
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.memoryMiB !== undefined ? { memoryMiB: changes.memoryMiB } : {}),
        ...(changes.cpus !== undefined ? { cpus: changes.cpus } : {}),
        ...(changes.description !== undefined ? { description: changes.description } : {}),
        ...(changes.group !== undefined ? { group: changes.group } : {}),
        ...(changes.firmware !== undefined ? { firmware: changes.firmware } : {}),
        ...(changes.display !== undefined ? { display: { adapter: changes.display } } : {}),
        ...(resKeys.length || row.config.resources ? { resources: mergeResources(row.config.resources, resChanges) } : {}),
        ...(changes.autoSnapshots !== undefined ? { autoSnapshot: { keep: changes.autoSnapshots } } : {}),
        secureBoot: secureBootNext,
        ...(changes.tpm !== undefined ? { tpm: changes.tpm } : {}),
        ...(changes.guestAgent !== undefined ? { guestAgent: changes.guestAgent } : {}),
        ...(changes.clipboard !== undefined ? { clipboard: changes.clipboard } : {}),
        cdroms,
      });
    } catch (err) {
      configError(err);
    }
    const sbChanged = next.firmware === 'uefi' && (next.secureBoot ?? false) !== ((row.config.firmware === 'uefi' && row.config.secureBoot) ?? false);
    if (sbChanged && fs.existsSync(vmFiles(row.dir).efiVars)) {
      // Secure Boot on or off is a different variable template (keys enrolled or not); the
      // old store is kept beside it, so boot entries the guest made can be recovered.
      fs.renameSync(vmFiles(row.dir).efiVars, `${vmFiles(row.dir).efiVars}.before-secure-boot-${next.secureBoot ? 'on' : 'off'}`);
    }
    if (next.firmware === 'uefi') await this.ensureEfiVars(row.dir, next.secureBoot === true);
    if (liveIso !== undefined) await changeCd(this.reg.proc(row).proc, cdroms[0]!.id, liveIso, this.reg.d.layout.dataDir);
    this.d.vms.updateConfig(next);
    const live = this.reg.running.get(row.uuid);
    if (live && resKeys.some((k) => LIVE_RESOURCES.includes(k))) this.reg.resources.enforce({ ...row, config: next }, live);
    const what = Object.keys(changes).map((k) => (k === 'resources' ? `resources (${resKeys.join(', ')})` : k));
    this.reg.log(row.uuid, 'info', 'modified', `changed ${what.join(', ')} of '${next.name}'`);
    this.reg.d.bus.emit('vm.changed', { uuid: row.uuid });
    return this.reg.result(row.uuid);
  }
}
