/**
 * Storage against real qemu-img and QEMU: the hostile corpus refused on every path that takes
 * an image from outside, with no descriptor, process or file left behind; disk images in
 * VDI, VMDK, VHDX and raw made from the test guest become VMs that boot; jobs report
 * progress, cancel cleanly and fail cleanly on a full disk.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobInfo, MediumInfo, VmInfo } from '../../src/core/api/contract';
import { NestboxError } from '../../src/core/api/errors';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { makeHostileCorpus, type HostileCase } from '../support/hostile-corpus';
import { cleanupHome, cli, giveToQemuUser, openCore, tempHome, testIso, waitForFile } from './helpers';

const READY = /NESTBOX-GUEST-READY/;

function isJob(v: unknown): v is JobInfo {
  return typeof v === 'object' && v !== null && 'id' in v && 'kind' in v && 'state' in v;
}

/** Runs a call that starts a job (or answers directly) to its end; throws the job's error. */
async function finish<T>(client: RpcClient, started: Promise<unknown>): Promise<T> {
  const r = await started;
  if (!isJob(r)) return r as T;
  const end = await client.call('jobs.wait', { id: r.id });
  if (end.state !== 'done') throw NestboxError.fromShape(end.error ?? { code: 'INTERNAL', message: end.state });
  return end.result as T;
}

async function refusal(client: RpcClient, started: () => Promise<unknown>): Promise<NestboxError> {
  try {
    await finish(client, started());
  } catch (err) {
    if (err instanceof NestboxError) return err;
    throw err;
  }
  throw new Error('the image was accepted');
}

