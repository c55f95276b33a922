/**
 * QEMU guest agent (qemu-ga) client: the channel through which the core asks the guest for
 * its addresses, to shut down, to freeze its file systems and to set its clock.
 *
 * The guest is the untrusted party here. Whatever it writes (garbage, a line of gigabytes,
 * replies to questions asked before it rebooted, nothing at all) must neither hang nor crash
 * the core, so:
 * - every call has a deadline, and calls are serialised (the protocol has no request ids: a
 *   reply is simply the next line);
 * - before the first call, after any timeout and after any line that is not a reply, the
 *   stream is re-synchronised with `guest-sync-delimited` (a fresh random id; the agent answers
 *   with a 0xFF byte and then the id, so everything before the 0xFF, including replies to
 *   calls that timed out and half-written lines of an agent that restarted, is dropped);
 * - a line longer than `maxLineBytes` is never buffered: its bytes are skipped up to the next
 *   newline and the call waiting for it fails with PROTOCOL_ERROR;
 * - bytes we write to an agent that does not read pile up in QEMU's chardev; when more than
 *   `maxQueuedBytes` wait unsent, calls fail at once instead of queueing without bound.
 *
 * The socket is QEMU's chardev (server) and outlives guest reboots: when the guest restarts,
 * its new qemu-ga finds our next sync on the port. When QEMU goes away, the next call dials
 * again.
 */
import { randomInt } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { NestboxError } from '../api/errors';

export interface GuestAgentOptions {
  /** Longest reply line accepted (interface lists of big guests are some KiB). Default 1 MiB. */
  readonly maxLineBytes?: number;
  /** Unsent bytes after which calls fail rather than queue (the agent is not reading). Default 64 KiB. */
  readonly maxQueuedBytes?: number;
  /** Deadline for the sync handshake (bounded by the call's own deadline too). Default 3 s. */
  readonly syncTimeoutMs?: number;
}

export interface GuestCallOptions {
  /** The whole call (waiting for earlier calls, connecting, syncing, the reply). */
  readonly timeoutMs: number;
  /**
   * The command answers nothing when it succeeds (guest-shutdown, guest-suspend-*): the call
   * resolves once it is written after a successful sync.
   */
  readonly noReply?: boolean;
}

const SYNC_BYTE = 0xff;
const NEWLINE = 0x0a;

type Waiter =
  | { readonly kind: 'sync'; readonly id: number; seenMarker: boolean; readonly resolve: () => void; readonly reject: (e: NestboxError) => void }
  | { readonly kind: 'reply'; readonly command: string; readonly resolve: (v: unknown) => void; readonly reject: (e: NestboxError) => void };

export class GuestAgentClient {
  readonly #path: string;
  readonly #maxLine: number;
  readonly #maxQueued: number;
  readonly #syncTimeoutMs: number;
  #socket: Socket | null = null;
  #synced = false;
  #waiter: Waiter | null = null;
  /** Bytes of the line being read (never more than maxLine in total). */
  #line: Buffer[] = [];
  #lineBytes = 0;
  /** Inside a line that went over the limit: drop bytes until its newline. */
  #skipping = false;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** When the last call got an answer from the agent (ms since epoch), or null. */
  lastAnswerAt: number | null = null;

  constructor(socketPath: string, opts: GuestAgentOptions = {}) {
    this.#path = socketPath;
    this.#maxLine = opts.maxLineBytes ?? 1024 * 1024;
    this.#maxQueued = opts.maxQueuedBytes ?? 64 * 1024;
    this.#syncTimeoutMs = opts.syncTimeoutMs ?? 3000;
  }

  /** Sends one command and returns its `return` value; the guest's `error` becomes QMP_ERROR. */
  call<T = unknown>(command: string, args: Record<string, unknown> | undefined, opts: GuestCallOptions): Promise<T> {
    const deadline = Date.now() + opts.timeoutMs;
    const run = this.#tail.then(() => this.#run(command, args, opts, deadline));
    // The next call waits for this one however it ends (never longer than its deadline).
    this.#tail = run.catch(() => undefined);
    return run as Promise<T>;
  }

  /** True when the agent answered a sync; false before, and after a call went unanswered. */
  get synced(): boolean {
    return this.#synced;
  }

