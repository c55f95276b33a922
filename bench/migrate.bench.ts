/**
 * Live migration between two libvirt hosts: Nestbox's migration (a `vms.migrate` job through
 * `nestbox daemon`'s API, as the desktop and web UI start it, and a whole `nestbox migrate
 * HOST:VM --to HOST2` process, as a user types it) against `virsh migrate --live --p2p
 * --persistent --undefinesource` alone — the same flags, the same destination URI and
 * migration address — between the same two libvirtd daemons (each in its own network
 * namespace), on the same running guest (the test ISO, no disk: shared read-only storage).
 *
 * Each repetition, each side ping-pongs the guest A→B and then B→A, so every side starts from
 * the guest on A; the order of the sides rotates from one repetition to the next. Total time is
 * measured here from the request to its answer; downtime and libvirt's elapsed time are
 * libvirt's own figures (`domjobinfo --completed` on the destination: Nestbox's result carries
 * them, and the benchmark asks for them after a `virsh migrate`).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { JobInfo, LogEntry, MigrateResult, VmSummary } from '../src/core/api/contract';
import { assertNever } from '../src/core/api/errors';
import { parseJobInfo } from '../src/core/libvirt/parse';
import type { LibvirtTestHost } from '../test/support/libvirt-hosts';
import { HOST_NAMES, startBenchHosts, until } from './hosts';
import { CLI, markerAt, printTable, row, sleep, testIso, writeResults, type Row } from './lib';
import { defineDomain, virshOn } from './libvirt';

const REPS = Number(process.env['BENCH_REPS'] ?? 5);
const MEMORY = Number(process.env['BENCH_MIGRATE_MIB'] ?? 256);
const VM = 'nestbox-bench-mig';
const READY = /NESTBOX-GUEST-READY/;

const run = promisify(execFile);

type Side = 'api' | 'cli' | 'virsh';
const SIDES: readonly Side[] = ['api', 'cli', 'virsh'];

interface Sample {
  readonly rep: number;
  readonly side: Side;
  readonly from: string;
  readonly to: string;
  /** Request → answer, measured here. */
  readonly totalMs: number;
  /** libvirt's figures from the destination. */
  readonly downtimeMs: number;
  readonly libvirtElapsedMs: number;
}

function migrateResultOf(r: MigrateResult, what: string): { downtimeMs: number; libvirtElapsedMs: number } {
  if (r.downtimeMs === null) throw new Error(`${what}: libvirt reported no downtime`);
  return { downtimeMs: r.downtimeMs, libvirtElapsedMs: r.elapsedMs };
}

