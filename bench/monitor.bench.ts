/**
 * What monitoring costs. (1) A guest's download speed through NAT in a Nestbox VM that is
 * monitored (its adapter counted, as a new VM's is, the sampler running every second, stats
 * subscribed) against the same VM definition in plain QEMU: the peer's argv comes from the same
 * `buildQemuArgv` and the same config (read back from the core), started by hand and watched
 * by nobody. Downloads alternate sides, each side first in every other round. (2) The core's
 * own CPU time while it samples one running VM, in 2 s windows, against the same daemon with
 * no VM running (windows before the VM starts and after it is powered off).
 * `BENCH_PEER_FILTER=1` adds to the peer the filter-mirror pair a `mirrorCounters` adapter
 * gets, read by this process (the cost of mirroring alone; `natargv` measures it too).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { parseVmConfig } from '../src/core/domain/config';
import { buildQemuArgv, nicMirrorSocket, RUNTIME_FILES } from '../src/core/qemu/argv';
import { ensurePrivateDir } from '../src/core/store/paths';
import { printTable, row, sleep, startDaemon, tempHome, testIso, waitFor, writeResults } from './lib';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 6);
const CPU_WINDOWS = Number(process.env['BENCH_CPU_WINDOWS'] ?? 5);
const CPU_WINDOW_MS = 2000;
const PEER_FILTER = process.env['BENCH_PEER_FILTER'] === '1';
const BLOB_MIB = Number(process.env['BENCH_BLOB_MIB'] ?? 16);

/** A shell on a guest's serial unix socket: sends a line, waits for a marker. */
class Shell {
  private text = '';
  private constructor(private readonly s: net.Socket) {
    s.on('data', (d: Buffer) => (this.text += d.toString('utf8')));
  }
  static async open(sock: string): Promise<Shell> {
    const s = net.createConnection(sock);
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('error', reject);
    });
    return new Shell(s);
  }
  async run(cmd: string, marker: RegExp, timeoutMs = 120_000): Promise<void> {
    const start = this.text.length;
    const deadline = Date.now() + timeoutMs;
    this.s.write(`\x15${cmd}\n`);
    let resend = Date.now() + 4000;
    while (!marker.test(this.text.slice(start))) {
      if (Date.now() > deadline) throw new Error(`timed out on '${cmd}'`);
      if (Date.now() > resend && this.text.length === start) {
        this.s.write(`\x15${cmd}\n`);
        resend = Date.now() + 4000;
      }
      await sleep(20);
    }
  }
  close(): void {
    this.s.destroy();
  }
}

/**
 * CPU time of a process in ns, summed over its threads from /proc/PID/task/TID/schedstat (the
 * scheduler's own accounting; /proc/PID/stat counts in 10 ms ticks, too coarse for a core
 * that sleeps most of a 2 s window). Threads that ended within the window are not counted.
 */
function cpuNsOf(pid: number): number {
  let ns = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns;
}