  close(): void {
    this.#closed = true;
    this.#drop(new NestboxError('QMP_DISCONNECTED', 'the guest agent connection was closed'));
  }

  async #run(command: string, args: Record<string, unknown> | undefined, opts: GuestCallOptions, deadline: number): Promise<unknown> {
    if (this.#closed) throw new NestboxError('QMP_DISCONNECTED', 'the guest agent connection was closed');
    if (Date.now() >= deadline) throw this.#timeout(command, opts.timeoutMs);
    const sock = await this.#connect(deadline, command, opts.timeoutMs);
    if (!this.#synced) {
      await this.#sync(sock, Math.min(deadline, Date.now() + this.#syncTimeoutMs), command, opts.timeoutMs);
    }
    const msg = Buffer.from(JSON.stringify(args === undefined ? { execute: command } : { execute: command, arguments: args }) + '\n');
    if (opts.noReply) {
      this.#write(sock, msg, command);
      // Nothing will answer; the next call syncs so a late error line is dropped.
      this.#synced = false;
      return undefined;
    }
    const reply = new Promise<unknown>((resolve, reject) => {
      this.#waiter = { kind: 'reply', command, resolve, reject };
    });
    this.#write(sock, msg, command);
    return this.#within(reply, deadline, () => this.#timeout(command, opts.timeoutMs));
  }

