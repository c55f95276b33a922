/**
 * Web mode's machine uploads (`/upload-set`, web-upload-set.ts) against a real core (SQLite,
 * qemu-img, the foreign importers): a .vbox with its VDI lands in a folder of its own in the
 * layout the .vbox names and imports from there; a domain XML's disks are found there by name.
 * Hostile lists are refused before a byte is stored (`..`, absolute paths, hidden names, too
 * many files, too many bytes, a file that is also a folder), files must be what was announced,
 * a descriptor naming a disk that was not uploaded is refused naming it, and taking a set back
 * — also in the middle of a file — leaves nothing behind. The core refuses to remove a set a
 * VM uses.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import type { WebServer } from '../../src/core/server/web';
import { IDLE_SET_MS, MAX_OPEN_SETS, MAX_SET_FILES } from '../../src/core/server/web-upload-set';
import { domainXml, vboxXml } from '../support/foreign-fixtures';
import { request } from '../support/http';
import { startTestWebServer } from '../support/webcore';
import { uuidOfVdi } from '../support/vdi';
import { openCore, tempHome } from './helpers';

describe('web mode: uploading a machine with its disks', () => {
  let home: string;
  let work: string;
  let media: string;
  let hosted: HostedCore;
  let client: RpcClient;
  let server: WebServer;
  let origin: string;
  let cookie: string;
  const MAX = 64 * 1024 * 1024;

  beforeAll(async () => {
    home = tempHome();
    work = fs.mkdtempSync(path.join(home, 'work-'));
    ({ hosted, client } = await openCore(home));
    ({ server, origin, cookie, media } = await startTestWebServer(home, hosted, client, { maxUploadBytes: MAX, uploadFreeFloorBytes: 1024 * 1024 }));
  });
  afterAll(async () => {
    await server?.close();
    await hosted?.close();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  const auth = () => ({ Cookie: cookie, Origin: origin });
  const announce = (files: unknown, headers: Record<string, string> = auth()) =>
    request(`${origin}/upload-set`, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: Buffer.from(JSON.stringify({ files })) });
  const put = (id: string, rel: string, body: Buffer) => request(`${origin}/upload-set?id=${id}&path=${encodeURIComponent(rel)}`, { method: 'PUT', headers: auth(), body });
  const take = (id: string) => request(`${origin}/upload-set?id=${id}`, { method: 'DELETE', headers: auth() });
  const sets = () => (fs.existsSync(media) ? fs.readdirSync(media).filter((n) => n.startsWith('.import-')) : []);
  const made = (r: { status: number; body: string }) => {
    expect(r.status, r.body).toBe(201);
    return JSON.parse(r.body) as { id: string; dir: string };
  };
  const errorOf = (r: { body: string }) => (JSON.parse(r.body) as { error: string }).error;

  it('a .vbox and its VDI land in one folder of their own, in the .vbox’s layout, and import from it; taking it back removes the folder', async () => {
    const vdi = path.join(work, 'Desk.vdi');
    execFileSync('qemu-img', ['create', '-f', 'vdi', vdi, '32M']);
    const vbox = Buffer.from(vboxXml({ name: 'Desk', location: 'Disks/Desk.vdi', format: 'VDI', baseUuid: uuidOfVdi(vdi), mac: '080027AB12CD' }));
    const disk = fs.readFileSync(vdi);
    const set = made(await announce([{ path: 'Desk.vbox', size: vbox.length }, { path: 'Disks/Desk.vdi', size: disk.length }]));
    expect(path.dirname(set.dir)).toBe(media);
    expect(fs.statSync(set.dir).mode & 0o777).toBe(0o700);
    expect((await put(set.id, 'Desk.vbox', vbox)).status).toBe(201);
    const landed = await put(set.id, 'Disks/Desk.vdi', disk);
    expect(landed.status, landed.body).toBe(201);
    expect((JSON.parse(landed.body) as { path: string }).path).toBe(path.join(set.dir, 'Disks', 'Desk.vdi'));
    // Once only: a file is never written twice.
    expect((await put(set.id, 'Disks/Desk.vdi', disk)).status).toBe(409);
    // Nothing of the set shows up as a medium of its own.
    expect((await client.call('media.registry', {})).some((m) => m.path.startsWith(set.dir))).toBe(false);

    const plan = await client.call('vms.importPlan', { file: path.join(set.dir, 'Desk.vbox') });
    expect(plan).toMatchObject({ source: 'vbox', name: 'Desk', disks: [{ source: path.join(set.dir, 'Disks', 'Desk.vdi'), format: 'vdi' }] });
    const job = await client.call('vms.import', { file: path.join(set.dir, 'Desk.vbox') });
    // While the import reads from the folder, the folder is not taken back.
    const early = await take(set.id);
    if (early.status !== 204) {
      expect(early.status, early.body).toBe(409);
      expect(fs.existsSync(set.dir)).toBe(true);
    }
    const ended = await client.call('jobs.wait', { id: job.id });
    expect(ended.state, `${early.status} ${early.body} ${JSON.stringify(ended.error)}`).toBe('done');
    const vm = await client.call('vms.info', { ref: 'Desk' });
    expect(vm.config.nics[0]!.mac).toBe('08:00:27:ab:12:cd');
    expect(vm.config.disks.map((d) => d.format)).toEqual(['qcow2']);
    if (early.status !== 204) expect((await take(set.id)).status).toBe(204);
    expect(fs.existsSync(set.dir)).toBe(false);
    expect(sets()).toEqual([]);
    // The imported VM keeps its own copy.
    expect(fs.existsSync(path.join(vm.dir, vm.config.disks[0]!.file))).toBe(true);
  });

  it('refuses lists with `..`, absolute, hidden, empty or backslashed paths, duplicates, a file that is a folder, too many files or bytes; nothing is made', async () => {
    for (const bad of [
      [{ path: '../evil.vbox', size: 1 }],
      [{ path: 'a/../../evil.vdi', size: 1 }],
      [{ path: 'Data/./x.qcow2', size: 1 }],
      [{ path: '/etc/passwd', size: 1 }],
      [{ path: 'C:/Windows/x.vdi', size: 1 }],
      [{ path: 'Snapshots\\..\\x.vdi', size: 1 }],
      [{ path: '.hidden/x.vdi', size: 1 }],
      [{ path: 'a//b.vdi', size: 1 }],
      [{ path: 'a/', size: 1 }],
      [{ path: 'x.vdi.partial', size: 1 }],
      [{ path: 'nul\u0000.vdi', size: 1 }],
      [{ path: `${'d/'.repeat(8)}x.vdi`, size: 1 }],
      [{ path: `${'x'.repeat(256)}.vdi`, size: 1 }],
      [{ path: 'a.vdi', size: 1 }, { path: 'a.vdi', size: 2 }],
      [{ path: 'Data', size: 1 }, { path: 'Data/x.qcow2', size: 1 }],
      [{ path: 'a.vdi', size: -1 }],
      [{ path: 'a.vdi', size: 1.5 }],
      [{ path: 'a.vdi', size: MAX + 1 }],
      [{ path: 'a.vdi', size: MAX / 2 }, { path: 'b.vdi', size: MAX / 2 + 1 }],
      Array.from({ length: MAX_SET_FILES + 1 }, (_, i) => ({ path: `f${i}.vdi`, size: 1 })),
      [],
      'not a list',
    ]) {
      const r = await announce(bad);
      expect(r.status, JSON.stringify(bad).slice(0, 80)).toBe(400);
    }
    expect(errorOf(await announce([{ path: '../evil.vbox', size: 1 }]))).toMatch(/'\.\.' part; only paths inside the upload/);
    expect(errorOf(await announce(Array.from({ length: MAX_SET_FILES + 1 }, (_, i) => ({ path: `f${i}.vdi`, size: 1 }))))).toMatch(new RegExp(`${MAX_SET_FILES + 1} files, more than ${MAX_SET_FILES}`));
    // Not JSON, and a list far too large to be one.
    expect((await request(`${origin}/upload-set`, { method: 'POST', headers: auth(), body: Buffer.from('{') })).status).toBe(400);
    expect((await request(`${origin}/upload-set`, { method: 'POST', headers: auth(), body: Buffer.alloc(300 * 1024, 0x20) })).status).toBe(413);
    // Only with the session and from this server's page.
    expect((await announce([{ path: 'a.vbox', size: 1 }], { Cookie: cookie })).status).toBe(403);
    expect((await announce([{ path: 'a.vbox', size: 1 }], { Origin: origin })).status).toBe(401);
    expect(sets()).toEqual([]);
  });

  it('takes only announced files, at exactly their announced size, and never a path other than one announced', async () => {
    const set = made(await announce([{ path: 'm.vbox', size: 10 }]));
    expect((await put(set.id, 'other.vdi', Buffer.alloc(10))).status).toBe(400);
    expect((await put(set.id, '../m.vbox', Buffer.alloc(10))).status).toBe(400);
    expect((await put(set.id, 'm.vbox', Buffer.alloc(11))).status).toBe(400);
    expect((await put(set.id, 'm.vbox', Buffer.alloc(9))).status).toBe(400);
    expect((await put('0'.repeat(24), 'm.vbox', Buffer.alloc(10))).status).toBe(404);
    // Refused writes leave no file and no temporary file; the right one still goes in.
    expect(fs.readdirSync(set.dir)).toEqual([]);
    expect((await put(set.id, 'm.vbox', Buffer.alloc(10))).status).toBe(201);
    expect((await take(set.id)).status).toBe(204);
    expect(sets()).toEqual([]);
  });

  it('a .vbox whose disk was not uploaded is refused naming the missing file; a domain XML’s disks are found in the upload by name', async () => {
    const vdi = path.join(work, 'Lone.vdi');
    execFileSync('qemu-img', ['create', '-f', 'vdi', vdi, '16M']);
    const vbox = Buffer.from(vboxXml({ name: 'Lone', location: 'Lone.vdi', format: 'VDI', baseUuid: uuidOfVdi(vdi) }));
    const set = made(await announce([{ path: 'Lone.vbox', size: vbox.length }]));
    expect((await put(set.id, 'Lone.vbox', vbox)).status).toBe(201);
    await expect(client.call('vms.importPlan', { file: path.join(set.dir, 'Lone.vbox') })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/'Lone\.vdi', which is not in the \.vbox file's folder/) });
    await expect(client.call('vms.import', { file: path.join(set.dir, 'Lone.vbox') })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await client.call('vms.list', {})).some((v) => v.name === 'Lone')).toBe(false);
    expect((await take(set.id)).status).toBe(204);

    const qcow = path.join(work, 'web.qcow2');
    execFileSync('qemu-img', ['create', '-f', 'qcow2', qcow, '16M']);
    const xml = Buffer.from(domainXml({ name: 'webxml', disk: '/var/lib/libvirt/images/web.qcow2', diskFormat: 'qcow2', mac: '52:54:00:10:20:30' }));
    const x = made(await announce([{ path: 'webxml.xml', size: xml.length }, { path: 'web.qcow2', size: fs.statSync(qcow).size }]));
    expect((await put(x.id, 'webxml.xml', xml)).status).toBe(201);
    const spec = { file: path.join(x.dir, 'webxml.xml'), diskFolder: x.dir };
    // The disk is named but not there yet: the error says which file to add.
    await expect(client.call('vms.importPlan', spec)).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/'web\.qcow2', which is not in the files uploaded with the domain XML/) });
    expect((await put(x.id, 'web.qcow2', fs.readFileSync(qcow))).status).toBe(201);
    expect(await client.call('vms.importPlan', spec)).toMatchObject({ source: 'libvirt', disks: [{ source: path.join(x.dir, 'web.qcow2'), format: 'qcow2' }] });
    expect((await take(x.id)).status).toBe(204);
    expect(sets()).toEqual([]);
  });

  it('taking a set back in the middle of a file stops it and removes the folder with the files already there', async () => {
    const small = Buffer.alloc(4096, 1);
    const big = 32 * 1024 * 1024;
    const set = made(await announce([{ path: 'Big.vbox', size: small.length }, { path: 'Data/big.vdi', size: big }]));
    expect((await put(set.id, 'Big.vbox', small)).status).toBe(201);
    // Half of the disk, then the page cancels.
    const answered = new Promise<number>((resolve) => {
      const req = http.request(`${origin}/upload-set?id=${set.id}&path=${encodeURIComponent('Data/big.vdi')}`, { method: 'PUT', headers: { ...auth(), 'Content-Length': String(big) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(-1));
      req.write(Buffer.alloc(big / 2, 2));
    });
    const partial = () => fs.readdirSync(set.dir).some((n) => n.endsWith('.partial') && fs.statSync(path.join(set.dir, n)).size > 0);
    await expect.poll(partial, { timeout: 10_000 }).toBe(true);
    const r = await take(set.id);
    expect(r.status, r.body).toBe(204);
    expect([409, -1]).toContain(await answered);
    expect(fs.existsSync(set.dir)).toBe(false);
    expect(sets()).toEqual([]);
    // A set taken back is gone for good.
    expect((await put(set.id, 'Data/big.vdi', Buffer.alloc(1))).status).toBe(404);
  });

  it(`at ${MAX_OPEN_SETS} open sets a new one is refused, unless some were left untouched for ${IDLE_SET_MS / 60_000} minutes: those are taken back`, async () => {
    const open = [];
    for (let i = 0; i < MAX_OPEN_SETS; i++) open.push(made(await announce([{ path: `m${i}.vbox`, size: 1 }])));
    const refused = await announce([{ path: 'one-more.vbox', size: 1 }]);
    expect(refused.status).toBe(429);
    expect(errorOf(refused)).toMatch(new RegExp(`${MAX_OPEN_SETS} machine uploads are open on this server; finish or cancel one first`));
    // Half an hour on (only the clock moves): the first set gets a file then, the others stay untouched.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + IDLE_SET_MS + 1000 });
    try {
      expect((await put(open[0]!.id, 'm0.vbox', Buffer.from('x'))).status).toBe(201);
      const fresh = made(await announce([{ path: 'one-more.vbox', size: 1 }]));
      expect(fs.existsSync(open[0]!.dir)).toBe(true);
      for (const s of open.slice(1)) expect(fs.existsSync(s.dir), s.dir).toBe(false);
      expect((await put(open[1]!.id, 'm1.vbox', Buffer.from('x'))).status).toBe(404);
      expect(sets().sort()).toEqual([path.basename(open[0]!.dir), path.basename(fresh.dir)].sort());
      expect((await take(open[0]!.id)).status).toBe(204);
      expect((await take(fresh.id)).status).toBe(204);
    } finally {
      vi.useRealTimers();
    }
    expect(sets()).toEqual([]);
  });

  it('a set a killed server left is removed when a server starts on the folder again; one a VM uses stays', async () => {
    const gone = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const dead = path.join(media, `.import-${gone}-${'b'.repeat(24)}`);
    fs.mkdirSync(path.join(dead, 'Data'), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(dead, 'Data', 'half.qcow2'), 'half');
    const used = path.join(media, `.import-${gone}-${'c'.repeat(24)}`);
    fs.mkdirSync(used, { mode: 0o700 });
    execFileSync('qemu-img', ['create', '-f', 'qcow2', path.join(used, 'kept.qcow2'), '16M']);
    const vm = await client.call('vms.create', { name: 'uses-dead-set', osType: 'linux-other', memoryMiB: 128, cpus: 1, noDisk: true });
    await client.call('vms.attachDisk', { ref: vm.vm.uuid, path: path.join(used, 'kept.qcow2') });
    // A set of this very (running) server is never swept.
    const live = made(await announce([{ path: 'live.vbox', size: 1 }]));
    const again = (await startTestWebServer(home, hosted, client)).server;
    try {
      await expect.poll(() => fs.existsSync(dead), { timeout: 10_000 }).toBe(false);
      expect(fs.existsSync(path.join(used, 'kept.qcow2'))).toBe(true);
      expect(fs.existsSync(live.dir)).toBe(true);
    } finally {
      await again.close();
    }
    expect((await take(live.id)).status).toBe(204);
    await client.call('vms.delete', { ref: 'uses-dead-set', keepFiles: true });
    await client.call('media.discardUploadSet', { path: used });
    expect(sets()).toEqual([]);
  });

  it('the core keeps a set a VM uses, and refuses folders that are not sets', async () => {
    const set = made(await announce([{ path: 'in-place.qcow2', size: 0 }]));
    const disk = path.join(work, 'in-place.qcow2');
    execFileSync('qemu-img', ['create', '-f', 'qcow2', disk, '16M']);
    fs.rmSync(set.dir, { recursive: true });
    fs.mkdirSync(set.dir, { mode: 0o700 });
    fs.copyFileSync(disk, path.join(set.dir, 'in-place.qcow2'));
    const vm = await client.call('vms.create', { name: 'uses-set', osType: 'linux-other', memoryMiB: 128, cpus: 1, noDisk: true });
    await client.call('vms.attachDisk', { ref: vm.vm.uuid, path: path.join(set.dir, 'in-place.qcow2') });
    const r = await take(set.id);
    expect(r.status).toBe(409);
    expect(errorOf(r)).toMatch(/in-place\.qcow2' of the upload is in use by 'uses-set'/);
    expect(fs.existsSync(path.join(set.dir, 'in-place.qcow2'))).toBe(true);
    await expect(client.call('media.discardUploadSet', { path: media })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(client.call('media.discardUploadSet', { path: home })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const lookalike = path.join(media, '.import-1-abc');
    fs.mkdirSync(lookalike);
    await expect(client.call('media.discardUploadSet', { path: lookalike })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const link = path.join(media, `.import-1-${'a'.repeat(24)}`);
    fs.symlinkSync(work, link);
    await expect(client.call('media.discardUploadSet', { path: link })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(fs.existsSync(work)).toBe(true);
  });
});
