/**
 * RPC over any message transport. The server side turns a `Handler` into replies; the
 * client side is one generic `call` plus typed events. No Node imports: this file runs in
 * the renderer too.
 */
import type { ApiEvents, EventName, MethodName, Params, Result, WireMessage } from './contract';
import { NestboxError, isErrorShape } from './errors';

/** Replies are validated at the edge: anything that is not a message object is dropped. */
export function isWireMessage(v: unknown): v is WireMessage {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { t?: unknown }).t === 'string';
}

export interface Transport {
  send(msg: WireMessage): void;
  /** Bytes queued but not yet sent, where the transport can tell (0 otherwise). */
  buffered?(): number;
  onMessage(cb: (msg: WireMessage) => void): void;
  onClose(cb: (reason?: Error) => void): void;
  close(): void;
}

/** What a server needs from the core for one connected client. */
export interface Session {
  call(method: string, params: unknown): Promise<unknown>;
  /** The transport went away: release what the client held (serial streams, ...). */
  dispose(): void;
}

/** Connects one transport to one session; events are pushed by whoever holds `push`. */
/** A client is congested when more than this is waiting to be sent to it. */
export const CONGESTION_BYTES = 4 * 1024 * 1024;

export function serveTransport(
  transport: Transport,
  makeSession: (push: (name: EventName, data: unknown) => void, congested: () => boolean) => Session,
): void {
  let open = true;
  const push = (name: EventName, data: unknown): void => {
    if (!open) return;
    try {
      transport.send({ t: 'evt', name, data });
    } catch {
      // The client went away mid-send; its close handler disposes the session.
    }
  };
  const congested = () => (transport.buffered?.() ?? 0) > CONGESTION_BYTES;
  const session = makeSession(push, congested);
  transport.onMessage((msg) => {
    if (!isWireMessage(msg) || msg.t !== 'req' || typeof msg.id !== 'number' || typeof msg.method !== 'string') return;
    session.call(msg.method, msg.params).then(
      (result) => {
        if (open) transport.send({ t: 'res', id: msg.id, result: result ?? null });
      },
      (err: unknown) => {
        if (open) transport.send({ t: 'err', id: msg.id, error: NestboxError.from(err).toShape() });
      },
    );
  });
  transport.onClose(() => {
    open = false;
    session.dispose();
  });
}

type Listener<E extends EventName> = (data: ApiEvents[E]) => void;

export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Map<string, Set<(data: unknown) => void>>();
  private readonly closeListeners = new Set<(reason?: Error) => void>();
  private closedWith: Error | null = null;

  constructor(private readonly transport: Transport) {
    transport.onMessage((msg) => this.onMessage(msg));
    transport.onClose((reason) => this.onClosed(reason));
  }

  get closed(): boolean {
    return this.closedWith !== null;
  }

  call<M extends MethodName>(method: M, params: Params<M>): Promise<Result<M>> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    return new Promise<Result<M>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        this.transport.send({ t: 'req', id, method, params });
      } catch (err) {
        this.pending.delete(id);
        reject(NestboxError.from(err, 'PROTOCOL_ERROR'));
      }
    });
  }

  on<E extends EventName>(name: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    const l = listener as (data: unknown) => void;
    set.add(l);
    return () => set.delete(l);
  }

  onClose(listener: (reason?: Error) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  close(): void {
    this.transport.close();
  }

  private onMessage(msg: WireMessage): void {
    if (!isWireMessage(msg)) return;
    switch (msg.t) {
      case 'res':
      case 'err': {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.t === 'res') p.resolve(msg.result);
        else p.reject(isErrorShape(msg.error) ? NestboxError.fromShape(msg.error) : new NestboxError('PROTOCOL_ERROR', 'malformed error reply'));
        return;
      }
      case 'evt': {
        const set = this.listeners.get(msg.name);
        if (!set) return;
        for (const l of [...set]) {
          try {
            l(msg.data);
          } catch {
            // A listener's bug must not break the connection for the others.
          }
        }
        return;
      }
      case 'req':
        return;
    }
  }

  private onClosed(reason?: Error): void {
    if (this.closedWith) return;
    this.closedWith = new NestboxError('PROTOCOL_ERROR', `connection to the Nestbox core closed${reason ? `: ${reason.message}` : ''}`);
    for (const p of this.pending.values()) p.reject(this.closedWith);
    this.pending.clear();
    for (const l of [...this.closeListeners]) l(reason);
  }
}