  #timeout(command: string, ms: number): NestboxError {
    return new NestboxError('TIMEOUT', `the guest agent did not answer ${command} within ${ms} ms`);
  }

  /** Waits for `p` until the deadline; on timeout the waiter is dropped and the stream must be re-synced. */
  async #within<T>(p: Promise<T>, deadline: number, onTimeout: () => NestboxError): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#waiter = null;
        this.#synced = false;
        reject(onTimeout());
      }, Math.max(0, deadline - Date.now()));
    });
    try {
      return await Promise.race([p, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  #write(sock: Socket, data: Buffer, command: string): void {
    if (sock.writableLength > this.#maxQueued) {
      this.#synced = false;
      throw new NestboxError('TIMEOUT', `the guest agent is not reading (${sock.writableLength} bytes wait unsent); ${command} was not sent`);
    }
    sock.write(data);
  }

  async #sync(sock: Socket, deadline: number, command: string, callMs: number): Promise<void> {
    // A lone 0xFF makes the agent drop whatever half-parsed input it holds (it answers with
    // a parse error line, dropped below like any line before the marker).
    const id = randomInt(1, 2 ** 31);
    const done = new Promise<void>((resolve, reject) => {
      this.#waiter = { kind: 'sync', id, seenMarker: false, resolve, reject };
    });
    this.#resetLine();
    this.#write(sock, Buffer.from([SYNC_BYTE]), 'guest-sync-delimited');
    this.#write(sock, Buffer.from(JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } }) + '\n'), 'guest-sync-delimited');
    await this.#within(done, deadline, () => new NestboxError('TIMEOUT', `the guest agent did not answer (sync before ${command}, ${callMs} ms)`));
    this.#synced = true;
  }

  async #connect(deadline: number, command: string, callMs: number): Promise<Socket> {
    if (this.#socket && !this.#socket.destroyed) return this.#socket;
    const sock = createConnection(this.#path);
    const opened = new Promise<Socket>((resolve, reject) => {
      sock.once('connect', () => resolve(sock));
      sock.once('error', (err) =>
        reject(new NestboxError('QMP_DISCONNECTED', `cannot reach the guest agent socket ${this.#path}: ${err.message}`)),
      );
    });
    try {
      await this.#within(opened, deadline, () => this.#timeout(command, callMs));
    } catch (err) {
      sock.destroy();
      throw err;
    }
    sock.on('data', (chunk: Buffer) => this.#onData(chunk));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (this.#socket === sock) this.#drop(new NestboxError('QMP_DISCONNECTED', 'the guest agent socket closed (QEMU went away)'));
    });
    this.#socket = sock;
    this.#synced = false;
    this.#resetLine();
    return sock;
  }

  #drop(err: NestboxError): void {
    const w = this.#waiter;
    this.#waiter = null;
    this.#synced = false;
    this.#resetLine();
    const s = this.#socket;
    this.#socket = null;
    s?.destroy();
    w?.reject(err);
  }

  #resetLine(): void {
    this.#line = [];
    this.#lineBytes = 0;
    this.#skipping = false;
  }

  #onData(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const w = this.#waiter;
      if (w?.kind === 'sync' && !w.seenMarker) {
        // Everything before the agent's 0xFF is from before our sync: drop it.
        const m = chunk.indexOf(SYNC_BYTE, start);
        if (m < 0) return;
        w.seenMarker = true;
        this.#resetLine();
        start = m + 1;
        continue;
      }
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl < 0 ? chunk.length : nl;
      this.#append(chunk.subarray(start, end));
      if (nl < 0) return;
      start = nl + 1;
      if (this.#skipping) {
        this.#resetLine();
        continue;
      }
      const line = Buffer.concat(this.#line).toString('utf8');
      this.#resetLine();
      this.#onLine(line);
    }
  }

  #append(part: Buffer): void {
    if (this.#skipping || part.length === 0) return;
    // A 0xFF outside a sync starts nothing we asked for: what came before it is noise.
    const ff = part.lastIndexOf(SYNC_BYTE);
    if (ff >= 0) {
      this.#resetLine();
      part = part.subarray(ff + 1);
    }
    if (this.#lineBytes + part.length > this.#maxLine) {
      this.#resetLine();
      this.#skipping = true;
      this.#fail(new NestboxError('PROTOCOL_ERROR', `the guest agent sent a line longer than ${this.#maxLine} bytes`));
      return;
    }
    this.#line.push(Buffer.from(part));
    this.#lineBytes += part.length;
  }

  /** Fails the waiting call and forces a re-sync before the next one. */
  #fail(err: NestboxError): void {
    const w = this.#waiter;
    this.#synced = false;
    if (!w) return;
    this.#waiter = null;
    w.reject(err);
  }

  #onLine(line: string): void {
    const text = line.trim();
    if (text === '') return;
    const w = this.#waiter;
    if (!w) return; // late or unsolicited: the next call re-syncs anyway
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      if (w.kind === 'sync') return;
      this.#fail(new NestboxError('PROTOCOL_ERROR', `the guest agent sent something that is not JSON in reply to ${w.command}`));
      return;
    }
    const obj = typeof msg === 'object' && msg !== null && !Array.isArray(msg) ? (msg as Record<string, unknown>) : null;
    if (w.kind === 'sync') {
      if (obj && obj['return'] === w.id) {
        this.#waiter = null;
        this.lastAnswerAt = Date.now();
        w.resolve();
      }
      return; // a stale reply: keep waiting for ours
    }
    if (obj && 'return' in obj) {
      this.#waiter = null;
      this.lastAnswerAt = Date.now();
      w.resolve(obj['return']);
      return;
    }
    const err = obj?.['error'];
    if (err && typeof err === 'object') {
      const e = err as Record<string, unknown>;
      this.#waiter = null;
      this.lastAnswerAt = Date.now();
      const desc = typeof e['desc'] === 'string' ? e['desc'].slice(0, 500) : 'no description';
      w.reject(new NestboxError('QMP_ERROR', `the guest agent refused ${w.command}: ${desc}`));
      return;
    }
    this.#fail(new NestboxError('PROTOCOL_ERROR', `the guest agent sent a reply of an unknown shape to ${w.command}`));
  }
}

/** The guest's answers, validated and bounded at the edge (they become text in the UI and API). */
export interface GuestOsInfo {
  readonly name: string | null;
  readonly version: string | null;
  readonly prettyName: string | null;
  readonly kernelRelease: string | null;
}

export interface GuestNicStats {
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
}

export interface GuestInterface {
  readonly name: string;
  readonly mac: string | null;
  readonly addresses: readonly { readonly family: 'ipv4' | 'ipv6'; readonly address: string; readonly prefix: number }[];
  readonly stats: GuestNicStats | null;
}

const MAX_TEXT = 256;
const MAX_INTERFACES = 64;
const MAX_ADDRESSES = 64;

function text(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  // Control characters would reach terminals through `nestbox info`.
  // eslint-disable-next-line no-control-regex
  return v.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, MAX_TEXT);
}

