/**
 * `nestbox serve` as a process, against what issue 16 found (findings 1–3): no request can end
 * it, a session cookie is worth something only to the server that issued it, the Host header
 * must name this server, guessing is slowed down, LAN use needs TLS (or says --insecure),
 * and uploads of one name at once, too large, or without room all end cleanly.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RpcClient } from '../../src/core/api/rpc';
import { cleanupHome, tempHome } from '../integration/helpers';
import { httpTo, login, rawExchange, serveRefusal, startServeProcess, type ServeProcess } from '../support/serve';

function wsRpc(url: string, headers: Record<string, string>, ca?: Buffer): Promise<RpcClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, ...(ca ? { ca } : {}) });
    ws.once('open', () =>
      resolve(
        new RpcClient({
          send: (m) => ws.send(JSON.stringify(m)),
          onMessage: (cb) => ws.on('message', (d) => cb(JSON.parse(String(d)))),
          onClose: (cb) => ws.on('close', () => cb()),
          close: () => ws.close(),
        }),
      ),
    );
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

describe('nestbox serve: no request ends it (finding 1)', () => {
  let home: string;
  let serve: ServeProcess;
  let cookie: string;

  beforeAll(async () => {
    home = tempHome();
    serve = await startServeProcess(home, ['--port', '0']);
    cookie = await login(serve);
  });
  afterAll(async () => {
    await serve?.stop();
    await cleanupHome(home);
  });

  const stillServes = async () => {
    expect(serve.alive(), serve.stderr()).toBe(true);
    const r = await httpTo(serve.port, '/', { headers: { Cookie: cookie } });
    expect(r.status).toBe(200);
  };

  it('answers a cookie that is not percent-encoding, without the token', async () => {
    const host = `Host: 127.0.0.1:${serve.port}`;
    for (const c of ['nestbox_token=%', `${cookie.split('=')[0]}=%`, `${cookie.split('=')[0]}=%E0%A4%A`, '=;;=%;a']) {
      const reply = await rawExchange(serve.port, `GET / HTTP/1.1\r\n${host}\r\nCookie: ${c}\r\nConnection: close\r\n\r\n`);
      expect(reply, c).toMatch(/^HTTP\/1\.1 401 /);
      await stillServes();
    }
  });

  it('answers request targets that are not URLs, on the request and the upgrade path', async () => {
    const host = `Host: 127.0.0.1:${serve.port}`;
    const upgrade = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    for (const target of ['http://[/', 'http://[::1/rpc', 'http://a b/', '//evil.example/rpc', '/\\evil.example/', '*', 'http:', 'ftp://x/']) {
      for (const extra of ['', upgrade]) {
        const reply = await rawExchange(serve.port, `GET ${target} HTTP/1.1\r\n${host}\r\n${extra}Cookie: ${cookie}\r\nConnection: ${extra ? 'Upgrade' : 'close'}\r\n\r\n`);
        expect(reply, `${target} ${extra ? '(upgrade)' : ''}`).toMatch(/^HTTP\/1\.1 4\d\d /);
        await stillServes();
      }
    }
  });

  it('answers paths with %00 or a stray % when signed in', async () => {
    for (const p of ['/a%00.js', '/%00', '/assets/%00/x.js', '/a%.js', '/%', '/%zz.css', '/%E0%A4%A.js', '/assets/%c0%af.js']) {
      const r = await httpTo(serve.port, p, { headers: { Cookie: cookie } });
      expect(r.status, p).toBeGreaterThanOrEqual(400);
      expect(r.status, p).toBeLessThan(500);
      await stillServes();
    }
  });
});

describe('nestbox serve: sessions bound to this server (finding 3)', () => {
  let home: string;
  let serve: ServeProcess;
  let other: ServeProcess | undefined;

  beforeAll(async () => {
    home = tempHome();
    serve = await startServeProcess(home, ['--port', '0']);
  });
  afterAll(async () => {
    await other?.stop();
    await serve?.stop();
    await cleanupHome(home);
  });

  it('trades the token for a session id in a cookie named for this server; the token itself is no cookie', async () => {
    const token = serve.url.searchParams.get('token')!;
    const cookie = await login(serve);
    const [name, value] = cookie.split('=') as [string, string];
    expect(name).toMatch(/^nestbox_[0-9a-f]{16}$/);
    expect(value).not.toContain(token);
    expect((await httpTo(serve.port, '/', { headers: { Cookie: cookie } })).status).toBe(200);
    // The cookie of before (the token itself, under the old name or this one) opens nothing.
    expect((await httpTo(serve.port, '/', { headers: { Cookie: `nestbox_token=${token}` } })).status).toBe(401);
    expect((await httpTo(serve.port, '/', { headers: { Cookie: `${name}=${token}` } })).status).toBe(401);
    // The session file holds no usable secret.
    const files = fs.readdirSync(home).filter((f) => f.startsWith('web-sessions-'));
    expect(files).toHaveLength(1);
    expect(fs.statSync(path.join(home, files[0]!)).mode & 0o777).toBe(0o600);
    const stored = fs.readFileSync(path.join(home, files[0]!), 'utf8');
    expect(stored).not.toContain(value);
    expect(stored).not.toContain(token);
  });

  it('a second server on this host (another port, same token) does not accept the first one’s cookie', async () => {
    const cookie = await login(serve);
    other = await startServeProcess(home, ['--port', '0']);
    expect(other.url.searchParams.get('token')).toBe(serve.url.searchParams.get('token'));
    // The browser sends every 127.0.0.1 cookie to every port: the other server ignores it.
    expect((await httpTo(other.port, '/', { headers: { Cookie: cookie } })).status).toBe(401);
    const mine = await login(other);
    expect(mine.split('=')[0]).not.toBe(cookie.split('=')[0]);
    expect((await httpTo(other.port, '/', { headers: { Cookie: mine } })).status).toBe(200);
    await other.stop();
    other = undefined;
  });

  it('sessions survive a restart of serve; --new-token ends every one of them', async () => {
    const cookie = await login(serve);
    const port = serve.port;
    const oldToken = serve.url.searchParams.get('token')!;
    await serve.stop();
    serve = await startServeProcess(home, ['--port', String(port)]);
    expect((await httpTo(port, '/', { headers: { Cookie: cookie } })).status).toBe(200);
    await serve.stop();
    serve = await startServeProcess(home, ['--port', String(port), '--new-token']);
    expect((await httpTo(port, '/', { headers: { Cookie: cookie } })).status).toBe(401);
    expect(serve.url.searchParams.get('token')).not.toBe(oldToken);
    expect((await httpTo(port, `/?token=${oldToken}`)).status).toBe(401);
    const fresh = await login(serve);
    expect((await httpTo(port, '/', { headers: { Cookie: fresh } })).status).toBe(200);
  });

  it('refuses a Host that does not name this server (DNS rebinding), before anything else', async () => {
    const cookie = await login(serve);
    for (const host of ['evil.example', `evil.example:${serve.port}`, `127.0.0.1:${serve.port + 1}`, `localhost.evil.example:${serve.port}`]) {
      const r = await httpTo(serve.port, '/', { headers: { Cookie: cookie, Host: host } });
      expect(r.status, host).toBe(421);
      expect(r.body).not.toContain('<title>');
    }
    // No Host at all (HTTP/1.0) names nothing either.
    expect(await rawExchange(serve.port, `GET / HTTP/1.0\r\nCookie: ${cookie}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 421 /);
    for (const host of [`127.0.0.1:${serve.port}`, `localhost:${serve.port}`, `LOCALHOST:${serve.port}`, `[::1]:${serve.port}`]) {
      expect((await httpTo(serve.port, '/', { headers: { Cookie: cookie, Host: host } })).status, host).toBe(200);
    }
    await expect(wsRpc(`ws://127.0.0.1:${serve.port}/rpc`, { Cookie: cookie, Host: `evil.example:${serve.port}`, Origin: `http://evil.example:${serve.port}` })).rejects.toThrow(/421/);
  });

  it('slows down guessing: failed attempts from one address get 429 with Retry-After; other clients carry on', async () => {
    const cookie = await login(serve);
    const name = cookie.split('=')[0]!;
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 20; i++) {
      const r = await httpTo(serve.port, `/?token=guess${i}`, { localAddress: '127.0.0.9' });
      statuses.push(r.status);
      if (r.status === 429) retryAfter ??= String(r.headers['retry-after']);
      const c = await httpTo(serve.port, '/', { headers: { Cookie: `${name}=${'A'.repeat(43)}` }, localAddress: '127.0.0.9' });
      statuses.push(c.status);
    }
    expect(statuses.slice(0, 5).every((s) => s === 401)).toBe(true);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(20);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // While 127.0.0.9 waits, even the right token does not get through from there.
    expect((await httpTo(serve.port, `/?token=${serve.url.searchParams.get('token')}`, { localAddress: '127.0.0.9' })).status).toBe(429);
    // The user's own page elsewhere is untouched.
    expect((await httpTo(serve.port, '/', { headers: { Cookie: cookie } })).status).toBe(200);
    // A request with no credentials at all is not a guess.
    for (let i = 0; i < 20; i++) expect((await httpTo(serve.port, '/', { localAddress: '127.0.0.10' })).status).toBe(401);
  });
});

describe('nestbox serve off loopback: TLS or --insecure, and the allowed names (finding 3)', () => {
  let home: string;

  beforeAll(() => {
    home = tempHome();
  });
  afterAll(async () => {
    await cleanupHome(home);
  });

  it('refuses a non-loopback bind without TLS and says how to go on', async () => {
    const r = await serveRefusal(home, ['--host', '0.0.0.0', '--port', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--tls-cert FILE --tls-key FILE/);
    expect(r.stderr).toMatch(/--insecure/);
    const half = await serveRefusal(home, ['--tls-cert', '/nonexistent.pem', '--port', '0']);
    expect(half.code).toBe(1);
    expect(half.stderr).toMatch(/--tls-cert and --tls-key go together/);
  });

  it('bound to 0.0.0.0 with --insecure: the WebSocket works from an allowed name, not from another', async () => {
    const serve = await startServeProcess(home, ['--host', '0.0.0.0', '--port', '0', '--insecure', '--allow-host', 'nestbox.test']);
    try {
      expect(serve.url.hostname).toBe('nestbox.test');
      expect(serve.stderr()).toMatch(/without TLS/);
      const cookie = await login(serve);
      const ws = `ws://127.0.0.1:${serve.port}/rpc`;
      // Before: the origin compared against http://0.0.0.0:PORT, so no page could connect.
      const viaLoopback = await wsRpc(ws, { Cookie: cookie, Origin: `http://127.0.0.1:${serve.port}` });
      expect(Array.isArray(await viaLoopback.call('vms.list', {}))).toBe(true);
      viaLoopback.close();
      const viaName = await wsRpc(ws, { Cookie: cookie, Host: `nestbox.test:${serve.port}`, Origin: `http://nestbox.test:${serve.port}` });
      expect(Array.isArray(await viaName.call('vms.list', {}))).toBe(true);
      viaName.close();
      await expect(wsRpc(ws, { Cookie: cookie, Origin: `http://nestbox.test:${serve.port}` })).rejects.toThrow(/403/);
      await expect(wsRpc(ws, { Cookie: cookie, Host: `rebound.example:${serve.port}`, Origin: `http://rebound.example:${serve.port}` })).rejects.toThrow(/421/);
      expect((await httpTo(serve.port, '/', { headers: { Cookie: cookie, Host: `nestbox.test:${serve.port}` } })).status).toBe(200);
    } finally {
      await serve.stop();
    }
  });

  it('--tls-cert/--tls-key serve HTTPS and WSS with a Secure cookie; plain HTTP gets nothing', async () => {
    const cert = path.join(home, 'cert.pem');
    const key = path.join(home, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'pipe' });
    const ca = fs.readFileSync(cert);
    const serve = await startServeProcess(home, ['--port', '0', '--tls-cert', cert, '--tls-key', key]);
    try {
      expect(serve.url.protocol).toBe('https:');
      const get = (p: string, headers: Record<string, string> = {}) =>
        new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
          const req = https.request({ host: '127.0.0.1', port: serve.port, path: p, ca, headers }, (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
          });
          req.on('error', reject);
          req.end();
        });
      const loginReply = await get(`/?token=${serve.url.searchParams.get('token')}`);
      expect(loginReply.status).toBe(303);
      const set = String((loginReply.headers['set-cookie'] as string[])[0]);
      expect(set).toMatch(/; Secure/);
      const cookie = set.split(';')[0]!;
      const page = await get('/', { Cookie: cookie });
      expect(page.status).toBe(200);
      expect(page.body).toContain('<title>Nestbox</title>');
      expect(page.headers['strict-transport-security']).toMatch(/max-age=/);
      const rpc = await wsRpc(`wss://127.0.0.1:${serve.port}/rpc`, { Cookie: cookie, Origin: `https://127.0.0.1:${serve.port}` }, ca);
      expect(Array.isArray(await rpc.call('vms.list', {}))).toBe(true);
      rpc.close();
      // An http:// origin is another origin.
      await expect(wsRpc(`wss://127.0.0.1:${serve.port}/rpc`, { Cookie: cookie, Origin: `http://127.0.0.1:${serve.port}` }, ca)).rejects.toThrow(/403/);
      const plain = await rawExchange(serve.port, `GET / HTTP/1.1\r\nHost: 127.0.0.1:${serve.port}\r\nCookie: ${cookie}\r\n\r\n`);
      expect(plain).not.toContain('<title>Nestbox</title>');
      expect(serve.alive()).toBe(true);
    } finally {
      await serve.stop();
    }
  });
});

describe('nestbox serve: uploads (finding 2)', () => {
  let home: string;
  let serve: ServeProcess;
  let cookie: string;
  let origin: string;

  beforeAll(async () => {
    home = tempHome();
    serve = await startServeProcess(home, ['--port', '0', '--max-upload', '1000T']);
    cookie = await login(serve);
    origin = `http://127.0.0.1:${serve.port}`;
  });
  afterAll(async () => {
    await serve?.stop();
    await cleanupHome(home);
  });

  /** A PUT whose body trickles in, so that several overlap. */
  const slowPut = (name: string, fill: number, chunks = 8, headers: Record<string, string> = { Cookie: cookie, Origin: origin }) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: serve.port, path: `/upload?name=${encodeURIComponent(name)}`, method: 'PUT', headers: { Host: `127.0.0.1:${serve.port}`, ...headers } },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on('error', reject);
      let i = 0;
      const tick = () => {
        if (i++ < chunks) {
          req.write(Buffer.alloc(32 * 1024, fill));
          setTimeout(tick, 20);
        } else req.end();
      };
      tick();
    });

  it('two (and more) uploads of one name at once all land, each under its own name, with its own bytes', async () => {
    const results = await Promise.all([1, 2, 3, 4].map((fill) => slowPut('same name.iso', fill)));
    expect(serve.alive(), serve.stderr()).toBe(true);
    const paths = results.map((r) => {
      expect(r.status, r.body).toBe(201);
      return (JSON.parse(r.body) as { path: string }).path;
    });
    expect(new Set(paths).size).toBe(4);
    expect(paths.map((p) => path.basename(p)).sort()).toEqual(['same name (2).iso', 'same name (3).iso', 'same name (4).iso', 'same name.iso']);
    for (const [i, p] of paths.entries()) {
      const data = fs.readFileSync(p);
      expect(data.length).toBe(8 * 32 * 1024);
      expect(data.every((b) => b === i + 1)).toBe(true);
    }
    // No temporary file is left behind.
    expect(fs.readdirSync(path.dirname(paths[0]!)).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('an upload that dies half-way leaves nothing and does not disturb another of the same name', async () => {
    const whole = slowPut('twice.iso', 9, 16);
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: serve.port, path: '/upload?name=twice.iso', method: 'PUT', headers: { Host: `127.0.0.1:${serve.port}`, Cookie: cookie, Origin: origin, 'Content-Length': String(1024 * 1024) } });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(64 * 1024, 1), () => setTimeout(() => (req.destroy(), resolve()), 50));
      setTimeout(() => reject(new Error('the aborted upload never went')), 5000);
    });
    const r = await whole;
    expect(r.status, r.body).toBe(201);
    expect(fs.readFileSync((JSON.parse(r.body) as { path: string }).path).every((b) => b === 9)).toBe(true);
    await new Promise((res) => setTimeout(res, 300));
    expect(fs.readdirSync(path.join(home, 'media')).filter((f) => f.endsWith('.partial'))).toEqual([]);
    expect(serve.alive()).toBe(true);
  });

  it('requires this page’s Origin (not optional any more)', async () => {
    const noOrigin = await httpTo(serve.port, '/upload?name=x.iso', { method: 'PUT', headers: { Cookie: cookie }, body: Buffer.alloc(10) });
    expect(noOrigin.status).toBe(403);
    expect(noOrigin.body).toMatch(/Origin/);
    const other = await httpTo(serve.port, '/upload?name=x.iso', { method: 'PUT', headers: { Cookie: cookie, Origin: 'http://127.0.0.1:1' }, body: Buffer.alloc(10) });
    expect(other.status).toBe(403);
    expect(fs.existsSync(path.join(home, 'media', 'x.iso'))).toBe(false);
  });

  it('refuses an upload the disk has no room for, saying what it needs and what is free', async () => {
    const free = fs.statfsSync(home).bavail * fs.statfsSync(home).bsize;
    const huge = 500 * 1024 ** 4;
    expect(huge).toBeGreaterThan(free);
    const r = await httpTo(serve.port, '/upload?name=huge.img', { method: 'PUT', headers: { Cookie: cookie, Origin: origin, 'Content-Length': String(huge) } });
    expect(r.status).toBe(507);
    const error = (JSON.parse(r.body) as { error: string }).error;
    expect(error).toMatch(/needs 500 TiB \(500 TiB for the file plus 1\.0 GiB kept free\) and [\d.]+ [KMGT]?i?B is free/);
    expect(fs.readdirSync(path.join(home, 'media'))).not.toContain('huge.img');
    expect(serve.alive()).toBe(true);
  });

  it('caps the size of an upload (--max-upload), declared or streamed', async () => {
    const small = await startServeProcess(tempHomeFor(home), ['--port', '0', '--max-upload', '1M']);
    try {
      const c = await login(small);
      const o = `http://127.0.0.1:${small.port}`;
      const declared = await httpTo(small.port, '/upload?name=big.iso', { method: 'PUT', headers: { Cookie: c, Origin: o }, body: Buffer.alloc(2 * 1024 * 1024) });
      expect(declared.status).toBe(413);
      expect((JSON.parse(declared.body) as { error: string }).error).toMatch(/2\.0 MiB, more than uploads may be \(1\.0 MiB; nestbox serve --max-upload SIZE/);
      // Chunked (no Content-Length): stopped once it passes the cap.
      const streamed = await new Promise<number>((resolve) => {
        const req = http.request({ host: '127.0.0.1', port: small.port, path: '/upload?name=big2.iso', method: 'PUT', headers: { Host: `127.0.0.1:${small.port}`, Cookie: c, Origin: o } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', () => resolve(-1));
        for (let i = 0; i < 40; i++) req.write(Buffer.alloc(64 * 1024, 2));
        req.end();
      });
      expect(streamed).toBe(413);
      const ok = await httpTo(small.port, '/upload?name=fits.iso', { method: 'PUT', headers: { Cookie: c, Origin: o }, body: Buffer.alloc(512 * 1024) });
      expect(ok.status).toBe(201);
      expect(small.alive()).toBe(true);
    } finally {
      await small.stop();
    }
  });

  it('a server killed during an upload leaves its temporary file, and the next start removes it (another live server’s stays)', async () => {
    const killed = await startServeProcess(tempHomeFor(home, 'killed'), ['--port', '0']);
    const media = path.join(tempHomeFor(home, 'killed'), 'media');
    const c = await login(killed);
    const req = http.request({ host: '127.0.0.1', port: killed.port, path: '/upload?name=cut.iso', method: 'PUT', headers: { Host: `127.0.0.1:${killed.port}`, Cookie: c, Origin: `http://127.0.0.1:${killed.port}`, 'Content-Length': String(1024 * 1024) } });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(64 * 1024, 3));
    const partials = () => (fs.existsSync(media) ? fs.readdirSync(media).filter((f) => f.endsWith('.partial')) : []);
    const deadline = Date.now() + 10_000;
    while (partials().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(partials(), 'the upload was under way').toHaveLength(1);
    killed.child.kill('SIGKILL');
    await new Promise((r) => killed.child.once('exit', r));
    req.destroy();
    expect(partials(), 'SIGKILL left the temporary file').toHaveLength(1);
    // One that a running server (this test's process) writes, and an old-format one still fresh: both kept.
    const live = `.upload-${process.pid}-${'a'.repeat(24)}.partial`;
    const fresh = `.upload-${'b'.repeat(24)}.partial`;
    const stale = `.upload-${'c'.repeat(24)}.partial`;
    for (const f of [live, fresh, stale]) fs.writeFileSync(path.join(media, f), 'x');
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    fs.utimesSync(path.join(media, stale), old, old);
    const again = await startServeProcess(tempHomeFor(home, 'killed'), ['--port', '0']);
    try {
      expect(partials().sort()).toEqual([live, fresh].sort());
      expect(again.stderr()).toMatch(/removed 2 unfinished upload\(s\)/);
    } finally {
      await again.stop();
    }
  });
});

/** A second data directory beside `home` (removed with it). */
function tempHomeFor(home: string, name = 'second-home'): string {
  const d = path.join(home, name);
  fs.mkdirSync(d, { recursive: true });
  return d;
}
