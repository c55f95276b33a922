/**
 * Unattended installs: the seeds a new VM gets (built by domain/unattended.ts, packed by the
 * storage layer) and their end.
 *
 * When an install "finishes": an install lasts one run of the VM, from the start that boots
 * with the seed to the VM stopping, however it stops — the installer powering it off at the
 * end, as every seed asks (Debian: `exit/poweroff`, Ubuntu: `shutdown: poweroff`), the person
 * shutting down Windows or the cloud image after its first boot, or QEMU ending. At that stop
 * Nestbox detaches the seed CD and the installer kernel, deletes the seed files and makes the
 * disk the first boot device. Installer reboots inside the run (Windows Setup restarts several
 * times) are guest resets, not stops. A stop the core did not see (it was not running) is
 * handled by the next start. A Save state keeps the seed: the run goes on after the restore.
 *
 * The password is never written in the clear: Linux seeds hold its SHA-512 crypt, Windows'
 * answer file the hidden form Windows defines; neither is logged.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { UnattendedSpec } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { CdromConfig, InstallConfig, VmConfig } from '../domain/config';
import { detectOsFromIso } from '../domain/osdetect';
import {
  buildAutoinstallUserData, buildAutounattend, buildCloudUserData, buildMetaData, buildPreseed, checkPassword,
  installerAppend, installerBoot, parseIdentity, type SeedKind, UnattendedError,
} from '../domain/unattended';
import { buildGzipCpio } from '../storage/cpio';
import { sha512Crypt, windowsHiddenPassword } from '../storage/crypt';
import { buildIso, IsoReader } from '../storage/iso9660';
import type { VmRepository } from '../store/db';
import type { VmRegistry } from './vmregistry';

export const SEED_CDROM = 'seed';
const SEED_ISO = 'unattended-seed.iso';
const KERNEL = 'installer-vmlinuz';
const INITRD = 'installer-initrd';
/** An installer kernel or initrd larger than this is not one. */
const MAX_BOOT_FILE = 512 * 1024 * 1024;

export interface SeedPlan {
  readonly install: InstallConfig;
  readonly cdrom: CdromConfig | null;
  /** Writes the seed files into the VM's (new) folder. */
  readonly write: () => void;
}

function unattendedError(err: unknown): never {
  if (err instanceof UnattendedError) throw new NestboxError('INVALID_ARGUMENT', `unattended install: ${err.message}`);
  throw err;
}

