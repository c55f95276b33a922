/**
 * Management plane: how list/info latency and the core's memory grow with the inventory, with
 * 10, 100 and 1,000 VMs defined (not running) and with 10 and 20 small VMs running, against
 * libvirt (`virsh list --all`, `virsh dominfo`, libvirtd's memory) holding the same counts.
 * Command-line rows time whole commands (process start included) on both sides; API rows time
 * one request to an already connected `nestbox daemon`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { defineDomain, libvirtDir, libvirtUnavailable, undefineAll, virsh } from './libvirt';
import { CLI, markerAt, printTable, row, rssMiB, sleep, startDaemon, tempHome, testIso, timeCmd, writeResults, type Row } from './lib';

const COUNTS = (process.env['BENCH_COUNTS'] ?? '10,100,1000').split(',').map(Number);
const RUNNING = (process.env['BENCH_RUNNING'] ?? '10,20').split(',').map(Number).filter(Boolean);
const REPS = Number(process.env['BENCH_REPS'] ?? 9);
const PREFIX = 'nestbox-bench-inv-';

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
  const noLibvirt = libvirtUnavailable();
  if (noLibvirt) console.warn(`libvirt rows left out: ${noLibvirt}`);
  const lvDir = noLibvirt ? null : libvirtDir('inv');
  const home = tempHome();
  const env = { ...process.env, NESTBOX_HOME: home };
  const d = await startDaemon(home);
  const rows: Row[] = [];
  const memory: Record<string, unknown>[] = [];
  const base: { list?: number[]; info?: number[] } = {};
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
      for (let i = 0; i < REPS; i++) {
        api.list.push(await timeAsync(() => d.client.call('vms.list', {})));
        api.info.push(await timeAsync(() => d.client.call('vms.info', { ref: pick() })));
        cli.list.push(timeCmd(process.execPath, [CLI, 'list'], env));
        cli.info.push(timeCmd(process.execPath, [CLI, 'info', pick()], env));
        if (lvDir) {
          lv.list.push(timeCmd('virsh', ['-c', 'qemu:///system', 'list', '--all']));
          lv.info.push(timeCmd('virsh', ['-c', 'qemu:///system', 'dominfo', pick()]));
        }
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
      for (let i = 0; i < REPS; i++) {
        api.push(await timeAsync(() => d.client.call('vms.list', {})));
        cli.push(timeCmd(process.execPath, [CLI, 'list'], env));
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
      rows.push(row(`API vms.list, ${k} running of ${COUNTS.at(-1)}`, 'ms', api, 'none running', lastList));
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
  printTable('Management plane: Nestbox vs libvirt with the same inventory', rows);
  console.log(`results: ${writeResults('inventory', rows, { reps: REPS, counts: COUNTS, running: RUNNING, memory, libvirt: noLibvirt ?? 'used' })}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