/** Two connected in-memory transports, for an in-process core and for tests. */
export function memoryTransportPair(): [Transport, Transport] {
  const make = () => ({
    onMsg: [] as ((m: WireMessage) => void)[],
    onClose: [] as ((r?: Error) => void)[],
    closed: false,
  });
  const a = make();
  const b = make();
  const side = (self: ReturnType<typeof make>, other: ReturnType<typeof make>): Transport => ({
    send(msg) {
      if (self.closed) throw new NestboxError('PROTOCOL_ERROR', 'transport closed');
      // Structured clone keeps the in-memory path honest: nothing shared by reference.
      const copy = structuredClone(msg);
      queueMicrotask(() => {
        if (!other.closed) for (const cb of other.onMsg) cb(copy);
      });
    },
    onMessage(cb) {
      self.onMsg.push(cb);
    },
    onClose(cb) {
      self.onClose.push(cb);
    },
    close() {
      for (const s of [self, other]) {
        if (s.closed) continue;
        s.closed = true;
        for (const cb of s.onClose) queueMicrotask(() => cb());
      }
    },
  });
  return [side(a, b), side(b, a)];
}

/** Messages held per connection while the core opens (a page sends a handful at start). */
export const MAX_HELD = 1000;

/**
 * A transport that keeps the messages that arrive before anyone listens, and hands them to
 * the first listener: for a client accepted before what serves it is ready (web mode accepts
 * the page's WebSocket while the core is still opening, or while it connects to a running
 * core). A close that came first is told to listeners added later, so a session made after
 * its client left is still disposed.
 */
export function heldTransport(t: Transport): Transport {
  let held: WireMessage[] | null = [];
  let closed: { reason?: Error } | null = null;
  const listeners: ((m: WireMessage) => void)[] = [];
  t.onMessage((m) => {
    if (!held) {
      for (const cb of listeners) cb(m);
      return;
    }
    // Bounded: a client that floods before the core is open is closed, not buffered without end.
    if (held.length >= MAX_HELD) {
      held = [];
      t.close();
      return;
    }
    held.push(m);
  });
  t.onClose((reason) => {
    closed = reason ? { reason } : {};
  });
  const out: Transport = {
    send: (m) => t.send(m),
    onMessage(cb) {
      listeners.push(cb);
      if (held) {
        // Synchronously, so nothing that arrives next can overtake them.
        const early = held;
        held = null;
        for (const m of early) cb(m);
      }
    },
    onClose(cb) {
      if (closed) {
        const c = closed;
        queueMicrotask(() => cb(c.reason));
      } else t.onClose(cb);
    },
    close: () => t.close(),
  };
  if (t.buffered) {
    const buffered = t.buffered.bind(t);
    out.buffered = buffered;
  }
  return out;
}

/** Joins two transports (a client and a core connection), closing each with the other. */
export function bridgeTransports(a: Transport, b: Transport): void {
  let closed = false;
  const closeBoth = () => {
    if (closed) return;
    closed = true;
    a.close();
    b.close();
  };
  a.onMessage((m) => {
    try {
      b.send(m);
    } catch {
      closeBoth();
    }
  });
  b.onMessage((m) => {
    try {
      a.send(m);
    } catch {
      closeBoth();
    }
  });
  a.onClose(closeBoth);
  b.onClose(closeBoth);
}

/**
 * The shape shared by Electron's MessagePortMain (main and utility processes): events via
 * `on`, payload in `event.data`. Structural, so `api` needs no Electron import.
 */
export interface NodeStylePort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (e: { data: unknown }) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  start(): void;
  close(): void;
}

export function portTransport(port: NodeStylePort): Transport {
  const closeCbs: ((r?: Error) => void)[] = [];
  let closed = false;
  const fireClose = () => {
    if (closed) return;
    closed = true;
    for (const cb of closeCbs) cb();
  };
  port.on('close', fireClose);
  return {
    send(msg) {
      if (closed) throw new NestboxError('PROTOCOL_ERROR', 'the port is closed');
      port.postMessage(msg);
    },
    onMessage(cb) {
      port.on('message', (e) => cb(e.data as WireMessage));
      port.start();
    },
    onClose(cb) {
      closeCbs.push(cb);
    },
    close() {
      port.close();
      fireClose();
    },
  };
}
