import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RpcClient, serveTransport } from '../../../../src/core/api/rpc';
import type { Session, Transport } from '../../../../src/core/api/rpc';
import { NestboxError } from '../../../../src/core/api/errors';
import type { EventName, WireMessage } from '../../../../src/core/api/contract';
import { connectUnix, listenUnix } from '../../../../src/core/server/socket';

let dir: string;
let sockPath: string;
let server: net.Server | undefined;
const clients: RpcClient[] = [];
const raws: net.Socket[] = [];

interface ServerSide {
  readonly transports: Transport[];
  readonly sessions: { dispose: ReturnType<typeof vi.fn>; push: (n: EventName, d: unknown) => void }[];
}

async function startServer(handler: (method: string, params: unknown) => unknown): Promise<ServerSide> {
  const side: ServerSide = { transports: [], sessions: [] };
  server = await listenUnix(sockPath, (t) => {
    side.transports.push(t);
    serveTransport(t, (push): Session => {
      const dispose = vi.fn();
      side.sessions.push({ dispose, push });
      return { call: async (m, p) => handler(m, p), dispose };
    });
  });
  return side;
}

async function client(): Promise<RpcClient> {
  const c = new RpcClient(await connectUnix(sockPath));
  clients.push(c);
  return c;
}

function rawConnect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(sockPath, () => resolve(s));
    s.on('error', reject);
    raws.push(s);
  });
}

function closed(s: net.Socket): Promise<void> {
  return new Promise((resolve) => (s.destroyed && s.closed ? resolve() : s.once('close', () => resolve())));
}

async function until(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbsock-'));
  sockPath = path.join(dir, 'core.sock');
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of raws.splice(0)) s.destroy();
  if (server) await new Promise<void>((r) => server!.close(() => r()));
  server = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('unix socket transport', () => {
  it('round-trips a call', async () => {
    await startServer((m, p) => ({ method: m, params: p }));
    const c = await client();
    await expect(c.call('vms.info', { ref: 'Débian 12 ✓' })).resolves.toEqual({ method: 'vms.info', params: { ref: 'Débian 12 ✓' } });
  });

  it('carries errors with their code and detail', async () => {
    await startServer(() => {
      throw new NestboxError('LOCKED', 'the data directory is in use', 'pid 42');
    });
    const c = await client();
    await expect(c.call('vms.list', {})).rejects.toMatchObject({ code: 'LOCKED', message: 'the data directory is in use', detail: 'pid 42' });
  });

  it('carries a large reply split over many socket chunks', async () => {
    const big = 'x'.repeat(2 * 1024 * 1024);
    await startServer(() => ({ big }));
    const c = await client();
    const got = (await c.call('vms.list', {})) as unknown as { big: string };
    expect(got.big.length).toBe(big.length);
  });

  it('handles many concurrent calls on one connection', async () => {
    await startServer(async (_m, p) => {
      await new Promise((r) => setTimeout(r, Math.random() * 5));
      return p;
    });
    const c = await client();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => c.call('vms.info', { ref: `vm${i}` })));
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => ({ ref: `vm${i}` })));
  });

  it('pushes events to the client', async () => {
    const side = await startServer(() => null);
    const c = await client();
    await c.call('vms.list', {}); // the session exists once a call went through
    const got = new Promise((resolve) => c.on('vm.state', resolve));
    side.sessions[0]!.push('vm.state', { uuid: 'u', name: 'n', state: 'running' });
    await expect(got).resolves.toEqual({ uuid: 'u', name: 'n', state: 'running' });
  });

  it('creates the socket with mode 0600', async () => {
    await startServer(() => null);
    const st = fs.statSync(sockPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it('replaces a stale socket file left by a dead core', async () => {
    fs.writeFileSync(sockPath, 'leftover');
    await startServer(() => 'ok');
    expect(fs.statSync(sockPath).isSocket()).toBe(true);
    await expect((await client()).call('vms.list', {})).resolves.toBe('ok');
  });

  it('closes a connection that sends a line that is not JSON, and keeps serving others', async () => {
    const side = await startServer(() => 'still here');
    const good = await client();
    await expect(good.call('vms.list', {})).resolves.toBe('still here');

    const raw = await rawConnect();
    raw.on('error', () => undefined);
    const rawClosed = closed(raw);
    await until(() => side.sessions.length === 2);
    raw.write('this is not json\n');
    await rawClosed;
    await until(() => side.sessions[1]!.dispose.mock.calls.length === 1);

    expect(side.sessions[0]!.dispose).not.toHaveBeenCalled();
    await expect(good.call('vms.list', {})).resolves.toBe('still here');
    await expect((await client()).call('vms.list', {})).resolves.toBe('still here');
  });

  it('does not deliver a JSON line that is not a message object', async () => {
    const delivered: unknown[] = [];
    const transports: Transport[] = [];
    server = await listenUnix(sockPath, (t) => {
      transports.push(t);
      t.onMessage((m) => delivered.push(m));
    });
    const raw = await rawConnect();
    raw.on('error', () => undefined);
    await until(() => transports.length === 1);
    raw.write('null\n');
    await new Promise((r) => setTimeout(r, 50));
    expect(delivered).toEqual([]);
  });

  it('answers a raw newline-delimited JSON request, ignoring blank lines', async () => {
    await startServer((m) => `hello ${m}`);
    const raw = await rawConnect();
    raw.setEncoding('utf8');
    let buf = '';
    const reply = new Promise<WireMessage>((resolve) => {
      raw.on('data', (d: string) => {
        buf += d;
        const nl = buf.indexOf('\n');
        if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)) as WireMessage);
      });
    });
    // Split across writes, with blank lines around it.
    raw.write('\n  \n{"t":"req","id":7,');
    raw.write('"method":"vms.list","params":{}}\n');
    await expect(reply).resolves.toEqual({ t: 'res', id: 7, result: 'hello vms.list' });
  });

  it('disposes the session when a client disconnects', async () => {
    const side = await startServer(() => null);
    const c = await client();
    await c.call('vms.list', {});
    c.close();
    await until(() => side.sessions[0]!.dispose.mock.calls.length === 1);
    expect(c.closed).toBe(true);
  });

  it('rejects pending calls when the server side drops the connection', async () => {
    const side = await startServer(() => new Promise(() => undefined));
    const c = await client();
    const onClose = vi.fn();
    c.onClose(onClose);
    const pending = c.call('vms.shutdown', { ref: 'x' });
    await until(() => side.transports.length === 1);
    side.transports[0]!.close();
    const err = await c.call('vms.list', {}).then(
      () => null,
      (e: unknown) => e,
    );
    await expect(pending).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
    await until(() => onClose.mock.calls.length === 1);
    expect(c.closed).toBe(true);
    // A call made while the close was in flight fails too, never hangs.
    expect(err).toBeInstanceOf(NestboxError);
    await until(() => side.sessions[0]!.dispose.mock.calls.length === 1);
  });

  it('fails to connect to a socket nobody listens on', async () => {
    await expect(connectUnix(path.join(dir, 'nobody.sock'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
