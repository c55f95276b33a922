import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RpcClient, serveTransport, type Transport } from '../../../../src/core/api/rpc';
import { clientAddress, FailureLimiter, SessionStore, sha256 } from '../../../../src/core/server/web-auth';
import { allowedHosts, cookieValues, requestTarget, startWebServer, type WebServer } from '../../../../src/core/server/web';
import { uploadName } from '../../../../src/core/server/web-upload';
import { request } from '../../../support/http';

let dir: string;
let server: WebServer;
let clients: Transport[];

function origin(): string {
  return new URL(server.url).origin;
}

async function cookie(): Promise<string> {
  const r = await request(server.url);
  expect(r.status).toBe(303);
  const set = r.headers['set-cookie']?.[0] ?? '';
  expect(set).toMatch(/HttpOnly/);
  expect(set).toMatch(/SameSite=Strict/);
  return set.split(';')[0]!;
}

function openWs(headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${origin().replace('http', 'ws')}/rpc`, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-web-'));
  fs.mkdirSync(path.join(dir, 'ui', 'assets'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'ui', 'index.html'), '<!doctype html><title>Nestbox</title>');
  fs.writeFileSync(path.join(dir, 'ui', 'assets', 'app.js'), 'console.log(1)');
  fs.writeFileSync(path.join(dir, 'secret.txt'), 'do not serve');
  clients = [];
  server = await startWebServer({
    host: '127.0.0.1',
    port: 0,
    staticDir: path.join(dir, 'ui'),
    uploadDir: path.join(dir, 'media'),
    onClient: (t) => {
      clients.push(t);
      serveTransport(t, () => ({
        call: async (method) => {
          if (method === 'vms.list') return [{ name: 'from-core' }];
          throw new Error('nope');
        },
        dispose: () => undefined,
      }));
    },
  });
});

afterEach(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('web mode server', () => {
  it('binds where asked and prints a URL carrying a long random token', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{32}$/);
  });

  it('serves nothing without the token', async () => {
    for (const p of ['/', '/index.html', '/assets/app.js', '/rpc']) {
      const r = await request(`${origin()}${p}`);
      expect(r.status, p).toBe(401);
      expect(r.body).not.toContain('Nestbox</title>');
    }
    expect((await request(`${origin()}/?token=wrong`)).status).toBe(401);
  });

  it('trades the token for a strict cookie and drops it from the address', async () => {
    const r = await request(server.url);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/');
    const c = await cookie();
    const page = await request(`${origin()}/`, { headers: { Cookie: c } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>Nestbox</title>');
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'; script-src 'self'/);
    expect(page.headers['x-frame-options']).toBe('DENY');
    const js = await request(`${origin()}/assets/app.js`, { headers: { Cookie: c } });
    expect(js.headers['content-type']).toMatch(/javascript/);
  });

  it('never redirects the login elsewhere', async () => {
    const token = new URL(server.url).searchParams.get('token')!;
    for (const p of [`/.//evil.example/?token=${token}`, `/..//evil.example?token=${token}`]) {
      const u = new URL(origin());
      // The path exactly as written (a URL string would be normalised by the client first).
      const r = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = http.request({ host: u.hostname, port: u.port, path: p }, (res) => {
          res.resume();
          resolve(res);
        });
        req.on('error', reject);
        req.end();
      });
      expect(r.statusCode, p).toBe(303);
      expect(r.headers.location, p).toBe('/');
    }
  });

  it('never serves files outside the UI folder', async () => {
    const c = await cookie();
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/../../secret.txt']) {
      const r = await request(`${origin()}${p}`, { headers: { Cookie: c } });
      expect(r.body, p).not.toContain('do not serve');
    }
  });

  it('accepts the WebSocket only with the token and from its own origin', async () => {
    const c = await cookie();
    await expect(openWs({ Origin: origin() })).rejects.toThrow(/401/);
    await expect(openWs({ Cookie: c, Origin: 'http://evil.example' })).rejects.toThrow(/403/);
    await expect(openWs({ Cookie: c })).rejects.toThrow(/403/);
    const ws = await openWs({ Cookie: c, Origin: origin() });
    const client = new RpcClient({
      send: (m) => ws.send(JSON.stringify(m)),
      onMessage: (cb) => ws.on('message', (d) => cb(JSON.parse(String(d)))),
      onClose: (cb) => ws.on('close', () => cb()),
      close: () => ws.close(),
    });
    await expect(client.call('vms.list', {})).resolves.toEqual([{ name: 'from-core' }]);
    await expect(client.call('vms.start', { ref: 'x' })).rejects.toMatchObject({ code: 'INTERNAL', message: 'nope' });
    ws.close();
  });

  it('closes a WebSocket that sends something other than a message', async () => {
    const ws = await openWs({ Cookie: await cookie(), Origin: origin() });
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    ws.send('null');
    expect(await closed).toBe(1007);
  });

  it('streams an upload into the media folder under a safe name and never overwrites', async () => {
    const c = await cookie();
    const body = Buffer.alloc(256 * 1024, 7);
    const up = await request(`${origin()}/upload?name=${encodeURIComponent('../../evil name.iso')}`, {
      method: 'PUT',
      headers: { Cookie: c, Origin: origin(), 'Content-Length': String(body.length) },
      body,
    });
    expect(up.status).toBe(201);
    const saved = (JSON.parse(up.body) as { path: string }).path;
    expect(path.dirname(saved)).toBe(path.join(dir, 'media'));
    expect(path.basename(saved)).toBe('evil name.iso');
    expect(fs.readFileSync(saved).equals(body)).toBe(true);
    const again = await request(`${origin()}/upload?name=evil%20name.iso`, { method: 'PUT', headers: { Cookie: c, Origin: origin() }, body });
    expect(path.basename((JSON.parse(again.body) as { path: string }).path)).toBe('evil name (2).iso');
    const noAuth = await request(`${origin()}/upload?name=x.iso`, { method: 'PUT', body });
    expect(noAuth.status).toBe(401);
    const crossSite = await request(`${origin()}/upload?name=x.iso`, { method: 'PUT', headers: { Cookie: c, Origin: 'http://evil.example' }, body });
    expect(crossSite.status).toBe(403);
  });

  it('names an upload without folders, hidden names or the partial suffix', () => {
    expect(uploadName('../../evil name.iso')).toBe('evil name.iso');
    expect(uploadName('/etc/passwd')).toBe('passwd');
    expect(uploadName('a\\b;c.iso')).toBe('a_b_c.iso');
    for (const bad of ['', '.', '..', '../', '.hidden.iso', 'x.iso.partial']) expect(uploadName(bad), bad).toBeNull();
  });

  it('DELETE /upload needs the token and this origin, and is refused when the core cannot check uses', async () => {
    const c = await cookie();
    const up = await request(`${origin()}/upload?name=kept.iso`, { method: 'PUT', headers: { Cookie: c, Origin: origin() }, body: Buffer.alloc(1024, 1) });
    expect(up.status).toBe(201);
    const saved = (JSON.parse(up.body) as { path: string }).path;
    expect((await request(`${origin()}/upload?name=kept.iso`, { method: 'DELETE' })).status).toBe(401);
    expect((await request(`${origin()}/upload?name=kept.iso`, { method: 'DELETE', headers: { Cookie: c } })).status).toBe(403);
    expect((await request(`${origin()}/upload?name=kept.iso`, { method: 'DELETE', headers: { Cookie: c, Origin: 'http://evil.example' } })).status).toBe(403);
    // This server has no core to ask whether a VM uses the file: it never deletes.
    expect((await request(`${origin()}/upload?name=kept.iso`, { method: 'DELETE', headers: { Cookie: c, Origin: origin() } })).status).toBe(405);
    expect(fs.existsSync(saved)).toBe(true);
    expect(fs.existsSync(path.join(dir, 'secret.txt'))).toBe(true);
  });

  it('ends a session left unused longer than the idle time', async () => {
    const idle = await startWebServer({ host: '127.0.0.1', port: 0, staticDir: path.join(dir, 'ui'), onClient: () => undefined, sessionIdleMs: 400 });
    try {
      const o = new URL(idle.url).origin;
      const login = await request(idle.url);
      const c = (login.headers['set-cookie']?.[0] ?? '').split(';')[0]!;
      expect(c.startsWith(`${idle.cookieName}=`)).toBe(true);
      expect((await request(`${o}/`, { headers: { Cookie: c } })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 250));
      // Use keeps it alive.
      expect((await request(`${o}/`, { headers: { Cookie: c } })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 600));
      expect((await request(`${o}/`, { headers: { Cookie: c } })).status).toBe(401);
    } finally {
      await idle.close();
    }
  });
});

