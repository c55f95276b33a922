/**
 * Parsers for virsh's text output (with LC_ALL=C). A host is untrusted: every number is
 * checked and bounded, every string cleaned and bounded, and a line that does not fit is
 * refused with PROTOCOL_ERROR rather than guessed at.
 */
import { NestboxError } from '../api/errors';
import { attr, child, type XmlElement } from '../storage/xml';
import { UUID_RE, hostileXml, parseHostXml } from './domxml';
import type { DomainEvent, DomainState, DomainSummary, LibvirtVersions, MigrateProgress, MigrateResult, NodeInfo, PoolInfo, SnapshotEntry, VolumeInfo } from './types';

const MAX_ITEMS = 100_000;
const MAX_BYTES_VALUE = 2 ** 60;

function bad(host: string, msg: string): NestboxError {
  return new NestboxError('PROTOCOL_ERROR', `libvirt host ${host} sent something unexpected: ${msg}`);
}

// eslint-disable-next-line no-control-regex
const cleanLine = (s: string, max = 256) => s.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, max);

/** A non-negative integer no larger than `max` (default 2^60), else PROTOCOL_ERROR. */
export function boundedInt(text: string | undefined, host: string, what: string, max = MAX_BYTES_VALUE): number {
  const t = (text ?? '').trim();
  if (!/^\d{1,19}$/.test(t)) throw bad(host, `${what} '${cleanLine(t, 30)}' is not a whole number`);
  const n = Number(t);
  if (!Number.isSafeInteger(n) || n > max) throw bad(host, `${what} ${cleanLine(t, 30)} is absurd`);
  return n;
}

/** "key: value" lines (virsh version, nodeinfo, dominfo, domjobinfo) into a map. */
export function keyValues(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n').slice(0, 1000)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const k = line.slice(0, i).trim();
    if (!m.has(k)) m.set(k, line.slice(i + 1).trim());
  }
  return m;
}

export function parseVersion(text: string, host: string): LibvirtVersions {
  const kv = keyValues(text);
  const lib = /libvirt\s+(\d+\.\d+\.\d+)/.exec(kv.get('Using library') ?? kv.get('Compiled against library') ?? '')?.[1];
  const daemon = /(\d+\.\d+\.\d+)/.exec(kv.get('Running against daemon') ?? '')?.[1];
  const hv = /^(\S+)\s+(\d+\.\d+\.\d+)/.exec(kv.get('Running hypervisor') ?? '');
  if (!lib && !daemon) throw bad(host, 'virsh version did not say which libvirt it is');
  return { libvirt: (daemon ?? lib)!, hypervisor: hv ? `${cleanLine(hv[1]!, 32)} ${hv[2]}` : null };
}

export function parseNodeInfo(text: string, hostname: string, host: string): NodeInfo {
  const kv = keyValues(text);
  const mem = /^(\d+)\s*KiB$/.exec(kv.get('Memory size') ?? '');
  if (!mem) throw bad(host, 'nodeinfo has no memory size');
  return {
    cpus: boundedInt(kv.get('CPU(s)'), host, 'CPU(s)', 1 << 20),
    memoryKiB: boundedInt(mem[1], host, 'memory size', 2 ** 50),
    model: cleanLine(kv.get('CPU model') ?? 'unknown', 64),
    hostname: cleanLine(hostname.trim(), 255),
  };
}

/** `virsh list --all --uuid --name`: "UUID NAME" per line (names may contain spaces). */
export function parseUuidNameList(text: string, host: string): { uuid: string; name: string }[] {
  const out: { uuid: string; name: string }[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^\s*([0-9a-fA-F-]{36})\s+(.+?)\s*$/.exec(line);
    if (!m || !UUID_RE.test(m[1]!)) throw bad(host, `a domain list line '${cleanLine(line, 80)}'`);
    out.push({ uuid: m[1]!.toLowerCase(), name: cleanLine(m[2]!) });
    if (out.length > MAX_ITEMS) throw bad(host, `more than ${MAX_ITEMS} domains`);
  }
  return out;
}

export function parseDomainState(s: string): DomainState {
  switch (s.trim().toLowerCase()) {
    case 'running':
      return 'running';
    case 'paused':
      return 'paused';
    case 'shut off':
    case 'shutoff':
      return 'shutoff';
    case 'crashed':
      return 'crashed';
    case 'pmsuspended':
      return 'pmsuspended';
    case 'idle':
    case 'blocked':
      return 'blocked';
    case 'in shutdown':
    case 'shutdown':
      return 'shutdown';
    default:
      return 'unknown';
  }
}

/** A random marker per batch, so that what a host prints (a domain name) cannot forge one. */
export function batchMarker(nonce: string): RegExp {
  return new RegExp(`@@NB-${nonce}@@ ([0-9a-f-]{1,36}) @@\\n?`, 'g');
}

