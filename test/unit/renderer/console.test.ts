/**
 * The console transport of the renderer: base64, ConsoleStream and the WebSocket-shaped
 * RfbChannel that noVNC attaches to (checked against noVNC's own Websock.attach).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ApiEvents, EventName } from '../../../src/core/api/contract';
import { NestboxError } from '../../../src/core/api/errors';
import { base64ToBytes, bytesToBase64, textToBase64 } from '../../../src/renderer/src/console/base64';
import { ConsoleStream, type ConsoleClient } from '../../../src/renderer/src/console/consoleStream';
import { CLOSED, CONNECTING, OPEN, RfbChannel, type RfbCloseEvent } from '../../../src/renderer/src/console/rfbChannel';
import { keystrokesFor } from '../../../src/renderer/src/console/keys';
import { isTerminalReport, withoutOverlap } from '../../../src/renderer/src/console/useSerial';
import { parseRoute, consoleHash } from '../../../src/renderer/src/console/route';
import { screenshotFileName } from '../../../src/renderer/src/console/screenshot';

/** A scripted core: records calls, pushes events, can fail console.open. */
class FakeCore {
  readonly calls: { method: string; params: Record<string, unknown> }[] = [];
  private readonly listeners = new Map<string, Set<(d: unknown) => void>>();
  private readonly closeListeners = new Set<(r?: Error) => void>();
  openError: Error | null = null;
  /** Bytes the core pushes while handling console.open, before replying (the RFB greeting). */
  greeting: string | null = null;
  writeError: Error | null = null;

  readonly client: ConsoleClient = {
    call: (async (method: string, params: Record<string, unknown>) => {
      this.calls.push({ method, params });
      if (method === 'console.open') {
        if (this.openError) throw this.openError;
        if (this.greeting !== null) this.emit('console.data', { stream: params['stream'] as string, data: this.greeting });
        return { stream: params['stream'] };
      }
      if (method === 'console.write' && this.writeError) throw this.writeError;
      return null;
    }) as ConsoleClient['call'],
    on: ((name: string, l: (d: unknown) => void) => {
      let set = this.listeners.get(name);
      if (!set) this.listeners.set(name, (set = new Set()));
      set.add(l);
      return () => set.delete(l);
    }) as ConsoleClient['on'],
    onClose: (l) => {
      this.closeListeners.add(l);
      return () => this.closeListeners.delete(l);
    },
  };

  emit<E extends EventName>(name: E, data: ApiEvents[E]): void {
    for (const l of [...(this.listeners.get(name) ?? [])]) l(data);
  }
  dropConnection(): void {
    for (const l of [...this.closeListeners]) l(new Error('socket closed'));
  }
  listenerCount(): number {
    let n = this.closeListeners.size;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }
  streamId(): string {
    const open = this.calls.find((c) => c.method === 'console.open');
    return open?.params['stream'] as string;
  }
  writes(): Uint8Array[] {
    return this.calls.filter((c) => c.method === 'console.write').map((c) => base64ToBytes(c.params['data'] as string));
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const b64 = (s: string) => Buffer.from(s, 'latin1').toString('base64');
const text = (buf: ArrayBuffer | Uint8Array) => Buffer.from(buf instanceof Uint8Array ? buf : new Uint8Array(buf)).toString('latin1');

describe('base64', () => {
  it('round-trips every length and agrees with Buffer', () => {
    for (let n = 0; n < 300; n++) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 37 + n) & 0xff);
      const enc = bytesToBase64(bytes);
      expect(enc).toBe(Buffer.from(bytes).toString('base64'));
      expect(Array.from(base64ToBytes(enc))).toEqual(Array.from(bytes));
    }
  });
  it('handles large buffers, URL-safe input, whitespace and missing padding', () => {
    const big = new Uint8Array(3 * 1024 * 1024 + 1).map((_, i) => i * 7);
    expect(bytesToBase64(big)).toBe(Buffer.from(big).toString('base64'));
    expect(Array.from(base64ToBytes('+/8='))).toEqual([0xfb, 0xff]);
    expect(Array.from(base64ToBytes('-_8'))).toEqual([0xfb, 0xff]);
    expect(text(base64ToBytes('aGVs\nbG8='))).toBe('hello');
    expect(textToBase64('é')).toBe(Buffer.from('é', 'utf8').toString('base64'));
  });
});

