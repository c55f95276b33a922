/**
 * libvirt hosts and the VMs Nestbox last saw on each. The VM rows are a cache of what the host
 * said, kept so that a host that is down still shows its VMs (as unreachable) instead of
 * dropping them from the list.
 */
import type { VmState } from '../domain/lifecycle';
import { VM_STATES } from '../domain/lifecycle';
import type { Db } from './db';

export interface HostFacts {
  readonly libvirtVersion: string;
  readonly hypervisorVersion: string | null;
  readonly hostname: string;
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly cpuModel: string;
}

export interface HostRow {
  readonly name: string;
  readonly uri: string;
  readonly peerUri: string | null;
  readonly migrateAddr: string | null;
  readonly createdAt: string;
  /** What the host said when last connected (versions, CPUs, memory). */
  readonly facts: HostFacts | null;
}

export interface HostVmRow {
  readonly host: string;
  readonly uuid: string;
  readonly name: string;
  readonly state: VmState;
  readonly memoryKiB: number;
  readonly vcpus: number;
  readonly osId: string | null;
  readonly seenAt: string;
}

interface RawHost {
  name: string;
  uri: string;
  peer_uri: string | null;
  migrate_addr: string | null;
  created_at: string;
  facts: string | null;
}

interface RawVm {
  host: string;
  uuid: string;
  name: string;
  state: string;
  memory_kib: number;
  vcpus: number;
  os_id: string | null;
  seen_at: string;
}

function parseFacts(s: string | null): HostFacts | null {
  if (!s) return null;
  try {
    const o = JSON.parse(s) as Partial<HostFacts>;
    if (typeof o.libvirtVersion !== 'string' || typeof o.cpus !== 'number' || typeof o.memoryMiB !== 'number') return null;
    return {
      libvirtVersion: o.libvirtVersion,
      hypervisorVersion: typeof o.hypervisorVersion === 'string' ? o.hypervisorVersion : null,
      hostname: typeof o.hostname === 'string' ? o.hostname : '',
      cpus: o.cpus,
      memoryMiB: o.memoryMiB,
      cpuModel: typeof o.cpuModel === 'string' ? o.cpuModel : '',
    };
  } catch {
    return null;
  }
}

const toHost = (r: RawHost): HostRow => ({
  name: r.name,
  uri: r.uri,
  peerUri: r.peer_uri,
  migrateAddr: r.migrate_addr,
  createdAt: r.created_at,
  facts: parseFacts(r.facts),
});

const toVm = (r: RawVm): HostVmRow => ({
  host: r.host,
  uuid: r.uuid,
  name: r.name,
  state: (VM_STATES as readonly string[]).includes(r.state) ? (r.state as VmState) : 'aborted',
  memoryKiB: r.memory_kib,
  vcpus: r.vcpus,
  osId: r.os_id,
  seenAt: r.seen_at,
});

export class HostRepository {
  constructor(private readonly db: Db) {}

  list(): HostRow[] {
    return (this.db.prepare('SELECT * FROM hosts ORDER BY name COLLATE NOCASE').all() as RawHost[]).map(toHost);
  }

  get(name: string): HostRow | undefined {
    const r = this.db.prepare('SELECT * FROM hosts WHERE name = ?').get(name) as RawHost | undefined;
    return r ? toHost(r) : undefined;
  }

  insert(h: Omit<HostRow, 'facts'>, facts: HostFacts | null): void {
    this.db
      .prepare('INSERT INTO hosts (name, uri, peer_uri, migrate_addr, created_at, facts) VALUES (?, ?, ?, ?, ?, ?)')
      .run(h.name, h.uri, h.peerUri, h.migrateAddr, h.createdAt, facts ? JSON.stringify(facts) : null);
  }

  /** Renames (the VM rows follow by ON UPDATE CASCADE) and changes how the host is reached. */
  update(name: string, h: Pick<HostRow, 'name' | 'uri' | 'peerUri' | 'migrateAddr'>): void {
    this.db.prepare('UPDATE hosts SET name = ?, uri = ?, peer_uri = ?, migrate_addr = ? WHERE name = ?').run(h.name, h.uri, h.peerUri, h.migrateAddr, name);
  }

  setFacts(name: string, facts: HostFacts): void {
    this.db.prepare('UPDATE hosts SET facts = ? WHERE name = ?').run(JSON.stringify(facts), name);
  }

  delete(name: string): void {
    this.db.prepare('DELETE FROM hosts WHERE name = ?').run(name);
  }

  vms(host: string): HostVmRow[] {
    return (this.db.prepare('SELECT * FROM host_vms WHERE host = ? ORDER BY name').all(host) as RawVm[]).map(toVm);
  }

  /** Replaces what Nestbox knows of a host's VMs with what it just listed, in one transaction. */
  replaceVms(host: string, vms: readonly Omit<HostVmRow, 'host' | 'seenAt'>[]): void {
    const seenAt = new Date().toISOString();
    const del = this.db.prepare('DELETE FROM host_vms WHERE host = ?');
    const ins = this.db.prepare('INSERT OR REPLACE INTO host_vms (host, uuid, name, state, memory_kib, vcpus, os_id, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      del.run(host);
      for (const v of vms) ins.run(host, v.uuid, v.name, v.state, v.memoryKiB, v.vcpus, v.osId, seenAt);
    })();
  }
}
