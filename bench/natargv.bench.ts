/**
 * What counting a NAT adapter's traffic costs its throughput (issues 8 and 20): the argv
 * `buildQemuArgv` gives a new 256 MiB guest with one NAT adapter (with the guest agent's port),
 * started by hand one VM at a time, the guest downloading 32 MiB blobs from a loopback HTTP
 * server, in three variants side by side:
 *  - agent: counters from the guest agent, polled by the core's own GuestWatch at every
 *    sampler tick (1 s) as the core does (its interface list every 5 s);
 *  - mirror: the adapter's frames mirrored to the core (`mirrorCounters`, filter-mirror),
 *    the mirror sockets drained here as the core would;
 *  - none: the same argv without the agent's port: no counters at all (the reference).
 * The older bisection of the argv (one part removed: noQmp2, noTablet, noVnc, noSandbox,
 * noLogfile, each from the agent argv) runs when named: BENCH_VARIANTS=agent,none,noVnc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { parseVmConfig, type VmConfig } from '../src/core/domain/config';
import { buildQemuArgv, RUNTIME_FILES } from '../src/core/qemu/argv';
import { GuestWatch } from '../src/core/services/guestwatch';
import { ensurePrivateDir } from '../src/core/store/paths';
import { printTable, row, sleep, tempHome, testIso, writeResults } from './lib';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 4);
const REPS = Number(process.env['BENCH_REPS'] ?? 2);
type Pair = string[];
function pairs(argv: string[]): Pair[] { const out: Pair[] = []; for (let i = 0; i < argv.length; i++) { if (i + 1 < argv.length && !argv[i + 1]!.startsWith('-')) { out.push([argv[i]!, argv[i + 1]!]); i++; } else out.push([argv[i]!]); } return out; }
/** Each variant: whether its NIC mirrors frames, and what it removes from that argv. */
const variants: Record<string, (p: Pair[]) => Pair[]> = {
  agent: (p) => p,
  mirror: (p) => p,
  none: (p) => p.filter((x) => !/chardev=qga0|id=qga0/.test(x[1] ?? '')),
  noQmp2: (p) => p.filter((x) => !(x[0] === '-qmp' && x[1]!.includes(RUNTIME_FILES.qmpStats))),
  noTablet: (p) => p.filter((x) => !(x[1] ?? '').startsWith('usb-tablet')),
  noVnc: (p) => p.filter((x) => x[0] !== '-vnc'),
  noSandbox: (p) => p.filter((x) => x[0] !== '-sandbox'),
  noLogfile: (p) => p.map((x) => (x[0] === '-chardev' && x[1]!.includes('logfile=') ? [x[0], x[1]!.replace(/,logfile=[^,]*/, '').replace(/,logappend=[^,]*/, '')] : x)),
};
const DEFAULT_VARIANTS = ['agent', 'mirror', 'none'];
const only = process.env['BENCH_VARIANTS']?.split(',') ?? DEFAULT_VARIANTS;
class Shell { text = ''; constructor(public s: net.Socket) { s.on('data', (d: Buffer) => (this.text += d.toString())); }
  async run(cmd: string, marker: RegExp) { const st = this.text.length; this.s.write(`\x15${cmd}\n`); const dl = Date.now() + 120000; let rs = Date.now() + 4000; while (!marker.test(this.text.slice(st))) { if (Date.now() > dl) throw new Error('timeout ' + cmd); if (Date.now() > rs && this.text.length === st) { this.s.write(`\x15${cmd}\n`); rs = Date.now() + 4000; } await sleep(20); } } }