/** Splits a batch's stdout into per-key sections keyed by the UUID after each marker. */
export function splitBatch(stdout: string, nonce: string): Map<string, string> {
  const parts = stdout.split(batchMarker(nonce));
  const m = new Map<string, string>();
  // Key '0' is the closing marker.
  for (let i = 1; i + 1 < parts.length; i += 2) if (parts[i] !== '0') m.set(parts[i]!, parts[i + 1]!);
  return m;
}

/** One domain from `dominfo` (+ the `<nodes>`-wrapped `<metadata>` of dumpxml --xpath). */
export function parseDomInfo(uuid: string, section: string, host: string, osIdOf: (metaXml: string) => string | null): DomainSummary | null {
  const xmlAt = section.indexOf('<nodes');
  const info = xmlAt >= 0 ? section.slice(0, xmlAt) : section;
  const kv = keyValues(info);
  const u = (kv.get('UUID') ?? '').toLowerCase();
  if (!u) return null; // gone between the list and the batch
  if (u !== uuid) throw bad(host, `dominfo for ${uuid} answered for '${cleanLine(u, 40)}'`);
  const mem = /^(\d+)\s*KiB$/.exec(kv.get('Max memory') ?? '');
  const used = /^(\d+)\s*KiB$/.exec(kv.get('Used memory') ?? '');
  return {
    uuid,
    name: cleanLine(kv.get('Name') ?? ''),
    state: parseDomainState(kv.get('State') ?? ''),
    persistent: kv.get('Persistent') === 'yes',
    memoryKiB: boundedInt(mem?.[1] ?? used?.[1] ?? '0', host, 'memory', 2 ** 50),
    vcpus: boundedInt(kv.get('CPU(s)') ?? '0', host, 'CPU(s)', 1 << 20),
    hasManagedSave: kv.get('Managed save') === 'yes',
    osId: xmlAt >= 0 ? osIdOf(section.slice(xmlAt)) : null,
  };
}

/**
 * `virsh event --all --loop --timestamp` lines:
 * `2026-12-04 15:17:35.951+0000: event 'lifecycle' for domain 't1': Suspended Paused`.
 */
export function parseEventLine(line: string): DomainEvent | null {
  const m = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?[+-]\d{4}): event '([^']{1,64})' for domain '(.{1,256})': ?(.*)$/.exec(line) ??
    /^()event '([^']{1,64})' for domain '(.{1,256})': ?(.*)$/.exec(line);
  if (!m) return null;
  let at = 0;
  if (m[1]) {
    const iso = m[1].replace(' ', 'T').replace(/([+-]\d\d)(\d\d)$/, '$1:$2');
    const t = Date.parse(iso);
    at = Number.isFinite(t) ? t : 0;
  }
  return { domain: cleanLine(m[3]!), event: cleanLine(m[2]!, 64), detail: cleanLine(m[4]!, 512), at };
}

/** A duration from domjobinfo: "1234 ms". */
function ms(kv: Map<string, string>, key: string, host: string): number | null {
  const v = kv.get(key);
  if (v === undefined) return null;
  const m = /^(\d{1,15})\s*ms$/.exec(v);
  if (!m) throw bad(host, `${key} '${cleanLine(v, 30)}'`);
  return Number(m[1]);
}

/** A byte count from domjobinfo with `--bytes` ("1234 bytes") or without ("1.5 GiB"). */
function bytes(kv: Map<string, string>, key: string, host: string): number | null {
  const v = kv.get(key);
  if (v === undefined) return null;
  const m = /^(\d{1,19}(?:\.\d+)?)\s*(bytes|B|KiB|MiB|GiB|TiB)?$/.exec(v);
  if (!m) throw bad(host, `${key} '${cleanLine(v, 30)}'`);
  const f = { bytes: 1, B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 }[m[2] ?? 'bytes'] ?? 1;
  const n = Math.round(Number(m[1]) * f);
  if (!Number.isSafeInteger(n) || n > MAX_BYTES_VALUE) throw bad(host, `${key} ${cleanLine(v, 30)} is absurd`);
  return n;
}

export interface JobInfo {
  readonly type: string;
  readonly progress: MigrateProgress;
  readonly downtimeMs: number | null;
  readonly operation: string | null;
}

/** `virsh domjobinfo --bytes [--completed]`. */
export function parseJobInfo(text: string, host: string): JobInfo {
  const kv = keyValues(text);
  const type = (kv.get('Job type') ?? '').trim();
  if (!type) throw bad(host, 'domjobinfo has no job type');
  const total = bytes(kv, 'Data total', host) ?? 0;
  const processed = bytes(kv, 'Data processed', host) ?? 0;
  const remaining = bytes(kv, 'Data remaining', host) ?? Math.max(0, total - processed);
  const dirty = kv.get('Dirty rate');
  const dirtyRate = dirty !== undefined && /^\d{1,15}\s+pages\/s$/.test(dirty) ? Number(dirty.split(/\s+/)[0]) : null;
  return {
    type: cleanLine(type, 32),
    operation: kv.has('Operation') ? cleanLine(kv.get('Operation')!, 64) : null,
    progress: { dataTotal: total, dataProcessed: processed, dataRemaining: remaining, dirtyRate, elapsedMs: ms(kv, 'Time elapsed', host) ?? 0 },
    downtimeMs: ms(kv, 'Total downtime', host),
  };
}

