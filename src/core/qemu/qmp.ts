/**
 * QMP client: the one channel through which the core drives a running QEMU.
 *
 * Modelled after QEMU's own python library (`python/qemu/qmp`):
 * - every command carries an id (`nb-<n>`) and waits in a pending map, so replies may arrive
 *   in any order and a reply to a call that already timed out is simply dropped (the QMP
 *   spec tells clients to drop replies with an unknown id);
 * - asynchronous events are routed to listeners and never confused with replies;
 * - when the connection ends, for whatever reason, every pending call and every `waitEvent`
 *   fails at once with a NestboxError that names the command and the cause, so no caller is
 *   left waiting on a QEMU that is gone;
 * - every message is validated here, at the edge: a line that is not JSON, a greeting that
 *   is not a greeting, a reply without an id (QEMU's way of saying it could not parse what
 *   we sent) all mean the stream can no longer be trusted, so the connection is closed with
 *   PROTOCOL_ERROR rather than guessed around.
 *
 * The wire format is newline-delimited JSON (QEMU terminates lines with "\r\n"). Pretty
 * output (`-qmp ...,pretty=on`) spreads one message over several lines and is therefore not
 * supported; the argv builder never asks for it.
 *
 * Over 500 lines because the client is one protocol state machine: the pending calls, the
 * event listeners and waiters, the line reader and the close that fails them all share one
 * connection's state, and the guarantees above hold only if every path through it is read
 * together. The typed commands built on it are in commands.ts (this file only moves JSON).
 */
import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { NestboxError } from '../api/errors';

export interface QmpEvent {
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly timestamp: { readonly seconds: number; readonly microseconds: number };
}

export interface QmpGreeting {
  readonly version: { qemu: { major: number; minor: number; micro: number }; package: string };
  readonly capabilities: readonly string[];
}

export interface QmpConnectOptions {
  /**
   * How long to wait, once the socket is connected, for the greeting and the
   * `qmp_capabilities` reply. A QMP chardev serves one client at a time and leaves a second
   * one connected but silent, so without this bound a connect could hang forever.
   * Default 10 s.
   */
  readonly timeoutMs?: number;
  /**
   * Keep retrying ENOENT / ECONNREFUSED for this long (every ~20 ms): QEMU creates its socket
   * a little after it is spawned. Default 0: a single attempt.
   */
  readonly retryUntilMs?: number;
}

export interface QmpExecuteOptions {
  /** Reject with TIMEOUT after this long; the reply, if it comes later, is dropped. */
  readonly timeoutMs?: number;
}

export interface QmpWaitEventOptions {
  readonly timeoutMs?: number;
  readonly predicate?: (ev: QmpEvent) => boolean;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/**
 * How often a socket that is not there yet is tried again: every 2 ms for the first second (a
 * QEMU under TCG opens its QMP socket 30-40 ms after it is spawned, and every start and restore
 * waits for it, so a coarse poll would add half its interval to each on average), then every
 * 20 ms. A failed connect to a missing path costs microseconds.
 */
const CONNECT_RETRY_FAST_MS = 2;
const CONNECT_RETRY_FAST_FOR_MS = 1000;
const CONNECT_RETRY_INTERVAL_MS = 20;
/**
 * A line longer than this is treated as a protocol error. The largest legitimate reply
 * (`query-qmp-schema`) is a few hundred KiB; the cap only stops a runaway peer from making
 * the core buffer without bound.
 */
const MAX_LINE_CHARS = 64 * 1024 * 1024;

interface Pending {
  readonly command: string;
  readonly args: Record<string, unknown> | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: NestboxError) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

type Json = Record<string, unknown>;

export class QmpClient {
  readonly #socket: Socket;
  readonly #socketPath: string;
  readonly #pending = new Map<string, Pending>();
  readonly #eventListeners = new Set<(ev: QmpEvent) => void>();
  readonly #closeListeners = new Set<(reason: Error | undefined) => void>();
  #nextId = 0;
  #partial: string[] = [];
  #partialChars = 0;
  #greeting: QmpGreeting | undefined;
  #greetingWaiter: { resolve: (g: QmpGreeting) => void; reject: (e: NestboxError) => void } | undefined;
  readonly #greetingReady: Promise<QmpGreeting>;
  #closed = false;
  #closeReason: NestboxError | undefined;
  /** The error that the socket reported before it closed, kept to explain the close. */
  #socketError: Error | undefined;

