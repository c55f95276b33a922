/**
 * A call that goes to a libvirt host over real SSH: `vms.info` of a host's VM (its domain XML
 * read through virsh) through an already connected `nestbox daemon`, with the daemon sharing
 * one SSH connection per host (sshmux.ts, the default) against a second daemon with
 * `NESTBOX_SSH_SHARE=off` (every virsh makes its own SSH connection), and `virsh dumpxml` of the
 * same domain as a new process over the same URI (libvirt's own client, one SSH connection per
 * call). One host: a real libvirtd in its own namespaces behind a real key-only sshd
 * (test/support/libvirt-hosts.ts); its SSH is reached through `ip netns exec … nc`, so no TCP
 * leaves the root namespace. The three are timed in each repetition, their order rotating.
 */
import fs from 'node:fs';
import type { HostSummary } from '../src/core/api/contract';
import { defineTestGuest, startTestHosts, until } from '../test/support/host-setup';
import { printTable, row, startDaemon, tempHome, testIso, timeCmd, writeResults, type Row } from './lib';

const REPS = Number(process.env['BENCH_REPS'] ?? 15);
const VM = 'nestbox-bench-ssh';

async function main(): Promise<void> {
  const iso = testIso();
  console.log(`starting a libvirt host behind sshd and two Nestbox daemons; ${REPS} repetitions`);
  const setup = await startTestHosts({ count: 1, sshHost: 0 });
  const host = setup.hosts[0]!;
  const uri = host.sshUri!;
  const homes = [tempHome(), tempHome()];
  const daemons: Awaited<ReturnType<typeof startDaemon>>[] = [];
  const shared: number[] = [];
  const unshared: number[] = [];
  const virsh: number[] = [];
  try {
    defineTestGuest(host, VM, iso);
    daemons.push(await startDaemon(homes[0]!));
    daemons.push(await startDaemon(homes[1]!, { env: { NESTBOX_SSH_SHARE: 'off' } }));
    for (const d of daemons) {
      await d.client.call('hosts.add', { name: 'alpha', uri });
      await until('alpha connected', async () => (await d.client.call('hosts.list', {})).every((h: HostSummary) => h.status === 'connected'), 60_000);
      await until(`${VM} listed`, async () => (await d.client.call('vms.list', { host: 'alpha' })).some((v) => v.name === VM), 60_000);
    }
    const info = (d: (typeof daemons)[number], into: number[]) => async () => {
      const t0 = performance.now();
      const vm = await d.client.call('vms.info', { ref: `alpha:${VM}` });
      into.push(performance.now() - t0);
      if (vm.name !== VM) throw new Error(`vms.info answered ${vm.name}`);
    };
    const steps = [info(daemons[0]!, shared), info(daemons[1]!, unshared), async () => virsh.push(timeCmd('virsh', ['-c', uri, 'dumpxml', VM], { ...process.env, LC_ALL: 'C' }))];
    // One untimed round: the shared connection's master is made by the first call.
    for (const s of steps) await s();
    shared.length = unshared.length = virsh.length = 0;
    for (let i = 0; i < REPS; i++) {
      for (let k = 0; k < steps.length; k++) await steps[(i + k) % steps.length]!();
    }
  } finally {
    for (const d of daemons) await d.stop().catch(() => undefined);
    await setup.stop([VM]);
    for (const h of homes) fs.rmSync(h, { recursive: true, force: true });
  }
  const rows: Row[] = [
    row('API vms.info of a host VM over SSH, shared connection', 'ms', shared, 'same, NESTBOX_SSH_SHARE=off', unshared),
    row('API vms.info of a host VM over SSH, shared connection', 'ms', shared, 'virsh dumpxml (new process)', virsh),
  ];
  printTable('A call to a libvirt host over SSH: one shared connection vs one connection per call', rows);
  console.log(`results: ${writeResults('hostssh', rows, { reps: REPS, host: 'one libvirtd in its own namespaces behind a key-only sshd (test/support/libvirt-hosts.ts), ssh through ip netns exec nc', samples: { shared, unshared, virsh } })}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
