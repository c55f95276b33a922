/**
 * libvirt hosts through the API, against real libvirt daemons in their own namespaces (one
 * reached over real SSH), real QEMU (TCG) guests and a real Nestbox core: adding hosts, their
 * VMs kept live by libvirt's events, the lifecycle, consoles, snapshots, a daemon restart,
 * live migration with copied and with shared storage, and cancelling a migration.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostSummary, JobInfo, MigrateResult, VmSummary } from '../../src/core/api/contract';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { DataLayout } from '../../src/core/store/paths';
import type { LibvirtTestHost } from '../support/libvirt-hosts';
import { defineTestGuest, startTestHosts, until, virsh, type TestHosts } from '../support/host-setup';
import { CLI, cli, expectError, openCore, SerialSession, tempHome, testIso } from './helpers';
import { stopBackgroundDaemon } from '../support/daemon';


/** A guest defined straight through virsh (as another tool would): the test ISO, a serial pty, a screen. */
function defineGuest(h: LibvirtTestHost, name: string, disk: string | null): void {
  defineTestGuest(h, name, testIso(), disk);
}

describe('libvirt hosts through the API', () => {
  let setup: TestHosts;
  let lv: TestHosts['lv'];
  let a: LibvirtTestHost;
  let b: LibvirtTestHost;
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;
  const hostEvents: { name: string; status?: string }[] = [];

  beforeAll(async () => {
    testIso();
    setup = await startTestHosts({ count: 2 });
    lv = setup.lv;
    a = lv.hosts[0]!;
    b = lv.hosts[1]!;
    if (!b.sshUri) throw new Error('the second test host was expected to run sshd');
    home = tempHome();
    ({ hosted, client } = await openCore(home));
    client.on('host.changed', (e) => hostEvents.push(e));
    virsh(a.socketUri, 'vol-create-as', 'default', 'g1.qcow2', '64M', '--format', 'qcow2');
    defineGuest(a, 'g1', `${a.hostImagesDir}/g1.qcow2`);
    defineGuest(a, 'g2', null);
  });

  afterAll(async () => {
    await hosted?.close();
    if (home) await stopBackgroundDaemon(home).catch(() => undefined);
    await setup?.stop(['g1', 'g2']);
    if (home) fs.rmSync(home, { recursive: true, force: true });
  }, 120_000);

  it('refuses bad hosts with clear errors and stores nothing', async () => {
    await expectError(client.call('hosts.add', { name: 'x;rm -rf ~', uri: a.socketUri }), 'INVALID_ARGUMENT', /not a valid host name/);
    await expectError(client.call('hosts.add', { name: '<lab/>', uri: a.socketUri }), 'INVALID_ARGUMENT', /not a valid host name/);
    await expectError(client.call('hosts.add', { name: 'local', uri: a.socketUri }), 'INVALID_ARGUMENT', /reserved/);
    await expectError(client.call('hosts.add', { name: 'lab', uri: 'http://example.org/' }), 'INVALID_ARGUMENT', /not supported|not a libvirt URI/);
    await expectError(client.call('hosts.add', { name: 'lab', uri: 'qemu+ssh://me:secret@server/system' }), 'INVALID_ARGUMENT', /password/);
    await expectError(client.call('hosts.add', { name: 'lab', uri: 'qemu+ssh://-oProxyCommand=x/system' }), 'INVALID_ARGUMENT', /not a valid host name/);
    await expectError(client.call('hosts.add', { name: 'lab', uri: 'qemu+ext:///system?command=/bin/sh' }), 'INVALID_ARGUMENT', /not supported/);
    await expectError(client.call('hosts.add', { name: 'lab', uri: 'qemu+ssh://server/system?netcat=rm' }), 'INVALID_ARGUMENT', /not allowed/);
    await expectError(client.call('hosts.add', { name: 'lab', uri: 'qemu:///nowhere' }), 'INVALID_ARGUMENT', /\/system/);
    const t0 = Date.now();
    await expectError(client.call('hosts.add', { name: 'gone', uri: `qemu+unix:///system?socket=${lv.sharedDir}/no-such-sock` }), 'HOST_UNREACHABLE', /gone/);
    await expectError(client.call('hosts.add', { name: 'badkey', uri: b.sshUriWithKey!(lv.wrongKey) }), 'HOST_UNREACHABLE');
    expect(Date.now() - t0).toBeLessThan(90_000); // a liveness bound: unreachable hosts must not hang the call
    expect(await client.call('hosts.list', {})).toEqual([]);
  });

  it('adds a host by its socket and one over real SSH, with versions, CPUs and memory', async () => {
    // The parameters of test/support/host-setup.ts: peers by socket path, data over migrateAddr.
    const ha = await client.call('hosts.add', setup.addParams(0));
    const hb = await client.call('hosts.add', setup.addParams(1, { ssh: true }));
    expect(hb.uri).toBe(b.sshUri);
    for (const [h, t] of [
      [ha, a],
      [hb, b],
    ] as const) {
      expect(h.status).toBe('connected');
      expect(h.libvirtVersion).toMatch(/^\d+\.\d+/);
      expect(h.hypervisorVersion).toMatch(/^\d+\.\d+/); // "7.2.0", not "QEMU 7.2.0"
      expect(h.cpus).toBeGreaterThan(0);
      expect(h.memoryMiB).toBeGreaterThan(0);
      expect(h.hostname).toBe(t.name);
    }
    await expectError(client.call('hosts.add', { name: 'ALPHA', uri: a.socketUri }), 'ALREADY_EXISTS');
    const list = await client.call('hosts.list', {});
    expect(list.map((h: HostSummary) => [h.name, h.status])).toEqual([
      ['alpha', 'connected'],
      ['beta', 'connected'],
    ]);
    expect(hostEvents.some((e) => e.name === 'alpha' && e.status === 'connected')).toBe(true);

    // The SSH host's virsh calls and event stream share one SSH connection: a master runs on
    // the control socket in the core's runtime folder (the socket host needs none).
    const mux = new DataLayout(home).sshMuxDir;
    const sockets = fs.readdirSync(mux).filter((n) => n.endsWith('.cm'));
    expect(sockets).toHaveLength(1);
    const check = spawnSync('ssh', ['-O', 'check', '-o', `ControlPath=${path.join(mux, sockets[0]!)}`, 'beta'], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    expect(check.stderr).toMatch(/Master running/);
    expect((fs.statSync(mux).mode & 0o777).toString(8)).toBe('700');
    // What is stored and shown is the URI as given, not the wrapper virsh runs.
    expect((await client.call('hosts.list', {})).find((h: HostSummary) => h.name === 'beta')!.uri).toBe(b.sshUri);
  });

  it('lists the hosts’ VMs beside this computer’s, local shape unchanged, and by host', async () => {
    const all = await client.call('vms.list', {});
    const g1 = all.find((v: VmSummary) => v.host === 'alpha' && v.name === 'g1');
    expect(g1).toMatchObject({ name: 'g1', host: 'alpha', state: 'poweredOff', memoryMiB: 160, cpus: 1 });
    expect(g1!.unreachable).toBeUndefined();
    expect((await client.call('vms.list', { host: 'alpha' })).map((v: VmSummary) => v.name).sort()).toEqual(['g1', 'g2']);
    expect(await client.call('vms.list', { host: 'beta' })).toEqual([]);
    expect(await client.call('vms.list', { host: 'local' })).toEqual([]);
    const info = await client.call('vms.info', { ref: 'alpha:g1' });
    expect(info.host).toBe('alpha');
    expect(info.domain?.disks.map((d) => d.device).sort()).toEqual(['cdrom', 'disk']);
    expect(info.config.disks[0]!.file).toBe(`${a.hostImagesDir}/g1.qcow2`);
    expect(info.config.serial.enabled).toBe(true);
    expect(info.allowed).toContain('start');
    await expectError(client.call('vms.info', { ref: 'nohost:g1' }), 'NOT_FOUND', /no host named 'nohost'/);
    await expectError(client.call('vms.info', { ref: 'alpha:nope' }), 'NOT_FOUND', /on host 'alpha'/);
    await expectError(client.call('vms.modify', { ref: 'alpha:g1', changes: { memoryMiB: 256 } }), 'UNSUPPORTED', /alpha/);
  });

  it('follows changes made outside Nestbox through libvirt’s events', async () => {
    defineGuest(a, 'outsider', null);
    await until('the new domain to be listed', async () => (await client.call('vms.list', { host: 'alpha' })).find((v: VmSummary) => v.name === 'outsider'), 15_000);
    virsh(a.socketUri, 'undefine', 'outsider');
    await until('the domain to go', async () => !(await client.call('vms.list', { host: 'alpha' })).some((v: VmSummary) => v.name === 'outsider'), 15_000);
  });

  it('runs the lifecycle: start, serial console, screenshot, pause, resume, snapshots, power off', async () => {
    const states: string[] = [];
    client.on('vm.state', (e) => {
      if (e.name === 'g1') states.push(e.state);
    });
    const r = await client.call('vms.start', { ref: 'alpha:g1' });
    expect(r.vm.state).toBe('running');
    const serial = await SerialSession.open(client, 'alpha:g1');
    await serial.run('echo HELLO-$((6*7))', /HELLO-42/, 120_000);
    await serial.close();
    const shot = await client.call('vms.screenshot', { ref: 'alpha:g1' });
    expect(shot.width).toBeGreaterThan(0);
    expect(Buffer.from(shot.pngBase64, 'base64').subarray(1, 4).toString()).toBe('PNG');
    expect((await client.call('vms.pause', { ref: 'alpha:g1' })).vm.state).toBe('paused');
    // libvirt's own state, not just Nestbox's word for it
    expect(virsh(a.socketUri, 'domstate', 'g1').trim()).toBe('paused');
    expect((await client.call('vms.resume', { ref: 'alpha:g1' })).vm.state).toBe('running');
    const snap = await client.call('snapshots.take', { ref: 'alpha:g1', name: 'one', description: 'with RAM' });
    expect(snap).toMatchObject({ name: 'one', description: 'with RAM', withRam: true });
    const list = await client.call('snapshots.list', { ref: 'alpha:g1' });
    expect(list.snapshots.map((s) => s.name)).toEqual(['one']);
    expect(list.current).toBe('one');
    await client.call('snapshots.restore', { ref: 'alpha:g1', id: 'one' });
    expect((await client.call('snapshots.delete', { ref: 'alpha:g1', id: 'one' })).snapshots).toEqual([]);
    // a change made outside Nestbox shows up by the events alone
    virsh(a.socketUri, 'suspend', 'g1');
    await until('paused from outside', async () => (await client.call('vms.list', { host: 'alpha' })).find((v: VmSummary) => v.name === 'g1' && v.state === 'paused'), 15_000);
    virsh(a.socketUri, 'resume', 'g1');
    await until('running again', async () => (await client.call('vms.list', { host: 'alpha' })).find((v: VmSummary) => v.name === 'g1' && v.state === 'running'), 15_000);
    await expectError(client.call('vms.start', { ref: 'alpha:g1' }), 'INVALID_STATE', /alpha:g1/);
    expect(states).toContain('running');
    expect(states).toContain('paused');
  });

  it('shows a host whose daemon died as unreachable, its VMs still listed, and reconnects by itself', async () => {
    await a.killDaemon();
    const down = await until('alpha unreachable', async () => (await client.call('hosts.list', {})).find((h: HostSummary) => h.name === 'alpha' && h.status === 'unreachable'), 30_000);
    expect(down.reason).toBeTruthy();
    const g1 = (await client.call('vms.list', {})).find((v: VmSummary) => v.host === 'alpha' && v.name === 'g1');
    expect(g1?.unreachable).toBeTruthy();
    expect(g1?.state).toBe('running');
    await expectError(client.call('vms.pause', { ref: 'alpha:g1' }), 'HOST_UNREACHABLE', /alpha/);
    await a.startDaemon();
    await until('alpha back', async () => (await client.call('hosts.list', {})).find((h: HostSummary) => h.name === 'alpha' && h.status === 'connected'), 60_000);
    const back = (await client.call('vms.list', { host: 'alpha' })).find((v: VmSummary) => v.name === 'g1');
    expect(back?.unreachable).toBeUndefined();
    expect(back?.state).toBe('running');
  });

  /** Starts a counter in the guest that writes to its serial port every 200 ms; returns the last value seen. */
  async function startCounter(ref: string): Promise<number> {
    const s = await SerialSession.open(client, ref);
    await s.run('(i=0; while :; do echo TICK-$i; i=$((i+1)); sleep 0.2; done) &', /TICK-3\b/, 60_000);
    const n = lastTick(s.output);
    await s.close();
    return n;
  }

  function lastTick(text: string): number {
    const all = [...text.matchAll(/TICK-(\d+)/g)].map((m) => Number(m[1]));
    return all.length ? Math.max(...all) : -1;
  }

  async function waitJob(id: string): Promise<JobInfo> {
    return client.call('jobs.wait', { id });
  }

  it('migrates a running VM live with its storage copied: the guest keeps counting, libvirt’s downtime is reported', async () => {
    const before = await startCounter('alpha:g1');
    const progress: JobInfo[] = [];
    client.on('job.progress', (j) => {
      if (j.kind === 'migrate') progress.push(j);
    });
    // Capped so the migration lasts several of the once-a-second progress reads: uncapped, the
    // mostly empty guest can move before the first read (seen with two test files running).
    const job = await client.call('vms.migrate', { ref: 'alpha:g1', to: 'beta', copyStorage: true, maxDowntimeMs: 500, bandwidthMiBps: 16 });
    expect(job.kind).toBe('migrate');
    const done = await waitJob(job.id);
    expect(done.error).toBeUndefined();
    expect(done.state).toBe('done');
    const res = done.result as MigrateResult;
    expect(res).toMatchObject({ vm: 'g1', from: 'alpha', to: 'beta', live: true });
    expect(res.elapsedMs).toBeGreaterThan(0);
    expect(typeof res.downtimeMs).toBe('number');
    expect(progress.some((p) => p.migration && p.migration.dataTotal > 0)).toBe(true);
    // The destination runs it, the source no longer does (libvirt says so, and so does Nestbox).
    expect(virsh(b.socketUri, 'domstate', 'g1').trim()).toBe('running');
    expect(virsh(a.socketUri, 'list', '--all', '--name')).not.toMatch(/^g1$/m);
    await until('g1 listed on beta', async () => (await client.call('vms.list', { host: 'beta' })).find((v: VmSummary) => v.name === 'g1' && v.state === 'running'));
    expect((await client.call('vms.list', { host: 'alpha' })).some((v: VmSummary) => v.name === 'g1')).toBe(false);
    const s = await SerialSession.open(client, 'beta:g1');
    await until('the counter to go on past where it was', () => lastTick(s.output) > before + 5 && lastTick(s.output), 60_000);
    const up = await s.run('echo UP-$(cut -d. -f1 /proc/uptime)-END', /UP-\d+-END/, 30_000);
    await s.close();
    const uptime = Number(/UP-(\d+)-END/.exec(up)?.[1]);
    expect(uptime).toBeGreaterThan(before * 0.2);
  });

  it('migrates live with shared storage (a read-only ISO both hosts see), back and forth', async () => {
    await client.call('vms.start', { ref: 'alpha:g2' });
    const before = await startCounter('alpha:g2');
    const done = await waitJob((await client.call('vms.migrate', { ref: 'alpha:g2', to: 'beta' })).id);
    expect(done.error).toBeUndefined();
    expect((done.result as MigrateResult).downtimeMs).not.toBeNull();
    expect(virsh(b.socketUri, 'domstate', 'g2').trim()).toBe('running');
    const s = await SerialSession.open(client, 'beta:g2');
    await until('g2 counting on beta', () => lastTick(s.output) > before && lastTick(s.output), 60_000);
    await s.close();
  });

  it('cancels a migration: the VM keeps running on the source, nothing on the destination', async () => {
    // 1 MiB/s: a 160 MiB guest takes minutes, so the cancel lands in the middle.
    const job = await client.call('vms.migrate', { ref: 'beta:g2', to: 'alpha', bandwidthMiBps: 1 });
    await until('data flowing', async () => {
      const j = (await client.call('jobs.list', {})).find((x: JobInfo) => x.id === job.id);
      return j?.migration && j.migration.dataProcessed > 0;
    }, 60_000);
    await expectError(client.call('hosts.remove', { name: 'beta' }), 'BUSY');
    const c = await client.call('vms.cancel', { ref: 'beta:g2' });
    expect(c.cancelled).toBe(true);
    const end = await waitJob(job.id);
    expect(end.state).toBe('cancelled');
    expect(virsh(b.socketUri, 'domstate', 'g2').trim()).toBe('running');
    expect(virsh(a.socketUri, 'list', '--all', '--name')).not.toMatch(/^g2$/m);
    const s = await SerialSession.open(client, 'beta:g2');
    await s.run('echo STILL-$((1+1))', /STILL-2/, 30_000);
    await s.close();
  });

  it('refuses migrations that cannot be', async () => {
    await expectError(client.call('vms.migrate', { ref: 'beta:g2', to: 'beta' }), 'INVALID_ARGUMENT', /already on host 'beta'/);
    await expectError(client.call('vms.migrate', { ref: 'beta:g2', to: 'nohost' }), 'NOT_FOUND', /nohost/);
    await expectError(client.call('vms.migrate', { ref: 'beta:g2', to: 'alpha', maxDowntimeMs: -5 }), 'INVALID_ARGUMENT', /maxDowntimeMs/);
    await expectError(client.call('vms.migrate', { ref: 'beta:g2', to: 'alpha', live: false }), 'INVALID_STATE', /offline/);
  });

  it('works the same from the CLI: host list/info, HOST:VM verbs, list --host, migrate with progress, serial, screenshot, a snapshot refused with libvirt\'s reason', async () => {
    await hosted.close();
    const list = await cli(home, ['host', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as HostSummary[]).map((h) => h.name)).toEqual(['alpha', 'beta']);
    const info = await cli(home, ['host', 'info', 'beta']);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/connected/);
    expect(info.stdout).toMatch(/g2/);
    const vms = await cli(home, ['list', '--host', 'beta', '--json']);
    expect(vms.code, vms.stderr).toBe(0);
    expect((JSON.parse(vms.stdout) as VmSummary[]).map((v) => v.name).sort()).toEqual(['g1', 'g2']);
    const pause = await cli(home, ['pause', 'beta:g2']);
    expect(pause.code, pause.stderr).toBe(0);
    expect(virsh(b.socketUri, 'domstate', 'g2').trim()).toBe('paused');
    expect((await cli(home, ['resume', 'beta:g2'])).code).toBe(0);
    const mig = await cli(home, ['migrate', 'beta:g2', '--to', 'alpha', '--max-downtime', '400']);
    expect(mig.code, mig.stderr).toBe(0);
    expect(mig.stdout + mig.stderr).toMatch(/downtime/i);
    expect(virsh(a.socketUri, 'domstate', 'g2').trim()).toBe('running');

    // The consoles and snapshots of a host VM through the CLI, as for a local one.
    const serial = spawn(process.execPath, [CLI, 'serial', 'alpha:g2'], { env: { ...process.env, NESTBOX_HOME: home }, stdio: ['pipe', 'pipe', 'pipe'] });
    let serialOut = '';
    serial.stdout.on('data', (d: Buffer) => (serialOut += d.toString()));
    serial.stderr.on('data', (d: Buffer) => (serialOut += d.toString()));
    try {
      serial.stdin.write('\x15echo CLI-SERIAL-$((6*7))\n');
      await until('the host VM\'s serial console to answer through the CLI', () => /CLI-SERIAL-42/.test(serialOut), 60_000);
    } finally {
      serial.kill('SIGTERM');
    }
    const png = `${home}/g2.png`;
    const shot = await cli(home, ['screenshot', 'alpha:g2', png]);
    expect(shot.code, shot.stderr).toBe(0);
    expect(fs.readFileSync(png).subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    // g2 boots from the read-only ISO as its only disk (the shared-storage case): libvirt cannot
    // snapshot it with memory, and the CLI says why, naming the host, and makes nothing.
    const take = await cli(home, ['snapshot', 'alpha:g2', 'take', 'cli1']);
    expect(take.code).not.toBe(0);
    expect(take.stderr).toMatch(/libvirt host .*snapshot g2: .*all disks to be selected/);
    expect(virsh(a.socketUri, 'snapshot-list', 'g2', '--name')).not.toMatch(/cli1/);
    const snaps = await cli(home, ['snapshot', 'alpha:g2', 'list']);
    expect(snaps.code, snaps.stderr).toBe(0);

    const bad = await cli(home, ['host', 'add', 'x;y', a.socketUri]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/not a valid host name/);
    const off = await cli(home, ['poweroff', 'alpha:g2']);
    expect(off.code, off.stderr).toBe(0);
    const rm = await cli(home, ['host', 'remove', 'alpha']);
    expect(rm.code, rm.stderr).toBe(0);
    // forgetting a host touches nothing on it
    expect(virsh(a.socketUri, 'list', '--all', '--name')).toMatch(/^g2$/m);
  });
});