  private constructor(socket: Socket, socketPath: string) {
    this.#socket = socket;
    this.#socketPath = socketPath;
    this.#greetingReady = new Promise<QmpGreeting>((resolve, reject) => {
      this.#greetingWaiter = { resolve, reject };
    });
    // The handshake awaits this promise right away; this only keeps a rejection that lands
    // first from being reported as unhandled.
    this.#greetingReady.catch(() => undefined);
    // The decoder inside setEncoding keeps a multi-byte character split across chunks whole.
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    socket.on('error', (err) => {
      this.#socketError ??= err;
    });
    socket.on('close', () => {
      const cause = this.#socketError;
      const code = (cause as NodeJS.ErrnoException | undefined)?.code;
      // QEMU exiting (after `quit`, or killed) can reset the socket instead of ending it
      // cleanly when bytes we sent were still unread; that is still "QEMU went away".
      const peerGone = cause === undefined || code === 'ECONNRESET' || code === 'EPIPE';
      this.#shutdown(
        new NestboxError(
          'QMP_DISCONNECTED',
          peerGone
            ? `QMP connection to ${this.#socketPath} closed by QEMU${code ? ` (${code})` : ''}`
            : `QMP connection to ${this.#socketPath} failed: ${cause.message}`,
          cause?.stack,
        ),
      );
    });
  }

  /**
   * Connects to a QMP unix socket, reads the greeting and negotiates capabilities (none are
   * enabled: no out-of-band execution). Rejects with QMP_DISCONNECTED when the socket cannot
   * be reached, TIMEOUT when QEMU stays silent, PROTOCOL_ERROR when what it says is not QMP.
   */
  static async connect(socketPath: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const socket = await openSocket(socketPath, opts.retryUntilMs ?? 0);
    const client = new QmpClient(socket, socketPath);
    try {
      await client.#handshake(timeoutMs);
    } catch (err) {
      const e = NestboxError.from(err, 'PROTOCOL_ERROR');
      client.#shutdown(e);
      throw e;
    }
    return client;
  }

  get greeting(): QmpGreeting {
    // connect() only hands out a client after the greeting has been validated.
    if (this.#greeting === undefined) throw new NestboxError('INTERNAL', 'QMP greeting not received yet');
    return this.#greeting;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends a command and resolves with its `return` value. The value is not validated: its
   * shape depends on the command, so the caller that knows the command checks it.
   * Rejects QMP_ERROR (`${command}: ${desc}`, detail = JSON of the error class and the
   * arguments), QMP_DISCONNECTED if the connection ends first, TIMEOUT after `timeoutMs`.
   */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts: QmpExecuteOptions = {}): Promise<T> {
    if (this.#closed) return Promise.reject(this.#errorFor(command, this.#closeReason));
    const id = `nb-${++this.#nextId}`;
    const message: Json = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
    let line: string;
    try {
      line = JSON.stringify(message) + '\n';
    } catch (err) {
      return Promise.reject(new NestboxError('INVALID_ARGUMENT', `${command}: arguments are not serialisable as JSON`, String(err)));
    }
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        command,
        args,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer: undefined,
      };
      if (opts.timeoutMs !== undefined) {
        const timeoutMs = opts.timeoutMs;
        pending.timer = setTimeout(() => {
          // Forgetting the id is what makes the late reply "unknown" and therefore dropped.
          this.#pending.delete(id);
          reject(new NestboxError('TIMEOUT', `${command}: no reply from QEMU within ${timeoutMs} ms`, JSON.stringify({ id, arguments: args })));
        }, timeoutMs);
      }
      this.#pending.set(id, pending);
      this.#socket.write(line);
    });
  }

  /**
   * Subscribes to every event. A listener that throws is reported as a process warning and
   * does not stop the other listeners or the reader. Returns the unsubscribe function.
   */
  onEvent(listener: (ev: QmpEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => {
      this.#eventListeners.delete(listener);
    };
  }

  /**
   * Resolves with the first event named `name` for which `predicate` holds. The listener is
   * registered before this returns, so calling it before the command that triggers the event
   * cannot miss the event. Rejects QMP_DISCONNECTED if the connection ends, TIMEOUT after
   * `timeoutMs`, or with the predicate's own error if it throws.
   */
  waitEvent(name: string, opts: QmpWaitEventOptions = {}): Promise<QmpEvent> {
    const what = `waiting for event ${name}`;
    if (this.#closed) return Promise.reject(this.#errorFor(what, this.#closeReason));
    return new Promise<QmpEvent>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        offEvent();
        offClose();
        if (timer !== undefined) clearTimeout(timer);
      };
      const offEvent = this.onEvent((ev) => {
        if (ev.event !== name) return;
        let matches: boolean;
        try {
          matches = opts.predicate === undefined || opts.predicate(ev);
        } catch (err) {
          done();
          reject(NestboxError.from(err));
          return;
        }
        if (!matches) return;
        done();
        resolve(ev);
      });
      const offClose = this.onClose((reason) => {
        done();
        reject(this.#errorFor(what, toNestboxError(reason)));
      });
      if (opts.timeoutMs !== undefined) {
        const timeoutMs = opts.timeoutMs;
        timer = setTimeout(() => {
          done();
          reject(new NestboxError('TIMEOUT', `event ${name} not received within ${timeoutMs} ms`));
        }, timeoutMs);
      }
    });
  }

  /**
   * Called once when the connection ends. `reason` is undefined when `close()` ended it and
   * a NestboxError otherwise (QEMU exited or closed the socket, socket error, protocol
   * error). A listener added after the end is still called, on a microtask, so a supervisor
   * that subscribes late cannot miss it.
   */
  onClose(listener: (reason: Error | undefined) => void): () => void {
    if (this.#closed) {
      const reason = this.#closeReason;
      queueMicrotask(() => safeCall(listener, reason));
      return () => undefined;
    }
    this.#closeListeners.add(listener);
    return () => {
      this.#closeListeners.delete(listener);
    };
  }

  /** Ends the connection; pending calls fail with QMP_DISCONNECTED. Idempotent. */
  close(): void {
    this.#shutdown(undefined);
  }

  /**
   * Lets the process exit while this connection is open. The socket is ref'd by default
   * because the core normally must stay alive while it watches a VM; a one-shot CLI call
   * that only peeks at a VM may prefer not to be held open by it.
   */
  unref(): void {
    this.#socket.unref();
  }

  async #handshake(timeoutMs: number): Promise<void> {
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new NestboxError(
              'TIMEOUT',
              `no QMP greeting from ${this.#socketPath} within ${timeoutMs} ms (is another client connected to this monitor?)`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.#greetingReady, timeout]);
    } finally {
      clearTimeout(timer);
    }
    const remaining = Math.max(1, timeoutMs - (performance.now() - started));
    try {
      await this.execute('qmp_capabilities', undefined, { timeoutMs: remaining });
    } catch (err) {
      const e = NestboxError.from(err);
      if (e.code === 'QMP_ERROR') {
        throw new NestboxError('PROTOCOL_ERROR', `QMP capabilities negotiation on ${this.#socketPath} refused: ${e.message}`, e.detail);
      }
      throw e;
    }
  }

  #onData(chunk: string): void {
    let start = 0;
    while (!this.#closed) {
      const nl = chunk.indexOf('\n', start);
      if (nl < 0) break;
      let line = chunk.slice(start, nl);
      start = nl + 1;
      // Parts are kept in an array and joined once, so a large reply that arrives in many
      // chunks costs linear time rather than a copy per chunk.
      if (this.#partial.length > 0) {
        this.#partial.push(line);
        line = this.#partial.join('');
        this.#partial = [];
        this.#partialChars = 0;
      }
      this.#onLine(line);
    }
    if (this.#closed || start >= chunk.length) return;
    const rest = chunk.slice(start);
    this.#partialChars += rest.length;
    if (this.#partialChars > MAX_LINE_CHARS) {
      this.#protocolError(`QMP message longer than ${MAX_LINE_CHARS} characters`);
      return;
    }
    this.#partial.push(rest);
  }

  #onLine(raw: string): void {
    const line = raw.trim();
    if (line === '') return;
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      this.#protocolError('QEMU sent a line that is not JSON', line);
      return;
    }
    if (!isObject(msg)) {
      this.#protocolError('QEMU sent a JSON value that is not an object', line);
      return;
    }
    if (this.#greeting === undefined) {
      this.#onGreeting(msg, line);
      return;
    }
    if ('event' in msg) {
      this.#onEventMessage(msg, line);
      return;
    }
    if (!('return' in msg) && !('error' in msg)) {
      this.#protocolError('QEMU sent a message that is neither a reply nor an event', line);
      return;
    }
    if (!('id' in msg)) {
      // We always send an id, so a reply without one is QEMU answering something it could
      // not parse. It belongs to no pending call; recovering would be guesswork (the python
      // library terminates too, see "NOTE" in docs/interop/qmp-spec).
      this.#protocolError('QEMU sent a reply without an id (it could not parse a command)', line);
      return;
    }
    const id = msg['id'];
    const pending = typeof id === 'string' ? this.#pending.get(id) : undefined;
    if (pending === undefined) return; // a call that timed out; the spec says drop it
    this.#pending.delete(id as string);
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    if ('return' in msg) {
      pending.resolve(msg['return']);
      return;
    }
    const error = msg['error'];
    if (!isObject(error) || typeof error['class'] !== 'string' || typeof error['desc'] !== 'string') {
      pending.reject(new NestboxError('PROTOCOL_ERROR', `${pending.command}: malformed error reply from QEMU`, line));
      return;
    }
    pending.reject(
      new NestboxError('QMP_ERROR', `${pending.command}: ${error['desc']}`, JSON.stringify({ class: error['class'], command: pending.command, arguments: pending.args })),
    );
  }

  #onGreeting(msg: Json, line: string): void {
    const qmp = msg['QMP'];
    const version = isObject(qmp) ? qmp['version'] : undefined;
    const qemu = isObject(version) ? version['qemu'] : undefined;
    const capabilities = isObject(qmp) ? qmp['capabilities'] : undefined;
    if (
      !isObject(qmp) ||
      !isObject(version) ||
      !isObject(qemu) ||
      typeof qemu['major'] !== 'number' ||
      typeof qemu['minor'] !== 'number' ||
      typeof qemu['micro'] !== 'number' ||
      typeof version['package'] !== 'string' ||
      !Array.isArray(capabilities) ||
      !capabilities.every((c) => typeof c === 'string')
    ) {
      this.#protocolError(`${this.#socketPath} did not greet like QMP`, line);
      return;
    }
    this.#greeting = Object.freeze({
      version: Object.freeze({
        qemu: Object.freeze({ major: qemu['major'], minor: qemu['minor'], micro: qemu['micro'] }),
        package: version['package'],
      }),
      capabilities: Object.freeze([...(capabilities as string[])]),
    });
    this.#greetingWaiter?.resolve(this.#greeting);
    this.#greetingWaiter = undefined;
  }

  #onEventMessage(msg: Json, line: string): void {
    const name = msg['event'];
    const data = msg['data'] ?? {};
    const ts = msg['timestamp'];
    if (
      typeof name !== 'string' ||
      !isObject(data) ||
      !isObject(ts) ||
      typeof ts['seconds'] !== 'number' ||
      typeof ts['microseconds'] !== 'number'
    ) {
      this.#protocolError('QEMU sent a malformed event', line);
      return;
    }
    const ev: QmpEvent = Object.freeze({
      event: name,
      data: Object.freeze(data),
      timestamp: Object.freeze({ seconds: ts['seconds'], microseconds: ts['microseconds'] }),
    });
    // A snapshot, so a listener that unsubscribes (waitEvent does) cannot disturb iteration.
    for (const listener of [...this.#eventListeners]) safeCall(listener, ev);
  }

  #protocolError(message: string, line?: string): void {
    const detail = line === undefined ? undefined : line.length > 4096 ? `${line.slice(0, 4096)}…` : line;
    this.#shutdown(new NestboxError('PROTOCOL_ERROR', `${message}; connection to ${this.#socketPath} closed`, detail));
  }

  /** The one way the connection ends: everyone waiting is told, exactly once. */
  #shutdown(reason: NestboxError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    this.#socket.destroy();
    this.#partial = [];
    this.#greetingWaiter?.reject(reason ?? new NestboxError('QMP_DISCONNECTED', 'QMP connection closed by client'));
    this.#greetingWaiter = undefined;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      if (p.timer !== undefined) clearTimeout(p.timer);
      p.reject(this.#errorFor(p.command, reason));
    }
    const listeners = [...this.#closeListeners];
    this.#closeListeners.clear();
    this.#eventListeners.clear();
    for (const listener of listeners) safeCall(listener, reason);
  }

  /** The error a call gets when the connection is (or goes) away, naming the call. */
  #errorFor(what: string, reason: NestboxError | undefined): NestboxError {
    if (reason === undefined) return new NestboxError('QMP_DISCONNECTED', `${what}: QMP connection closed by client`);
    return new NestboxError(reason.code, `${what}: ${reason.message}`, reason.detail);
  }
}

