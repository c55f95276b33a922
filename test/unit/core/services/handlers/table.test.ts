/**
 * The API handler table against a real core on a temp data directory (real SQLite; no QEMU
 * is started): every method of the table, called with otherwise valid params plus one
 * misspelt field, is refused with INVALID_ARGUMENT naming the method and the field — and
 * nothing acted (the VM, its folder, its config, the media, settings and the event log are
 * as they were).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MethodName, Params } from '../../../../../src/core/api/contract';
import { NestboxError } from '../../../../../src/core/api/errors';
import { parseParams } from '../../../../../src/core/api/schemas';
import type { Session } from '../../../../../src/core/api/rpc';
import type { HostCapabilities } from '../../../../../src/core/qemu/host';
import { Core } from '../../../../../src/core/services/core';
import { API_TABLE } from '../../../../../src/core/services/handlers';

const HOST: HostCapabilities = {
  qemu: null,
  accelerators: [{ name: 'tcg', usable: true }],
  ovmf: null,
  memoryMiB: 8192,
  cpus: 4,
};

/**
 * Params each method would act on. Typed by the contract, so a method added to it needs an
 * entry here before this test compiles.
 */
function validParams(work: string): { readonly [M in MethodName]: Params<M> } {
  const disk = path.join(work, 'disk.img');
  const ref = 'victim';
  return {
    'host.info': {},
    'vms.list': {},
    'hosts.list': {},
    'hosts.add': { name: 'lab', uri: 'qemu+unix:///system?socket=/nonexistent/libvirt-sock' },
    'hosts.update': { name: 'lab', changes: { peerUri: null } },
    'hosts.remove': { name: 'lab' },
    'hosts.info': { name: 'lab' },
    'hosts.pools': { name: 'lab' },
    'hosts.uploadIso': { name: 'lab', pool: 'default', file: disk },
    'vms.migrate': { ref: 'lab:victim', to: 'lab2', copyStorage: true },
    'vms.move': { ref, to: 'lab', pool: 'default' },
    'vms.info': { ref },
    'vms.create': { name: 'second', noDisk: true, memoryMiB: 128, cpus: 1 },
    'vms.modify': { ref, changes: { memoryMiB: 256 } },
    'vms.start': { ref },
    'vms.pause': { ref },
    'vms.resume': { ref },
    'vms.reset': { ref },
    'vms.shutdown': { ref, timeoutS: 1 },
    'vms.powerOff': { ref },
    'vms.saveState': { ref },
    'vms.discardState': { ref },
    'vms.delete': { ref, keepFiles: true },
    'vms.screenshot': { ref },
    'media.list': {},
    'media.registry': {},
    'media.info': { path: disk },
    'media.delete': { path: disk, deleteFile: true },
    'media.discardUpload': { path: disk },
    'media.discardUploadSet': { path: work },
    'media.create': { path: path.join(work, 'new.qcow2'), format: 'qcow2', size: '1M' },
    'media.convert': { source: disk, target: path.join(work, 'out.qcow2'), format: 'qcow2' },
    'media.resize': { path: disk, size: '2M', shrink: true },
    'media.compact': { path: disk },
    'media.check': { path: disk, repair: true },
    'vms.import': { file: disk, name: 'imported' },
    'vms.importPlan': { file: disk, name: 'imported' },
    'vms.export': { ref, file: path.join(work, 'out.ova') },
    'vms.attachDisk': { ref, path: disk },
    'vms.detachDisk': { ref, disk: 'disk0' },
    'jobs.list': {},
    'jobs.cancel': { id: 'job-1' },
    'jobs.wait': { id: 'job-1' },
    'network.addForward': { ref, rule: { name: 'ssh', hostPort: 2222, guestPort: 22 } },
    'network.removeForward': { ref, name: 'ssh' },
    'network.setLink': { ref, connected: false },
    'network.host': {},
    'network.setNic': { ref, nic: 'net0', changes: { mac: 'auto' } },
    'network.addNic': { ref },
    'network.removeNic': { ref, nic: 'net0' },
    'network.newMac': {},
    'shares.list': { ref },
    'shares.add': { ref, path: work, tag: 'work', readOnly: true },
    'shares.remove': { ref, tag: 'work' },
    'snapshots.list': { ref },
    'snapshots.take': { ref, name: 'snap' },
    'snapshots.restore': { ref, id: 'snap' },
    'snapshots.delete': { ref, id: 'snap' },
    'snapshots.deleteBranch': { ref, id: 'snap' },
    'snapshots.previewDelete': { ref, id: 'snap' },
    'vms.clone': { ref, name: 'copy' },
    'vms.convertDisk': { ref },
    'vms.cancel': { ref },
    'snapshots.update': { ref, id: 'snap', name: 'renamed' },
    'snapshots.thumbnail': { id: 'snap' },
    'settings.get': { key: 'accel' },
    'settings.set': { key: 'accel', value: 'tcg' },
    'events.recent': { ref, limit: 10 },
    'console.open': { ref, channel: 'serial', stream: 'stream-0001' },
    'console.write': { stream: 'stream-0001', data: 'aGVsbG8=' },
    'console.close': { stream: 'stream-0001' },
    'console.serialLog': { ref },
    'stats.subscribe': { ref },
    'stats.unsubscribe': { ref },
    'stats.current': {},
    'stats.recent': { ref },
    'stats.history': { ref },
    'vms.balloon': { ref, targetMiB: 64 },
    'vms.qemuLog': { ref },
    'vms.sendKeys': { ref, keys: ['ctrl', 'alt', 'delete'] },
  };
}

