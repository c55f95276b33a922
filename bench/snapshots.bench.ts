/**
 * Live snapshots with RAM: take and restore through Nestbox (API of `nestbox daemon`)
 * against the same argv run by hand as plain QEMU and driven with plain QMP
 * (snapshot-save / snapshot-load jobs), for several guest memory sizes with memory actually
 * dirtied (random data in the guest's RAM-backed root file system). Measured alternately.
 *
 * Besides the wall time of a take, how long the guest stands still during it: each guest
 * prints a tick on its serial port every 50 ms, and the longest gap between ticks arriving
 * at the host while the take runs is the pause the guest (and its user) lived through.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { RpcClient } from '../src/core/api/rpc';
import { runJob } from '../src/core/qemu/jobs';
import { printTable, row, sleep, startDaemon, startPlain, tempHome, testIso, waitFor, writeResults, type PlainVm, type Row } from './lib';

const SIZES = (process.env['BENCH_SIZES'] ?? '256,1024,2048').split(',').map(Number);
const REPS = Number(process.env['BENCH_REPS'] ?? 5);

/**
 * Types a command on a serial socket and waits for a marker in the serial log: the bytes the
 * log gains after the command are read every 2 ms (a 20 ms poll of the whole file, as before
 * 2026-12-06, put every answer on a 20 ms grid, the size of the differences measured).
 */
async function serialRun(write: (s: string) => void, log: string, cmd: string, marker: string, timeoutMs = 600_000): Promise<number> {
  const sizeOf = () => (fs.existsSync(log) ? fs.statSync(log).size : 0);
  let offset = sizeOf();
  let seen = '';
  const t0 = performance.now();
  write(`\x15${cmd}\n`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const size = sizeOf();
    if (size > offset) {
      const buf = Buffer.alloc(size - offset);
      const fd = fs.openSync(log, 'r');
      try {
        fs.readSync(fd, buf, 0, buf.length, offset);
      } finally {
        fs.closeSync(fd);
      }
      offset = size;
      // What came before, as far as a marker split across two reads needs.
      seen = seen.slice(-marker.length) + buf.toString('latin1');
      if (seen.includes(marker)) return performance.now() - t0;
    }
    await sleep(2);
  }
  throw new Error(`timed out waiting for ${marker} in ${log}`);
}

/** Arrival times (performance.now()) of the guest's ticks. */
class Ticks {
  readonly at: number[] = [];
  feed(chunk: Buffer): void {
    const n = (chunk.toString('latin1').match(/TICK/g) ?? []).length;
    for (let i = 0; i < n; i++) this.at.push(performance.now());
  }
  /** The longest time without a tick between t0 and t1 (the edges count as ticks). */
  longestGap(t0: number, t1: number): number {
    const inside = [t0, ...this.at.filter((t) => t > t0 && t < t1), t1];
    let gap = 0;
    for (let i = 1; i < inside.length; i++) gap = Math.max(gap, inside[i]! - inside[i - 1]!);
    return gap;
  }
}

async function nestboxSerial(client: RpcClient, ref: string, ticks: Ticks): Promise<(s: string) => void> {
  const stream = randomUUID();
  client.on('console.data', (ev) => {
    if (ev.stream === stream) ticks.feed(Buffer.from(ev.data, 'base64'));
  });
  await client.call('console.open', { ref, channel: 'serial', stream });
  return (s) => void client.call('console.write', { stream, data: Buffer.from(s).toString('base64') });
}