async function main(): Promise<void> {
  const iso = testIso();
  console.log(`starting two libvirt hosts and a Nestbox daemon; ${REPS} repetitions, ${MEMORY} MiB guest`);
  const setup = await startBenchHosts(2);
  const home = setup.home;
  const byName = new Map<string, LibvirtTestHost>(setup.hosts.map((h, i) => [HOST_NAMES[i]!, h]));
  const [A, B] = [HOST_NAMES[0], HOST_NAMES[1]];
  const env = { ...process.env, NESTBOX_HOME: home };
  const samples: Sample[] = [];
  let libvirtVersion = '';
  /** How Nestbox's migrations got libvirt's figures: the destination's job-completed event, or domjobinfo after waiting for it. */
  const figures = { migrated: 0, domjobinfoFallback: 0 };
  try {
    const a = byName.get(A)!;
    libvirtVersion = (await virshOn(a.socketUri, 'version')).trim().split('\n').join('; ');
    // The serial log and VNC socket live in each host's private images directory (the same
    // path on both, so the definition migrates unchanged); the ISO is read-only and seen by both.
    await defineDomain(
      { name: VM, memoryMiB: MEMORY, iso, disk: null, serialLog: `${a.hostImagesDir}/${VM}.log`, vncSocket: `${a.hostImagesDir}/${VM}.vnc` },
      a.imagesDir,
      a.socketUri,
    );
    await virshOn(a.socketUri, 'start', VM);
    await markerAt(path.join(a.imagesDir, `${VM}.log`), READY, 300_000);
    console.log('guest booted on A');

    /**
     * Untimed: libvirt sees the guest running on `to`, and so does Nestbox (listed running on
     * `to`, gone from `from`) when its daemon is up.
     */
    const settle = async (from: string, to: string) => {
      const dst = byName.get(to)!;
      await until(`${VM} running on ${to} (libvirt)`, async () => (await virshOn(dst.socketUri, 'domstate', VM)).trim() === 'running');
      await nestboxSees(from, to);
      // Let the source's QEMU finish exiting before the next side's clock starts.
      await sleep(500);
    };
    const nestboxSees = async (from: string, to: string) => {
      let d: typeof setup.daemon;
      try {
        d = setup.daemon;
      } catch {
        return; // stopped while virsh is measured alone
      }
      await until(`${VM} listed running on ${to} and gone from ${from} (Nestbox)`, async () => {
        const there = (await d.client.call('vms.list', { host: to })).find((v: VmSummary) => v.name === VM);
        const here = (await d.client.call('vms.list', { host: from })).some((v: VmSummary) => v.name === VM);
        return there?.state === 'running' && !here;
      });
    };

    const migrate = async (side: Side, rep: number, from: string, to: string): Promise<Sample> => {
      const src = byName.get(from)!;
      const dst = byName.get(to)!;
      const what = `${side} ${from}→${to} (repetition ${rep + 1})`;
      let t0: number;
      let totalMs: number;
      let libvirt: { downtimeMs: number; libvirtElapsedMs: number };
      switch (side) {
        case 'api': {
          t0 = performance.now();
          const job = await setup.daemon.client.call('vms.migrate', { ref: `${from}:${VM}`, to });
          const end: JobInfo = await setup.daemon.client.call('jobs.wait', { id: job.id });
          totalMs = performance.now() - t0;
          if (end.state !== 'done') throw new Error(`${what}: the job ended ${end.state}: ${end.error?.message ?? ''}`);
          libvirt = migrateResultOf(end.result as MigrateResult, what);
          break;
        }
        case 'cli': {
          t0 = performance.now();
          const { stdout } = await run(process.execPath, [CLI, 'migrate', `${from}:${VM}`, '--to', to, '--json'], { env });
          totalMs = performance.now() - t0;
          libvirt = migrateResultOf(JSON.parse(stdout) as MigrateResult, what);
          break;
        }
        case 'virsh': {
          // The flags and URIs Nestbox's libvirt client gives virsh for this migration.
          const args = ['-c', src.socketUri, 'migrate', '--live', '--p2p', '--persistent', '--undefinesource', '--domain', VM, '--desturi', dst.socketUri, '--migrateuri', `tcp://${dst.migrateAddr}`];
          t0 = performance.now();
          await run('virsh', args, { env: { ...process.env, LC_ALL: 'C' } });
          totalMs = performance.now() - t0;
          const info = parseJobInfo(await virshOn(dst.socketUri, 'domjobinfo', '--completed', '--domain', VM), to);
          if (info.downtimeMs === null) throw new Error(`${what}: libvirt reported no downtime`);
          libvirt = { downtimeMs: info.downtimeMs, libvirtElapsedMs: info.progress.elapsedMs };
          break;
        }
        default:
          return assertNever(side, 'side');
      }
      await settle(from, to);
      const s: Sample = { rep, side, from, to, totalMs, ...libvirt };
      console.log(`  ${what}: ${totalMs.toFixed(0)} ms, downtime ${s.downtimeMs} ms, libvirt elapsed ${s.libvirtElapsedMs} ms`);
      return s;
    };

    await settle(B, A);
    for (let i = 0; i < REPS; i++) {
      const order = [...SIDES.slice(i % SIDES.length), ...SIDES.slice(0, i % SIDES.length)];
      for (const side of order) {
        // virsh alone: Nestbox's daemon (its event streams and the re-lists they trigger) is
        // stopped while virsh runs, and started again (untimed) before Nestbox's turn.
        if (side === 'virsh') await setup.stopDaemon();
        samples.push(await migrate(side, i, A, B));
        samples.push(await migrate(side, i, B, A));
        if (side === 'virsh') {
          await setup.startDaemon();
          await nestboxSees(B, A);
          await sleep(1000); // the restarted daemon's first re-lists are over before the next clock starts
        }
      }
    }
    const log: readonly LogEntry[] = await setup.daemon.client.call('events.recent', { limit: 1000 });
    figures.migrated = log.filter((e) => e.kind === 'migrate' && /^migrated '/.test(e.message)).length;
    figures.domjobinfoFallback = log.filter((e) => e.kind === 'migrate' && /no job-completed event/.test(e.message)).length;
    console.log(`libvirt's figures: ${figures.migrated - figures.domjobinfoFallback} of ${figures.migrated} migrations from a job-completed event (source or destination), ${figures.domjobinfoFallback} read with domjobinfo after waiting for it`);
  } finally {
    await setup.stop();
  }

  const of = (side: Side, k: 'totalMs' | 'downtimeMs' | 'libvirtElapsedMs') => samples.filter((s) => s.side === side).map((s) => s[k]);
  const VIRSH = 'virsh migrate --live --p2p';
  const rows: Row[] = [
    row('live migration A→B and B→A, request → done (API)', 'ms', of('api', 'totalMs'), VIRSH, of('virsh', 'totalMs'), '≤ 1.05×'),
    row('  same, downtime (libvirt)', 'ms', of('api', 'downtimeMs'), VIRSH, of('virsh', 'downtimeMs')),
    row("  same, libvirt's elapsed time", 'ms', of('api', 'libvirtElapsedMs'), VIRSH, of('virsh', 'libvirtElapsedMs')),
    row('live migration, `nestbox migrate` process', 'ms', of('cli', 'totalMs'), VIRSH, of('virsh', 'totalMs'), '≤ 1.05×'),
    row('  same, downtime (libvirt)', 'ms', of('cli', 'downtimeMs'), VIRSH, of('virsh', 'downtimeMs')),
  ];
  printTable(`Live migration between two libvirt hosts (${MEMORY} MiB guest): Nestbox vs virsh`, rows);
  console.log(
    `results: ${writeResults('migrate', rows, {
      reps: REPS,
      memoryMiB: MEMORY,
      guest: 'test ISO (read-only, shared), no disk, q35, TCG',
      hosts: 'two libvirtd in their own network + mount namespaces (test/support/libvirt-hosts.ts); peer URI = the destination socket, migration data over the hosts\' veth network',
      libvirtVersion,
      samples,
      figures,
    })}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