/**
 * Connects, retrying the two errors that mean "QEMU has not created/opened its socket yet"
 * until `retryUntilMs` has passed. The wait between attempts is a timer, never a busy loop.
 */
async function openSocket(socketPath: string, retryUntilMs: number): Promise<Socket> {
  const started = performance.now();
  const deadline = started + retryUntilMs;
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      return await connectOnce(socketPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const retriable = code === 'ENOENT' || code === 'ECONNREFUSED';
      const now = performance.now();
      if (retriable && now < deadline) {
        const every = now - started < CONNECT_RETRY_FAST_FOR_MS ? CONNECT_RETRY_FAST_MS : CONNECT_RETRY_INTERVAL_MS;
        await sleep(Math.min(every, Math.max(1, deadline - now)));
        continue;
      }
      const why = code === 'ENOENT' ? 'no such socket' : code === 'ECONNREFUSED' ? 'nothing is listening' : (err as Error).message;
      const tried = retryUntilMs > 0 ? ` after ${attempts} attempts over ${retryUntilMs} ms` : '';
      throw new NestboxError('QMP_DISCONNECTED', `cannot connect to QMP socket ${socketPath}: ${why}${tried}`, `${code ?? ''} ${(err as Error).message}`.trim());
    }
  }
}

function connectOnce(socketPath: string): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = createConnection({ path: socketPath });
    const onError = (err: Error): void => {
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toNestboxError(reason: Error | undefined): NestboxError | undefined {
  return reason === undefined ? undefined : NestboxError.from(reason, 'QMP_DISCONNECTED');
}

/** Listener errors are reported, not thrown: one faulty subscriber must not stop the reader. */
function safeCall<A>(listener: (arg: A) => void, arg: A): void {
  try {
    listener(arg);
  } catch (err) {
    process.emitWarning(`a QMP listener threw: ${err instanceof Error ? err.message : String(err)}`, {
      code: 'NESTBOX_QMP_LISTENER',
      detail: err instanceof Error ? err.stack : undefined,
    });
  }
}