describe('ConsoleStream', () => {
  it('names its stream, keeps bytes that arrive before attach, and delivers them in order', async () => {
    const core = new FakeCore();
    core.greeting = b64('RFB 003.008\n');
    const s = await ConsoleStream.open(core.client, 'vm1', 'vnc');
    expect(s.id).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
    expect(core.calls[0]).toEqual({ method: 'console.open', params: { ref: 'vm1', channel: 'vnc', stream: s.id } });
    core.emit('console.data', { stream: s.id, data: b64('more') });
    core.emit('console.data', { stream: 'someone-else', data: b64('not mine') });
    const got: string[] = [];
    s.attach({ data: (b) => got.push(text(b)), closed: () => got.push('<closed>') });
    core.emit('console.data', { stream: s.id, data: b64('live') });
    expect(got).toEqual(['RFB 003.008\n', 'more', 'live']);
  });

  it('coalesces the writes of one microtask and copies the caller’s buffer', async () => {
    const core = new FakeCore();
    const s = await ConsoleStream.open(core.client, 'vm1', 'serial');
    const buf = new Uint8Array([1, 2, 3]);
    s.write(buf);
    buf.fill(9); // noVNC reuses its send buffer
    s.write(new Uint8Array([4]));
    await tick();
    expect(core.writes().map((w) => Array.from(w))).toEqual([[1, 2, 3, 4]]);
  });

  it('ends once on console.closed or a lost connection, and stops listening', async () => {
    const core = new FakeCore();
    const s = await ConsoleStream.open(core.client, 'vm1', 'serial');
    const ends: [string, boolean][] = [];
    s.attach({ data: () => undefined, closed: (r, lost) => ends.push([r, lost]) });
    core.emit('console.closed', { stream: s.id, reason: 'the VM stopped' });
    core.dropConnection();
    expect(ends).toEqual([['the VM stopped', false]]);
    expect(core.listenerCount()).toBe(0);

    const core2 = new FakeCore();
    const s2 = await ConsoleStream.open(core2.client, 'vm1', 'serial');
    const ends2: [string, boolean][] = [];
    s2.attach({ data: () => undefined, closed: (r, lost) => ends2.push([r, lost]) });
    core2.dropConnection();
    expect(ends2).toEqual([['socket closed', true]]);
  });

  it('close() tells the core, without a closed callback; a failed open leaves no listeners', async () => {
    const core = new FakeCore();
    const s = await ConsoleStream.open(core.client, 'vm1', 'serial');
    let closed = 0;
    s.attach({ data: () => undefined, closed: () => closed++ });
    s.close();
    expect(core.calls.at(-1)).toEqual({ method: 'console.close', params: { stream: s.id } });
    expect(closed).toBe(0);
    expect(core.listenerCount()).toBe(0);

    const bad = new FakeCore();
    bad.openError = new NestboxError('INVALID_STATE', 'not running');
    await expect(ConsoleStream.open(bad.client, 'vm1', 'vnc')).rejects.toThrow('not running');
    expect(bad.listenerCount()).toBe(0);
  });

  it('ends when the core says the stream it writes to is gone', async () => {
    const core = new FakeCore();
    const s = await ConsoleStream.open(core.client, 'vm1', 'serial');
    const ends: string[] = [];
    s.attach({ data: () => undefined, closed: (r) => ends.push(r) });
    core.writeError = new NestboxError('NOT_FOUND', 'that console stream is not open');
    s.write(new Uint8Array([1]));
    await tick();
    expect(ends).toHaveLength(1);
    expect(s.closed).toBe(true);
  });
});

