/**
 * Raw bytes at a real `nestbox serve` (it hosts the core): thousands of generated request
 * lines, headers, cookies, paths, bodies and WebSocket upgrades followed by arbitrary frames,
 * for a bounded time, while a real conversion job runs in that core. Afterwards the server
 * still answers, no request was answered 500 (every cause is handled where it arises, not
 * only by the last-resort guard), and the job finished.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RpcClient } from '../../src/core/api/rpc';
import { connectUnix } from '../../src/core/server/socket';
import { DataLayout } from '../../src/core/store/paths';
import { cleanupHome, tempHome } from '../integration/helpers';
import { httpTo, login, startServeProcess, type ServeProcess } from '../support/serve';

const FUZZ_MS = 45_000;
const MAX_CASES = 20_000;
const PARALLEL = 12;

interface Case {
  readonly bytes: Buffer;
  /** Carries the valid session (sent from 127.0.0.1, which must never be refused for guessing). */
  readonly authed: boolean;
}

function arbitraries(port: number, cookie: string, cookieName: string): fc.Arbitrary<Case> {
  const junk = fc.string({ unit: 'binary-ascii', maxLength: 40 });
  // Bytes a path may carry as they are (and a few it may not), so most requests get past the parser.
  const tame = fc.string({ unit: fc.constantFrom(...'abcXYZ019-._~!$&\'()*+,;=:@/?%[]"<>^`{|}'.split('')), maxLength: 24 });
  const pct = fc.constantFrom('%', '%00', '%zz', '%E0%A4%A', '%c0%af', '%2e%2e', '%2f', '%5c', '%ff', '%%', '%0d%0a');
  const seg = fc.oneof(
    { weight: 3, arbitrary: pct },
    { weight: 3, arbitrary: fc.constantFrom('..', '.', '', 'rpc', 'upload', 'assets', 'index.html', 'a.js', 'x.css', '?', '#', '&', '=', 'token=', 'name=', '\\', '//') },
    { weight: 3, arbitrary: tame },
    { weight: 1, arbitrary: junk },
  );
  const pathish = fc.array(seg, { maxLength: 8 }).map((s) => `/${s.join('')}`);
  const query = fc.oneof(
    fc.constant(''),
    fc.tuple(fc.constantFrom('name', 'token', 'x'), fc.oneof(pct, junk, fc.constantFrom('../../etc/passwd', 'a.iso', '.x.partial'))).map(([k, v]) => `?${k}=${v}`),
  );
  const target = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(pathish, query).map(([p, q]) => p + q) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom('http://', 'https://', 'http://[', 'http://[::1', 'ftp://', 'http:', '//'), junk, pathish).map(([a, b, c]) => a + b + c) },
    { weight: 1, arbitrary: fc.constantFrom('*', '', ' ', 'http://[/', '/rpc', '/upload?name=a.iso', '/?token=') },
    { weight: 1, arbitrary: junk },
  );
  const method = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'PUT', 'DELETE') },
    { weight: 2, arbitrary: fc.constantFrom('POST', 'OPTIONS', 'CONNECT', 'PATCH', 'get', '') },
    { weight: 1, arbitrary: junk },
  );
  const version = fc.oneof({ weight: 8, arbitrary: fc.constant('HTTP/1.1') }, { weight: 2, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/9', '', 'HTTP/1.1 x') });
  const host = fc.oneof(
    { weight: 12, arbitrary: fc.constant(`127.0.0.1:${port}`) },
    { weight: 1, arbitrary: fc.constantFrom(`localhost:${port}`, `[::1]:${port}`, 'evil.example', `evil.example:${port}`, '', `127.0.0.1:${port}, evil.example`) },
    { weight: 1, arbitrary: junk },
  );
  const badCookie = fc.oneof(
    fc.constantFrom('nestbox_token=%', `${cookieName}=%`, `${cookieName}=`, `${cookieName}=${'A'.repeat(43)}`, '=', ';;;', `${cookieName}`, 'a=%E0%A4%A'),
    junk.map((v) => `${cookieName}=${v}`),
    junk,
  );
  const header = fc.oneof(
    fc.tuple(fc.constantFrom('Origin'), fc.oneof(fc.constant(`http://127.0.0.1:${port}`), fc.constantFrom('null', 'http://evil.example', ''), junk)),
    fc.tuple(fc.constantFrom('Content-Length'), fc.oneof(fc.nat({ max: 64 }).map(String), fc.constantFrom('-1', '1e3', '99999999999999999999', 'abc', '0x10', ''))),
    fc.tuple(fc.constantFrom('Transfer-Encoding'), fc.constantFrom('chunked', 'gzip, chunked', 'x')),
    fc.tuple(fc.constantFrom('Connection', 'Upgrade', 'Sec-WebSocket-Version', 'Sec-WebSocket-Key'), fc.oneof(fc.constantFrom('Upgrade', 'websocket', '13', '8', 'dGhlIHNhbXBsZSBub25jZQ==', 'close'), junk)),
    fc.tuple(fc.constantFrom('X-Anything', 'Accept', 'Cookie', 'Host', 'Content-Type'), tame),
    fc.tuple(junk, junk),
  );
  const body = fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b));
  const request = fc
    .record({ method, target, version, host, withCookie: fc.boolean(), cookie: badCookie, headers: fc.oneof({ weight: 3, arbitrary: fc.constant<(readonly [string, string])[]>([]) }, { weight: 2, arbitrary: fc.array(header.map(([k, v]): readonly [string, string] => [k, v]), { maxLength: 4 }) }), body })
    .map(({ method: m, target: t, version: v, host: h, withCookie, cookie: bad, headers, body: b }) => {
      const authed = withCookie;
      const lines = [`${m} ${t} ${v}`, `Host: ${h}`, `Cookie: ${authed ? cookie : bad}`, ...headers.map(([k, val]) => `${k}: ${val}`)];
      return { bytes: Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), b]), authed };
    });

  // A proper, authenticated upgrade, then frames: any opcode, masked or not, any length field.
  const frame = fc
    .record({ fin: fc.boolean(), rsv: fc.nat({ max: 7 }), opcode: fc.nat({ max: 15 }), mask: fc.boolean(), len: fc.oneof(fc.constant('exact'), fc.constantFrom(126, 127)), payload: fc.oneof(fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), fc.json().map((j) => Buffer.from(j)), fc.constantFrom(Buffer.from('{"type":"call","id":1}'), Buffer.from('null'), Buffer.from([0xff, 0xfe]))) })
    .map(({ fin, rsv, opcode, mask, len, payload }) => {
      const head: number[] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
      const m = mask ? 0x80 : 0;
      if (len === 'exact') {
        if (payload.length < 126) head.push(m | payload.length);
        else head.push(m | 126, payload.length >> 8, payload.length & 0xff);
      } else if (len === 126) head.push(m | 126, 0xff, 0xff);
      else head.push(m | 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
      const key = mask ? crypto.randomBytes(4) : Buffer.alloc(0);
      const body = mask ? Buffer.from(payload.map((b, i) => b ^ key[i % 4]!)) : payload;
      return Buffer.concat([Buffer.from(head), key, body]);
    });
  const upgrade = fc.array(frame, { minLength: 1, maxLength: 6 }).map((frames) => ({
    bytes: Buffer.concat([
      Buffer.from(
        `GET /rpc HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nCookie: ${cookie}\r\nOrigin: http://127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n\r\n`,
      ),
      ...frames,
    ]),
    authed: true,
  }));
  const raw = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => ({ bytes: Buffer.from(b), authed: false }));
  return fc.oneof({ weight: 7, arbitrary: request }, { weight: 2, arbitrary: upgrade }, { weight: 1, arbitrary: raw });
}

