/**
 * How the desktop's core process reaches the data directory's core, for every window it
 * connects. When another core (`nestbox daemon`, `nestbox serve`) manages the directory,
 * each window is bridged to that core's socket. That core may go away while the app stays
 * open (a background daemon exits when idle): a window opened afterwards must not find a
 * dead socket, so the desktop then hosts the core itself, as it does when none runs at its
 * start. (A packaged app cannot run Node scripts — its RunAsNode fuse is off — so it cannot
 * start `nestbox daemon` the way the CLI does; hosting the core is what it can do.)
 */
import fs from 'node:fs';
import { bridgeTransports, type Transport } from '../api/rpc';
import { DataLayout } from '../store/paths';
import { hostCore, type HostedCore } from './host';
import { lockHolder } from './lock';
import { connectUnix } from './socket';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface DesktopCore {
  /** Connects a window (or main itself) to the data directory's core. */
  serve(t: Transport): Promise<void>;
  /** The core this process hosts, if it has come to host one. */
  hosted(): HostedCore | null;
  close(): Promise<void>;
}

export async function desktopCore(dataDir: string, opts: { readonly retryMs?: number } = {}): Promise<DesktopCore> {
  const layout = new DataLayout(dataDir);
  let hosted: HostedCore | null = null;
  let hosting: Promise<HostedCore> | null = null;
  const host = (): Promise<HostedCore> => {
    hosting ??= hostCore({ dataDir, role: 'desktop' }).then(
      (h) => (hosted = h),
      (err: unknown) => {
        hosting = null;
        throw err;
      },
    );
    return hosting;
  };
  const other = async (): Promise<Transport | null> => (fs.existsSync(layout.coreSocket) ? connectUnix(layout.coreSocket).catch(() => null) : null);

  const first = await other();
  if (first) first.close();
  else await host();

  return {
    async serve(t) {
      const deadline = Date.now() + (opts.retryMs ?? 30_000);
      for (;;) {
        if (hosting) return (await hosting).serve(t);
        const core = await other();
        if (core) return bridgeTransports(t, core);
        // No core answers. One that holds the lock is starting or on its way out: wait for it.
        if (lockHolder(layout.lockFile) === null) {
          try {
            return (await host()).serve(t);
          } catch {
            // another process took the lock first: connect to it
          }
        }
        if (Date.now() > deadline) {
          t.close();
          return;
        }
        await sleep(100);
      }
    },
    hosted: () => hosted,
    async close() {
      if (hosting) await (await hosting).close();
    },
  };
}