async function main(): Promise<void> {
  const loadStart = os.loadavg();
  const home = tempHome();
  const iso = testIso();
  const blob = Buffer.alloc(BLOB_MIB * 1024 * 1024, 0x5a);
  const served: number[] = [];
  let pendingStart = 0;
  const server = http.createServer((_req, res) => {
    pendingStart = performance.now();
    res.writeHead(200, { 'content-length': blob.length });
    res.end(blob, () => served.push(performance.now() - pendingStart));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;

  const d = await startDaemon(home);
  let plain: ChildProcess | null = null;
  try {
    // The daemon's CPU with no VM running (in % of one CPU per window).
    const cpuWindows = async (): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 0; i < CPU_WINDOWS; i++) {
        const t0 = cpuNsOf(d.child.pid!);
        const w0 = performance.now();
        await sleep(CPU_WINDOW_MS);
        out.push(((cpuNsOf(d.child.pid!) - t0) / 1e6 / (performance.now() - w0)) * 100);
      }
      return out;
    };
    const idleCpu = await cpuWindows();

    const name = 'bench-monitor';
    await d.client.call('vms.create', { name, osType: 'linux-other', memoryMiB: 256, cpus: 1, noDisk: true, iso, nic: 'nat' });
    const started = await d.client.call('vms.start', { ref: name });
    await waitFor(started.vm.serialLog, /NESTBOX-NET-UP/, 180_000);

    // Plain QEMU: the same VM definition (the config the core holds, another UUID and MAC so
    // the two never look alike), its argv from the same builder, started by hand, unwatched.
    const info = await d.client.call('vms.info', { ref: name });
    const pdir = fs.mkdtempSync(path.join(home, 'plain-'));
    const prun = path.join(pdir, 'run');
    ensurePrivateDir(prun);
    const plog = path.join(pdir, 'serial.log');
    const pcfg = parseVmConfig({
      ...info.config,
      uuid: randomUUID(),
      name: 'plain',
      nics: info.config.nics.map((n) => ({ ...n, mac: '52:54:00:be:0c:01', ...(PEER_FILTER ? { mirrorCounters: true } : {}) })),
    });
    const pargv = buildQemuArgv(pcfg, { binary: 'qemu-system-x86_64', accel: 'tcg', ovmfCode: null }, { vmDir: pdir, runDir: prun, serialLog: plog, efiVars: '' }, { incoming: false }).filter((a) => a !== '-S');
    plain = spawn('qemu-system-x86_64', pargv, { stdio: 'ignore' });
    await waitFor(plog, /NESTBOX-NET-UP/, 180_000);
    const psock = path.join(prun, RUNTIME_FILES.serial);
    if (PEER_FILTER) {
      for (const dir of ['rx', 'tx'] as const) {
        for (const n of pcfg.nics) net.createConnection(path.join(prun, nicMirrorSocket(n.id, dir))).on('data', () => undefined).on('error', () => undefined).unref();
      }
    }

    // Nestbox's shell goes through the core's serial hub; attach to it with a console stream.
    const stream = `bench-${Date.now()}`;
    let nbText = '';
    d.client.on('console.data', (e) => {
      if (e.stream === stream) nbText += Buffer.from(e.data, 'base64').toString('utf8');
    });
    await d.client.call('console.open', { ref: name, channel: 'serial', stream });
    const nbRun = async (cmd: string, marker: RegExp) => {
      const start = nbText.length;
      await d.client.call('console.write', { stream, data: Buffer.from(`\x15${cmd}\n`).toString('base64') });
      const deadline = Date.now() + 120_000;
      while (!marker.test(nbText.slice(start))) {
        if (Date.now() > deadline) throw new Error(`timed out on '${cmd}'`);
        await sleep(20);
      }
    };
    const plainShell = await Shell.open(psock);
    await nbRun('echo ok-$((1+1))', /ok-2/);
    await plainShell.run('echo ok-$((1+1))', /ok-2/);

    const withCounters: number[] = [];
    const withoutCounters: number[] = [];
    const cmd = (i: number) => `wget -q -O /dev/null http://10.0.2.2:${port}/b; echo done-${i}-$((1+1))`;
    let counted = 0;
    d.client.on('vm.stats', (s) => {
      if (s.name === name) counted = s.nics[0]?.rxBytes ?? 0;
    });
    await d.client.call('stats.subscribe', { ref: name });
    const mibPerS = () => blob.length / 2 ** 20 / (served[served.length - 1]! / 1000);
    for (let i = 0; i < ROUNDS; i++) {
      // Nestbox first in even rounds, plain QEMU first in odd ones.
      for (const side of i % 2 ? (['plain', 'nestbox'] as const) : (['nestbox', 'plain'] as const)) {
        if (side === 'nestbox') {
          await nbRun(cmd(i), new RegExp(`done-${i}-2`));
          withCounters.push(mibPerS());
        } else {
          await plainShell.run(cmd(i), new RegExp(`done-${i}-2`));
          withoutCounters.push(mibPerS());
        }
      }
    }
    await sleep(1500);
    // Core CPU while sampling the running VM (idle guest, stats subscribed).
    const busyCpu = await cpuWindows();
    await d.client.call('vms.powerOff', { ref: name });
    idleCpu.push(...(await cpuWindows()));

    const rows = [
      row('guest download through NAT, monitored VM', 'MiB/s', withCounters, PEER_FILTER ? 'same argv + filter-mirror, unwatched' : 'same argv, unwatched', withoutCounters),
      row('core CPU while sampling 1 VM', '% of one CPU', busyCpu, 'same daemon, no VM running', idleCpu),
    ];
    printTable('Monitoring overhead', rows);
    console.log(`bytes counted by Nestbox for the guest (to the guest): ${counted} (downloads: ${ROUNDS} × ${blob.length})`);
    writeResults('monitor', rows, { blobMiB: BLOB_MIB, rounds: ROUNDS, cpuWindowMs: CPU_WINDOW_MS, peerFilter: PEER_FILTER, countedRxBytes: counted, load: { start: loadStart, end: os.loadavg() } });
    plainShell.close();
  } finally {
    plain?.kill('SIGKILL');
    server.close();
    await d.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
