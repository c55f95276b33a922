/**
 * The media registry's table: every disk image and ISO Nestbox knows, by absolute path, with
 * what qemu-img last said about it. What a medium is used by is never stored
 * (services/mediaregistry.ts reads it from the VMs' configurations).
 */
import type { Db } from './db';

export interface MediaRow {
  readonly path: string;
  readonly kind: 'disk' | 'iso';
  readonly format: string;
  readonly virtualSize: number;
  readonly actualSize: number;
  readonly owned: boolean;
  readonly problem: string | null;
  readonly addedAt: string;
  readonly updatedAt: string;
}

interface RawMediaRow {
  path: string;
  kind: 'disk' | 'iso';
  format: string;
  virtual_size: number;
  actual_size: number;
  owned: number;
  problem: string | null;
  added_at: string;
  updated_at: string;
}

const toMediaRow = (r: RawMediaRow): MediaRow => ({
  path: r.path,
  kind: r.kind,
  format: r.format,
  virtualSize: r.virtual_size,
  actualSize: r.actual_size,
  owned: r.owned === 1,
  problem: r.problem,
  addedAt: r.added_at,
  updatedAt: r.updated_at,
});

/** The media registry: every disk image and ISO Nestbox knows, by absolute path. */
export class MediaRepository {
  constructor(private readonly db: Db) {}

  list(): MediaRow[] {
    return (this.db.prepare('SELECT * FROM media ORDER BY path').all() as RawMediaRow[]).map(toMediaRow);
  }

  get(path: string): MediaRow | undefined {
    const r = this.db.prepare('SELECT * FROM media WHERE path = ?').get(path) as RawMediaRow | undefined;
    return r && toMediaRow(r);
  }

  /** Adds or updates an entry; `owned` only ever turns on (Nestbox made it), never off. */
  upsert(m: Omit<MediaRow, 'addedAt' | 'updatedAt'>): void {
    const t = new Date().toISOString();
    this.db
      .prepare(
        `INSERT INTO media (path, kind, format, virtual_size, actual_size, owned, problem, added_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(path) DO UPDATE SET kind = excluded.kind, format = excluded.format, virtual_size = excluded.virtual_size,
           actual_size = excluded.actual_size, owned = MAX(owned, excluded.owned), problem = excluded.problem, updated_at = excluded.updated_at`,
      )
      .run(m.path, m.kind, m.format, m.virtualSize, m.actualSize, m.owned ? 1 : 0, m.problem, t, t);
  }

  delete(path: string): void {
    this.db.prepare('DELETE FROM media WHERE path = ?').run(path);
  }
}
