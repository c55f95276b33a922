/** Shared pieces of the benchmarks: statistics, tables, the test guest, a daemon. */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { RpcClient } from '../src/core/api/rpc';
import { parseVmConfig } from '../src/core/domain/config';
import { buildQemuArgv, RUNTIME_FILES } from '../src/core/qemu/argv';
import { findOvmf, findQemu } from '../src/core/qemu/host';
import { QmpClient } from '../src/core/qemu/qmp';
import { connectUnix } from '../src/core/server/socket';
import { DataLayout, ensurePrivateDir } from '../src/core/store/paths';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'bin', 'nestbox.cjs');

export interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export function stat(xs: readonly number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

export interface Row {
  readonly metric: string;
  readonly unit: string;
  readonly nestbox: Stat;
  readonly peer: Stat;
  readonly peerName: string;
  /** nestbox / peer of the medians. */
  readonly ratio: number;
  readonly target?: string;
}

export function row(metric: string, unit: string, nestbox: number[], peerName: string, peer: number[], target?: string): Row {
  const a = stat(nestbox);
  const b = stat(peer);
  return { metric, unit, nestbox: a, peer: b, peerName, ratio: a.median / b.median, ...(target ? { target } : {}) };
}

const f = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));

export function printTable(title: string, rows: readonly Row[]): void {
  const lines = [
    ['metric', 'Nestbox median (min–max)', 'peer', 'peer median (min–max)', 'ratio', 'target'],
    ...rows.map((r) => [
      `${r.metric} [${r.unit}]`,
      `${f(r.nestbox.median)} (${f(r.nestbox.min)}–${f(r.nestbox.max)}) n=${r.nestbox.n}`,
      r.peerName,
      `${f(r.peer.median)} (${f(r.peer.min)}–${f(r.peer.max)}) n=${r.peer.n}`,
      Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}×` : "—",
      r.target ?? '',
    ]),
  ];
  const w = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  console.log(`\n${title}\n${'='.repeat(title.length)}`);
  for (const [i, l] of lines.entries()) {
    console.log(l.map((c, j) => c.padEnd(w[j]!)).join('  '));
    if (i === 0) console.log(w.map((n) => '-'.repeat(n)).join('  '));
  }
}

export function writeResults(name: string, rows: readonly Row[], extra: Record<string, unknown> = {}): string {
  const dir = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release() };
  fs.writeFileSync(file, `${JSON.stringify({ name, date: new Date().toISOString(), machine, rows, ...extra }, null, 2)}\n`);
  return file;
}

/**
 * The test guest's ISO: NESTBOX_TEST_ISO when set (as for the integration tests), else the one
 * test/guest/build.sh builds or has cached. As root, QEMU runs as an unprivileged user that
 * cannot read root's 0700 cache (src/core/qemu/runas.ts): it gets a world-readable copy in
 * the temporary folder, as the integration tests' global setup does.
 */
export function testIso(): string {
  const given = process.env['NESTBOX_TEST_ISO'];
  const iso = given && fs.existsSync(given) ? given : execFileSync('bash', [path.join(ROOT, 'test', 'guest', 'build.sh')], { stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim().split('\n').pop()!;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return iso;
  const st = fs.statSync(iso);
  const dir = path.join(os.tmpdir(), `nestbox-bench-guest-${st.size}-${Math.floor(st.mtimeMs)}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  const copy = path.join(dir, path.basename(iso));
  if (!fs.existsSync(copy) || fs.statSync(copy).size !== st.size) {
    const partial = `${copy}.${process.pid}.partial`;
    fs.copyFileSync(iso, partial);
    fs.chmodSync(partial, 0o644);
    fs.renameSync(partial, copy);
  }
  return copy;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wall time of a whole command (process start included) in ms; throws with its stderr when it fails. */
export function timeCmd(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 2 ** 20 });
  const t = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.toString()}`);
  return t;
}

export async function waitFor(file: string, pattern: RegExp, timeoutMs = 120_000, count = 1): Promise<void> {
  const g = new RegExp(pattern.source, 'g');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if ((text.match(g) ?? []).length >= count) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${pattern} in ${file}`);
}