function count(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

function record(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function malformed(command: string): NestboxError {
  return new NestboxError('PROTOCOL_ERROR', `the guest agent's reply to ${command} has an unexpected shape`);
}

export function parseOsInfo(v: unknown): GuestOsInfo {
  const o = record(v);
  if (!o) throw malformed('guest-get-osinfo');
  return { name: text(o['name']), version: text(o['version']), prettyName: text(o['pretty-name']), kernelRelease: text(o['kernel-release']) };
}

export function parseInterfaces(v: unknown): GuestInterface[] {
  if (!Array.isArray(v)) throw malformed('guest-network-get-interfaces');
  const out: GuestInterface[] = [];
  for (const item of v.slice(0, MAX_INTERFACES)) {
    const o = record(item);
    const name = o && text(o['name']);
    if (!o || !name) continue;
    const addrs = Array.isArray(o['ip-addresses']) ? (o['ip-addresses'] as unknown[]) : [];
    const addresses = addrs.slice(0, MAX_ADDRESSES).flatMap((a) => {
      const r = record(a);
      const family = r?.['ip-address-type'];
      const address = r && text(r['ip-address']);
      const prefix = r && count(r['prefix']);
      if ((family !== 'ipv4' && family !== 'ipv6') || !address || prefix === null || prefix > 128) return [];
      return [{ family, address, prefix } as const];
    });
    const s = record(o['statistics']);
    const rxBytes = count(s?.['rx-bytes']);
    const txBytes = count(s?.['tx-bytes']);
    const stats =
      s && rxBytes !== null && txBytes !== null
        ? { rxBytes, txBytes, rxPackets: count(s['rx-packets']) ?? 0, txPackets: count(s['tx-packets']) ?? 0 }
        : null;
    const mac = text(o['hardware-address']);
    out.push({ name, mac: mac && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac) ? mac.toLowerCase() : null, addresses, stats });
  }
  return out;
}

/** Typed qemu-ga commands over one client; each takes its deadline. */
export function guestCommands(c: GuestAgentClient) {
  return {
    ping: (timeoutMs: number) => c.call('guest-ping', undefined, { timeoutMs }).then(() => undefined),
    osInfo: async (timeoutMs: number) => parseOsInfo(await c.call('guest-get-osinfo', undefined, { timeoutMs })),
    hostName: async (timeoutMs: number) => {
      const o = record(await c.call('guest-get-host-name', undefined, { timeoutMs }));
      const n = o && text(o['host-name']);
      if (n === null) throw malformed('guest-get-host-name');
      return n;
    },
    interfaces: async (timeoutMs: number) => parseInterfaces(await c.call('guest-network-get-interfaces', undefined, { timeoutMs })),
    /** Powers the guest off from inside; qemu-ga answers nothing when it works. */
    shutdown: (timeoutMs: number) => c.call('guest-shutdown', { mode: 'powerdown' }, { timeoutMs, noReply: true }).then(() => undefined),
    /** Number of file systems frozen. */
    freeze: async (timeoutMs: number) => {
      const n = count(await c.call('guest-fsfreeze-freeze', undefined, { timeoutMs }));
      if (n === null) throw malformed('guest-fsfreeze-freeze');
      return n;
    },
    thaw: async (timeoutMs: number) => count(await c.call('guest-fsfreeze-thaw', undefined, { timeoutMs })) ?? 0,
    /** Whether the agent holds the guest's file systems frozen (a frozen agent refuses most commands). */
    frozen: async (timeoutMs: number) => {
      const s = await c.call('guest-fsfreeze-status', undefined, { timeoutMs });
      if (s !== 'frozen' && s !== 'thawed') throw malformed('guest-fsfreeze-status');
      return s === 'frozen';
    },
    /** Sets the guest's clock (and its RTC) to the host's time now. */
    setTime: (timeoutMs: number) =>
      c.call('guest-set-time', { time: Date.now() * 1_000_000 }, { timeoutMs }).then(() => undefined),
    time: async (timeoutMs: number) => {
      const ns = await c.call('guest-get-time', undefined, { timeoutMs });
      if (typeof ns !== 'number') throw malformed('guest-get-time');
      return ns / 1_000_000;
    },
  };
}

export type GuestCommands = ReturnType<typeof guestCommands>;