describe('web sessions and the guessing brake', () => {
  it('a session store keeps hashes only, and a new token ends every session of the old one', () => {
    const file = path.join(dir, 'sessions.json');
    const log: string[] = [];
    const a = new SessionStore({ file, tokenHash: sha256('one'), idleMs: 60_000, log: (l) => log.push(l) });
    const id = a.create();
    expect(fs.readFileSync(file, 'utf8')).not.toContain(id);
    expect(new SessionStore({ file, tokenHash: sha256('one'), idleMs: 60_000, log: (l) => log.push(l) }).check(id).kind).toBe('ok');
    const b = new SessionStore({ file, tokenHash: sha256('two'), idleMs: 60_000, log: (l) => log.push(l) });
    // Ended, not unknown: a page left open from before is not counted as guessing.
    expect(b.check(id).kind).toBe('ended');
    expect(b.check('x'.repeat(43)).kind).toBe('unknown');
    expect(log).toEqual([]);
  });

  it('lets a few failures through, then blocks for longer and longer, up to a cap, and forgets', () => {
    const l = new FailureLimiter({ free: 3, firstBlockMs: 100, maxBlockMs: 1000, forgetMs: 5000 });
    for (let i = 0; i < 3; i++) l.fail('a', 0);
    expect(l.blockedFor('a', 0)).toBe(0);
    l.fail('a', 0);
    expect(l.blockedFor('a', 0)).toBe(100);
    l.fail('a', 100);
    expect(l.blockedFor('a', 100)).toBe(200);
    for (let i = 0; i < 10; i++) l.fail('a', 300);
    expect(l.blockedFor('a', 300)).toBe(1000);
    expect(l.blockedFor('b', 300)).toBe(0);
    l.fail('a', 10_000);
    expect(l.blockedFor('a', 10_000)).toBe(0);
  });

  it('counts failures per IPv4 address and per IPv6 /64 (a host given a /64 cannot try from a fresh address each time)', () => {
    expect(clientAddress('192.0.2.7')).toBe('192.0.2.7');
    expect(clientAddress('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(clientAddress(undefined)).toBe('?');
    const a = clientAddress('2001:db8:1:2:aaaa:bbbb:cccc:dddd');
    expect(a).toBe('2001:db8:1:2::/64');
    // One /64, however it is written: other interface ids, `::`, leading zeros, upper case, a zone.
    for (const same of ['2001:db8:1:2::1', '2001:0DB8:0001:0002:0:0:0:9', '2001:db8:1:2::1.2.3.4', '2001:db8:1:2::5%eth0']) {
      expect(clientAddress(same), same).toBe(a);
    }
    expect(clientAddress('2001:db8:1:3::1')).not.toBe(a);
    expect(clientAddress('::1')).toBe('0:0:0:0::/64');
    // Not an address: kept as it came (never thrown on).
    for (const odd of ['1::2::3', 'zz::1', '1:2:3:4:5:6:7:8:9']) expect(clientAddress(odd)).toBe(odd);
    const l = new FailureLimiter({ free: 1, firstBlockMs: 100 });
    l.fail(clientAddress('2001:db8:1:2::a'), 0);
    l.fail(clientAddress('2001:db8:1:2::b'), 0);
    expect(l.blockedFor(clientAddress('2001:db8:1:2::c'), 0)).toBe(100);
    expect(l.blockedFor(clientAddress('2001:db8:9:9::c'), 0)).toBe(0);
  });

  it('parses what clients send without throwing', () => {
    expect(cookieValues('a=1; nestbox_x=%; nestbox_x=ok;=;;b', 'nestbox_x')).toEqual(['%', 'ok']);
    for (const t of ['http://[/', '//evil/x', '/\\evil/x', '*', '', 'ftp://x/']) expect(requestTarget(t), t).toBeNull();
    expect(requestTarget('http://elsewhere/a%zz?b=%')?.pathname).toBe('/a%zz');
    expect(requestTarget('/x?token=1')?.searchParams.get('token')).toBe('1');
    const hosts = allowedHosts('127.0.0.1', 8490, false, ['Box.Lan', 'other:9000', 'fe80::1']);
    for (const h of ['127.0.0.1:8490', 'localhost:8490', '[::1]:8490', 'box.lan:8490', 'other:9000', '[fe80::1]:8490']) expect(hosts.has(h), h).toBe(true);
    for (const h of ['127.0.0.1', 'evil:8490', 'box.lan', 'other:8490']) expect(hosts.has(h), h).toBe(false);
  });

  it('refuses to serve plain HTTP off loopback unless told --insecure', async () => {
    await expect(startWebServer({ host: '0.0.0.0', port: 0, staticDir: path.join(dir, 'ui'), onClient: () => undefined })).rejects.toThrow(/--tls-cert FILE --tls-key FILE.*--insecure/);
  });
});

