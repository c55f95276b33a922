import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { QmpClient } from '../../../../src/core/qemu/qmp';
import type { QmpEvent } from '../../../../src/core/qemu/qmp';
import { NestboxError } from '../../../../src/core/api/errors';

const GREETING = {
  QMP: { version: { qemu: { micro: 22, minor: 2, major: 7 }, package: 'Debian 1:7.2+dfsg-7' }, capabilities: ['oob'] },
};

interface Command {
  readonly execute: string;
  readonly arguments?: Record<string, unknown>;
  readonly id: string;
}

/** One client connection as the fake QEMU sees it. */
class FakeConn {
  readonly #queue: Command[] = [];
  readonly #waiters: ((c: Command) => void)[] = [];
  #buf = '';
  readonly raw: string[] = [];

  constructor(
    readonly socket: Socket,
    readonly byteByByte: boolean,
  ) {
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      this.raw.push(chunk);
      this.#buf += chunk;
      for (let nl = this.#buf.indexOf('\n'); nl >= 0; nl = this.#buf.indexOf('\n')) {
        const cmd = JSON.parse(this.#buf.slice(0, nl)) as Command;
        this.#buf = this.#buf.slice(nl + 1);
        const w = this.#waiters.shift();
        if (w) w(cmd);
        else this.#queue.push(cmd);
      }
    });
  }

  nextCommand(): Promise<Command> {
    const c = this.#queue.shift();
    if (c) return Promise.resolve(c);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Sends objects (or raw text) as QEMU would, "\r\n"-terminated. */
  async send(...msgs: (object | string)[]): Promise<void> {
    const text = msgs.map((m) => (typeof m === 'string' ? m : JSON.stringify(m) + '\r\n')).join('');
    if (!this.byteByByte) {
      this.socket.write(text);
      return;
    }
    for (const byte of Buffer.from(text, 'utf8')) {
      this.socket.write(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
  }

  reply(cmd: Command, ret: unknown): Promise<void> {
    return this.send({ return: ret, id: cmd.id });
  }

  event(event: string, data?: Record<string, unknown>): Promise<void> {
    const msg = data === undefined ? { event, timestamp: ts() } : { event, data, timestamp: ts() };
    return this.send(msg);
  }
}

function ts(): { seconds: number; microseconds: number } {
  const now = Date.now();
  return { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 };
}

interface FakeOptions {
  /** false: accept and stay silent; object: send this instead of the real greeting. */
  readonly greeting?: boolean | object | string;
  /** Answer qmp_capabilities automatically (default true). */
  readonly negotiate?: boolean;
  readonly byteByByte?: boolean;
}

/** A fake QEMU monitor on a unix socket: greets, negotiates, then lets the test drive. */
class FakeQmp {
  readonly #conns: FakeConn[] = [];
  readonly #waiters: ((c: FakeConn) => void)[] = [];
  readonly capabilitiesSeen: Command[] = [];

  private constructor(readonly server: Server) {}

  static listen(path: string, opts: FakeOptions = {}): Promise<FakeQmp> {
    const server = createServer();
    const fake = new FakeQmp(server);
    server.on('connection', (socket) => {
      const conn = new FakeConn(socket, opts.byteByByte ?? false);
      void (async () => {
        const greeting = opts.greeting ?? true;
        if (greeting === false) {
          fake.#deliver(conn);
          return;
        }
        await conn.send(greeting === true ? GREETING : greeting);
        if (opts.negotiate ?? true) {
          const cmd = await conn.nextCommand();
          fake.capabilitiesSeen.push(cmd);
          await conn.reply(cmd, {});
        }
        fake.#deliver(conn);
      })();
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve(fake));
    });
  }

  #deliver(conn: FakeConn): void {
    const w = this.#waiters.shift();
    if (w) w(conn);
    else this.#conns.push(conn);
  }

  /** The next connection, once greeting and negotiation are done. */
  nextConnection(): Promise<FakeConn> {
    const c = this.#conns.shift();
    if (c) return Promise.resolve(c);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let dir: string;
let sock: string;
const cleanups: (() => unknown)[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nb-qmp-'));
  sock = join(dir, 'qmp.sock');
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await rm(dir, { recursive: true, force: true });
});

async function setup(opts: FakeOptions = {}): Promise<{ fake: FakeQmp; client: QmpClient; conn: FakeConn }> {
  const fake = await FakeQmp.listen(sock, opts);
  cleanups.push(() => fake.close());
  const client = await QmpClient.connect(sock, { timeoutMs: 2000 });
  cleanups.push(() => client.close());
  const conn = await fake.nextConnection();
  cleanups.push(() => conn.socket.destroy());
  return { fake, client, conn };
}

async function rejection(p: Promise<unknown>): Promise<NestboxError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(NestboxError);
    return err as NestboxError;
  }
  throw new Error('expected the promise to reject');
}

