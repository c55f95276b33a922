/**
 * The media registry: every disk image and ISO Nestbox knows, with who uses each. Entries
 * come from the VMs' configurations and their snapshots' configurations, from the media
 * folder (web-mode uploads) and from files identified on request; sizes are re-read from the
 * files' headers. Usage is never stored: it is read from those configurations, so it cannot
 * drift from what QEMU would really open.
 *
 * The operations on the files (qemu-img jobs, deleting, importing) are in media.ts, which
 * asks this registry what a file is and who uses it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MediumFormat, MediumInfo, MediumUse } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { VmConfig } from '../domain/config';
import { resolveDiskPath } from '../qemu/argv';
import { identifyImage, type IdentifiedImage } from '../storage/identify';
import { inspectImage } from '../storage/inspect';
import type { QemuImg } from '../storage/qemuimg';
import type { SnapshotRepository, SnapshotRow, VmRepository, VmRow } from '../store/db';
import type { MediaRepository, MediaRow } from '../store/media';
import type { DataLayout } from '../store/paths';
import type { EventBus } from './events';

export interface MediaRegistryDeps {
  readonly layout: DataLayout;
  readonly vmRepo: VmRepository;
  readonly snapshots: SnapshotRepository;
  readonly repo: MediaRepository;
  readonly img: QemuImg | null;
  readonly bus: EventBus;
}

/** Space the file takes on the host (sparse files count what is allocated). */
export function allocated(st: fs.Stats): number {
  return typeof st.blocks === 'number' && st.blocks >= 0 ? st.blocks * 512 : st.size;
}

export class MediaRegistry {
  /** VMs changed since the registry was last brought up to date. */
  private stale = false;
  private syncTimer: NodeJS.Timeout | null = null;

  constructor(private readonly d: MediaRegistryDeps) {
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
  fresh(): void {
    if (this.stale) this.sync();
  }

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

  /** Every registered file with its uses, by name (`media.registry`). */
  list(): MediumInfo[] {
    this.sync();
    const usage = this.usageMap();
    return this.d.repo
      .list()
      .map((m) => this.toInfo(m, usage.get(m.path)?.uses ?? []))
      .sort((a, b) => a.name.localeCompare(b.name) || a.path.localeCompare(b.path));
  }

  /** One registered file with its uses (NOT_FOUND when the registry does not know it). */
  medium(file: string): MediumInfo {
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

  /** The absolute path of a file argument; the registry is brought up to date first. @internal for media operations and disks */
  abs(file: unknown): string {
    this.fresh();
    if (typeof file !== 'string' || file === '') throw new NestboxError('INVALID_ARGUMENT', 'a file path is required');
    return path.resolve(file);
  }

  /** A raw image Nestbox created stays raw, whatever its first sector looks like now. @internal for media operations and disks */
  identify(abs: string, asDisk = false): Promise<IdentifiedImage> {
    this.fresh();
    const known = this.d.repo.get(abs);
    return identifyImage(abs, this.d.img, { knownRaw: known?.owned === true && known.format === 'raw', asDisk: asDisk || known?.format === 'raw' });
  }

  /** What the registry knows of a file. @internal for media operations and disks */
  known(abs: string): MediaRow | undefined {
    return this.d.repo.get(abs);
  }

  /** Records an identified image in the registry. @internal for media operations and disks */
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

  /** Who uses a file: VMs now, and snapshots of them. */
  usesOf(abs: string): MediumUse[] {
    return this.usageMap().get(abs)?.uses ?? [];
  }

  describeUses(uses: readonly MediumUse[]): string {
    return uses
      .map((u) => (u.current ? `'${u.vm}' (${u.device})` : `snapshot${u.snapshots.length > 1 ? 's' : ''} ${u.snapshots.map((s) => `'${s}'`).join(', ')} of '${u.vm}'`))
      .join(', ');
  }
}
