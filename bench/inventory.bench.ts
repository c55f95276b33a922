/**
 * Management plane: how list/info latency and the core's memory grow with the inventory, with
 * 10, 100 and 1,000 VMs defined (not running) and with 10 and 20 small VMs running, against
 * libvirt (`virsh list --all`, `virsh dominfo`, libvirtd's memory) holding the same counts.
 * Command-line rows time whole commands (process start included) on both sides, and each CLI
 * row also against `node -e ''` (a Node.js process that does nothing: the floor any Node
 * command sits on), all timed in the same repetitions, their order rotating; API rows time
 * one request to an already connected `nestbox daemon`. The load average at the start and
 * the end goes into the JSON (`load`), since the machine may be shared.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineDomain, libvirtDir, libvirtUnavailable, undefineAll, virsh } from './libvirt';
import { CLI, markerAt, printTable, row, rssMiB, sleep, startDaemon, tempHome, testIso, timeCmd, writeResults, type Row } from './lib';

const COUNTS = (process.env['BENCH_COUNTS'] ?? '10,100,1000').split(',').map(Number);
const RUNNING = (process.env['BENCH_RUNNING'] ?? '10,20').split(',').map(Number).filter(Boolean);
const REPS = Number(process.env['BENCH_REPS'] ?? 9);
const PREFIX = 'nestbox-bench-inv-';

/** The figure every Node.js command pays before its own code runs. */
const NODE_NOOP: [string, string[]] = [process.execPath, ['-e', '']];

/**
 * Runs the timed commands of one repetition in an order that rotates with the repetition
 * (rep 0: a, b, c; rep 1: b, c, a; ...), so that no side is always first or always last.
 */