/** qemu-img (or prlimit running it) still alive as a child of this process. */
function childProcesses(): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
      if (m && Number(m[2]) === process.pid && /qemu-img|prlimit/.test(m[1]!)) out.push(`${pid} ${m[1]}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const fdCount = () => fs.readdirSync('/proc/self/fd').length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function listing(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((e) => path.join(e.parentPath ?? e.path, e.name))
    .sort();
}

describe('storage: the hostile corpus', () => {
  let home: string;
  let corpusDir: string;
  let cases: HostileCase[];
  let hosted: HostedCore;
  let client: RpcClient;

  beforeAll(async () => {
    home = tempHome();
    corpusDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbt-hostile-'));
    cases = makeHostileCorpus(corpusDir);
    ({ hosted, client } = await openCore(home));
    await client.call('vms.create', { name: 'target', osType: 'linux-other', memoryMiB: 128, cpus: 1, noDisk: true });
  });
  afterAll(async () => {
    await hosted.close();
    await cleanupHome(home);
    fs.rmSync(corpusDir, { recursive: true, force: true });
  });

  it('refuses every image on every path that takes one, saying why, and leaves nothing behind', async () => {
    expect(cases.length).toBeGreaterThan(30);
    const passwd = fs.statSync('/etc/passwd');
    const before = listing(corpusDir);
    // Warm up once so lazily opened descriptors (the database, worker threads) are counted.
    await client.call('media.registry', {});
    const fds = fdCount();
    const checked: string[] = [];
    for (const c of cases) {
      const f = c.file;
      const paths: [string, () => Promise<unknown>][] = f.endsWith('.ova')
        ? [['import', () => client.call('vms.import', { file: f })]]
        : [
            ['media.info', () => client.call('media.info', { path: f })],
            ['import (copy)', () => client.call('vms.import', { file: f, name: 'hostile' })],
            ['import (in place)', () => client.call('vms.import', { file: f, name: 'hostile', mode: 'inPlace' })],
            ['create --disk', () => client.call('vms.create', { name: 'hostile', disk: f, memoryMiB: 128 })],
            ['attach', () => client.call('vms.attachDisk', { ref: 'target', path: f })],
            ['convert', () => client.call('media.convert', { source: f, target: path.join(home, 'out.qcow2'), format: 'qcow2' })],
          ];
      for (const [via, call] of paths) {
        const err = await refusal(client, call);
        expect(err.code, `${c.name} via ${via}: ${err.message}`).toBe('IMAGE_REJECTED');
        expect(err.message, `${c.name} via ${via}`).toMatch(c.reason);
        checked.push(`${c.name} via ${via}`);
      }
    }
    expect(checked.length).toBeGreaterThan(150);
    // Nothing was created, registered or written.
    expect((await client.call('vms.list', {})).map((v) => v.name)).toEqual(['target']);
    expect((await client.call('vms.info', { ref: 'target' })).config.disks).toEqual([]);
    expect(fs.readdirSync(path.join(home, 'machines'))).toEqual(['target']);
    expect(fs.readdirSync(path.join(home, 'machines', 'target')).filter((n) => n !== 'logs')).toEqual([]);
    expect(fs.existsSync(path.join(home, 'out.qcow2'))).toBe(false);
    const registered = (await client.call('media.registry', {})).map((m) => m.path);
    expect(registered.filter((p) => p.startsWith(corpusDir))).toEqual([]);
    expect(listing(corpusDir)).toEqual(before);
    expect(fs.statSync('/etc/passwd').mtimeMs).toBe(passwd.mtimeMs);
    // No qemu-img left running, no descriptor left open.
    expect(childProcesses()).toEqual([]);
    let now = fdCount();
    for (let i = 0; i < 20 && now !== fds; i++) {
      await sleep(100);
      now = fdCount();
    }
    expect(now).toBe(fds);
  });

  it('refuses an image that changes while it is being read', async () => {
    const file = path.join(corpusDir, 'growing.img');
    fs.writeFileSync(file, Buffer.alloc(1024 * 1024));
    // A writer appends to the image for as long as the attempt lasts.
    const writer = setInterval(() => fs.appendFileSync(file, Buffer.alloc(512, 1)), 1);
    try {
      let err: NestboxError | null = null;
      for (let i = 0; i < 20 && !err; i++) {
        err = await refusal(client, () => client.call('media.info', { path: file })).catch(() => null);
      }
      expect(err?.code).toBe('IMAGE_REJECTED');
      expect(err?.message).toMatch(/changed while it was being read/);
    } finally {
      clearInterval(writer);
    }
  });

  it('refuses a character device named directly', async () => {
    const err = await refusal(client, () => client.call('vms.attachDisk', { ref: 'target', path: '/dev/null' }));
    expect(err.code).toBe('IMAGE_REJECTED');
    expect(err.message).toMatch(/not a regular file \(a character device\)/);
  });
});

describe('storage: images of the test guest become VMs that boot', () => {
  let home: string;
  let work: string;
  let hosted: HostedCore;
  let client: RpcClient;

  beforeAll(async () => {
    home = tempHome();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'nbt-images-'));
    ({ hosted, client } = await openCore(home));
  });
  afterAll(async () => {
    for (const vm of await client.call('vms.list', {})) await client.call('vms.powerOff', { ref: vm.name }).catch(() => undefined);
    await hosted.close();
    await cleanupHome(home);
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function boots(vm: VmInfo): Promise<void> {
    // The serial log keeps earlier boots: wait for one more marker than it has now.
    const earlier = fs.existsSync(vm.serialLog) ? (fs.readFileSync(vm.serialLog, 'utf8').match(/NESTBOX-GUEST-READY/g) ?? []).length : 0;
    const r = await client.call('vms.start', { ref: vm.name });
    expect(r.vm.state).toBe('running');
    await waitForFile(r.vm.serialLog, READY, 150_000, earlier + 1);
    await client.call('vms.powerOff', { ref: vm.name });
  }

  it.each([
    ['vdi', 'guest.vdi', 'copy'],
    ['vmdk', 'guest.vmdk', 'inPlace'],
    ['vhdx', 'guest.vhdx', 'copy'],
    ['raw', 'guest.img', 'inPlace'],
  ] as const)('a %s image made with qemu-img becomes a VM that boots (%s, %s)', async (format, name, mode) => {
    const file = path.join(work, name);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', format, testIso(), file]);
    giveToQemuUser(file);
    const progress: number[] = [];
    const off = client.on('job.progress', (j) => {
      if (j.kind === 'import') progress.push(j.percent);
    });
    const vm = await finish<VmInfo>(client, client.call('vms.import', { file, name: `from-${format}`, mode, osType: 'linux-other', memoryMiB: 256, cpus: 1 }));
    off();
    const disk = vm.config.disks[0]!;
    if (mode === 'copy') {
      expect(disk).toMatchObject({ format: 'qcow2', owned: true, file: `from-${format}.qcow2` });
      expect(progress.at(-1)).toBe(100);
    } else {
      expect(disk).toMatchObject({ format, owned: false, file });
    }
    const media = await client.call('media.registry', {});
    const used = media.find((m) => m.usedBy.some((u) => u.vm === `from-${format}`))!;
    expect(used.format).toBe(disk.format);
    expect(used.virtualSize).toBe(fs.statSync(testIso()).size);
    await boots(vm);
  });

  it('imports through the CLI with a progress line, and refuses to delete a disk in use', async () => {
    const file = path.join(work, 'cli.vdi');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vdi', testIso(), file]);
    const r = await cli(home, ['import', file, '--name', 'cli-vm', '--memory', '256', '--cpus', '1', '--os-type', 'linux-other']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Imported 'cli-vm'/);
    expect(r.stderr).toMatch(/Importing cli\.vdi as 'cli-vm' \(converting to qcow2\): \d+%/);
    const list = JSON.parse((await cli(home, ['media', 'list', '--json'])).stdout) as MediumInfo[];
    const disk = list.find((m) => m.usedBy.some((u) => u.vm === 'cli-vm'))!;
    expect(disk.format).toBe('qcow2');
    const del = await cli(home, ['media', 'delete', disk.path, '--delete-file']);
    expect(del.code).toBe(1);
    expect(del.stderr).toMatch(/in use by 'cli-vm' \(disk0\)/);
    expect(fs.existsSync(disk.path)).toBe(true);
  });

  it('attaches an existing image to a VM as a second disk and detaches it again', async () => {
    const extra = path.join(work, 'extra.qcow2');
    await finish(client, client.call('media.create', { path: extra, format: 'qcow2', size: '32M' }));
    giveToQemuUser(extra);
    const r = await client.call('vms.attachDisk', { ref: 'from-vdi', path: extra });
    expect(r.vm.config.disks.map((d) => d.id)).toEqual(['disk0', 'disk1']);
    const media = await client.call('media.registry', {});
    expect(media.find((m) => m.path === extra)?.usedBy).toEqual([{ vm: 'from-vdi', uuid: r.vm.uuid, device: 'disk1', current: true, snapshots: [] }]);
    // A second VM must not write the same image.
    const err = await refusal(client, () => client.call('vms.attachDisk', { ref: 'from-vhdx', path: extra }));
    expect(err.code).toBe('BUSY');
    await expect(client.call('media.delete', { path: extra })).rejects.toMatchObject({ code: 'BUSY' });
    await boots(r.vm);
    const d = await client.call('vms.detachDisk', { ref: 'from-vdi', disk: 'disk1' });
    expect(d.vm.config.disks.map((x) => x.id)).toEqual(['disk0']);
    await client.call('media.delete', { path: extra, deleteFile: true });
    expect(fs.existsSync(extra)).toBe(false);
  });
});

describe('storage: jobs', () => {
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;

  beforeAll(async () => {
    home = tempHome();
    ({ hosted, client } = await openCore(home));
  });
  afterAll(async () => {
    await hosted.close();
    await cleanupHome(home);
  });

  it('creates, grows, refuses to shrink without force, checks and compacts a disk, updating the registry', async () => {
    const file = path.join(home, 'media-a.qcow2');
    const created = await finish<MediumInfo>(client, client.call('media.create', { path: file, format: 'qcow2', size: '64M', preallocation: 'metadata' }));
    expect(created).toMatchObject({ format: 'qcow2', virtualSize: 64 * 1024 ** 2, owned: true, usedBy: [] });
    const grown = await finish<MediumInfo>(client, client.call('media.resize', { path: file, size: '128M' }));
    expect(grown.virtualSize).toBe(128 * 1024 ** 2);
    await expect(client.call('media.resize', { path: file, size: '32M' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/shrink/) });
    const shrunk = await finish<MediumInfo>(client, client.call('media.resize', { path: file, size: '32M', shrink: true }));
    expect(shrunk.virtualSize).toBe(32 * 1024 ** 2);
    const check = await finish<{ corruptions: number; leaks: number }>(client, client.call('media.check', { path: file }));
    expect(check).toMatchObject({ corruptions: 0, leaks: 0 });
    // Write data, then zero it: compacting gives the space back.
    const raw = path.join(home, 'data.raw');
    fs.writeFileSync(raw, crypto.randomBytes(8 * 1024 * 1024));
    const full = path.join(home, 'full.qcow2');
    await finish(client, client.call('media.convert', { source: raw, target: full, format: 'qcow2' }));
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -z 0 8M', full], { stdio: 'ignore' });
    const before = fs.statSync(full).blocks * 512;
    const compacted = await finish<MediumInfo>(client, client.call('media.compact', { path: full }));
    expect(compacted.actualSize).toBeLessThan(before);
    expect(fs.readdirSync(home).filter((n) => n.includes('.partial'))).toEqual([]);
  });

  it('never changes a file it does not know: an unknown or foreign raw file is not resized, compacted or repaired', async () => {
    const notes = path.join(home, 'notes.txt');
    fs.writeFileSync(notes, 'keep me\n');
    // A text file is not taken for a raw disk at all.
    await expect(client.call('media.resize', { path: notes, size: '1M' })).rejects.toMatchObject({ code: 'IMAGE_REJECTED', message: expect.stringMatching(/not a disk image/) });
    await expect(client.call('media.info', { path: notes })).rejects.toMatchObject({ code: 'IMAGE_REJECTED', message: expect.stringMatching(/not a disk image: it looks like a text file/) });
    await expect(client.call('media.delete', { path: notes, deleteFile: true })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(fs.readFileSync(notes, 'utf8')).toBe('keep me\n');
    // Whole sectors of binary data can be a raw disk: registered, but never changed in place.
    const foreign = path.join(home, 'foreign.bin');
    const bytes = crypto.randomBytes(1024 * 1024);
    fs.writeFileSync(foreign, bytes);
    await expect(client.call('media.resize', { path: foreign, size: '2M' })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/not in the media registry/) });
    await client.call('media.info', { path: foreign });
    await expect(client.call('media.resize', { path: foreign, size: '2M' })).rejects.toMatchObject({ code: 'INVALID_STATE', message: expect.stringMatching(/could be any file/) });
    await expect(client.call('media.compact', { path: foreign })).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect(fs.readFileSync(foreign).equals(bytes)).toBe(true);
  });

  it('converts with progress events to every client, and cancels a conversion leaving no partial file', async () => {
    const src = path.join(home, 'big.raw');
    fs.writeFileSync(src, crypto.randomBytes(256 * 1024 * 1024));
    const other = hosted.client();
    const seen: JobInfo[] = [];
    other.on('job.progress', (j) => seen.push(j));
    const dst = path.join(home, 'big.vdi');
    await finish(client, client.call('media.convert', { source: src, target: dst, format: 'vdi' }));
    const mine = seen.filter((j) => j.kind === 'convert');
    expect(mine[0]!.state).toBe('running');
    expect(mine.at(-1)).toMatchObject({ state: 'done', percent: 100 });
    expect(new Set(mine.map((j) => j.percent)).size).toBeGreaterThan(2);

    const target = path.join(home, 'cancelled.qcow2');
    const job = await client.call('media.convert', { source: dst, target, format: 'qcow2' });
    let cancelled: JobInfo | null = null;
    await new Promise<void>((resolve) => {
      const off = other.on('job.progress', (j) => {
        if (j.id === job.id && j.percent > 0 && !cancelled) {
          off();
          void client.call('jobs.cancel', { id: job.id }).then((end) => {
            cancelled = end;
            resolve();
          });
        }
      });
    });
    expect(cancelled!.state).toBe('cancelled');
    expect(cancelled!.error?.code).toBe('CANCELLED');
    expect(fs.existsSync(target)).toBe(false);
    expect(childProcesses()).toEqual([]);
    expect((await client.call('jobs.list', {})).find((j) => j.id === job.id)?.state).toBe('cancelled');
  });

  it('keeps a raw disk Nestbox created raw when a guest writes another format\'s header into it', async () => {
    const file = path.join(home, 'guest-wrote.raw');
    await finish(client, client.call('media.create', { path: file, format: 'raw', size: '8M' }));
    // What a guest could write to its own disk: a qcow2 header naming a backing file.
    const header = path.join(home, 'header.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/passwd', '-F', 'raw', header, '1M']);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, fs.readFileSync(header).subarray(0, 4096), 0, 4096, 0);
    fs.closeSync(fd);
    expect((await client.call('media.info', { path: file })).format).toBe('raw');
    // The same bytes in a file Nestbox did not create are what they look like: refused.
    const foreign = path.join(home, 'foreign.raw');
    fs.copyFileSync(file, foreign);
    await expect(client.call('media.info', { path: foreign })).rejects.toMatchObject({ code: 'IMAGE_REJECTED', message: expect.stringMatching(/backing file/) });
  });

  it('ends a running job when the core closes, leaving no partial file', async () => {
    const target = path.join(home, 'closing.qcow2');
    const job = await client.call('media.convert', { source: path.join(home, 'big.vdi'), target, format: 'qcow2' });
    await new Promise<void>((resolve) => {
      const off = client.on('job.progress', (j) => {
        if (j.id === job.id && j.percent > 0) {
          off();
          resolve();
        }
      });
    });
    await hosted.close();
    expect(fs.existsSync(target)).toBe(false);
    expect(childProcesses()).toEqual([]);
    ({ hosted, client } = await openCore(home));
    expect(await client.call('jobs.list', {})).toEqual([]);
  });

  it('knows which snapshots use a disk and refuses to delete it while one does', async () => {
    await client.call('vms.create', { name: 'snappy', osType: 'linux-other', memoryMiB: 128, cpus: 1, noDisk: true });
    const extra = path.join(home, 'snap-extra.qcow2');
    await finish(client, client.call('media.create', { path: extra, format: 'qcow2', size: '16M' }));
    await client.call('vms.attachDisk', { ref: 'snappy', path: extra });
    await client.call('snapshots.take', { ref: 'snappy', name: 'with extra' });
    await client.call('vms.detachDisk', { ref: 'snappy', disk: 'disk0' });
    const m = (await client.call('media.registry', {})).find((x) => x.path === extra)!;
    expect(m.usedBy).toEqual([{ vm: 'snappy', uuid: expect.any(String), device: 'disk0', current: false, snapshots: ['with extra'] }]);
    const err = await refusal(client, () => client.call('media.delete', { path: extra, deleteFile: true }));
    expect(err.code).toBe('BUSY');
    expect(err.message).toMatch(/snapshot 'with extra' of 'snappy'/);
    expect(fs.existsSync(extra)).toBe(true);
    await client.call('snapshots.delete', { ref: 'snappy', id: 'with extra' });
    await client.call('media.delete', { path: extra, deleteFile: true });
    expect(fs.existsSync(extra)).toBe(false);
  });

  it('fills the registry from VMs made before it existed, with sizes read from the files', async () => {
    // A disk the registry does not know yet (as after migration 4 on an old database).
    const disk = (await client.call('vms.create', { name: 'old-vm', osType: 'linux-other', memoryMiB: 128, cpus: 1, diskSize: '48M' })).vm;
    const file = path.join(disk.dir, 'old-vm.qcow2');
    await hosted.close();
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(path.join(home, 'nestbox.db'));
    db.prepare('DELETE FROM media').run();
    db.close();
    ({ hosted, client } = await openCore(home));
    const m = (await client.call('media.registry', {})).find((x) => x.path === file)!;
    expect(m).toMatchObject({ format: 'qcow2', virtualSize: 48 * 1024 ** 2, owned: true, missing: false });
    expect(m.actualSize).toBeGreaterThan(0);
    expect(m.usedBy.map((u) => u.vm)).toEqual(['old-vm']);
  });

  it('fails with NO_SPACE when the target disk fills up, and removes the partial file', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a small tmpfs and needs root (CI runs as root)');
    const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'nbt-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'nestbox-test', mnt]);
    try {
      const src = path.join(home, 'twenty.raw');
      fs.writeFileSync(src, crypto.randomBytes(20 * 1024 * 1024));
      const err = await refusal(client, () => client.call('media.convert', { source: src, target: path.join(mnt, 'out.qcow2'), format: 'qcow2' }));
      expect(err.code).toBe('NO_SPACE');
      expect(err.message).toMatch(/not enough space on the disk holding .*the partial file was removed/);
      const created = await refusal(client, () => client.call('media.create', { path: path.join(mnt, 'prealloc.raw'), format: 'raw', size: '64M', preallocation: 'full' }));
      expect(created.code).toBe('NO_SPACE');
      expect(fs.readdirSync(mnt)).toEqual([]);
      expect((await client.call('media.registry', {})).filter((m) => m.path.startsWith(mnt))).toEqual([]);
    } finally {
      execFileSync('umount', [mnt]);
      fs.rmdirSync(mnt);
    }
  });
});