async function main(): Promise<void> {
  const iso = testIso();
  const rows: Row[] = [];
  for (const size of SIZES) {
    const home = tempHome();
    const d = await startDaemon(home);
    let plain: PlainVm | null = null;
    try {
      const name = `snap-${size}`;
      const created = await d.client.call('vms.create', { name, osType: 'linux-other', memoryMiB: size, cpus: 1, diskSize: `${Math.ceil(size / 1024) + 2}G`, nic: 'none', iso });
      await d.client.call('vms.start', { ref: name });
      plain = await startPlain(fs.mkdtempSync(path.join(home, 'plain-')), size, iso);
      await waitFor(created.vm.serialLog, /NESTBOX-GUEST-READY/);
      await waitFor(plain.log, /NESTBOX-GUEST-READY/);
      await sleep(1000);
      const ticks = { nb: new Ticks(), plain: new Ticks() };
      const nbWrite = await nestboxSerial(d.client, name, ticks.nb);
      plain.serial.on('data', (c: Buffer) => ticks.plain.feed(c));
      const plWrite = (s: string) => plain!.serial.write(s);
      // Dirty half of the guest's memory with random data (it lives in the RAM-backed rootfs).
      const fillMiB = Math.floor(size / 2);
      const dirty = `dd if=/dev/urandom of=/root/fill bs=1M count=${fillMiB} 2>/dev/null; echo DIRTY-$((${fillMiB}+0))`;
      await Promise.all([serialRun(nbWrite, created.vm.serialLog, dirty, `DIRTY-${fillMiB}`), serialRun(plWrite, plain.log, dirty, `DIRTY-${fillMiB}`)]);

      // The ticker (stdout is the serial console; it survives Nestbox's restore with the guest's RAM).
      const ticker = `(while :; do echo TICK; sleep 0.05; done) & echo TICKING-$((6*7))`;
      await Promise.all([serialRun(nbWrite, created.vm.serialLog, ticker, 'TICKING-42'), serialRun(plWrite, plain.log, ticker, 'TICKING-42')]);
      const take = { nb: [] as number[], plain: [] as number[] };
      const still = { nb: [] as number[], plain: [] as number[] };
      const restore = { nb: [] as number[], plain: [] as number[] };
      const answer = { nb: [] as number[], plain: [] as number[] };
      for (let i = 0; i < REPS; i++) {
        for (const who of (i % 2 ? ['plain', 'nb'] : ['nb', 'plain']) as ('nb' | 'plain')[]) {
          const tag = `bench-${i}`;
          let t0 = performance.now();
          if (who === 'nb') await d.client.call('snapshots.take', { ref: name, name: tag });
          else await runJob(plain.qmp, 'snapshot-save', { tag, vmstate: 'disk0', devices: ['disk0'] });
          const t1 = performance.now();
          take[who].push(t1 - t0);
          // Ticks held back in the guest arrive just after the resume: wait for them.
          await sleep(300);
          still[who].push(ticks[who].longestGap(t0, t1 + 300) / 1000);
          t0 = performance.now();
          if (who === 'nb') await d.client.call('snapshots.restore', { ref: name, id: tag });
          else await runJob(plain.qmp, 'snapshot-load', { tag, vmstate: 'disk0', devices: ['disk0'] });
          restore[who].push(performance.now() - t0);
          const log = who === 'nb' ? created.vm.serialLog : plain.log;
          answer[who].push(await serialRun(who === 'nb' ? nbWrite : plWrite, log, `echo BACK-${i}-$((${i}*2+1))`, `BACK-${i}-${i * 2 + 1}`, 60_000));
        }
      }
      rows.push(
        row(`take, ${size} MiB guest`, 's', take.nb.map((x) => x / 1000), 'plain QMP', take.plain.map((x) => x / 1000), '≤ 1.1×'),
        row(`guest stands still during take, ${size} MiB`, 's', still.nb, 'plain QMP', still.plain, 'lower'),
        row(`restore, ${size} MiB guest`, 's', restore.nb.map((x) => x / 1000), 'plain QMP', restore.plain.map((x) => x / 1000), '≤ 1.1×'),
        row(`guest answers after restore, ${size} MiB`, 'ms', answer.nb, 'plain QMP', answer.plain),
      );
      await d.client.call('vms.powerOff', { ref: name });
    } finally {
      await plain?.stop();
      await d.stop();
      fs.rmSync(home, { recursive: true, force: true });
    }
  }
  printTable('Live snapshots with RAM: Nestbox vs plain QEMU + QMP (same argv, same run, alternating)', rows);
  console.log(`results: ${writeResults('snapshots', rows, { reps: REPS, sizes: SIZES })}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
