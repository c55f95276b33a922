/**
 * Web mode's `DELETE /upload` against a real core (SQLite, media registry, qemu-img): an upload
 * whose import was cancelled is removed again, and nothing else ever is — not a file outside
 * the media folder (traversal), not a file there that this server did not upload, not one a
 * VM uses, not one replaced since, not without the token or from another origin. The core's
 * own half (`media.discardUpload`) refuses the same on its own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import type { WebServer } from '../../src/core/server/web';
import { openCore, tempHome, testIso } from './helpers';
import { request } from '../support/http';
import { startTestWebServer } from '../support/webcore';

describe('web mode: discarding an upload whose import was cancelled', () => {
  let home: string;
  let media: string;
  let hosted: HostedCore;
  let client: RpcClient;
  let server: WebServer;
  let origin: string;
  let cookie: string;

  beforeAll(async () => {
    home = tempHome();
    ({ hosted, client } = await openCore(home));
    ({ server, origin, cookie, media } = await startTestWebServer(home, hosted, client));
  });
  afterAll(async () => {
    await server?.close();
    await hosted?.close();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  const upload = async (name: string, body = Buffer.alloc(64 * 1024, 3)): Promise<string> => {
    const r = await request(`${origin}/upload?name=${encodeURIComponent(name)}`, { method: 'PUT', headers: { Cookie: cookie, Origin: origin }, body });
    expect(r.status, r.body).toBe(201);
    return (JSON.parse(r.body) as { path: string }).path;
  };
  const discard = (name: string, headers: Record<string, string> = { Cookie: cookie, Origin: origin }) =>
    request(`${origin}/upload?name=${encodeURIComponent(name)}`, { method: 'DELETE', headers });

  it('removes an upload of this server that nothing uses, and its registry entry', async () => {
    const file = await upload('dropped disk.vdi');
    expect(path.dirname(file)).toBe(media);
    // The Media Manager lists it meanwhile (the registry scans the media folder).
    expect((await client.call('media.registry', {})).some((m) => m.path === file)).toBe(true);
    const r = await discard('dropped disk.vdi');
    expect(r.status, r.body).toBe(204);
    expect(fs.existsSync(file)).toBe(false);
    expect((await client.call('media.registry', {})).some((m) => m.path === file)).toBe(false);
    // Once only.
    expect((await discard('dropped disk.vdi')).status).toBe(404);
  });

  it('refuses traversal and anything but the exact name an upload answered with; nothing outside is touched', async () => {
    const db = path.join(home, 'nestbox.db');
    expect(fs.existsSync(db)).toBe(true);
    const outside = path.join(home, 'outside.iso');
    fs.writeFileSync(outside, 'keep me');
    await upload('outside.iso');
    for (const name of ['../nestbox.db', '../outside.iso', '..%2Foutside.iso', outside, '/etc/passwd', '', '.', '..', 'sub/outside.iso', 'outside.iso.partial']) {
      const r = await discard(name);
      expect(r.status, name).toBe(400);
    }
    expect(fs.existsSync(db)).toBe(true);
    expect(fs.readFileSync(outside, 'utf8')).toBe('keep me');
    expect(fs.existsSync(path.join(media, 'outside.iso'))).toBe(true);
  });

  it('refuses without the token, without this origin, and for files it did not upload', async () => {
    const file = await upload('mine.iso');
    expect((await discard('mine.iso', {})).status).toBe(401);
    expect((await discard('mine.iso', { Cookie: cookie })).status).toBe(403);
    expect((await discard('mine.iso', { Cookie: cookie, Origin: 'http://evil.example' })).status).toBe(403);
    expect((await discard('mine.iso', { Cookie: 'nestbox_token=wrong', Origin: origin })).status).toBe(401);
    expect(fs.existsSync(file)).toBe(true);
    // A file the user put into the media folder themselves is not an upload of this server.
    const own = path.join(media, 'copied-by-hand.iso');
    fs.writeFileSync(own, 'mine');
    const r = await discard('copied-by-hand.iso');
    expect(r.status).toBe(404);
    expect(fs.existsSync(own)).toBe(true);
  });

  it('never deletes an upload a VM uses, nor one replaced since it was uploaded', async () => {
    const iso = await upload('installer.iso', fs.readFileSync(testIso()));
    await client.call('vms.create', { name: 'uses-upload', osType: 'linux-other', memoryMiB: 128, cpus: 1, noDisk: true, iso });
    const r = await discard('installer.iso');
    expect(r.status).toBe(409);
    expect((JSON.parse(r.body) as { error: string }).error).toMatch(/in use by 'uses-upload'/);
    expect(fs.existsSync(iso)).toBe(true);

    const other = await upload('replaced.iso');
    fs.rmSync(other);
    fs.writeFileSync(other, 'someone else’s file');
    expect((await discard('replaced.iso')).status).toBe(409);
    expect(fs.readFileSync(other, 'utf8')).toBe('someone else’s file');
  });

  it('the core half refuses paths outside the media folder, links, and media Nestbox made', async () => {
    const db = path.join(home, 'nestbox.db');
    await expect(client.call('media.discardUpload', { path: db })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(client.call('media.discardUpload', { path: path.join(media, '..', 'nestbox.db') })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const link = path.join(media, 'link.iso');
    fs.symlinkSync(db, link);
    await expect(client.call('media.discardUpload', { path: link })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(fs.existsSync(db)).toBe(true);
    const made = path.join(media, 'made.qcow2');
    const job = await client.call('media.create', { path: made, format: 'qcow2', size: '1M' });
    expect((await client.call('jobs.wait', { id: job.id })).state).toBe('done');
    await expect(client.call('media.discardUpload', { path: made })).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect(fs.existsSync(made)).toBe(true);
  });
});