describe('QmpClient.connect', () => {
  it('reads the greeting and negotiates capabilities before resolving', async () => {
    const { fake, client } = await setup();
    expect(client.greeting.version.qemu).toEqual({ major: 7, minor: 2, micro: 22 });
    expect(client.greeting.version.package).toBe('Debian 1:7.2+dfsg-7');
    expect(client.greeting.capabilities).toEqual(['oob']);
    expect(fake.capabilitiesSeen).toHaveLength(1);
    expect(fake.capabilitiesSeen[0]?.execute).toBe('qmp_capabilities');
    expect(fake.capabilitiesSeen[0]?.id).toMatch(/^nb-\d+$/);
    expect(fake.capabilitiesSeen[0]).not.toHaveProperty('arguments');
    expect(client.closed).toBe(false);
  });

  it('retries while the socket does not exist yet', async () => {
    const connecting = QmpClient.connect(sock, { retryUntilMs: 3000, timeoutMs: 2000 });
    await sleep(150);
    const fake = await FakeQmp.listen(sock);
    cleanups.push(() => fake.close());
    const client = await connecting;
    cleanups.push(() => client.close());
    expect(client.greeting.version.qemu.major).toBe(7);
  });

  it('fails with QMP_DISCONNECTED naming the path after retryUntilMs', async () => {
    const started = performance.now();
    const err = await rejection(QmpClient.connect(sock, { retryUntilMs: 200 }));
    const elapsed = performance.now() - started;
    expect(err.code).toBe('QMP_DISCONNECTED');
    expect(err.message).toContain(sock);
    expect(err.message).toContain('no such socket');
    expect(err.detail).toContain('ENOENT');
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(2000); // the connect timeout fired (liveness), not a performance claim
  });

  it('fails at once without retryUntilMs', async () => {
    const err = await rejection(QmpClient.connect(sock));
    expect(err.code).toBe('QMP_DISCONNECTED');
  });

  it('keeps retrying ECONNREFUSED (a file that nobody listens on) and then gives up', async () => {
    await writeFile(sock, '');
    const err = await rejection(QmpClient.connect(sock, { retryUntilMs: 100 }));
    expect(err.code).toBe('QMP_DISCONNECTED');
    expect(err.detail).toContain('ECONNREFUSED');
  });

  it('times out when the monitor accepts but never greets', async () => {
    const fake = await FakeQmp.listen(sock, { greeting: false });
    cleanups.push(() => fake.close());
    const err = await rejection(QmpClient.connect(sock, { timeoutMs: 100 }));
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toContain('greeting');
  });

  it('rejects a peer that does not greet like QMP', async () => {
    const fake = await FakeQmp.listen(sock, { greeting: { hello: 'world' } });
    cleanups.push(() => fake.close());
    const err = await rejection(QmpClient.connect(sock, { timeoutMs: 1000 }));
    expect(err.code).toBe('PROTOCOL_ERROR');
  });

  it('rejects a refused capabilities negotiation as PROTOCOL_ERROR', async () => {
    const fake = await FakeQmp.listen(sock, { negotiate: false });
    cleanups.push(() => fake.close());
    const connecting = QmpClient.connect(sock, { timeoutMs: 1000 });
    const conn = await fake.nextConnection();
    const cmd = await conn.nextCommand();
    await conn.send({ error: { class: 'CommandNotFound', desc: 'nope' }, id: cmd.id });
    const err = await rejection(connecting);
    expect(err.code).toBe('PROTOCOL_ERROR');
    expect(err.message).toContain('nope');
  });
});