/** `nestbox daemon` in its own process (so the client's timings include a real hop). */
export async function startDaemon(
  home: string,
  opts: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<{ child: ChildProcess; client: RpcClient; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI, 'daemon'], {
    env: { ...process.env, ...opts.env, NESTBOX_HOME: home },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const sock = new DataLayout(home).coreSocket;
  for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await sleep(50);
  const client = new RpcClient(await connectUnix(sock));
  return {
    child,
    client,
    async stop() {
      client.close();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

export function tempHome(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nb-bench-'));
}

export interface PlainVm {
  qmp: QmpClient;
  child: ChildProcess;
  serial: net.Socket;
  log: string;
  /** performance.now() just before QEMU was spawned. */
  spawnedAt: number;
  stop(): Promise<void>;
}

/**
 * The peer "plain QEMU": the argv Nestbox would build for the same VM (same builder), started
 * by hand with spawn(), then connected to over QMP and continued (the argv has -S), as a
 * person scripting QEMU would. No database, no daemon, no checks.
 */
export async function startPlain(dir: string, memoryMiB: number, iso: string, diskGiB = Math.ceil(memoryMiB / 1024) + 2): Promise<PlainVm> {
  const qemu = (await findQemu())!;
  const runDir = path.join(dir, 'run');
  ensurePrivateDir(runDir);
  const disk = path.join(dir, 'disk.qcow2');
  if (!fs.existsSync(disk)) {
    await new Promise((r) => spawn(qemu.imgBinary, ['create', '-q', '-f', 'qcow2', disk, `${diskGiB}G`]).on('exit', r));
  }
  const cfg = parseVmConfig({
    version: 1, uuid: randomUUID(), name: 'plain', osType: 'linux-other', description: '', group: '', memoryMiB, cpus: 1,
    firmware: 'bios', machine: 'q35',
    disks: [{ id: 'disk0', file: disk, format: 'qcow2', bus: 'virtio', readOnly: false, owned: true }],
    cdroms: [{ id: 'cd0', iso }], bootOrder: ['cdrom', 'disk'],
    nics: [], display: { adapter: 'vga' }, serial: { enabled: true },
  });
  const log = path.join(dir, 'serial.log');
  fs.rmSync(log, { force: true });
  const argv = buildQemuArgv(cfg, { binary: qemu.binary, accel: 'tcg', ovmfCode: findOvmf()?.code ?? null }, { vmDir: dir, runDir, serialLog: log, efiVars: '' }, { incoming: false });
  const spawnedAt = performance.now();
  const child = spawn(qemu.binary, argv, { stdio: 'ignore' });
  const qmp = await QmpClient.connect(path.join(runDir, RUNTIME_FILES.qmp), { retryUntilMs: 20_000 });
  const serial = net.createConnection(path.join(runDir, RUNTIME_FILES.serial));
  serial.on('data', () => undefined);
  serial.on('error', () => undefined);
  await qmp.execute('cont');
  return {
    qmp, child, serial, log, spawnedAt,
    async stop() {
      serial.destroy();
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        await qmp.execute('quit').catch(() => child.kill('SIGKILL'));
        await exited;
      }
      qmp.close();
    },
  };
}

/** Resolves at the first moment `file` has at least one byte (checked every 2 ms). */
export async function firstByte(file: string, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (fs.statSync(file).size > 0) return performance.now();
    } catch {
      /* not created yet */
    }
    await sleep(2);
  }
  throw new Error(`no byte arrived in ${file} within ${timeoutMs} ms`);
}

/** Resolves when `pattern` first appears in `file` (checked every 5 ms), at that moment. */
export async function markerAt(file: string, pattern: RegExp, timeoutMs = 180_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (pattern.test(fs.readFileSync(file, 'latin1'))) return performance.now();
    } catch {
      /* not created yet */
    }
    await sleep(5);
  }
  throw new Error(`timed out waiting for ${pattern} in ${file}`);
}

/** Resident memory (VmRSS) of a process in MiB. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