/**
 * Sends one case and reads the status line of the first answer. A request left incomplete
 * gets half a second, then the end of the stream (ending at once would abort an answer the
 * server is still preparing), then another second.
 */
function exchange(port: number, c: Case, n: number): Promise<string> {
  return new Promise((resolve) => {
    // Guessing is rate-limited per address: unauthenticated cases come from all over 127/8.
    const localAddress = c.authed ? '127.0.0.1' : `127.0.${1 + (n % 200)}.${2 + (n % 250)}`;
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    let got = '';
    const done = () => {
      clearTimeout(t);
      clearTimeout(half);
      sock.destroy();
      resolve(got.split('\r\n', 1)[0] ?? '');
    };
    const half = setTimeout(() => sock.end(), 500);
    const t = setTimeout(done, 1500);
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      // Upgrades stay a moment longer so that their frames are read.
      if (got.includes('\r\n') && !got.startsWith('HTTP/1.1 101')) done();
    });
    sock.on('error', done);
    sock.on('close', done);
    sock.on('connect', () => sock.write(c.bytes));
  });
}

describe('nestbox serve under raw-bytes fuzzing (finding 1)', () => {
  let home: string;
  let serve: ServeProcess;
  let cookie: string;
  let core: RpcClient;

  beforeAll(async () => {
    home = tempHome();
    serve = await startServeProcess(home, ['--port', '0']);
    cookie = await login(serve);
    core = new RpcClient(await connectUnix(new DataLayout(home).coreSocket));
  });
  afterAll(async () => {
    core?.close();
    await serve?.stop();
    await cleanupHome(home);
  });

  it('still answers, never answered 500, and a conversion started before it finished', async () => {
    // Something real that runs a while: 256 MiB of incompressible data into a streamOptimized VMDK.
    const src = path.join(home, 'noise.raw');
    const fd = fs.openSync(src, 'w');
    for (let i = 0; i < 64; i++) fs.writeSync(fd, crypto.randomBytes(4 * 1024 * 1024));
    fs.closeSync(fd);
    const job = await core.call('media.convert', { source: src, target: path.join(home, 'noise.vmdk'), format: 'vmdk', subformat: 'streamOptimized' });
    const before = (await core.call('jobs.list', {})).find((j) => j.id === job.id);
    expect(before?.state).toBe('running');

    const seed = Number(process.env['NESTBOX_FUZZ_SEED'] ?? Date.now() % 2 ** 31);
    const cases = fc.sample(arbitraries(serve.port, cookie, cookie.split('=')[0]!), { numRuns: MAX_CASES, seed });
    const statuses = new Map<string, number>();
    const fiveHundreds: string[] = [];
    const deadline = Date.now() + FUZZ_MS;
    let next = 0;
    let sent = 0;
    const worker = async () => {
      while (next < cases.length && Date.now() < deadline && serve.alive()) {
        const n = next++;
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(await exchange(serve.port, cases[n]!, n))?.[1] ?? 'none';
        sent++;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === '500') fiveHundreds.push(JSON.stringify(cases[n]!.bytes.toString('latin1').slice(0, 300)));
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const summary = `seed ${seed}: ${sent} cases, statuses ${JSON.stringify(Object.fromEntries(statuses))}`;
    console.log(summary);

    expect(serve.alive(), `${summary}\n${serve.stderr()}`).toBe(true);
    expect(sent, summary).toBeGreaterThanOrEqual(2000);
    expect(fiveHundreds, summary).toEqual([]);
    expect(serve.stderr()).not.toMatch(/Uncaught|unhandled|failed: /i);
    // Many kinds of answers: the fuzz reached past the door.
    for (const s of ['101', '200', '400', '401', '404', '421']) expect(statuses.get(s) ?? 0, `${s} in ${summary}`).toBeGreaterThan(0);

    // It still serves the page and the core, to the session from before.
    let page = await httpTo(serve.port, '/', { headers: { Cookie: cookie } });
    for (let i = 0; page.status === 429 && i < 30; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      page = await httpTo(serve.port, '/', { headers: { Cookie: cookie } });
    }
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>Nestbox</title>');
    const ws = new WebSocket(`ws://127.0.0.1:${serve.port}/rpc`, { headers: { Cookie: cookie, Origin: `http://127.0.0.1:${serve.port}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const browser = new RpcClient({
      send: (m) => ws.send(JSON.stringify(m)),
      onMessage: (cb) => ws.on('message', (d) => cb(JSON.parse(String(d)))),
      onClose: (cb) => ws.on('close', () => cb()),
      close: () => ws.close(),
    });
    expect(Array.isArray(await browser.call('vms.list', {}))).toBe(true);
    browser.close();

    const done = await core.call('jobs.wait', { id: job.id });
    expect(done.state, JSON.stringify(done.error)).toBe('done');
    expect(fs.statSync(path.join(home, 'noise.vmdk')).size).toBeGreaterThan(200 * 1024 * 1024);
  }, 240_000);
});