describe('QmpClient.execute', () => {
  it('correlates out-of-order replies by id and passes arguments', async () => {
    const { client, conn } = await setup();
    const a = client.execute('query-status');
    const b = client.execute<{ n: number }>('human-monitor-command', { 'command-line': 'info version' });
    const c = client.execute('query-name');
    const ca = await conn.nextCommand();
    const cb = await conn.nextCommand();
    const cc = await conn.nextCommand();
    expect(cb.arguments).toEqual({ 'command-line': 'info version' });
    expect(ca).not.toHaveProperty('arguments');
    expect(new Set([ca.id, cb.id, cc.id]).size).toBe(3);
    // One chunk carrying several messages, answered in reverse order.
    await conn.send({ return: { name: 'c' }, id: cc.id }, { return: { n: 2 }, id: cb.id }, { return: { running: false }, id: ca.id });
    expect(await a).toEqual({ running: false });
    expect(await b).toEqual({ n: 2 });
    expect(await c).toEqual({ name: 'c' });
  });

  it('turns an error reply into QMP_ERROR with the command and description', async () => {
    const { client, conn } = await setup();
    const p = client.execute('device_del', { id: 'nope' });
    const cmd = await conn.nextCommand();
    await conn.send({ error: { class: 'DeviceNotFound', desc: "Device 'nope' not found" }, id: cmd.id });
    const err = await rejection(p);
    expect(err.code).toBe('QMP_ERROR');
    expect(err.message).toBe("device_del: Device 'nope' not found");
    expect(JSON.parse(err.detail ?? '{}')).toMatchObject({ class: 'DeviceNotFound', arguments: { id: 'nope' } });
    // The connection is still usable.
    const q = client.execute('query-status');
    await conn.reply(await conn.nextCommand(), { status: 'paused' });
    expect(await q).toEqual({ status: 'paused' });
  });

  it('per-call timeout rejects TIMEOUT and drops the late reply', async () => {
    const { client, conn } = await setup();
    const slow = client.execute('query-block', undefined, { timeoutMs: 50 });
    const slowCmd = await conn.nextCommand();
    const err = await rejection(slow);
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toContain('query-block');
    const next = client.execute('query-status');
    const nextCmd = await conn.nextCommand();
    await conn.send({ return: 'late', id: slowCmd.id }, { return: { status: 'running' }, id: nextCmd.id });
    expect(await next).toEqual({ status: 'running' });
    expect(client.closed).toBe(false);
  });

  it('handles a reply of several megabytes', async () => {
    const { client, conn } = await setup();
    const big = Array.from({ length: 50_000 }, (_, i) => ({ name: `type-${i}`, meta: 'x'.repeat(80) }));
    const p = client.execute<typeof big>('query-qmp-schema');
    await conn.reply(await conn.nextCommand(), big);
    const got = await p;
    expect(got).toHaveLength(50_000);
    expect(got[49_999]?.name).toBe('type-49999');
  });

  it('rejects at once after the connection is closed', async () => {
    const { client } = await setup();
    client.close();
    const err = await rejection(client.execute('query-status'));
    expect(err.code).toBe('QMP_DISCONNECTED');
    expect(err.message).toContain('query-status');
  });
});

describe('QmpClient partial lines', () => {
  it('reassembles messages written byte by byte, multi-byte characters included', async () => {
    const { client, conn } = await setup({ byteByByte: true });
    expect(client.greeting.version.qemu.minor).toBe(2);
    const seen: QmpEvent[] = [];
    client.onEvent((ev) => seen.push(ev));
    const p = client.execute('query-name');
    const cmd = await conn.nextCommand();
    await conn.event('NIC_RX_FILTER_CHANGED', { name: 'nïc-€-🐦' });
    await conn.reply(cmd, { name: 'grüße 🐦' });
    expect(await p).toEqual({ name: 'grüße 🐦' });
    expect(seen.map((e) => e.data)).toEqual([{ name: 'nïc-€-🐦' }]);
  });
});

