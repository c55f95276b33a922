/**
 * VM start: from the start request to the guest's first serial byte and to its ready marker.
 * Three ways of starting the same guest, measured alternately in one run:
 *  - Nestbox: `vms.start` through `nestbox daemon`'s API (preflight, argv, launch, QMP, cont);
 *  - plain QEMU: the same argv (same builder) spawned by hand, QMP connect, `cont`;
 *  - libvirt: `virsh start` of an equivalent domain (when libvirtd is running);
 *  - Nestbox's CLI: a whole `nestbox start` process against the same daemon, so that a CLI
 *    process is compared with a CLI process (`virsh start`), beside the API row (issue 21).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { defineDomain, libvirtDir, libvirtUnavailable, undefineAll, virsh } from './libvirt';
import { CLI, firstByte, markerAt, printTable, row, sleep, startDaemon, startPlain, tempHome, testIso, writeResults, type Row } from './lib';

const REPS = Number(process.env['BENCH_REPS'] ?? 7);
const MEMORY = 256;
const READY = /NESTBOX-GUEST-READY/;

type Who = 'nestbox' | 'cli' | 'plain' | 'libvirt';
const run = promisify(execFile);

async function main(): Promise<void> {
  const iso = testIso();
  const home = tempHome();
  const d = await startDaemon(home);
  const noLibvirt = libvirtUnavailable();
  if (noLibvirt) console.warn(`libvirt column left out: ${noLibvirt}`);
  const lvDir = noLibvirt ? null : libvirtDir('start');
  const times: Record<Who, { first: number[]; ready: number[]; return: number[] }> = {
    nestbox: { first: [], ready: [], return: [] },
    cli: { first: [], ready: [], return: [] },
    plain: { first: [], ready: [], return: [] },
    libvirt: { first: [], ready: [], return: [] },
  };
  const plainDir = fs.mkdtempSync(path.join(home, 'plain-'));
  try {
    const created = await d.client.call('vms.create', { name: 'start-bench', osType: 'linux-other', memoryMiB: MEMORY, cpus: 1, diskSize: '2G', nic: 'none', iso });
    const nbLog = created.vm.serialLog;
    if (lvDir) {
      await undefineAll('nestbox-bench-');
      const disk = path.join(lvDir, 'disk.qcow2');
      fs.copyFileSync(path.join(created.vm.dir, created.vm.config.disks[0]!.file), disk);
      const lvIso = path.join(lvDir, 'guest.iso');
      fs.copyFileSync(iso, lvIso);
      await defineDomain({ name: 'nestbox-bench-start', memoryMiB: MEMORY, iso: lvIso, disk, serialLog: path.join(lvDir, 'serial.log'), vncSocket: path.join(lvDir, 'vnc.sock') }, lvDir);
    }
    const order: Who[] = lvDir ? ['nestbox', 'cli', 'plain', 'libvirt'] : ['nestbox', 'cli', 'plain'];
    for (let i = 0; i < REPS; i++) {
      const rotated = [...order.slice(i % order.length), ...order.slice(0, i % order.length)];
      for (const who of rotated) {
        let t0: number;
        let log: string;
        let stop: () => Promise<void>;
        let returned: number;
        if (who === 'nestbox') {
          fs.rmSync(nbLog, { force: true });
          log = nbLog;
          t0 = performance.now();
          await d.client.call('vms.start', { ref: 'start-bench' });
          returned = performance.now();
          stop = async () => void (await d.client.call('vms.powerOff', { ref: 'start-bench' }));
        } else if (who === 'cli') {
          fs.rmSync(nbLog, { force: true });
          log = nbLog;
          t0 = performance.now();
          await run(process.execPath, [CLI, 'start', 'start-bench'], { env: { ...process.env, NESTBOX_HOME: home } });
          returned = performance.now();
          stop = async () => void (await d.client.call('vms.powerOff', { ref: 'start-bench' }));
        } else if (who === 'plain') {
          const p = await startPlain(plainDir, MEMORY, iso, 2);
          returned = performance.now();
          t0 = p.spawnedAt;
          log = p.log;
          stop = () => p.stop();
        } else {
          log = path.join(lvDir!, 'serial.log');
          fs.rmSync(log, { force: true });
          t0 = performance.now();
          await virsh('start', 'nestbox-bench-start');
          returned = performance.now();
          stop = async () => void (await virsh('destroy', 'nestbox-bench-start'));
        }
        const first = await firstByte(log);
        const ready = await markerAt(log, READY);
        times[who].first.push(first - t0);
        times[who].ready.push(ready - t0);
        times[who].return.push(returned - t0);
        await stop();
        await sleep(300);
      }
      process.stdout.write(`rep ${i + 1}/${REPS} done\n`);
    }
  } finally {
    await d.client.call('vms.powerOff', { ref: 'start-bench' }).catch(() => undefined);
    await d.stop();
    if (lvDir) {
      await undefineAll('nestbox-bench-').catch(() => undefined);
      fs.rmSync(lvDir, { recursive: true, force: true });
    }
    fs.rmSync(home, { recursive: true, force: true });
  }
  const rows: Row[] = [
    row('start → first serial byte', 'ms', times.nestbox.first, 'plain QEMU', times.plain.first, '≤ 1.05× (< +50 ms)'),
    row('start → guest ready marker', 'ms', times.nestbox.ready, 'plain QEMU', times.plain.ready),
    row('start call returns (guest running)', 'ms', times.nestbox.return, 'plain QEMU', times.plain.return),
  ];
  if (lvDir) {
    rows.push(
      row('start → first serial byte', 'ms', times.nestbox.first, 'virsh start', times.libvirt.first, '< 1× (faster)'),
      row('start → guest ready marker', 'ms', times.nestbox.ready, 'virsh start', times.libvirt.ready),
      row('start call returns (guest running)', 'ms', times.nestbox.return, 'virsh start', times.libvirt.return),
      row('`nestbox start` process → first serial byte', 'ms', times.cli.first, 'virsh start', times.libvirt.first),
      row('`nestbox start` process returns (guest running)', 'ms', times.cli.return, 'virsh start', times.libvirt.return),
    );
  }
  rows.push(
    row('`nestbox start` process → first serial byte', 'ms', times.cli.first, 'API vms.start', times.nestbox.first),
    row('`nestbox start` process returns (guest running)', 'ms', times.cli.return, 'API vms.start', times.nestbox.return),
  );
  const added = rows[0]!.nestbox.median - rows[0]!.peer.median;
  printTable(`VM start (${MEMORY} MiB test guest, TCG): Nestbox vs plain QEMU${lvDir ? ' vs libvirt' : ''}, alternating`, rows);
  console.log(`Nestbox adds ${added.toFixed(1)} ms (median) to start → first serial byte over plain QEMU`);
  console.log(`results: ${writeResults('start', rows, { reps: REPS, memoryMiB: MEMORY, libvirt: noLibvirt ?? 'used', addedMs: added })}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