async function main() {
  const iso = testIso(); const home = tempHome();
  const blob = Buffer.alloc(32 * 2 ** 20); for (let i = 0; i < blob.length; i += 4096) blob[i] = i & 255;
  let t0 = 0; const served: number[] = [];
  const server = http.createServer((_q, res) => { t0 = performance.now(); res.writeHead(200, { 'content-length': blob.length }); res.end(blob, () => served.push(performance.now() - t0)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const res: Record<string, number[]> = {};
  const names = Object.keys(variants).filter((v) => only.includes(v));
  const counted: Record<string, number[]> = {};
  for (let rep = 0; rep < REPS; rep++) for (const v of rep % 2 ? [...names].reverse() : names) {
    const dir = fs.mkdtempSync(path.join(home, v + '-')); const runDir = path.join(dir, 'run'); ensurePrivateDir(runDir);
    const cfg: VmConfig = parseVmConfig({ version: 1, uuid: randomUUID(), name: 'nat', osType: 'linux-other', description: '', group: '', memoryMiB: 256, cpus: 1, firmware: 'bios', machine: 'q35', disks: [], cdroms: [{ id: 'cd0', iso }], bootOrder: ['cdrom'], nics: [{ id: 'net0', mode: 'nat', model: 'virtio-net-pci', mac: '52:54:00:12:34:56', forwards: [], ...(v === 'mirror' ? { mirrorCounters: true } : {}) }], display: { adapter: 'vga' }, serial: { enabled: true }, guestAgent: true });
    const log = path.join(dir, 'serial.log');
    const argv = variants[v]!(pairs(buildQemuArgv(cfg, { binary: 'qemu-system-x86_64', accel: 'tcg', ovmfCode: null }, { vmDir: dir, runDir, serialLog: log, efiVars: '' }, { incoming: false }))).flat().filter((a) => a !== '-S');
    const child: ChildProcess = spawn('qemu-system-x86_64', argv, { stdio: ['ignore', 'ignore', 'inherit'] });
    try {
      for (let i = 0; i < 100 && !fs.existsSync(path.join(runDir, RUNTIME_FILES.serial)); i++) await sleep(50);
      for (const f of fs.readdirSync(runDir)) if (/^net0-(rx|tx)\.sock$/.test(f)) net.createConnection(path.join(runDir, f)).on('data', () => undefined).on('error', () => undefined);
      const s = net.createConnection(path.join(runDir, RUNTIME_FILES.serial)); const sh = new Shell(s);
      const qs = net.createConnection(path.join(runDir, RUNTIME_FILES.qmp)); qs.on('data', () => undefined); qs.write('{"execute":"qmp_capabilities"}\n{"execute":"cont"}\n');
      const dl = Date.now() + 180000; while (!/NESTBOX-NET-UP/.test(sh.text)) { if (Date.now() > dl) throw new Error('no net up ' + v); await sleep(100); }
      await sh.run('echo ok-$((1+1))', /ok-2/);
      // The core's agent watch, ticked like the sampler ticks it (only where the port is).
      const watch = v === 'none' ? null : new GuestWatch(runDir);
      const ticker = watch ? setInterval(() => watch.tick(false), 1000) : null;
      if (watch) { const until = Date.now() + 60000; while (!watch.connected && Date.now() < until) { await watch.poll(); await sleep(500); } if (!watch.connected) throw new Error('the guest agent did not answer ' + v); }
      const rx0 = watch?.interfaces?.find((i) => i.mac === '52:54:00:12:34:56')?.stats?.rxBytes ?? 0;
      for (let i = 0; i < ROUNDS; i++) { await sh.run(`wget -q -O /dev/null http://10.0.2.2:${port}/b; echo done-${i}-$((1+1))`, new RegExp(`done-${i}-2`)); (res[v] ??= []).push(32 / (served[served.length - 1]! / 1000)); }
      if (watch) { await watch.poll(); const rx = watch.interfaces?.find((i) => i.mac === '52:54:00:12:34:56')?.stats?.rxBytes ?? 0; (counted[v] ??= []).push((rx - rx0) / 2 ** 20); }
      if (ticker) clearInterval(ticker); watch?.close();
      s.destroy(); qs.destroy();
    } finally { child.kill('SIGKILL'); await new Promise((r) => child.once('exit', r)); }
    console.log(v, 'rep', rep, (res[v] ?? []).slice(-ROUNDS).map((x) => x.toFixed(1)).join(' '));
  }
  const label: Record<string, string> = { agent: 'counters from the guest agent', mirror: 'counters mirrored (filter-mirror)' };
  const ref = names.includes('none') ? 'none' : names[0]!;
  const rows = names.filter((v) => v !== ref).map((v) => row(`guest download through NAT, ${label[v] ?? v}`, 'MiB/s', res[v]!, ref === 'none' ? 'same argv, no counters' : ref, res[ref]!, v === 'agent' ? '≥ 0.95×' : undefined));
  printTable('NAT download: a counted NAT adapter vs the same argv without counters, one VM at a time', rows);
  // The agent's counters, checked: MiB the guest says its adapter received over the downloads.
  for (const [v, xs] of Object.entries(counted)) console.log(`${v}: the agent counted ${xs.map((x) => x.toFixed(1)).join(', ')} MiB received over ${ROUNDS} × 32 MiB downloads per boot`);
  console.log(`results: ${writeResults('natargv', rows, { reps: REPS, rounds: ROUNDS, agentCountedMiB: counted })}`);
  server.close(); fs.rmSync(home, { recursive: true, force: true });
}
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