describe('QmpClient events', () => {
  it('delivers events to listeners, survives a throwing listener, and unsubscribes', async () => {
    const { client, conn } = await setup();
    const seen: string[] = [];
    const offThrow = client.onEvent(() => {
      throw new Error('listener bug');
    });
    const off = client.onEvent((ev) => seen.push(ev.event));
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    const resumed = client.waitEvent('RESUME', { timeoutMs: 1000 });
    await conn.event('STOP');
    await conn.event('RESUME');
    const ev = await resumed;
    // QEMU omits `data` on events like STOP/RESUME; the client fills in {}.
    expect(ev.data).toEqual({});
    expect(seen).toEqual(['STOP', 'RESUME']);
    expect((await warned).message).toContain('listener bug');
    off();
    offThrow();
    // Still reading after the throwing listener.
    const p = client.execute('query-status');
    const waiting = client.waitEvent('RESUME', { timeoutMs: 1000 });
    await conn.event('RESUME');
    await conn.reply(await conn.nextCommand(), { status: 'running' });
    expect(await p).toEqual({ status: 'running' });
    expect((await waiting).event).toBe('RESUME');
    expect(seen).toEqual(['STOP', 'RESUME']);
  }, 5000);

  it('waitEvent registered before the command sees the event, and honours the predicate', async () => {
    const { client, conn } = await setup();
    const waiting = client.waitEvent('JOB_STATUS_CHANGE', {
      timeoutMs: 1000,
      predicate: (ev) => ev.data['id'] === 'snap0' && ev.data['status'] === 'concluded',
    });
    const p = client.execute('snapshot-save', { 'job-id': 'snap0', tag: 't', vmstate: 'disk0', devices: ['disk0'] });
    const cmd = await conn.nextCommand();
    // Event and reply in one chunk, event first: QEMU may emit before it replies.
    await conn.send(
      { event: 'JOB_STATUS_CHANGE', data: { id: 'other', status: 'concluded' }, timestamp: ts() },
      { event: 'JOB_STATUS_CHANGE', data: { id: 'snap0', status: 'running' }, timestamp: ts() },
      { event: 'JOB_STATUS_CHANGE', data: { id: 'snap0', status: 'concluded' }, timestamp: ts() },
      { return: {}, id: cmd.id },
    );
    const ev = await waiting;
    expect(ev.data).toEqual({ id: 'snap0', status: 'concluded' });
    expect(typeof ev.timestamp.seconds).toBe('number');
    expect(await p).toEqual({});
  });

  it('waitEvent times out with TIMEOUT', async () => {
    const { client } = await setup();
    const err = await rejection(client.waitEvent('SHUTDOWN', { timeoutMs: 50 }));
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toContain('SHUTDOWN');
  });
});

describe('QmpClient disconnect', () => {
  it('fails every pending call and waitEvent with QMP_DISCONNECTED when QEMU goes away', async () => {
    const { client, conn } = await setup();
    const reasons: (Error | undefined)[] = [];
    client.onClose((r) => reasons.push(r));
    const a = client.execute('query-status');
    const b = client.execute('quit');
    const w = client.waitEvent('SHUTDOWN');
    await conn.nextCommand();
    await conn.nextCommand();
    conn.socket.destroy();
    const [ea, eb, ew] = await Promise.all([rejection(a), rejection(b), rejection(w)]);
    expect(ea.code).toBe('QMP_DISCONNECTED');
    expect(ea.message).toContain('query-status');
    expect(eb.code).toBe('QMP_DISCONNECTED');
    expect(eb.message).toContain('quit');
    expect(ew.code).toBe('QMP_DISCONNECTED');
    expect(client.closed).toBe(true);
    expect(reasons).toHaveLength(1);
    expect((reasons[0] as NestboxError).code).toBe('QMP_DISCONNECTED');
    // A late subscriber still hears about it, once.
    const late = await new Promise<Error | undefined>((resolve) => client.onClose(resolve));
    expect((late as NestboxError).code).toBe('QMP_DISCONNECTED');
    client.close();
    expect(reasons).toHaveLength(1);
  });

  it('close() fails pending calls and reports no reason', async () => {
    const { client, conn } = await setup();
    const reasons: (Error | undefined)[] = [];
    client.onClose((r) => reasons.push(r));
    const p = client.execute('query-status');
    await conn.nextCommand();
    client.close();
    const err = await rejection(p);
    expect(err.code).toBe('QMP_DISCONNECTED');
    expect(reasons).toEqual([undefined]);
    expect(client.closed).toBe(true);
  });

  it('a line that is not JSON closes the connection with PROTOCOL_ERROR', async () => {
    const { client, conn } = await setup();
    let reason: Error | undefined;
    client.onClose((r) => {
      reason = r;
    });
    const p = client.execute('query-status');
    await conn.nextCommand();
    await conn.send('this is not json\r\n');
    const err = await rejection(p);
    expect(err.code).toBe('PROTOCOL_ERROR');
    expect(err.message).toContain('query-status');
    expect(err.detail).toBe('this is not json');
    expect(client.closed).toBe(true);
    expect((reason as NestboxError).code).toBe('PROTOCOL_ERROR');
  });

  it('a reply without an id (QEMU could not parse a command) is a PROTOCOL_ERROR', async () => {
    const { client, conn } = await setup();
    const p = client.execute('query-status');
    await conn.nextCommand();
    await conn.send({ error: { class: 'GenericError', desc: 'JSON parse error' } });
    const err = await rejection(p);
    expect(err.code).toBe('PROTOCOL_ERROR');
    expect(client.closed).toBe(true);
  });
});
