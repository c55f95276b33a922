/**
 * Nestbox's client of one libvirt host, through `virsh` (libvirt's own client code handles
 * the transports, authentication and keepalive). Every call is one short-lived virsh with a
 * timeout; bulk reads (the domain list, pools, snapshots) are one virsh process running a
 * batch of commands, so listing 100 domains costs two processes, not a hundred. The event
 * stream is one long-lived `virsh event --all --loop` per host.
 *
 * This class is the typed calls. Running virsh for one connection is session.ts (over
 * virsh.ts), reading its answers parse.ts and domxml.ts, the console streams streams.ts; the
 * migration is migrate.ts and moving a volume's bytes volumes.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NestboxError } from '../api/errors';
import { attr, child, childrenOf, parseXml } from '../storage/xml';
import { checkLibvirtName, domainRef, libosinfoId, parseDomainXml, parseHostXml } from './domxml';
import {
  boundedInt,
  parseDomInfo,
  parseEventField,
  parseEventLine,
  parseNodeInfo,
  parsePoolXml,
  parseSnapshotXml,
  parseUuidNameList,
  parseVersion,
  parseVolumeXml,
  virshQuote,
} from './parse';
import { pnmToPng } from './ppm';
import { openSerialStream, openVncStream } from './streams';
import type {
  ByteStream,
  DomainDescription,
  DomainEvent,
  DomainSummary,
  LibvirtVersions,
  MigrateOptions,
  MigrateProgress,
  MigrateResult,
  NodeInfo,
  PoolInfo,
  SnapshotEntry,
  VolumeInfo,
} from './types';
import { migrateDomain } from './migrate';
import { VirshSession } from './session';
import { muxedUri } from './sshmux';
import { checkUri, virshArgv, virshEnv, virshError } from './virsh';
import { downloadVolume, uploadVolume } from './volumes';

export interface LibvirtConnectionOptions {
  /** The virsh binary (default: `virsh` on PATH). */
  readonly virsh?: string;
  /** Timeout of an ordinary call (default 30 s). */
  readonly timeoutMs?: number;
  /**
   * A private (0700) folder for the wrappers and control sockets that let every virsh of a
   * qemu+ssh host share one SSH connection (sshmux.ts); without it each call connects anew.
   */
  readonly sshMuxDir?: string;
}

const LONG_MS = 30 * 60_000;

export class LibvirtConnection {
  readonly uri: string;
  /** The host as messages name it. */
  readonly host: string;
  private readonly s: VirshSession;
  private readonly live = new Set<{ close(): void }>();

  constructor(uri: string, opts: LibvirtConnectionOptions = {}) {
    this.uri = checkUri(uri);
    // virsh (calls, events, consoles) reaches an SSH host through the shared connection; the
    // URI itself stays the user's, for messages and for the VNC forward's own ssh.
    this.s = new VirshSession(opts.sshMuxDir ? muxedUri(this.uri, opts.sshMuxDir) : this.uri, opts.virsh ?? 'virsh', opts.timeoutMs ?? 30_000);
    this.host = this.s.host;
  }

  // ------------------------------------------------------------ host

  async versions(): Promise<LibvirtVersions> {
    return parseVersion(await this.s.run(['version', '--daemon'], 'version'), this.host);
  }

  async nodeInfo(): Promise<NodeInfo> {
    const m = await this.s.batch(
      [
        { key: '1', commands: ['nodeinfo'] },
        { key: '2', commands: ['hostname'] },
      ],
      'node info',
    );
    if (!m.has('1') || !m.get('1')!.includes('Memory size')) throw new NestboxError('HOST_UNREACHABLE', `libvirt host ${this.host}: no node information (is the host reachable?)`);
    return parseNodeInfo(m.get('1')!, m.get('2') ?? '', this.host);
  }

  // ------------------------------------------------------------ domains