function rotated<T>(rep: number, xs: readonly T[]): T[] {
  const k = rep % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function libvirtdPid(): number {
  return Number(execFileSync('pidof', ['-s', 'libvirtd']).toString().trim());
}

async function main(): Promise<void> {
  const iso = testIso();
  const load: { start: number[]; end?: number[] } = { start: loadavg() };
  console.log(`load average at the start: ${load.start.join(' ')}`);
  // BENCH_LIBVIRT=0 leaves the libvirt peer out (defining 1,000 domains is the long part of a
  // run); BENCH_RESULTS=NAME writes bench/results/NAME.json, so a run with libvirt at one
  // count and one without at every count can both be kept.
  const noLibvirt = process.env['BENCH_LIBVIRT'] === '0' ? 'left out (BENCH_LIBVIRT=0)' : libvirtUnavailable();
  if (noLibvirt) console.warn(`libvirt rows left out: ${noLibvirt}`);
  const lvDir = noLibvirt ? null : libvirtDir('inv');
  const home = tempHome();
  const env = { ...process.env, NESTBOX_HOME: home };
  const d = await startDaemon(home);
  const rows: Row[] = [];
  const memory: Record<string, unknown>[] = [];
  const base: { list?: number[]; info?: number[] } = {};
  let baseMiB: number | undefined;
  let lastMiB = NaN;
  let lastList: number[] = [];
  try {
    let lvIso = iso;
    if (lvDir) {
      await undefineAll(PREFIX);
      lvIso = path.join(lvDir, 'guest.iso');
      fs.copyFileSync(iso, lvIso);
    }
    let have = 0;
    for (const n of COUNTS) {
      process.stdout.write(`defining ${n} VMs on each side…\n`);
      for (; have < n; have++) {
        await d.client.call('vms.create', { name: `${PREFIX}${have}`, osType: 'linux-other', memoryMiB: 128, cpus: 1, noDisk: true, nic: 'none', iso });
        if (lvDir) {
          const name = `${PREFIX}${have}`;
          await defineDomain({ name, memoryMiB: 128, iso: lvIso, disk: null, serialLog: path.join(lvDir, `${name}.log`), vncSocket: path.join(lvDir, `${name}.vnc`) }, lvDir);
        }
      }
      await sleep(500);
      const pick = () => `${PREFIX}${Math.floor(Math.random() * n)}`;
      const api = { list: [] as number[], info: [] as number[] };
      const cli = { list: [] as number[], info: [] as number[] };
      const lv = { list: [] as number[], info: [] as number[] };
      const noop = { list: [] as number[], info: [] as number[] };
      for (let i = 0; i < REPS; i++) {
        api.list.push(await timeAsync(() => d.client.call('vms.list', {})));
        api.info.push(await timeAsync(() => d.client.call('vms.info', { ref: pick() })));
        // One VM for both sides of an info repetition, so they describe the same domain.
        const vm = pick();
        const runs: (() => void)[] = [
          () => cli.list.push(timeCmd(process.execPath, [CLI, 'list'], env)),
          () => cli.info.push(timeCmd(process.execPath, [CLI, 'info', vm], env)),
          () => noop.list.push(timeCmd(...NODE_NOOP)),
          () => noop.info.push(timeCmd(...NODE_NOOP)),
        ];
        if (lvDir) {
          runs.push(
            () => lv.list.push(timeCmd('virsh', ['-c', 'qemu:///system', 'list', '--all'])),
            () => lv.info.push(timeCmd('virsh', ['-c', 'qemu:///system', 'dominfo', vm])),
          );
        }
        for (const run of rotated(i, runs)) run();
      }
      const coreMiB = rssMiB(d.child.pid!);
      const lvMiB = lvDir ? rssMiB(libvirtdPid()) : NaN;
      memory.push({ vms: n, running: 0, coreRssMiB: coreMiB, libvirtdRssMiB: lvMiB });
      if (lvDir) {
        rows.push(
          row(`CLI list, ${n} VMs defined`, 'ms', cli.list, 'virsh list --all', lv.list),
          row(`CLI info, ${n} VMs defined`, 'ms', cli.info, 'virsh dominfo', lv.info),
          row(`core memory, ${n} VMs defined`, 'MiB', [coreMiB], 'libvirtd RSS', [lvMiB]),
        );
      }
      // Without libvirt, the core's memory against its own at the smallest inventory.
      baseMiB ??= coreMiB;
      if (!lvDir) rows.push(row(`core memory, ${n} VMs defined`, 'MiB', [coreMiB], `core, ${COUNTS[0]} VMs`, [baseMiB]));
      lastMiB = coreMiB;
      rows.push(
        row(`CLI list, ${n} VMs defined`, 'ms', cli.list, "node -e ''", noop.list),
        row(`CLI info, ${n} VMs defined`, 'ms', cli.info, "node -e ''", noop.info),
      );
      base.list ??= api.list;
      base.info ??= api.info;
      rows.push(
        row(`API vms.list, ${n} VMs defined`, 'ms', api.list, `API, ${COUNTS[0]} VMs`, base.list),
        row(`API vms.info, ${n} VMs defined`, 'ms', api.info, `API, ${COUNTS[0]} VMs`, base.info),
      );
      lastList = api.list;
    }

    for (const k of RUNNING) {
      process.stdout.write(`starting ${k} VMs on each side, one side at a time…\n`);
      const names = Array.from({ length: k }, (_, i) => `${PREFIX}${i}`);
      const logs: string[] = [];
      for (const name of names) logs.push((await d.client.call('vms.start', { ref: name })).vm.serialLog);
      // Measure once every guest has booted and idles, not while they all boot at once.
      for (const log of logs) await markerAt(log, /NESTBOX-GUEST-READY/, 600_000);
      const api: number[] = [];
      const cli: number[] = [];
      const noop: number[] = [];
      for (let i = 0; i < REPS; i++) {
        api.push(await timeAsync(() => d.client.call('vms.list', {})));
        // virsh is timed below, once Nestbox's guests are off and libvirt's run: the two sides
        // never run their guests at the same time. `node -e ''` is timed beside Nestbox's.
        const runs = [() => cli.push(timeCmd(process.execPath, [CLI, 'list'], env)), () => noop.push(timeCmd(...NODE_NOOP))];
        for (const run of rotated(i, runs)) run();
      }
      const coreMiB = rssMiB(d.child.pid!);
      for (const name of names) await d.client.call('vms.powerOff', { ref: name });
      let lvMiB = NaN;
      const lv: number[] = [];
      if (lvDir) {
        for (const name of names) {
          fs.rmSync(path.join(lvDir, `${name}.log`), { force: true });
          await virsh('start', name);
        }
        for (const name of names) await markerAt(path.join(lvDir, `${name}.log`), /NESTBOX-GUEST-READY/, 600_000);
        for (let i = 0; i < REPS; i++) lv.push(timeCmd('virsh', ['-c', 'qemu:///system', 'list', '--all']));
        lvMiB = rssMiB(libvirtdPid());
        for (const name of names) await virsh('destroy', name);
        rows.push(
          row(`CLI list, ${k} running of ${COUNTS.at(-1)}`, 'ms', cli, 'virsh list --all', lv),
          row(`core memory, ${k} running`, 'MiB', [coreMiB], 'libvirtd RSS', [lvMiB]),
        );
      }
      if (!lvDir) rows.push(row(`core memory, ${k} running`, 'MiB', [coreMiB], 'none running', [lastMiB]));
      rows.push(
        row(`CLI list, ${k} running of ${COUNTS.at(-1)}`, 'ms', cli, "node -e ''", noop),
        row(`API vms.list, ${k} running of ${COUNTS.at(-1)}`, 'ms', api, 'none running', lastList),
      );
      memory.push({ vms: COUNTS.at(-1), running: k, coreRssMiB: coreMiB, libvirtdRssMiB: lvMiB });
    }
  } finally {
    await d.stop();
    if (lvDir) {
      process.stdout.write('removing the libvirt domains…\n');
      await undefineAll(PREFIX).catch(() => undefined);
      fs.rmSync(lvDir, { recursive: true, force: true });
    }
    fs.rmSync(home, { recursive: true, force: true });
  }
  load.end = loadavg();
  console.log(`load average at the end: ${load.end.join(' ')}`);
  printTable('Management plane: Nestbox vs libvirt with the same inventory', rows);
  console.log(`results: ${writeResults(process.env['BENCH_RESULTS'] ?? 'inventory', rows, { reps: REPS, counts: COUNTS, running: RUNNING, memory, libvirt: noLibvirt ?? 'used', load })}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