async function refusal(session: Session, method: string, params: unknown): Promise<NestboxError> {
  try {
    await session.call(method, params);
  } catch (err) {
    if (err instanceof NestboxError) return err;
    throw err;
  }
  throw new Error(`${method} accepted ${JSON.stringify(params)}`);
}

describe('API handler table', () => {
  let dir: string;
  let work: string;
  let core: Core;
  let session: Session;
  const pushed: string[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-table-'));
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-table-work-'));
    fs.writeFileSync(path.join(work, 'disk.img'), Buffer.alloc(1024 * 1024));
    core = await Core.open({ dataDir: dir, host: HOST });
    await core.vms.create({ name: 'victim', noDisk: true, memoryMiB: 128, cpus: 1 });
    session = core.session((name) => pushed.push(name));
  });
  afterAll(() => {
    session.dispose();
    core.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('has an entry, with a schema and a handler, for every method', () => {
    const valid = validParams(work);
    expect(Object.keys(API_TABLE).sort()).toEqual(Object.keys(valid).sort());
    for (const entry of Object.values(API_TABLE)) {
      expect(typeof entry.handle).toBe('function');
      expect(typeof entry.params.safeParse).toBe('function');
    }
    // The params the next test misspells are themselves valid, so only the typo is refused.
    for (const [method, params] of Object.entries(valid)) expect(() => parseParams(method as MethodName, params), method).not.toThrow();
  });

  it('refuses a misspelt field on every method, naming it, and nothing acts', async () => {
    const before = {
      vm: core.vms.info('victim'),
      list: core.vms.list(),
      files: fs.readdirSync(core.vms.info('victim').dir).sort(),
      events: core.recentEvents(undefined, 10_000),
      registry: core.media.registry(),
      accel: core.getSetting('accel'),
      work: fs.readdirSync(work).sort(),
    };
    const valid = validParams(work) as unknown as Record<string, Record<string, unknown>>;
    for (const method of Object.keys(API_TABLE)) {
      for (const typo of ['keep_files', 'Ref', 'zz']) {
        const e = await refusal(session, method, { ...valid[method], [typo]: true });
        expect(e.code, method).toBe('INVALID_ARGUMENT');
        expect(e.message, method).toMatch(new RegExp(`^${method.replace('.', '\\.')}: unknown field '${typo}' \\(known: `));
      }
    }
    const vm = core.vms.info('victim');
    expect(vm).toEqual(before.vm);
    expect(fs.existsSync(vm.dir)).toBe(true);
    expect(fs.readdirSync(vm.dir).sort()).toEqual(before.files);
    expect(core.vms.list()).toEqual(before.list);
    expect(core.recentEvents(undefined, 10_000)).toEqual(before.events);
    expect(core.media.registry()).toEqual(before.registry);
    expect(core.getSetting('accel')).toBe(before.accel);
    expect(fs.readdirSync(work).sort()).toEqual(before.work);
    expect(core.jobs.list()).toEqual([]);
    expect(pushed).toEqual([]);
  });

  it('names the exact field of the brief: vms.delete keep_files leaves the VM and its folder', async () => {
    const dirBefore = core.vms.info('victim').dir;
    const e = await refusal(session, 'vms.delete', { ref: 'victim', keep_files: true });
    expect(e.message).toBe("vms.delete: unknown field 'keep_files' (known: ref, keepFiles)");
    expect(core.vms.info('victim').dir).toBe(dirBefore);
    expect(fs.existsSync(dirBefore)).toBe(true);
  });

  it('refuses a misspelt field inside a nested object too', async () => {
    const e = await refusal(session, 'vms.modify', { ref: 'victim', changes: { memory_mib: 256 } });
    expect(e.message).toMatch(/^vms\.modify: unknown field 'changes\.memory_mib' \(known: name, memoryMiB,/);
    expect(core.vms.info('victim').config.memoryMiB).toBe(128);
  });

  it('answers valid calls through the table', async () => {
    expect(((await session.call('vms.list', {})) as { name: string }[]).map((v) => v.name)).toEqual(['victim']);
    expect(await session.call('settings.get', { key: 'accel' })).toBeNull();
    const recent = (await session.call('events.recent', { limit: 2.7 })) as unknown[];
    expect(recent.length).toBeLessThanOrEqual(2);
    await expect(session.call('no.such', {})).rejects.toMatchObject({ code: 'UNKNOWN_METHOD' });
    await expect(session.call('toString', {})).rejects.toMatchObject({ code: 'UNKNOWN_METHOD' });
  });
});
