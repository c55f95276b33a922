/**
 * Numbered schema migrations. Never edit a migration that has shipped: add the next one.
 * Each runs in its own transaction together with the `user_version` bump.
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'inventory, event log and settings',
    sql: `
      CREATE TABLE vms (
        uuid        TEXT PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
        config      TEXT NOT NULL,
        state       TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      );
      CREATE TABLE events (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        ts       TEXT NOT NULL,
        vm_uuid  TEXT,
        kind     TEXT NOT NULL,
        message  TEXT NOT NULL
      );
      CREATE INDEX events_vm ON events(vm_uuid, id);
      CREATE TABLE settings (
        key    TEXT PRIMARY KEY,
        value  TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: 'VM folders, state reasons, event levels and runtime records',
    sql: `
      ALTER TABLE vms ADD COLUMN dir TEXT NOT NULL DEFAULT '';
      ALTER TABLE vms ADD COLUMN state_reason TEXT;
      ALTER TABLE events ADD COLUMN level TEXT NOT NULL DEFAULT 'info';
      CREATE TABLE vm_runtime (
        vm_uuid     TEXT PRIMARY KEY REFERENCES vms(uuid) ON DELETE CASCADE,
        pid         INTEGER NOT NULL,
        run_dir     TEXT NOT NULL,
        accel       TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        log_offset  INTEGER NOT NULL DEFAULT 0
      );
    `,
  },
  {
    version: 3,
    description: 'snapshot tree',
    sql: `
      CREATE TABLE snapshots (
        id          TEXT PRIMARY KEY,
        vm_uuid     TEXT NOT NULL REFERENCES vms(uuid) ON DELETE CASCADE,
        parent_id   TEXT,
        name        TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        created_at  TEXT NOT NULL,
        with_ram    INTEGER NOT NULL,
        tag         TEXT NOT NULL,
        config      TEXT NOT NULL,
        thumbnail   BLOB
      );
      CREATE INDEX snapshots_vm ON snapshots(vm_uuid, created_at);
      ALTER TABLE vms ADD COLUMN current_snapshot TEXT;
      ALTER TABLE vms ADD COLUMN pending_loadvm TEXT;
    `,
  },
  {
    version: 4,
    description: 'media registry, filled from the disks and ISOs VMs already use',
    // Sizes are read from the files when the core starts (MediaService.sync).
    sql: `
      CREATE TABLE media (
        path          TEXT PRIMARY KEY,
        kind          TEXT NOT NULL CHECK (kind IN ('disk', 'iso')),
        format        TEXT NOT NULL,
        virtual_size  INTEGER NOT NULL DEFAULT 0,
        actual_size   INTEGER NOT NULL DEFAULT 0,
        owned         INTEGER NOT NULL DEFAULT 0,
        problem       TEXT,
        added_at      TEXT NOT NULL,
        updated_at    TEXT NOT NULL
      );
      INSERT OR IGNORE INTO media (path, kind, format, owned, added_at, updated_at)
        SELECT CASE WHEN substr(json_extract(d.value, '$.file'), 1, 1) = '/' THEN json_extract(d.value, '$.file')
                    ELSE vms.dir || '/' || json_extract(d.value, '$.file') END,
               'disk', json_extract(d.value, '$.format'), json_extract(d.value, '$.owned'),
               strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        FROM vms, json_each(vms.config, '$.disks') AS d;
      INSERT OR IGNORE INTO media (path, kind, format, owned, added_at, updated_at)
        SELECT json_extract(c.value, '$.iso'), 'iso', 'iso', 0,
               strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        FROM vms, json_each(vms.config, '$.cdroms') AS c
        WHERE json_extract(c.value, '$.iso') IS NOT NULL;
    `,
  },
  {
    version: 5,
    description: 'per-minute resource usage history',
    sql: `
      CREATE TABLE vm_stats_minute (
        vm_uuid         TEXT NOT NULL REFERENCES vms(uuid) ON DELETE CASCADE,
        minute          INTEGER NOT NULL,
        samples         INTEGER NOT NULL,
        cpu_avg         REAL NOT NULL,
        cpu_max         REAL NOT NULL,
        rss_avg         INTEGER NOT NULL,
        rss_max         INTEGER NOT NULL,
        balloon_last    INTEGER,
        guest_used_avg  INTEGER,
        disk_rd_bytes   INTEGER NOT NULL,
        disk_wr_bytes   INTEGER NOT NULL,
        disk_rd_ops     INTEGER NOT NULL,
        disk_wr_ops     INTEGER NOT NULL,
        net_rx_bytes    INTEGER,
        net_tx_bytes    INTEGER,
        net_rx_packets  INTEGER,
        net_tx_packets  INTEGER,
        PRIMARY KEY (vm_uuid, minute)
      );
      CREATE INDEX vm_stats_minute_time ON vm_stats_minute(minute);
    `,
  },
  {
    version: 6,
    description: 'linked clones (base images Nestbox made and the disks that depend on them) and automatic snapshots',
    sql: `
      CREATE TABLE disk_bases (
        id          TEXT PRIMARY KEY,
        owner_uuid  TEXT NOT NULL REFERENCES vms(uuid),
        snapshot_id TEXT,
        disk_id     TEXT NOT NULL,
        file        TEXT NOT NULL UNIQUE,
        created_at  TEXT NOT NULL
      );
      CREATE INDEX disk_bases_owner ON disk_bases(owner_uuid);
      CREATE TABLE linked_disks (
        vm_uuid  TEXT NOT NULL REFERENCES vms(uuid) ON DELETE CASCADE,
        disk_id  TEXT NOT NULL,
        base_id  TEXT NOT NULL REFERENCES disk_bases(id),
        PRIMARY KEY (vm_uuid, disk_id)
      );
      CREATE INDEX linked_disks_base ON linked_disks(base_id);
      ALTER TABLE snapshots ADD COLUMN auto INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 7,
    description: 'journal of storage jobs, so a core killed in the middle of one can clean up after it',
    sql: `
      CREATE TABLE job_journal (
        id          TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        title       TEXT NOT NULL,
        target      TEXT,
        outputs     TEXT NOT NULL DEFAULT '[]',
        vm_uuid     TEXT,
        vm_name     TEXT,
        state       TEXT NOT NULL CHECK (state IN ('running', 'interrupted')),
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        note        TEXT
      );
    `,
  },
  {
    version: 8,
    description: 'live snapshots keep their RAM state in a file of their own (saved through a cancellable migration stream)',
    sql: `
      ALTER TABLE snapshots ADD COLUMN ram_file INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 9,
    description: 'libvirt hosts, and the VMs Nestbox last saw on each (listed as unreachable while their host is down)',
    sql: `
      CREATE TABLE hosts (
        name          TEXT PRIMARY KEY COLLATE NOCASE,
        uri           TEXT NOT NULL,
        peer_uri      TEXT,
        migrate_addr  TEXT,
        created_at    TEXT NOT NULL,
        facts         TEXT
      );
      CREATE TABLE host_vms (
        host        TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE ON UPDATE CASCADE,
        uuid        TEXT NOT NULL,
        name        TEXT NOT NULL,
        state       TEXT NOT NULL,
        memory_kib  INTEGER NOT NULL,
        vcpus       INTEGER NOT NULL,
        os_id       TEXT,
        seen_at     TEXT NOT NULL,
        PRIMARY KEY (host, uuid)
      );
    `,
  },
  {
    version: 10,
    description: "whether a live snapshot froze the guest's file systems (NULL: taken while off, or before this was recorded) and why not",
    sql: `
      ALTER TABLE snapshots ADD COLUMN frozen INTEGER;
      ALTER TABLE snapshots ADD COLUMN freeze_note TEXT;
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
