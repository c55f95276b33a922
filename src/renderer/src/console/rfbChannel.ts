/**
 * A WebSocket-shaped channel over the core's `vnc` console stream, for noVNC's
 * `new RFB(target, channel)`. noVNC's Websock.attach() checks that the object has `send`,
 * `close`, `binaryType`, `onerror`, `onmessage`, `onopen`, `protocol` and `readyState` as its
 * own keys or on its *direct* prototype (so this class must not be subclassed), then sets
 * `binaryType`, `onmessage`, `onopen`, `onclose`, `onerror`. RFB then looks at `readyState`:
 * OPEN → it starts the handshake at once; CONNECTING → it waits for `onopen`; CLOSED → throws.
 *
 * The usual use is to await `opened` and only then hand the channel to RFB, so a stream the
 * core refuses (VM not running yet) never reaches noVNC, whose failure path logs errors.
 * The CONNECTING path works too. Bytes that arrive before noVNC assigned `onmessage` are
 * kept and delivered in a later microtask: noVNC must finish its constructor (and
 * `_socketOpen`) before the first byte, or it fails with "Unknown init state".
 */
import { ConsoleStream, type ConsoleClient } from './consoleStream';

/** The WebSocket readyState numbers, which noVNC accepts (no WebSocket global needed). */
export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

export interface RfbMessageEvent {
  readonly data: ArrayBuffer;
}

export interface RfbCloseEvent {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/** Close codes as a WebSocket would give them. */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_ABNORMAL = 1006;

type Pending = { readonly kind: 'message'; readonly data: ArrayBuffer } | { readonly kind: 'close'; readonly event: RfbCloseEvent };

export class RfbChannel {
  binaryType = 'arraybuffer';
  readonly protocol = '';
  onopen: ((ev: { readonly type: 'open' }) => void) | null = null;
  onerror: ((ev: { readonly type: 'error'; readonly message: string }) => void) | null = null;
  /** Resolves once the stream is open; rejects with the core's error if it cannot be opened. */
  readonly opened: Promise<void>;
  /** Why the channel closed (set once it did), for the viewer's status line. */
  closeReason: string | null = null;
  /** True when it closed because the connection to the core went away. */
  lost = false;

  private state: number = CONNECTING;
  private stream: ConsoleStream | null = null;
  private messageHandler: ((ev: RfbMessageEvent) => void) | null = null;
  private closeHandler: ((ev: RfbCloseEvent) => void) | null = null;
  private pending: Pending[] = [];
  private flushScheduled = false;

  constructor(client: ConsoleClient, ref: string) {
    this.opened = ConsoleStream.open(client, ref, 'vnc').then(
      (stream) => this.onStreamOpen(stream),
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        const wasConnecting = this.state === CONNECTING;
        this.state = CLOSED;
        this.closeReason = message;
        if (wasConnecting) {
          this.onerror?.({ type: 'error', message });
          this.enqueue({ kind: 'close', event: { code: CLOSE_ABNORMAL, reason: message, wasClean: false } });
        }
        throw err;
      },
    );
    // Whoever awaits `opened` sees the rejection; nobody awaiting must not be an unhandled one.
    this.opened.catch(() => undefined);
  }

  get readyState(): number {
    return this.state;
  }

  get onmessage(): ((ev: RfbMessageEvent) => void) | null {
    return this.messageHandler;
  }
  set onmessage(handler: ((ev: RfbMessageEvent) => void) | null) {
    this.messageHandler = handler;
    if (handler && this.pending.length > 0) this.scheduleFlush();
  }

  get onclose(): ((ev: RfbCloseEvent) => void) | null {
    return this.closeHandler;
  }
  set onclose(handler: ((ev: RfbCloseEvent) => void) | null) {
    this.closeHandler = handler;
    if (handler && this.pending.length > 0) this.scheduleFlush();
  }

  /**
   * noVNC passes a view into its reusable send queue; ConsoleStream copies it at once.
   * Like WebSocket, sending before open is an error and sending after close is dropped.
   */
  send(data: ArrayBuffer | ArrayBufferView): void {
    if (this.state === CONNECTING) throw new Error('InvalidStateError: the console stream is still opening');
    if (this.state !== OPEN || !this.stream) return;
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.stream.write(bytes);
  }

  close(code: number = CLOSE_NORMAL, reason = ''): void {
    if (this.state === CLOSING || this.state === CLOSED) return;
    const wasOpen = this.state === OPEN;
    this.state = CLOSING;
    this.closeReason = reason || 'closed by the viewer';
    if (wasOpen) this.finishClose(code, reason);
    // CONNECTING: onStreamOpen sees CLOSING, closes the stream and finishes there.
  }

  private onStreamOpen(stream: ConsoleStream): void {
    if (this.state === CLOSING) {
      stream.close();
      this.finishClose(CLOSE_NORMAL, '');
      return;
    }
    this.stream = stream;
    this.state = OPEN;
    // A channel handed to RFB while CONNECTING waits for this; when handed over already
    // OPEN, RFB starts by itself and onopen is never called.
    this.onopen?.({ type: 'open' });
    stream.attach({
      data: (bytes) => this.enqueue({ kind: 'message', data: bytes.buffer }),
      closed: (reason, lost) => {
        if (this.state === CLOSED) return;
        this.state = CLOSED;
        this.closeReason = reason;
        this.lost = lost;
        this.enqueue({ kind: 'close', event: lost ? { code: CLOSE_ABNORMAL, reason, wasClean: false } : { code: CLOSE_GOING_AWAY, reason, wasClean: true } });
      },
    });
  }

  private finishClose(code: number, reason: string): void {
    this.stream?.close();
    this.stream = null;
    // Bytes still queued are dropped, as a closing WebSocket drops them; the close event
    // comes asynchronously, as a WebSocket's does.
    this.pending = [];
    this.enqueue({ kind: 'close', event: { code, reason, wasClean: true } });
    this.state = CLOSED;
  }

  private enqueue(p: Pending): void {
    this.pending.push(p);
    if (this.messageHandler || this.closeHandler) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.pending.length > 0) {
      const p = this.pending[0] as Pending;
      if (p.kind === 'message') {
        // Keep bytes until someone reads them (noVNC assigns onmessage in attach()).
        if (!this.messageHandler) return;
        this.pending.shift();
        this.messageHandler({ data: p.data });
      } else {
        this.pending.shift();
        this.closeHandler?.(p.event);
      }
    }
  }
}
