import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RpcClient, serveTransport, type Transport } from '../../../../src/core/api/rpc';
import { startWebServer, uploadName, type WebServer } from '../../../../src/core/server/web';
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
});
