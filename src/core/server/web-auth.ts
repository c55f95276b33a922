/**
 * Who may use a web-mode server: its sessions and the brake on guessing.
 *
 * The access token is only ever traded for a session; the cookie carries the session id, so a
 * cookie that leaks to another server on the same host (cookies ignore ports) is worth nothing
 * there, dies after a while unused, and dies with the token (`nestbox serve --new-token`).
 * Sessions are kept (hashed, 0600) in the data directory so that open pages reconnect by
 * themselves after `serve` restarts.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';

export const DEFAULT_SESSION_IDLE_MS = 24 * 60 * 60 * 1000;
const MAX_SESSIONS = 1000;
const MAX_TOMBSTONES = 4000;
/** How often the last-use time of a session in use is written down. */
const PERSIST_EVERY_MS = 60_000;

export function sha256(s: string): string {
  return crypto.createHash('sha256').update(s).digest('hex');
}

interface Session {
  readonly created: number;
  lastSeen: number;
}

interface SessionFile {
  readonly version: 1;
  readonly token: string;
  readonly sessions: Readonly<Record<string, readonly [number, number]>>;
  readonly tombstones?: readonly string[];
}

/**
 * What a presented session id turned out to be. `ended` (expired or revoked) is told apart
 * from `unknown` so that a page left open from before does not count as someone guessing.
 */
export type SessionCheck = { readonly kind: 'ok'; readonly key: string } | { readonly kind: 'ended' } | { readonly kind: 'unknown' };

export class SessionStore {
  /** sha256(session id) → session; the ids themselves are never stored. */
  private readonly sessions = new Map<string, Session>();
  private readonly tombstones = new Set<string>();
  private lastWrite = 0;

  constructor(
    private readonly opts: {
      /** Where sessions survive a restart; in memory only when absent. */
      readonly file?: string;
      /** sha256 of the access token: sessions of another token are not loaded. */
      readonly tokenHash: string;
      readonly idleMs: number;
      readonly log: (line: string) => void;
      readonly now?: () => number;
    },
  ) {
    this.load();
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private load(): void {
    const file = this.opts.file;
    if (!file) return;
    let data: SessionFile;
    try {
      data = JSON.parse(fs.readFileSync(file, 'utf8')) as SessionFile;
    } catch {
      return; // none yet, or unreadable: nobody is signed in
    }
    if (typeof data !== 'object' || data === null || typeof data.sessions !== 'object' || data.sessions === null) return;
    const sameToken = data.token === this.opts.tokenHash;
    for (const [key, v] of Object.entries(data.sessions)) {
      if (!/^[0-9a-f]{64}$/.test(key) || !Array.isArray(v)) continue;
      // A new token revokes every session made with the old one.
      if (sameToken && typeof v[0] === 'number' && typeof v[1] === 'number') this.sessions.set(key, { created: v[0], lastSeen: v[1] });
      else this.bury(key);
    }
    for (const key of Array.isArray(data.tombstones) ? data.tombstones : []) if (typeof key === 'string' && /^[0-9a-f]{64}$/.test(key)) this.bury(key);
    this.purge();
    if (!sameToken) this.persist(true);
  }

  private bury(key: string): void {
    this.sessions.delete(key);
    this.tombstones.delete(key);
    this.tombstones.add(key);
    while (this.tombstones.size > MAX_TOMBSTONES) this.tombstones.delete(this.tombstones.values().next().value as string);
  }

  private purge(): void {
    const now = this.now();
    for (const [key, s] of this.sessions) if (now - s.lastSeen > this.opts.idleMs) this.bury(key);
  }

  /** A new session; returns the id that goes into the cookie. */
  create(): string {
    this.purge();
    while (this.sessions.size >= MAX_SESSIONS) {
      let oldest: string | undefined;
      let at = Infinity;
      for (const [k, s] of this.sessions) if (s.lastSeen < at) [oldest, at] = [k, s.lastSeen];
      if (oldest === undefined) break;
      this.bury(oldest);
    }
    const id = crypto.randomBytes(32).toString('base64url');
    const now = this.now();
    this.sessions.set(sha256(id), { created: now, lastSeen: now });
    this.persist(true);
    return id;
  }

  check(id: string): SessionCheck {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return { kind: 'unknown' };
    const key = sha256(id);
    const s = this.sessions.get(key);
    if (!s) return this.tombstones.has(key) ? { kind: 'ended' } : { kind: 'unknown' };
    if (this.now() - s.lastSeen > this.opts.idleMs) {
      this.bury(key);
      this.persist(true);
      return { kind: 'ended' };
    }
    this.touch(key);
    return { kind: 'ok', key };
  }

  /** Marks a session as in use (an open WebSocket counts). */
  touch(key: string): void {
    const s = this.sessions.get(key);
    if (!s) return;
    s.lastSeen = this.now();
    this.persist(false);
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Writes the sessions down (atomically); now, or when the last write is a while ago. */
  persist(now: boolean): void {
    const file = this.opts.file;
    if (!file) return;
    const t = this.now();
    if (!now && t - this.lastWrite < PERSIST_EVERY_MS) return;
    this.lastWrite = t;
    const data: SessionFile = {
      version: 1,
      token: this.opts.tokenHash,
      sessions: Object.fromEntries([...this.sessions].map(([k, s]) => [k, [s.created, s.lastSeen] as const])),
      tombstones: [...this.tombstones],
    };
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, JSON.stringify(data), { mode: 0o600 });
      fs.renameSync(tmp, file);
    } catch (err) {
      // Sessions then live in memory only: a restart signs pages out, nothing worse.
      this.opts.log(`could not save the web sessions to ${file}: ${(err as Error).message}`);
      fs.rmSync(tmp, { force: true });
    }
  }
}