describe('RfbChannel', () => {
  let Websock: new () => { attach(c: unknown): void; readyState: string; on(e: string, h: (...a: unknown[]) => void): void; flush(): void; sQpushBytes(b: Uint8Array): void; rQlen(): number; rQshiftStr(n: number): string };
  beforeAll(async () => {
    // noVNC's websock.js reads these browser globals when it loads.
    const g = globalThis as Record<string, unknown>;
    g['window'] ??= globalThis;
    g['WebSocket'] ??= { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 };
    // @ts-expect-error plain JS module without types
    Websock = (await import('../../../node_modules/@novnc/novnc/core/websock.js')).default;
  });

  it('passes noVNC’s attach() check and carries the handshake both ways', async () => {
    const core = new FakeCore();
    core.greeting = b64('RFB 003.008\n');
    const ch = new RfbChannel(core.client, 'vm1');
    expect(ch.readyState).toBe(CONNECTING);
    await ch.opened;
    expect(ch.readyState).toBe(OPEN);
    const ws = new Websock();
    let messages = 0;
    ws.on('message', () => messages++);
    ws.attach(ch); // throws "Raw channel missing property" if the shape is wrong
    expect(ws.readyState).toBe('open');
    expect(messages).toBe(0); // nothing before RFB finished its constructor
    await tick();
    expect(messages).toBe(1);
    expect(ws.rQshiftStr(12)).toBe('RFB 003.008\n');
    ws.sQpushBytes(new Uint8Array(Buffer.from('RFB 003.008\n')));
    ws.flush();
    await tick();
    expect(text(core.writes()[0]!)).toBe('RFB 003.008\n');
  });

  it('opens by itself when attached while CONNECTING (onopen, then the bytes)', async () => {
    const core = new FakeCore();
    core.greeting = b64('hi');
    const ch = new RfbChannel(core.client, 'vm1');
    const order: string[] = [];
    ch.onopen = () => order.push('open');
    ch.onmessage = (e) => order.push(text(e.data));
    expect(() => ch.send(new Uint8Array([1]))).toThrow(/InvalidState/);
    await ch.opened;
    await tick();
    expect(order).toEqual(['open', 'hi']);
  });

  it('turns console.closed into onclose (1001) and a lost core into 1006', async () => {
    const core = new FakeCore();
    const ch = new RfbChannel(core.client, 'vm1');
    await ch.opened;
    const closes: RfbCloseEvent[] = [];
    ch.onmessage = () => undefined;
    ch.onclose = (e) => closes.push(e);
    core.emit('console.closed', { stream: core.streamId(), reason: 'the VM screen closed' });
    await tick();
    expect(ch.readyState).toBe(CLOSED);
    expect(closes).toEqual([{ code: 1001, reason: 'the VM screen closed', wasClean: true }]);
    ch.send(new Uint8Array([1])); // dropped, like a closed WebSocket
    await tick();
    expect(core.writes()).toHaveLength(0);

    const core2 = new FakeCore();
    const ch2 = new RfbChannel(core2.client, 'vm1');
    await ch2.opened;
    const closes2: RfbCloseEvent[] = [];
    ch2.onclose = (e) => closes2.push(e);
    core2.dropConnection();
    await tick();
    expect(closes2[0]?.code).toBe(1006);
    expect(ch2.lost).toBe(true);
  });

  it('close() closes the stream and fires onclose asynchronously, once', async () => {
    const core = new FakeCore();
    const ch = new RfbChannel(core.client, 'vm1');
    await ch.opened;
    const closes: RfbCloseEvent[] = [];
    ch.onclose = (e) => closes.push(e);
    ch.close();
    ch.close();
    expect(closes).toHaveLength(0);
    await tick();
    expect(closes).toEqual([{ code: 1000, reason: '', wasClean: true }]);
    expect(core.calls.filter((c) => c.method === 'console.close')).toHaveLength(1);
  });

  it('close() while CONNECTING closes the stream as soon as it opens', async () => {
    const core = new FakeCore();
    const ch = new RfbChannel(core.client, 'vm1');
    const closes: RfbCloseEvent[] = [];
    ch.onclose = (e) => closes.push(e);
    ch.close();
    await ch.opened;
    await tick();
    expect(ch.readyState).toBe(CLOSED);
    expect(core.calls.map((c) => c.method)).toEqual(['console.open', 'console.close']);
    expect(closes).toHaveLength(1);
  });

  it('a refused open rejects `opened` and, if attached, reports error + close 1006', async () => {
    const core = new FakeCore();
    core.openError = new NestboxError('INVALID_STATE', 'the VM is not running');
    const ch = new RfbChannel(core.client, 'vm1');
    const seen: string[] = [];
    ch.onerror = () => seen.push('error');
    ch.onclose = (e) => seen.push(`close ${e.code}`);
    await expect(ch.opened).rejects.toThrow('the VM is not running');
    await tick();
    expect(seen).toEqual(['error', 'close 1006']);
    expect(ch.readyState).toBe(CLOSED);
    expect(ch.closeReason).toBe('the VM is not running');
  });
});

describe('console helpers', () => {
  it('withoutOverlap drops what the log already has', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const dec = (b: Uint8Array) => new TextDecoder().decode(b);
    expect(dec(withoutOverlap(enc('boot\r\nlogin: '), enc('login: root')))).toBe('root');
    expect(dec(withoutOverlap(enc('abc'), enc('xyz')))).toBe('xyz');
    expect(dec(withoutOverlap(enc(''), enc('xyz')))).toBe('xyz');
    expect(dec(withoutOverlap(enc('abc'), enc('')))).toBe('');
  });
  it('tells the terminal’s answers to the guest from typing', () => {
    expect(isTerminalReport('\x1b[9;22R')).toBe(true);
    expect(isTerminalReport('\x1b[9;22R\x1b[13;22R')).toBe(true);
    expect(isTerminalReport('\x1b[?1;2c')).toBe(true);
    expect(isTerminalReport('\x1b[>0;276;0c')).toBe(true);
    expect(isTerminalReport('\x1b]11;rgb:0e0e/1111/1616\x07')).toBe(true);
    for (const typed of ['R', 'ls\r', '\x1b[A', '\x1bOA', '\x1b[15~', '\x03', '\x1b']) expect(isTerminalReport(typed)).toBe(false);
  });
  it('keystrokesFor uses US keys with Shift where needed', () => {
    expect(keystrokesFor('a$\n')).toEqual([
      { keysym: 0x61, code: 'KeyA', shift: false },
      { keysym: 0x24, code: 'Digit4', shift: true },
      { keysym: 0xff0d, code: 'Enter', shift: false },
    ]);
    expect(keystrokesFor('€')[0]).toEqual({ keysym: 0x010020ac, code: null, shift: false });
  });
  it('routes #/console/<uuid> and names screenshots', () => {
    expect(parseRoute('#/console/abc-123')).toEqual({ kind: 'console', ref: 'abc-123' });
    expect(parseRoute(consoleHash('a b'))).toEqual({ kind: 'console', ref: 'a b' });
    expect(parseRoute('')).toEqual({ kind: 'manager' });
    expect(parseRoute('#/console/')).toEqual({ kind: 'manager' });
    expect(screenshotFileName('My VM: test/1', new Date(2025, 0, 2, 3, 4, 5))).toBe('My VM_ test_1-2025-01-02_03-04-05.png');
  });
});
