/**
 * Per-minute usage history (`vm_stats_minute`): the one table written every minute per
 * running VM, apart from the inventory's repositories (db.ts) it shares the database with.
 */
import type { MinuteAggregate } from '../domain/stats';
import type { Db } from './db';

interface RawMinute {
  minute: number;
  samples: number;
  cpu_avg: number;
  cpu_max: number;
  rss_avg: number;
  rss_max: number;
  balloon_last: number | null;
  guest_used_avg: number | null;
  disk_rd_bytes: number;
  disk_wr_bytes: number;
  disk_rd_ops: number;
  disk_wr_ops: number;
  net_rx_bytes: number | null;
  net_tx_bytes: number | null;
  net_rx_packets: number | null;
  net_tx_packets: number | null;
}

/** Per-minute usage history, kept for a week. */
export class StatsRepository {
  static readonly KEEP_MS = 7 * 24 * 3600 * 1000;

  constructor(private readonly db: Db) {}

  /** Adds a minute; a second write of the same minute (a re-attached core) merges into it. */
  insert(vmUuid: string, a: MinuteAggregate): void {
    const old = this.db.prepare('SELECT * FROM vm_stats_minute WHERE vm_uuid = ? AND minute = ?').get(vmUuid, a.minute) as RawMinute | undefined;
    const m = old ? mergeMinutes(fromRaw(old), a) : a;
    this.db
      .prepare(
        `INSERT OR REPLACE INTO vm_stats_minute (vm_uuid, minute, samples, cpu_avg, cpu_max, rss_avg, rss_max, balloon_last, guest_used_avg,
          disk_rd_bytes, disk_wr_bytes, disk_rd_ops, disk_wr_ops, net_rx_bytes, net_tx_bytes, net_rx_packets, net_tx_packets)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        vmUuid, m.minute, m.samples, m.cpuAvg, m.cpuMax, m.rssAvg, m.rssMax, m.balloonLast, m.guestUsedAvg,
        m.diskRdBytes, m.diskWrBytes, m.diskRdOps, m.diskWrOps, m.netRxBytes, m.netTxBytes, m.netRxPackets, m.netTxPackets,
      );
  }

  since(vmUuid: string, sinceMs: number): MinuteAggregate[] {
    return (this.db.prepare('SELECT * FROM vm_stats_minute WHERE vm_uuid = ? AND minute >= ? ORDER BY minute').all(vmUuid, sinceMs) as RawMinute[]).map(fromRaw);
  }

  /** Drops minutes older than a week; returns how many. */
  prune(now: number = Date.now()): number {
    return this.db.prepare('DELETE FROM vm_stats_minute WHERE minute < ?').run(now - StatsRepository.KEEP_MS).changes;
  }
}

function fromRaw(r: RawMinute): MinuteAggregate {
  return {
    minute: r.minute,
    samples: r.samples,
    cpuAvg: r.cpu_avg,
    cpuMax: r.cpu_max,
    rssAvg: r.rss_avg,
    rssMax: r.rss_max,
    balloonLast: r.balloon_last,
    guestUsedAvg: r.guest_used_avg,
    diskRdBytes: r.disk_rd_bytes,
    diskWrBytes: r.disk_wr_bytes,
    diskRdOps: r.disk_rd_ops,
    diskWrOps: r.disk_wr_ops,
    netRxBytes: r.net_rx_bytes,
    netTxBytes: r.net_tx_bytes,
    netRxPackets: r.net_rx_packets,
    netTxPackets: r.net_tx_packets,
  };
}

/** Two partial aggregates of the same minute as one (weighted by their sample counts). */
export function mergeMinutes(a: MinuteAggregate, b: MinuteAggregate): MinuteAggregate {
  const n = a.samples + b.samples;
  const w = (x: number, y: number) => (x * a.samples + y * b.samples) / n;
  const addN = (x: number | null, y: number | null) => (x === null && y === null ? null : (x ?? 0) + (y ?? 0));
  return {
    minute: a.minute,
    samples: n,
    cpuAvg: w(a.cpuAvg, b.cpuAvg),
    cpuMax: Math.max(a.cpuMax, b.cpuMax),
    rssAvg: Math.round(w(a.rssAvg, b.rssAvg)),
    rssMax: Math.max(a.rssMax, b.rssMax),
    balloonLast: b.balloonLast ?? a.balloonLast,
    guestUsedAvg: a.guestUsedAvg === null ? b.guestUsedAvg : b.guestUsedAvg === null ? a.guestUsedAvg : Math.round(w(a.guestUsedAvg, b.guestUsedAvg)),
    diskRdBytes: a.diskRdBytes + b.diskRdBytes,
    diskWrBytes: a.diskWrBytes + b.diskWrBytes,
    diskRdOps: a.diskRdOps + b.diskRdOps,
    diskWrOps: a.diskWrOps + b.diskWrOps,
    netRxBytes: addN(a.netRxBytes, b.netRxBytes),
    netTxBytes: addN(a.netTxBytes, b.netTxBytes),
    netRxPackets: addN(a.netRxPackets, b.netRxPackets),
    netTxPackets: addN(a.netTxPackets, b.netTxPackets),
  };
}