interface Failures {
  count: number;
  last: number;
  blockedUntil: number;
}

/**
 * Failed authentication, per client address: a few free, then each further failure blocks the
 * address for twice as long as the last (up to `maxBlockMs`); quiet for `forgetMs`, forgotten.
 */
export class FailureLimiter {
  private readonly table = new Map<string, Failures>();

  constructor(
    private readonly opts: { readonly free?: number; readonly firstBlockMs?: number; readonly maxBlockMs?: number; readonly forgetMs?: number; readonly maxAddresses?: number } = {},
  ) {}

  /** Milliseconds the address must still wait (0: it may try). */
  blockedFor(addr: string, now = Date.now()): number {
    const f = this.table.get(addr);
    return f ? Math.max(0, f.blockedUntil - now) : 0;
  }

  fail(addr: string, now = Date.now()): void {
    const free = this.opts.free ?? 5;
    let f = this.table.get(addr);
    if (!f || now - f.last > (this.opts.forgetMs ?? 60_000)) f = { count: 0, last: now, blockedUntil: 0 };
    this.table.delete(addr); // re-inserted last: the map is ordered by last failure
    f.count++;
    f.last = now;
    if (f.count > free) {
      const ms = Math.min(this.opts.maxBlockMs ?? 10_000, (this.opts.firstBlockMs ?? 500) * 2 ** Math.min(30, f.count - free - 1));
      f.blockedUntil = now + ms;
    }
    this.table.set(addr, f);
    const cap = this.opts.maxAddresses ?? 10_000;
    while (this.table.size > cap) this.table.delete(this.table.keys().next().value as string);
  }
}

/**
 * The client a failure counts against. `::ffff:1.2.3.4` and `1.2.3.4` are one client; an
 * IPv6 client is its /64, since one host is routinely given a whole /64 and could otherwise
 * try from a fresh address each time.
 */
export function clientAddress(raw: string | undefined): string {
  if (!raw) return '?';
  if (raw.startsWith('::ffff:') && raw.includes('.')) return raw.slice(7);
  if (!raw.includes(':')) return raw;
  const groups = ipv6Groups(raw);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : raw;
}

/** The eight 16-bit groups of an IPv6 address (zone dropped, `::` expanded), lower-case hex; null if it is not one. */
function ipv6Groups(addr: string): string[] | null {
  const bare = addr.split('%')[0]!.toLowerCase();
  const halves = bare.split('::');
  if (halves.length > 2) return null;
  const part = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  // An embedded IPv4 tail (::1.2.3.4) is two groups.
  const last = (halves.length === 2 ? tail : head).at(-1);
  if (last?.includes('.')) {
    const o = last.split('.').map(Number);
    if (o.length !== 4 || o.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return null;
    const v4 = [((o[0]! << 8) | o[1]!).toString(16), ((o[2]! << 8) | o[3]!).toString(16)];
    (halves.length === 2 ? tail : head).splice(-1, 1, ...v4);
  }
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return all.map((g) => parseInt(g, 16).toString(16));
}