/** Checks what was asked and plans the seed; nothing is written until `write()`. */
export function planSeed(kind: SeedKind, spec: UnattendedSpec, vm: { readonly name: string; readonly uuid: string; readonly dir: string; readonly firmware: 'bios' | 'uefi'; readonly iso: string | null }): SeedPlan {
  let identity;
  try {
    checkPassword(spec.password);
    identity = parseIdentity(spec, kind, vm.name);
  } catch (err) {
    unattendedError(err);
  }
  const seedIso = path.join(vm.dir, SEED_ISO);
  const cdrom: CdromConfig = { id: SEED_CDROM, iso: seedIso };
  const writeIso = (files: { name: string; data: Buffer }[], volumeId: string) => fs.writeFileSync(seedIso, buildIso(files, { volumeId }), { mode: 0o600, flag: 'wx' });
  switch (kind) {
    case 'windows': {
      const xml = buildAutounattend({ identity, firmware: vm.firmware, passwordValue: windowsHiddenPassword(spec.password) });
      return {
        install: { kind, seedCdrom: SEED_CDROM, files: [SEED_ISO], booted: false },
        cdrom,
        write: () => writeIso([{ name: 'autounattend.xml', data: Buffer.from(xml) }], 'AUTOUNATTEND'),
      };
    }
    case 'cloud': {
      const hash = sha512Crypt(spec.password);
      return {
        install: { kind, seedCdrom: SEED_CDROM, files: [SEED_ISO], booted: false },
        cdrom,
        write: () =>
          writeIso(
            [
              { name: 'user-data', data: Buffer.from(buildCloudUserData({ identity, passwordHash: hash })) },
              { name: 'meta-data', data: Buffer.from(buildMetaData(`nestbox-${vm.uuid}`, identity.hostname)) },
            ],
            'cidata',
          ),
      };
    }
    case 'debian':
    case 'ubuntu': {
      if (!vm.iso) throw new NestboxError('INVALID_ARGUMENT', `unattended install: the ${kind === 'debian' ? 'Debian' : 'Ubuntu'} installer needs its ISO (--iso)`);
      const iso = vm.iso;
      const reader = IsoReader.open(iso);
      let boot;
      try {
        const grub = reader.readFile('boot/grub/grub.cfg', 64 * 1024);
        const info = reader.readFile('.disk/info', 64 * 1024);
        // An installer answers only its own seed: a Debian preseed means nothing to Subiquity.
        const seen = detectOsFromIso({ volumeId: reader.volumeId, diskInfo: info ? info.toString('utf8') : null, idwbinfo: null, grubCfg: grub ? grub.toString('utf8') : null });
        const want = kind === 'debian' ? 'linux-debian' : 'linux-ubuntu';
        if (seen && seen.osType !== want) {
          throw new NestboxError('INVALID_ARGUMENT', `unattended install: the OS type is ${kind === 'debian' ? 'Debian' : 'Ubuntu'}, but '${iso}' looks like ${seen.osType} (${seen.evidence}); pick the matching OS type`);
        }
        boot = installerBoot(kind, grub ? grub.toString('utf8') : null);
        if (!reader.find(boot.kernel) || !reader.find(boot.initrd)) {
          throw new NestboxError('IMAGE_REJECTED', `'${iso}' has no installer kernel and initrd at ${boot.kernel} and ${boot.initrd}; is it a ${kind === 'debian' ? 'Debian' : 'Ubuntu Server'} installer ISO?`);
        }
      } finally {
        reader.close();
      }
      const hash = sha512Crypt(spec.password);
      const kernel = { kernel: KERNEL, initrd: INITRD, append: installerAppend(kind, boot, identity) };
      const extract = () => {
        const r = IsoReader.open(iso);
        try {
          r.extract(boot.kernel, path.join(vm.dir, KERNEL), MAX_BOOT_FILE);
          r.extract(boot.initrd, path.join(vm.dir, INITRD), MAX_BOOT_FILE);
        } finally {
          r.close();
        }
      };
      if (kind === 'debian') {
        // The preseed rides in the initrd (d-i reads /preseed.cfg first thing): no second CD.
        const preseed = buildPreseed({ identity, passwordHash: hash });
        return {
          install: { kind, files: [KERNEL, INITRD], kernel, booted: false },
          cdrom: null,
          write: () => {
            extract();
            fs.appendFileSync(path.join(vm.dir, INITRD), buildGzipCpio([{ name: 'preseed.cfg', data: Buffer.from(preseed), mode: 0o644 }]));
          },
        };
      }
      return {
        install: { kind, seedCdrom: SEED_CDROM, files: [SEED_ISO, KERNEL, INITRD], kernel, booted: false },
        cdrom,
        write: () => {
          extract();
          writeIso(
            [
              { name: 'user-data', data: Buffer.from(buildAutoinstallUserData({ identity, passwordHash: hash })) },
              { name: 'meta-data', data: Buffer.from(buildMetaData(`nestbox-${vm.uuid}`, identity.hostname)) },
            ],
            'cidata',
          );
        },
      };
    }
    default: {
      const never: never = kind;
      throw new Error(`unknown seed kind ${String(never)}`);
    }
  }
}

/** The end of an install: the config without the seed (pure, so it is tested alone). */
export function withoutInstall(config: VmConfig): VmConfig {
  const inst = config.install;
  if (!inst) return config;
  const { install: _gone, ...rest } = config;
  const cdroms = inst.seedCdrom ? config.cdroms.filter((c) => c.id !== inst.seedCdrom) : config.cdroms;
  const bootOrder = inst.kind === 'cloud' ? config.bootOrder : (['disk', ...config.bootOrder.filter((b) => b !== 'disk')] as const);
  return { ...rest, cdroms, bootOrder };
}

export class Installs {
  constructor(
    private readonly reg: VmRegistry,
    private readonly vms: VmRepository,
  ) {}

  /** After a start with the seed: the next stop ends the install. */
  markBooted(uuid: string): void {
    const row = this.vms.get(uuid);
    if (!row?.config.install || row.config.install.booted) return;
    this.vms.updateConfig({ ...row.config, install: { ...row.config.install, booted: true } });
  }

  /** Ends the install of a VM that has stopped after a run with its seed; safe to call twice. */
  finish(uuid: string, why: string): void {
    const row = this.vms.get(uuid);
    const inst = row?.config.install;
    if (!row || !inst || !inst.booted) return;
    for (const f of inst.files) fs.rmSync(path.join(row.dir, path.basename(f)), { force: true });
    this.vms.updateConfig(withoutInstall(row.config));
    this.reg.log(uuid, 'info', 'install-finished', `the unattended install of '${row.name}' ended (${why}); its seed was detached and deleted, and it boots from its disk`);
    this.reg.d.bus.emit('vm.changed', { uuid });
  }
}
