/**
 * One console stream of the core (`console.open` … `console.close`) as a small object: bytes
 * in, bytes out, one close. Both viewers sit on it: the screen (through `RfbChannel`, for
 * noVNC) and the serial terminal. Pure TypeScript over the RPC client, so it is unit-tested
 * with an in-memory core.
 */
import type { ConsoleChannel } from '../../../core/api/contract';
import { NestboxError } from '../../../core/api/errors';
import type { RpcClient } from '../../../core/api/rpc';
import { base64ToBytes, bytesToBase64 } from './base64';

/** The part of the RPC client a stream needs. */
export type ConsoleClient = Pick<RpcClient, 'call' | 'on' | 'onClose'>;

export interface StreamHandlers {
  data(bytes: Uint8Array<ArrayBuffer>): void;
  /**
   * The stream ended without being asked to: the VM stopped, the core closed it, or
   * (`lost`) the connection to the core itself went away.
   */
  closed(reason: string, lost: boolean): void;
}

/**
 * A fresh stream id (the core accepts 8-64 of [A-Za-z0-9_-]). getRandomValues, unlike
 * randomUUID, also exists on pages served over plain http from another host.
 */
export function newStreamId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `s${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

type Pending = { readonly kind: 'data'; readonly bytes: Uint8Array<ArrayBuffer> } | { readonly kind: 'closed'; readonly reason: string; readonly lost: boolean };

/** Writes within one microtask go out as one `console.write` (noVNC sends many tiny messages). */
export class ConsoleStream {
  private handlers: StreamHandlers | null = null;
  /** Events that arrived before anyone listened, delivered in order on `attach`. */
  private queue: Pending[] = [];
  private readonly offs: (() => void)[] = [];
  private ended = false;
  private outgoing: Uint8Array[] = [];
  private flushScheduled = false;

  private constructor(
    private readonly client: ConsoleClient,
    /** The stream id, chosen here (see newStreamId). */
    readonly id: string,
  ) {}

  /**
   * Opens a stream. The client names it and listens before asking: the core may push the
   * first bytes (the RFB greeting) before its reply to `console.open` arrives.
   */
  static async open(client: ConsoleClient, ref: string, channel: ConsoleChannel): Promise<ConsoleStream> {
    const s = new ConsoleStream(client, newStreamId());
    s.listen();
    try {
      await client.call('console.open', { ref, channel, stream: s.id });
    } catch (err) {
      s.ended = true;
      s.unlisten();
      throw err;
    }
    return s;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Starts delivering; anything that arrived before is delivered first, synchronously. */
  attach(handlers: StreamHandlers): void {
    this.handlers = handlers;
    const queued = this.queue;
    this.queue = [];
    for (const p of queued) {
      if (p.kind === 'data') handlers.data(p.bytes);
      else handlers.closed(p.reason, p.lost);
    }
  }

  /** Sends bytes to the guest. The bytes are copied: callers may reuse their buffer. */
  write(bytes: Uint8Array): void {
    if (this.ended || bytes.length === 0) return;
    this.outgoing.push(bytes.slice());
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Closes the stream from this side; no `closed` callback follows. */
  close(): void {
    if (this.ended) return;
    this.flush();
    this.ended = true;
    this.unlisten();
    this.client.call('console.close', { stream: this.id }).catch(() => undefined);
  }

  private listen(): void {
    this.offs.push(
      this.client.on('console.data', (e) => {
        if (e.stream === this.id) this.received(e.data);
      }),
      this.client.on('console.closed', (e) => {
        if (e.stream === this.id) this.end(e.reason, false);
      }),
      this.client.onClose((reason) => this.end(reason?.message ?? 'the connection to the Nestbox core was closed', true)),
    );
  }

  private unlisten(): void {
    for (const off of this.offs.splice(0)) off();
  }

  private received(data: string): void {
    if (this.ended) return;
    const bytes = base64ToBytes(data);
    if (bytes.length === 0) return;
    if (this.handlers) this.handlers.data(bytes);
    else this.queue.push({ kind: 'data', bytes });
  }

  private end(reason: string, lost: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.outgoing = [];
    this.unlisten();
    if (this.handlers) this.handlers.closed(reason, lost);
    else this.queue.push({ kind: 'closed', reason, lost });
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.ended || this.outgoing.length === 0) return;
    const parts = this.outgoing;
    this.outgoing = [];
    let bytes: Uint8Array;
    if (parts.length === 1) bytes = parts[0] as Uint8Array;
    else {
      bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        bytes.set(p, o);
        o += p.length;
      }
    }
    this.client.call('console.write', { stream: this.id, data: bytesToBase64(bytes) }).catch((err: unknown) => {
      // The core forgot the stream without telling us (it closed while the write was in
      // flight): end it here so the viewer reconnects instead of typing into nothing.
      if (err instanceof NestboxError && err.code === 'NOT_FOUND') this.end('the console stream was closed', false);
    });
  }
}
