/**
 * The lifecycle service with a fake QEMU launcher and a fake QMP (test/support): state
 * transitions, BUSY while the VM's job runs, a QEMU that exits during start, and shutdown's
 * wait as a job (timeout and cancel). Real SQLite, the real supervisor and QMP client.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiEvents, JobInfo } from '../../../../src/core/api/contract';
import { EventBus } from '../../../../src/core/services/events';
import { JobService } from '../../../../src/core/services/jobs';
import { VmService } from '../../../../src/core/services/vms';
import { CloneRepository, EventRepository, openDatabase, VmRepository, type Db } from '../../../../src/core/store/db';
import { DataLayout } from '../../../../src/core/store/paths';
import { FAKE_HOST, fakeLauncher, type FakeLauncher } from '../../../support/fakelauncher';

let dir: string;
let db: Db;
let vms: VmService;
let jobs: JobService;
let launcher: FakeLauncher;
let events: EventRepository;
let states: string[];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-lifecycle-'));
  const layout = new DataLayout(dir);
  layout.prepare();
  db = openDatabase(layout.database);
  const bus = new EventBus();
  states = [];
  bus.on((name, data) => {
    if (name === 'vm.state') states.push((data as ApiEvents['vm.state']).state);
  });
  jobs = new JobService(bus);
  launcher = fakeLauncher('obeys');
  events = new EventRepository(db);
  vms = new VmService({
    layout,
    vms: new VmRepository(db),
    events,
    clones: new CloneRepository(db),
    bus,
    host: FAKE_HOST,
    accelChoice: () => 'tcg',
    jobs,
    launcher,
  });
});

afterEach(async () => {
  for (const v of vms.list()) if (vms.qemuOf(v.uuid)) await vms.powerOff(v.uuid).catch(() => undefined);
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function newVm(name = 'web'): Promise<string> {
  const r = await vms.create({ name, osType: 'linux-other', memoryMiB: 64, cpus: 1, noDisk: true, display: 'none' });
  return r.vm.uuid;
}

const running = (): JobInfo[] => jobs.list().filter((j) => j.state === 'running');

describe('the lifecycle service', () => {
  it('creates a VM with its clipboard on unless asked off, and keeps that in its config', async () => {
    const on = await vms.create({ name: 'with-clip', osType: 'linux-other', memoryMiB: 64, cpus: 1, noDisk: true });
    expect(on.vm.config.clipboard).toBeUndefined();
    const off = await vms.create({ name: 'no-clip', osType: 'linux-other', memoryMiB: 64, cpus: 1, noDisk: true, clipboard: false });
    expect(off.vm.config.clipboard).toBe(false);
    expect(vms.info('no-clip').config.clipboard).toBe(false);
  });

  it('creates a VM with shared folders checked as shares.add checks them, and makes nothing when one is refused', async () => {
    const work = fs.mkdtempSync(path.join(dir, 'share-'));
    fs.mkdirSync(path.join(work, 'docs'));
    fs.symlinkSync(path.join(work, 'docs'), path.join(work, 'docs-link'));
    const base = { osType: 'linux-other', memoryMiB: 64, cpus: 1, noDisk: true } as const;
    const r = await vms.create({ ...base, name: 'shared', shares: [{ path: path.join(work, 'docs-link') }, { path: work, tag: 'all', readOnly: true }] });
    const real = fs.realpathSync(path.join(work, 'docs'));
    expect(r.vm.config.shares).toEqual([
      { tag: 'docs', path: real, readOnly: false },
      { tag: 'all', path: fs.realpathSync(work), readOnly: true },
    ]);
    expect(r.warnings.join(' ')).toMatch(/through a symlink\): the share is stored as /);
    const before = fs.readdirSync(path.join(dir, 'machines'));
    await expect(vms.create({ ...base, name: 'bad-share', shares: [{ path: path.join(work, 'missing') }] })).rejects.toThrow(/does not exist/);
    await expect(vms.create({ ...base, name: 'bad-share', shares: [{ path: work }, { path: work }] })).rejects.toThrow(/already shared with 'bad-share'/);
    expect(vms.list().map((v) => v.name)).not.toContain('bad-share');
    expect(fs.readdirSync(path.join(dir, 'machines'))).toEqual(before);
  });

  it('starts a VM through the launcher and moves it through pause, resume, reset and power off', async () => {
    const uuid = await newVm();
    const started = await vms.start('web');
    expect(started.vm.state).toBe('running');
    expect(started.vm.runtime?.pid).toBeGreaterThan(1);
    expect(launcher.launched).toHaveLength(1);
    // The service built a real QEMU command line for it.
    expect(launcher.launched[0]!.argv).toEqual(expect.arrayContaining(['-uuid', uuid]));
    expect((await vms.pause('web')).vm.state).toBe('paused');
    expect((await vms.resume('web')).vm.state).toBe('running');
    expect((await vms.reset('web')).vm.state).toBe('running');
    expect((await vms.powerOff('web')).vm.state).toBe('poweredOff');
    expect(vms.qemuOf(uuid)).toBeNull();
    expect(states).toEqual(['starting', 'running', 'paused', 'running', 'poweredOff']);
    // A second start while the first is under way is refused by the state machine.
    const first = vms.start('web');
    await expect(vms.start('web')).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect((await first).vm.state).toBe('running');
  });

  it('reports a QEMU that exits during start, and leaves the VM powered off', async () => {
    const uuid = await newVm();
    launcher.behaviour = 'dies';
    const err = await vms.start('web').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'QEMU_FAILED' });
    expect((err as Error).message).toMatch(/QEMU exited during start \(code 1\).*Could not open 'disk.qcow2'/s);
    expect(vms.info('web').state).toBe('poweredOff');
    expect(states).toEqual(['starting', 'poweredOff']);
    expect(events.recent(uuid, 10).some((e) => e.kind === 'start-failed')).toBe(true);

    // One that dies just after the guest was let run is watched: the VM is aborted, with QEMU's reason.
    launcher.behaviour = 'dies-later';
    expect((await vms.start('web')).vm.state).toBe('running');
    for (let i = 0; i < 100 && vms.info('web').state === 'running'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(vms.info('web')).toMatchObject({ state: 'aborted', stateReason: expect.stringMatching(/code 1.*could not be started/s) });
    expect(vms.qemuOf(uuid)).toBeNull();
  });

  it('shuts down on the ACPI button, with the wait listed as a job of the VM', async () => {
    const uuid = await newVm();
    await vms.start('web');
    const seen: JobInfo[] = [];
    const down = vms.shutdown('web', 10);
    seen.push(...running());
    const r = await down;
    expect(r.vm.state).toBe('poweredOff');
    expect(seen).toEqual([expect.objectContaining({ kind: 'shutdown', vm: uuid, target: 'web', state: 'running' })]);
    expect(jobs.list().find((j) => j.id === seen[0]!.id)).toMatchObject({ state: 'done', percent: 100 });
  });

  it('refuses a second long operation while the shutdown wait runs (BUSY naming it), and ends the wait with TIMEOUT as the job result', async () => {
    const uuid = await newVm();
    await vms.start('web');
    launcher.behaviour = 'ignores';
    // The guest of this QEMU was started as 'obeys'; start another that ignores the button.
    await vms.powerOff('web');
    await vms.start('web');
    const down = vms.shutdown('web', 1);
    down.catch(() => undefined);
    const [job] = running();
    expect(job).toMatchObject({ kind: 'shutdown', vm: uuid });
    const busy = await vms.saveState('web').catch((e: unknown) => e);
    expect(busy).toMatchObject({ code: 'BUSY' });
    expect((busy as Error).message).toBe(`vm 'web' is busy: a shutdown (job ${job!.id}) is running`);
    await expect(down).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(vms.info('web').state).toBe('running');
    expect(jobs.list().find((j) => j.id === job!.id)).toMatchObject({ state: 'failed', error: { code: 'TIMEOUT' } });
    expect(running()).toEqual([]);
  });

  it('cancels the shutdown wait through vms.cancel: the VM keeps running', async () => {
    await newVm();
    launcher.behaviour = 'ignores';
    await vms.start('web');
    const down = vms.shutdown('web', 30);
    down.catch(() => undefined);
    expect(vms.cancel('web')).toEqual({ cancelled: true });
    await expect(down).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(vms.info('web').state).toBe('running');
    expect(jobs.list().at(-1)).toMatchObject({ kind: 'shutdown', state: 'cancelled' });
    expect(vms.cancel('web')).toEqual({ cancelled: false });
  });
});
