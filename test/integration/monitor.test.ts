/**
 * Monitoring and resource controls against the test guest: samples pushed as events only to
 * subscribers, CPU held at its limit, shares deciding who wins a contended CPU, a balloon
 * target the guest sees, disk and network counters that follow what the guest does, and the
 * per-minute history from the CLI.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmStatsSample } from '../../src/core/api/contract';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { CLI, cleanupHome, cli, openCore, SerialSession, tempHome, testIso, waitForFile } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Collects `vm.stats` events per VM. */
class Samples {
  readonly byVm = new Map<string, VmStatsSample[]>();
  constructor(client: RpcClient) {
    client.on('vm.stats', (s) => {
      const list = this.byVm.get(s.name) ?? [];
      list.push(s);
      this.byVm.set(s.name, list);
    });
  }
  of(name: string): VmStatsSample[] {
    return this.byVm.get(name) ?? [];
  }
  /** Waits until `n` more samples of `name` arrived; returns them. */
  async next(name: string, n: number, timeoutMs = 120_000): Promise<VmStatsSample[]> {
    const start = this.of(name).length;
    const deadline = Date.now() + timeoutMs;
    while (this.of(name).length < start + n) {
      if (Date.now() > deadline) throw new Error(`only ${this.of(name).length - start} of ${n} samples of ${name} arrived`);
      await sleep(200);
    }
    return this.of(name).slice(start, start + n);
  }
  async until(name: string, pred: (s: VmStatsSample) => boolean, timeoutMs = 120_000): Promise<VmStatsSample> {
    const deadline = Date.now() + timeoutMs;
    let seen = this.of(name).length;
    for (;;) {
      const list = this.of(name);
      for (; seen < list.length; seen++) if (pred(list[seen]!)) return list[seen]!;
      if (Date.now() > deadline) throw new Error(`no sample of ${name} matched; last: ${JSON.stringify(list[list.length - 1])}`);
      await sleep(200);
    }
  }
}