  async listDomains(): Promise<DomainSummary[]> {
    const list = parseUuidNameList(await this.s.run(['list', '--all', '--uuid', '--name'], 'list domains'), this.host);
    if (list.length === 0) return [];
    const sections = await this.s.batch(
      list.map((d) => ({ key: d.uuid, commands: [`dominfo ${d.uuid}`, `dumpxml --xpath /domain/metadata --wrap ${d.uuid}`] })),
      'domain details',
    );
    const osIdOf = (xml: string) => {
      const nodes = parseHostXml(xml.trim(), this.host, 'domain metadata');
      return libosinfoId(child(nodes, 'metadata'));
    };
    const out: DomainSummary[] = [];
    for (const d of list) {
      const s = sections.get(d.uuid);
      if (s === undefined) continue;
      const summary = parseDomInfo(d.uuid, s, this.host, osIdOf);
      if (summary) out.push(summary);
    }
    return out;
  }

  async dumpXml(name: string, inactive = false): Promise<string> {
    return this.s.run(['dumpxml', ...(inactive ? ['--inactive'] : []), '--domain', domainRef(name)], `dumpxml ${name}`);
  }

  async describe(name: string): Promise<DomainDescription> {
    return parseDomainXml(await this.dumpXml(name), this.host);
  }

  /** Defines (or redefines) a persistent domain from XML. */
  async define(xml: string): Promise<{ uuid: string; name: string }> {
    if (typeof xml !== 'string' || xml.length > 1024 * 1024) throw new NestboxError('INVALID_ARGUMENT', 'the domain XML must be a string of at most 1 MiB');
    // Checked on our side first: a DOCTYPE or entity never reaches the host either.
    const root = parseXml(xml, { code: 'INVALID_ARGUMENT', what: 'the domain XML' });
    const nameEl = child(root, 'name');
    if (root.name !== 'domain' || !nameEl) throw new NestboxError('INVALID_ARGUMENT', 'the domain XML has no <domain><name>');
    const name = checkLibvirtName(nameEl.text.trim(), 'VM name');
    // A file, not stdin: node gives a child a socket for stdin, which virsh cannot open by path.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbx-def-'));
    try {
      fs.writeFileSync(path.join(dir, 'domain.xml'), xml, { mode: 0o600 });
      await this.s.run(['define', '--file', path.join(dir, 'domain.xml')], `define ${name}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const uuid = (await this.s.run(['domuuid', '--domain', name], `domuuid ${name}`)).trim().toLowerCase();
    return { uuid, name };
  }

  async undefine(name: string, opts: { removeStorage: boolean }): Promise<void> {
    const ref = domainRef(name);
    const args = ['undefine', '--managed-save', '--snapshots-metadata', '--checkpoints-metadata', '--nvram', ...(opts.removeStorage ? ['--remove-all-storage'] : []), '--domain', ref];
    await this.s.run(args, `delete ${name}`, { timeoutMs: Math.max(this.s.timeoutMs, 120_000) });
  }

  async start(name: string): Promise<void> {
    return this.verb(['start', '--domain', domainRef(name)], `start ${name}`);
  }
  async shutdown(name: string): Promise<void> {
    return this.verb(['shutdown', '--domain', domainRef(name)], `shut down ${name}`);
  }
  async destroy(name: string): Promise<void> {
    return this.verb(['destroy', '--domain', domainRef(name)], `power off ${name}`);
  }
  async reset(name: string): Promise<void> {
    return this.verb(['reset', '--domain', domainRef(name)], `reset ${name}`);
  }
  async suspend(name: string): Promise<void> {
    return this.verb(['suspend', '--domain', domainRef(name)], `pause ${name}`);
  }
  async resume(name: string): Promise<void> {
    return this.verb(['resume', '--domain', domainRef(name)], `resume ${name}`);
  }
  async managedSave(name: string): Promise<void> {
    return this.verb(['managedsave', '--domain', domainRef(name)], `save the state of ${name}`, LONG_MS);
  }
  async managedSaveRemove(name: string): Promise<void> {
    return this.verb(['managedsave-remove', '--domain', domainRef(name)], `discard the saved state of ${name}`);
  }

  private async verb(args: readonly string[], what: string, timeoutMs?: number): Promise<void> {
    await this.s.run(args, what, timeoutMs ? { timeoutMs } : {});
  }

  /** One domain's state ('running', 'shut off' mapped), for waits after a verb. */
  async domainState(name: string): Promise<DomainSummary['state']> {
    const { parseDomainState } = await import('./parse');
    return parseDomainState(await this.s.run(['domstate', '--domain', domainRef(name)], `state of ${name}`));
  }

  // ------------------------------------------------------------ screenshot

  /** The guest's screen as PNG (libvirt hands out PPM for QEMU; converted here). */
  async screenshot(name: string): Promise<Buffer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbx-shot-'));
    try {
      const file = path.join(dir, 'screen');
      await this.s.run(['screenshot', '--domain', domainRef(name), '--file', file], `screenshot of ${name}`);
      const st = fs.statSync(file);
      if (st.size > 256 * 1024 * 1024) throw new NestboxError('PROTOCOL_ERROR', `libvirt host ${this.host} sent a ${st.size}-byte screenshot`);
      const data = fs.readFileSync(file);
      if (data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return data;
      return pnmToPng(data);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  // ------------------------------------------------------------ snapshots

  async listSnapshots(name: string): Promise<SnapshotEntry[]> {
    const ref = domainRef(name);
    const names = (await this.s.run(['snapshot-list', '--domain', ref, '--name'], `snapshots of ${name}`))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    if (names.length === 0) return [];
    if (names.length > 10_000) throw new NestboxError('PROTOCOL_ERROR', `libvirt host ${this.host} listed ${names.length} snapshots`);
    const currentOut = await this.s.raw(['snapshot-current', '--domain', ref, '--name'], `current snapshot of ${name}`);
    const current = currentOut.code === 0 ? currentOut.stdout.trim() : '';
    const sections = await this.s.batch(
      names.map((s, i) => ({ key: String(i + 1), commands: [`snapshot-dumpxml --domain ${ref} --snapshotname ${virshQuote(s)}`] })),
      `snapshots of ${name}`,
    );
    const out: SnapshotEntry[] = [];
    names.forEach((s, i) => {
      const xml = sections.get(String(i + 1));
      if (xml && xml.trim()) out.push(parseSnapshotXml(xml.trim(), this.host, s === current));
    });
    return out;
  }

  /** Takes a snapshot; a running domain's RAM is included (libvirt's internal snapshot). */
  async takeSnapshot(name: string, snap: string, description: string): Promise<void> {
    checkLibvirtName(snap, 'snapshot name');
    if (description.length > 4096) throw new NestboxError('INVALID_ARGUMENT', 'the snapshot description is longer than 4096 characters');
    // virsh refuses an empty option argument: no description is no --description.
    await this.s.run(['snapshot-create-as', '--domain', domainRef(name), '--name', snap, ...(description ? ['--description', description] : [])], `snapshot ${name}`, { timeoutMs: LONG_MS });
  }

  async revertSnapshot(name: string, snap: string): Promise<void> {
    await this.s.run(['snapshot-revert', '--domain', domainRef(name), '--snapshotname', checkLibvirtName(snap, 'snapshot name')], `restore snapshot ${snap} of ${name}`, { timeoutMs: LONG_MS });
  }

  async deleteSnapshot(name: string, snap: string): Promise<void> {
    await this.s.run(['snapshot-delete', '--domain', domainRef(name), '--snapshotname', checkLibvirtName(snap, 'snapshot name')], `delete snapshot ${snap} of ${name}`, { timeoutMs: LONG_MS });
  }

  // ------------------------------------------------------------ migration

  /** Peer-to-peer migration of `name` to `destUri` (migrate.ts). */
  migrate(name: string, destUri: string, o: MigrateOptions, onProgress: (p: MigrateProgress) => void, signal: AbortSignal): Promise<MigrateResult> {
    return migrateDomain(this.s, name, destUri, o, onProgress, signal);
  }

  // ------------------------------------------------------------ events

  /**
   * One long-lived `virsh event --all --loop --timestamp`. `onClosed` is called once when it
   * ends (the host went away, the daemon restarted, or close()); the caller reconnects.
   */
  events(onEvent: (e: DomainEvent) => void, onClosed: (reason: string) => void): { close(): void } {
    const proc: ChildProcess = spawn(this.s.virsh, virshArgv(this.s.uri, ['event', '--all', '--loop', '--timestamp']), { env: virshEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let err = '';
    let ended = false;
    let closedByUs = false;
    const handle = {
      close: () => {
        closedByUs = true;
        proc.kill('SIGTERM');
      },
    };
    this.live.add(handle);
    // An event's parameter lines (tab-indented) follow its line in the same write: each
    // event is handed on at the next event's line or at the end of what was read.
    let pending: { ev: DomainEvent; fields: Map<string, string> } | null = null;
    const flush = () => {
      const p = pending;
      pending = null;
      if (p) onEvent(p.fields.size ? { ...p.ev, fields: p.fields } : p.ev);
    };
    proc.stdout!.on('data', (b: Buffer) => {
      buf += b.toString('utf8');
      if (buf.length > 1024 * 1024) buf = buf.slice(-64 * 1024);
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const field = pending && pending.fields.size < 64 ? parseEventField(line) : null;
        if (field) {
          pending!.fields.set(field[0], field[1]);
          continue;
        }
        const ev = parseEventLine(line);
        if (ev) {
          flush();
          pending = { ev, fields: new Map() };
        }
      }
      flush();
    });
    proc.stderr!.on('data', (b: Buffer) => {
      if (err.length < 16 * 1024) err += b.toString('utf8');
    });
    const finish = (reason: string) => {
      if (ended) return;
      ended = true;
      this.live.delete(handle);
      onClosed(reason);
    };
    proc.on('error', (e) => finish(`virsh event: ${e.message}`));
    proc.on('close', (code) => {
      if (closedByUs) finish('closed');
      else finish(virshError(this.uri, 'event stream', err || `virsh event ended (exit ${String(code)})`).message);
    });
    return handle;
  }

  // ------------------------------------------------------------ storage

  async listPools(): Promise<PoolInfo[]> {
    const uuids = (await this.s.run(['pool-list', '--all', '--uuid'], 'storage pools'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    for (const u of uuids) if (!/^[0-9a-f-]{36}$/.test(u)) throw new NestboxError('PROTOCOL_ERROR', `libvirt host ${this.host} listed a pool UUID '${u.slice(0, 40)}'`);
    const sections = await this.s.batch(
      uuids.map((u) => ({ key: u, commands: [`pool-info --pool ${u}`, `pool-dumpxml --pool ${u}`] })),
      'storage pools',
    );
    const out: PoolInfo[] = [];
    for (const u of uuids) {
      const s = sections.get(u);
      if (!s) continue;
      const at = s.indexOf('<pool');
      if (at < 0) continue;
      const active = /^State:\s+running$/m.test(s.slice(0, at));
      out.push(parsePoolXml(s.slice(at).trim(), active, this.host));
    }
    return out;
  }

  async listVolumes(pool: string): Promise<VolumeInfo[]> {
    const p = checkLibvirtName(pool, 'storage pool name');
    const lines = (await this.s.run(['vol-list', '--pool', p], `volumes of ${pool}`)).split('\n').filter((l) => l.trim().length > 0);
    const paths: string[] = [];
    for (const line of lines) {
      // "NAME   PATH": a name has no '/', a path starts with one.
      const m = /^\s*(\S.*?)\s+(\/.*?)\s*$/.exec(line);
      if (m) paths.push(m[2]!);
    }
    if (paths.length > 100_000) throw new NestboxError('PROTOCOL_ERROR', `libvirt host ${this.host} listed ${paths.length} volumes`);
    const sections = await this.s.batch(
      paths.map((vp, i) => ({ key: String(i + 1), commands: [`vol-dumpxml --vol ${virshQuote(vp)}`] })),
      `volumes of ${pool}`,
    );
    const out: VolumeInfo[] = [];
    paths.forEach((_, i) => {
      const xml = sections.get(String(i + 1));
      if (xml && xml.trim().startsWith('<volume')) out.push(parseVolumeXml(xml.trim(), this.host));
    });
    return out;
  }

  async createVolume(pool: string, name: string, bytes: number, format: 'qcow2' | 'raw'): Promise<string> {
    const p = checkLibvirtName(pool, 'storage pool name');
    const v = checkLibvirtName(name, 'volume name');
    if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > 2 ** 50) throw new NestboxError('INVALID_ARGUMENT', 'the volume size must be 1 byte to 1 PiB');
    if (format !== 'qcow2' && format !== 'raw') throw new NestboxError('INVALID_ARGUMENT', `format must be qcow2 or raw`);
    await this.s.run(['vol-create-as', '--pool', p, '--name', v, '--capacity', `${bytes}b`, '--format', format], `create volume ${name} in ${pool}`, { timeoutMs: LONG_MS });
    return (await this.s.run(['vol-path', '--pool', p, '--vol', v], `path of ${name}`)).trim();
  }

  async deleteVolume(pool: string, name: string): Promise<void> {
    await this.s.run(['vol-delete', '--pool', checkLibvirtName(pool, 'storage pool name'), '--vol', checkLibvirtName(name, 'volume name')], `delete volume ${name}`);
  }

  /** Uploads a local file into a volume, which must exist and be large enough (volumes.ts). */
  uploadVolume(pool: string, vol: string, file: string, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<void> {
    return uploadVolume(this.s, pool, vol, file, onProgress, signal);
  }

  /** Downloads a volume into a local file, written under a temporary name until complete (volumes.ts). */
  downloadVolume(pool: string, vol: string, file: string, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<void> {
    return downloadVolume(this.s, pool, vol, file, onProgress, signal);
  }

  // ------------------------------------------------------------ consoles

  /** The guest's first serial console as a byte stream, through libvirt's own console stream. */
  async openSerial(name: string): Promise<ByteStream> {
    const ref = domainRef(name);
    const s = openSerialStream(this.s.virsh, this.s.uri, ref, this.host);
    this.track(s);
    return s;
  }

  /** The guest's VNC (RFB) as a byte stream, through the host connection (no TCP port opened). */
  async openVnc(name: string): Promise<ByteStream> {
    const d = await this.describe(name);
    const s = await openVncStream(this.uri, d, this.host);
    this.track(s);
    return s;
  }

  private track(s: ByteStream): void {
    this.live.add(s);
    s.onClose(() => this.live.delete(s));
  }

  /** Ends the event streams and consoles opened through this connection. */
  close(): void {
    this.s.close();
    for (const h of [...this.live]) h.close();
    this.live.clear();
  }

  /** Whether the host can run KVM guests (else domains are defined as TCG, type 'qemu'). */
  async hasKvm(): Promise<boolean> {
    const caps = parseHostXml((await this.s.run(['capabilities'], 'capabilities')).trim(), this.host, 'capabilities');
    for (const guest of childrenOf(caps, 'guest')) {
      const arch = child(guest, 'arch');
      if (!arch || attr(arch, 'name') !== 'x86_64') continue;
      if (childrenOf(arch, 'domain').some((d) => attr(d, 'type') === 'kvm')) return true;
    }
    return false;
  }

  /** Re-reads a pool's volumes (their format and sizes after an upload). */
  async refreshPool(pool: string): Promise<void> {
    await this.s.run(['pool-refresh', '--pool', checkLibvirtName(pool, 'storage pool name')], `refresh pool ${pool}`, { timeoutMs: Math.max(this.s.timeoutMs, 120_000) });
  }

  /** The pool and volume holding a file on the host, or null when no pool has it. */
  async volumeOfPath(file: string): Promise<{ pool: string; volume: string } | null> {
    // eslint-disable-next-line no-control-regex
    if (typeof file !== 'string' || !file.startsWith('/') || file.length > 4096 || /[\u0000-\u001f\u007f]/.test(file)) return null;
    const pool = await this.s.raw(['vol-pool', '--vol', file], `pool of ${file}`);
    const name = await this.s.raw(['vol-name', '--vol', file], `volume of ${file}`);
    if (pool.code !== 0 || name.code !== 0) return null;
    const p = pool.stdout.trim();
    const v = name.stdout.trim();
    try {
      return { pool: checkLibvirtName(p, 'storage pool name'), volume: checkLibvirtName(v, 'volume name') };
    } catch {
      return null;
    }
  }

  /** Capacity of a volume in bytes (for callers that want to size a copy). */
  async volumeCapacity(pool: string, vol: string): Promise<number> {
    const xml = await this.s.run(['vol-dumpxml', '--pool', checkLibvirtName(pool, 'storage pool name'), '--vol', checkLibvirtName(vol, 'volume name')], `volume ${vol}`);
    return boundedInt(String(parseVolumeXml(xml.trim(), this.host).capacity), this.host, 'capacity');
  }
}
