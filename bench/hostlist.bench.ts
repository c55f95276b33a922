/**
 * Listing a libvirt host's VMs: `nestbox list --host H` (a whole CLI process, as a user runs
 * it, against a running `nestbox daemon` that has the host added) against `virsh list --all`
 * on the same host, with the same domains defined there (not running). The host is a real
 * libvirtd in its own network namespace (test/support/libvirt-hosts.ts), reached from here
 * through its unix socket by both sides. Alternating: Nestbox first on odd repetitions, virsh
 * first on even ones.
 */
import { spawnSync } from 'node:child_process';
import type { VmSummary } from '../src/core/api/contract';
import { HOST_NAMES, startBenchHosts, until } from './hosts';
import { CLI, printTable, row, testIso, timeCmd, writeResults, type Row } from './lib';
import { defineDomain, virshOn } from './libvirt';

const REPS = Number(process.env['BENCH_REPS'] ?? 9);
const COUNT = Number(process.env['BENCH_HOST_VMS'] ?? 100);
const PREFIX = 'nestbox-bench-hl-';

async function main(): Promise<void> {
  const iso = testIso();
  console.log(`starting a libvirt host and a Nestbox daemon; ${COUNT} domains, ${REPS} repetitions`);
  const setup = await startBenchHosts(1);
  const host = setup.hosts[0]!;
  const name = HOST_NAMES[0];
  const env = { ...process.env, NESTBOX_HOME: setup.home };
  const nestbox: number[] = [];
  const virsh: number[] = [];
  const api: number[] = [];
  try {
    for (let i = 0; i < COUNT; i++) {
      const vm = `${PREFIX}${i}`;
      await defineDomain({ name: vm, memoryMiB: 128, iso, disk: null, serialLog: `${host.hostImagesDir}/${vm}.log`, vncSocket: `${host.hostImagesDir}/${vm}.vnc` }, host.imagesDir, host.socketUri);
    }
    // Nestbox learns of them from libvirt's events; both sides must list all of them.
    await until(`Nestbox to list the ${COUNT} domains of ${name}`, async () => (await setup.daemon.client.call('vms.list', { host: name })).length === COUNT);
    const cli = spawnSync(process.execPath, [CLI, 'list', '--host', name, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 2 ** 20 });
    const listed = (JSON.parse(cli.stdout.toString()) as VmSummary[]).filter((v) => v.name.startsWith(PREFIX)).length;
    const lv = (await virshOn(host.socketUri, 'list', '--all', '--name')).split('\n').filter((l) => l.startsWith(PREFIX)).length;
    if (listed !== COUNT || lv !== COUNT) throw new Error(`expected ${COUNT} domains on both sides, nestbox list --host listed ${listed}, virsh ${lv}`);

    const nb = () => nestbox.push(timeCmd(process.execPath, [CLI, 'list', '--host', name], env));
    const vs = () => virsh.push(timeCmd('virsh', ['-c', host.socketUri, 'list', '--all'], { ...process.env, LC_ALL: 'C' }));
    for (let i = 0; i < REPS; i++) {
      for (const f of i % 2 === 0 ? [nb, vs] : [vs, nb]) f();
      // The same request through an already connected client: what of the CLI's time is the request itself.
      const t0 = performance.now();
      await setup.daemon.client.call('vms.list', { host: name, wait: true });
      api.push(performance.now() - t0);
    }
  } finally {
    await setup.stop();
  }
  const rows: Row[] = [
    row(`CLI list --host, ${COUNT} VMs defined on a libvirt host`, 'ms', nestbox, 'virsh list --all', virsh),
    row(`  same request through the API (connected client)`, 'ms', api, 'virsh list --all', virsh),
  ];
  printTable(`Listing a libvirt host's VMs: nestbox list --host vs virsh list --all`, rows);
  console.log(`results: ${writeResults('hostlist', rows, { reps: REPS, vms: COUNT, host: 'one libvirtd in its own network + mount namespace (test/support/libvirt-hosts.ts), through its unix socket', samples: { nestbox, virsh, api } })}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