const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('monitoring and resource controls', () => {
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;
  let samples: Samples;

  beforeAll(async () => {
    home = tempHome();
    ({ hosted, client } = await openCore(home));
    samples = new Samples(client);
  });
  afterAll(async () => {
    for (const n of ['mon-a', 'mon-hi', 'mon-lo']) await client.call('vms.powerOff', { ref: n }).catch(() => undefined);
    await hosted.close();
    await cleanupHome(home);
  });

  describe('one VM with a CPU limit, a balloon, a disk and NAT', () => {
    const NAME = 'mon-a';
    let serial: SerialSession;
    let server: http.Server;
    let port = 0;
    const BLOB = Buffer.alloc(3 * 1024 * 1024, 7);

    beforeAll(async () => {
      await client.call('vms.create', { name: NAME, osType: 'linux-other', memoryMiB: 256, cpus: 1, diskSize: '64M', iso: testIso() });
      await client.call('vms.modify', { ref: NAME, changes: { resources: { balloon: true, cpuLimitPct: 25, memoryMaxMiB: 512 } } });
      await client.call('stats.subscribe', { ref: NAME });
      const r = await client.call('vms.start', { ref: NAME });
      await waitForFile(r.vm.serialLog, /NESTBOX-NET-UP/, 180_000);
      serial = await SerialSession.open(client, NAME);
      await serial.run('echo shell-$((40+2))', /shell-42/);
      server = http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BLOB.length });
        res.end(BLOB);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      port = (server.address() as net.AddressInfo).port;
    }, 240_000);
    afterAll(async () => {
      await serial?.close();
      server?.close();
    });

    it('pushes samples as events to subscribers only', async () => {
      const other = hosted.client();
      let foreign = 0;
      other.on('vm.stats', () => foreign++);
      const got = await samples.next(NAME, 3);
      expect(foreign).toBe(0);
      const s = got[got.length - 1]!;
      expect(s.cpu.hostCpus).toBeGreaterThan(0);
      expect(s.cpu.vcpus).toHaveLength(1);
      expect(s.cpu.vcpus[0]!.threadId).toBeGreaterThan(0);
      expect(s.memory.assignedBytes).toBe(256 * 1024 * 1024);
      expect(s.memory.rssBytes).toBeGreaterThan(0);
      expect(s.memory.balloonBytes).toBe(256 * 1024 * 1024);
      expect(s.disks.map((d) => d.id)).toContain('disk0');
      expect(s.nics).toMatchObject([{ id: 'net0', available: true }]);
      // A client that subscribes to everything also gets host totals.
      let hostStats = 0;
      other.on('host.stats', () => hostStats++);
      await other.call('stats.subscribe', {});
      await samples.next(NAME, 2);
      expect(foreign).toBeGreaterThan(0);
      expect(hostStats).toBeGreaterThan(0);
      other.close();
      const info = await client.call('vms.info', { ref: NAME });
      expect(info.resourceStatus?.find((x) => x.setting === 'cpuLimitPct')).toMatchObject({ enforced: true });
      // The memory ceiling is in the VM's cgroup, and QEMU is in it.
      const mem = info.resourceStatus?.find((x) => x.setting === 'memoryMaxMiB');
      expect(mem).toMatchObject({ enforced: true });
      const dir = /\((\/sys\/fs\/cgroup\/[^)]+)\)/.exec(mem!.detail)![1]!;
      const limitFile = ['memory.max', 'memory.limit_in_bytes'].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f))!;
      expect(fs.readFileSync(limitFile, 'utf8').trim()).toBe(String(512 * 1024 * 1024));
      expect(fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(info.runtime!.pid));
    });

    it('reports the guest’s own memory figures through the balloon statistics', async () => {
      const s = await samples.until(NAME, (x) => x.memory.guest !== null);
      expect(s.memory.guest!.totalBytes).toBeGreaterThan(64 * 1024 * 1024);
      expect(s.memory.guest!.totalBytes).toBeLessThanOrEqual(256 * 1024 * 1024);
    });

    it('a busy-looping guest is held at its 25 % limit', async () => {
      const idle = (await samples.next(NAME, 5)).map((s) => s.cpu.hostPct);
      await serial.run('while :; do :; done & echo spin-$((1+1))', /spin-2/);
      await samples.next(NAME, 2); // the loop starts
      const busy = (await samples.next(NAME, 8)).map((s) => s.cpu.hostPct);
      // The loop raises the VM's CPU; the cgroup quota keeps every second at (or under) the limit.
      // How close to the limit it gets depends on what else the host runs: on an idle host it sits at 25 %.
      expect(avg(busy)).toBeGreaterThan(avg(idle));
      expect(Math.max(...busy)).toBeLessThanOrEqual(25 * 1.15);
      console.log(`cpu limit 25 %: idle ${avg(idle).toFixed(1)} %, busy ${avg(busy).toFixed(1)} % (max ${Math.max(...busy).toFixed(1)} %)`);
      await serial.run('kill %1; echo stopped-$((2+2))', /stopped-4/);
    });

    it('a balloon target set at runtime is what the guest sees', async () => {
      const before = await serial.run('grep MemTotal /proc/meminfo', /MemTotal:\s+(\d+) kB/);
      const totalBefore = Number(/MemTotal:\s+(\d+) kB/.exec(before)![1]);
      await client.call('vms.balloon', { ref: NAME, targetMiB: 160 });
      const s = await samples.until(NAME, (x) => x.memory.balloonBytes === 160 * 1024 * 1024);
      expect(s.memory.balloonBytes).toBe(160 * 1024 * 1024);
      let totalAfter = totalBefore;
      for (let i = 0; i < 30 && totalAfter > totalBefore - 64 * 1024; i++) {
        const t = await serial.run('grep MemTotal /proc/meminfo', /MemTotal:\s+(\d+) kB/);
        totalAfter = Number([...t.matchAll(/MemTotal:\s+(\d+) kB/g)].pop()![1]);
        if (totalAfter > totalBefore - 64 * 1024) await sleep(1000);
      }
      // 96 MiB went into the balloon: the guest has at least 64 MiB less.
      expect(totalAfter).toBeLessThanOrEqual(totalBefore - 64 * 1024);
      const cliOut = await cli(home, ['balloon', NAME, '256M']);
      expect(cliOut.stderr).toBe('');
      expect(cliOut.stdout).toMatch(/leaves the guest 256 MiB/);
      await samples.until(NAME, (x) => x.memory.balloonBytes === 256 * 1024 * 1024);
    });

    it('disk counters grow when the guest writes to its disk', async () => {
      const start = (await samples.next(NAME, 1))[0]!.disks.find((d) => d.id === 'disk0')!;
      await serial.run('dd if=/dev/zero of=/dev/vda bs=64k count=256 conv=fsync 2>&1; echo dd-$((3+3))', /dd-6/, 120_000);
      const after = await samples.until(NAME, (x) => (x.disks.find((d) => d.id === 'disk0')?.wrBytes ?? 0) >= start.wrBytes + 16 * 1024 * 1024);
      const d = after.disks.find((x) => x.id === 'disk0')!;
      expect(d.wrOps).toBeGreaterThan(start.wrOps);
    });

    it('network counters grow when the guest downloads through NAT', async () => {
      const start = (await samples.next(NAME, 1))[0]!.nics[0]!;
      await serial.run(`wget -q -O /dev/null http://10.0.2.2:${port}/blob; echo got-$((4+4))`, /got-8/, 120_000);
      const after = await samples.until(NAME, (x) => x.nics[0]!.rxBytes >= start.rxBytes + BLOB.length);
      const n = after.nics[0]!;
      expect(n.rxPackets).toBeGreaterThan(start.rxPackets);
      // The guest's requests and ACKs go the other way.
      expect(n.txBytes).toBeGreaterThan(start.txBytes);
      expect(n.txPackets).toBeGreaterThan(start.txPackets);
    });

    it('prints live samples with nestbox stats --follow', async () => {
      const child = spawn(process.execPath, [CLI, 'stats', NAME, '--follow', '--json'], { env: { ...process.env, NESTBOX_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      const deadline = Date.now() + 60_000;
      while (text.split('\n').filter(Boolean).length < 2 && Date.now() < deadline) await sleep(200);
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
      const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as VmStatsSample);
      expect(lines.length).toBeGreaterThanOrEqual(2);
      expect(lines.every((l) => l.name === NAME && l.cpu.hostCpus > 0)).toBe(true);
      expect(lines[1]!.ts).toBeGreaterThan(lines[0]!.ts);
    });

    it('a new core re-attaches and goes on sampling, counters included', async () => {
      await serial.close();
      await hosted.close();
      ({ hosted, client } = await openCore(home));
      samples = new Samples(client);
      await client.call('stats.subscribe', { ref: NAME });
      const s = (await samples.next(NAME, 2))[1]!;
      expect(s.nics).toMatchObject([{ id: 'net0', available: true }]);
      expect(s.disks.map((d) => d.id)).toContain('disk0');
      expect(s.cpu.vcpus).toHaveLength(1);
      expect(s.memory.balloonBytes).toBe(256 * 1024 * 1024);
      const info = await client.call('vms.info', { ref: NAME });
      expect(info.resourceStatus?.find((x) => x.setting === 'cpuLimitPct')).toMatchObject({ enforced: true });
    });

    it('keeps per-minute history, shown by the CLI', async () => {
      // Powering off closes the running minute into the history.
      await client.call('vms.powerOff', { ref: NAME });
      const r = await cli(home, ['stats', NAME, '--json', '--since', '1h']);
      expect(r.stderr).toBe('');
      const rows = JSON.parse(r.stdout) as { samples: number; cpuMax: number; diskWrBytes: number; netRxBytes: number | null }[];
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.reduce((a, m) => a + m.samples, 0)).toBeGreaterThan(10);
      expect(rows.reduce((a, m) => a + m.diskWrBytes, 0)).toBeGreaterThanOrEqual(16 * 1024 * 1024);
      expect(rows.reduce((a, m) => a + (m.netRxBytes ?? 0), 0)).toBeGreaterThanOrEqual(BLOB.length);
      const text = await cli(home, ['stats', NAME, '--since', '1h']);
      expect(text.stdout).toMatch(/MINUTE\s+CPU AVG/);
      const bad = await cli(home, ['stats', NAME, '--since', 'yesterday']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/duration such as 10m/);
    });
  });

  it('under contention for one host CPU, the VM with fewer shares gets less CPU', async () => {
    for (const [name, shares] of [['mon-hi', 1000], ['mon-lo', 50]] as const) {
      await client.call('vms.create', { name, osType: 'linux-other', memoryMiB: 160, cpus: 1, noDisk: true, nic: 'none', iso: testIso() });
      const m = await cli(home, ['modify', name, '--cpu-shares', String(shares), '--pin', '0']);
      expect(m.stderr).toBe('');
      await client.call('stats.subscribe', { ref: name });
    }
    const sessions: SerialSession[] = [];
    for (const name of ['mon-hi', 'mon-lo']) {
      const r = await client.call('vms.start', { ref: name });
      await waitForFile(r.vm.serialLog, /NESTBOX-GUEST-READY/, 180_000);
      const s = await SerialSession.open(client, name);
      await s.run('echo up-$((5+5))', /up-10/);
      sessions.push(s);
    }
    for (const s of sessions) await s.run('while :; do :; done & echo spin-$((6+6))', /spin-12/);
    await Promise.all([samples.next('mon-hi', 3), samples.next('mon-lo', 3)]);
    const [hi, lo] = await Promise.all([samples.next('mon-hi', 8), samples.next('mon-lo', 8)]);
    const hiCpu = avg(hi.map((s) => s.cpu.hostPct));
    const loCpu = avg(lo.map((s) => s.cpu.hostPct));
    console.log(`contention on CPU 0: shares 1000 → ${hiCpu.toFixed(1)} %, shares 50 → ${loCpu.toFixed(1)} %`);
    expect(hiCpu).toBeGreaterThan(loCpu);
    const info = await client.call('vms.info', { ref: 'mon-lo' });
    expect(info.resourceStatus?.find((x) => x.setting === 'pinCpus')).toMatchObject({ enforced: true });
    expect(info.resourceStatus?.find((x) => x.setting === 'cpuShares')).toMatchObject({ enforced: true });
    // Shares change while the VM runs (no restart): now the other one wins.
    await cli(home, ['modify', 'mon-lo', '--cpu-shares', '5000']);
    await cli(home, ['modify', 'mon-hi', '--cpu-shares', '10']);
    await Promise.all([samples.next('mon-hi', 3), samples.next('mon-lo', 3)]);
    const [hi2, lo2] = await Promise.all([samples.next('mon-hi', 8), samples.next('mon-lo', 8)]);
    expect(avg(lo2.map((s) => s.cpu.hostPct))).toBeGreaterThan(avg(hi2.map((s) => s.cpu.hostPct)));
    for (const s of sessions) await s.close();
    // The cgroups go away with the VMs.
    const dirs = (await client.call('vms.info', { ref: 'mon-lo' })).resourceStatus!.map((x) => /\((\/sys\/fs\/cgroup\/[^)]+)\)/.exec(x.detail)?.[1]).filter((d): d is string => !!d);
    expect(dirs.length).toBeGreaterThan(0);
    for (const n of ['mon-hi', 'mon-lo']) await client.call('vms.powerOff', { ref: n });
    for (let i = 0; i < 40 && dirs.some((d) => fs.existsSync(d)); i++) await sleep(250);
    expect(dirs.filter((d) => fs.existsSync(d))).toEqual([]);
  }, 400_000);
});
