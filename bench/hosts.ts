/**
 * libvirt hosts for the benchmarks: real libvirtd daemons in their own network namespaces
 * (test/support/libvirt-hosts.ts, the harness the multi-host tests use), added to a
 * `nestbox daemon` the way test/integration/hosts.test.ts adds them. This computer reaches
 * every host through its unix socket only; a source daemon reaches its peer by that socket
 * path too (every host sees /tmp) and sends the migration data over the hosts' own network
 * (`migrateAddr`), so nothing sends TCP from the root namespace into a namespace.
 */
import fs from 'node:fs';
import type { HostSummary } from '../src/core/api/contract';
import { HOST_NAMES, startTestHosts, until as untilIn } from '../test/support/host-setup';
import type { LibvirtHosts, LibvirtTestHost } from '../test/support/libvirt-hosts';
import { startDaemon, tempHome } from './lib';

export { HOST_NAMES };

/** Polls `fn` every 100 ms until it returns something other than undefined/false (a minute by default). */
export function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  return untilIn(what, fn, timeoutMs);
}

type Daemon = Awaited<ReturnType<typeof startDaemon>>;

export interface BenchHosts {
  readonly lv: LibvirtHosts;
  readonly hosts: readonly LibvirtTestHost[];
  /** NESTBOX_HOME of the daemon (for whole `nestbox` CLI processes). */
  readonly home: string;
  /** The running daemon; throws while it is stopped. */
  readonly daemon: Daemon;
  /**
   * Stops the daemon, so a peer is measured alone (no event streams, no re-lists of the
   * hosts' domains competing with it for the CPUs).
   */
  stopDaemon(): Promise<void>;
  /** Starts it again on the same data and waits until every host is connected. */
  startDaemon(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `count` libvirt hosts and a `nestbox daemon` that knows them as alpha, beta, … */
export async function startBenchHosts(count: number): Promise<BenchHosts> {
  if (count > HOST_NAMES.length) throw new Error(`at most ${HOST_NAMES.length} hosts`);
  // No SSH host: the benchmarks time libvirt and Nestbox, not an SSH hop (both sides would pay it).
  const setup = await startTestHosts({ count, sshHost: -1 });
  const lv = setup.lv;
  const home = tempHome();
  let daemon: Daemon | null = null;
  const stopDaemon = async () => {
    const d = daemon;
    daemon = null;
    await d?.stop();
  };
  const stop = async () => {
    await stopDaemon().catch(() => undefined);
    await setup.stop();
    fs.rmSync(home, { recursive: true, force: true });
  };
  const connected = async (d: Daemon) => {
    await until('every host connected', async () => (await d.client.call('hosts.list', {})).every((h: HostSummary) => h.status === 'connected'));
  };
  try {
    daemon = await startDaemon(home);
    await setup.register(daemon.client);
    return {
      lv,
      hosts: lv.hosts,
      home,
      get daemon(): Daemon {
        if (!daemon) throw new Error('the Nestbox daemon is stopped');
        return daemon;
      },
      stopDaemon,
      async startDaemon() {
        if (daemon) return;
        const d = await startDaemon(home);
        daemon = d;
        await connected(d);
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