/** One `\tkey: value` line under an event (job-completed's parameters), or null. */
export function parseEventField(line: string): [string, string] | null {
  const m = /^\t([a-z_.]{1,64}): (.{0,256})$/.exec(line);
  return m ? [m[1]!, cleanLine(m[2]!)] : null;
}

/**
 * libvirt's figures from a migration's job-completed event (the typed parameters virsh
 * prints: time_elapsed and downtime in ms, data_processed in bytes); null when it lacks them.
 */
export function completedJobResult(fields: ReadonlyMap<string, string>): MigrateResult | null {
  const int = (k: string): number | null => {
    const v = fields.get(k);
    if (v === undefined || !/^\d{1,15}$/.test(v)) return null;
    return Number(v);
  };
  const elapsedMs = int('time_elapsed');
  if (elapsedMs === null) return null;
  const processed = int('data_processed');
  return { elapsedMs, downtimeMs: int('downtime'), dataBytes: processed || null };
}

export function jobResult(info: JobInfo): MigrateResult {
  return { elapsedMs: info.progress.elapsedMs, downtimeMs: info.downtimeMs, dataBytes: info.progress.dataProcessed || null };
}

/** One `<domainsnapshot>` as `snapshot-dumpxml` gives it. */
export function parseSnapshotXml(xml: string, host: string, current: boolean): SnapshotEntry {
  const root = parseHostXml(xml, host, 'snapshot XML');
  if (root.name !== 'domainsnapshot') throw hostileXml(host, `the root element is <${cleanLine(root.name, 30)}>, not <domainsnapshot>`);
  const name = cleanLine(child(root, 'name')?.text.trim() ?? '');
  if (!name) throw hostileXml(host, 'a snapshot has no name');
  const parentEl = child(root, 'parent');
  const parent = parentEl ? cleanLine(child(parentEl, 'name')?.text.trim() ?? '') || null : null;
  const created = child(root, 'creationTime')?.text.trim() ?? '0';
  const state = cleanLine(child(root, 'state')?.text.trim() ?? 'unknown', 32);
  const memory = child(root, 'memory');
  const snapshotKind = memory ? attr(memory, 'snapshot') : undefined;
  return {
    name,
    parent,
    current,
    createdAt: boundedInt(created, host, 'creationTime', 2 ** 40) * 1000,
    state,
    description: cleanLine(child(root, 'description')?.text ?? '', 4096),
    // Internal snapshots of a running domain keep its RAM (state 'running'/'paused'); external ones say so in <memory>.
    hasMemory: snapshotKind ? snapshotKind !== 'no' : state === 'running' || state === 'paused',
  };
}

function capacityOf(el: XmlElement | undefined, host: string, what: string): number {
  if (!el) return 0;
  const unit = attr(el, 'unit') ?? 'bytes';
  if (unit !== 'bytes' && unit !== 'B') throw hostileXml(host, `${what} in unit '${cleanLine(unit, 10)}'`);
  return boundedInt(el.text, host, what);
}

export function parsePoolXml(xml: string, active: boolean, host: string): PoolInfo {
  const root = parseHostXml(xml, host, 'storage pool XML');
  if (root.name !== 'pool') throw hostileXml(host, `the root element is <${cleanLine(root.name, 30)}>, not <pool>`);
  const target = child(root, 'target');
  return {
    name: cleanLine(child(root, 'name')?.text.trim() ?? ''),
    active,
    path: target ? cleanLine(child(target, 'path')?.text.trim() ?? '', 4096) || null : null,
    capacity: capacityOf(child(root, 'capacity'), host, 'capacity'),
    available: capacityOf(child(root, 'available'), host, 'available'),
  };
}

export function parseVolumeXml(xml: string, host: string): VolumeInfo {
  const root = parseHostXml(xml, host, 'storage volume XML');
  if (root.name !== 'volume') throw hostileXml(host, `the root element is <${cleanLine(root.name, 30)}>, not <volume>`);
  const target = child(root, 'target');
  const format = target ? child(target, 'format') : undefined;
  return {
    name: cleanLine(child(root, 'name')?.text.trim() ?? ''),
    path: target ? cleanLine(child(target, 'path')?.text.trim() ?? '', 4096) : '',
    capacity: capacityOf(child(root, 'capacity'), host, 'capacity'),
    allocation: capacityOf(child(root, 'allocation'), host, 'allocation'),
    format: format ? (cleanLine(attr(format, 'type') ?? '', 32) || null) : null,
  };
}

/** Quoting for virsh's own command-line parser (used in batches): single quotes, `'` escaped. */
export function virshQuote(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s)) throw new NestboxError('INVALID_ARGUMENT', `'${cleanLine(s, 40)}' contains control characters`);
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
