/**
 * Hosting the core and finding it. One core runs per data directory, hosted by `nestbox
 * daemon` (started by the CLI when none runs, see autostart.ts), `nestbox serve` or the
 * desktop app's utility process; it takes the data directory's lock and serves the core's
 * unix socket so every other client joins it.
 *
 * Besides the core's API, a hosted core answers two methods of its own on every connection:
 * `server.hello` (who hosts it, which build, which pid) and `server.exit` (a daemon that is
 * idle leaves, e.g. to make room for a newer build).
 */
import fs from 'node:fs';
import type net from 'node:net';
import { NestboxError } from '../api/errors';
import { memoryTransportPair, RpcClient, serveTransport, type Session, type Transport } from '../api/rpc';
import { buildId } from './build';
import { Core, type CoreOptions } from '../services/core';
import { DataLayout } from '../store/paths';
import { acquireLock, type Lock } from './lock';
import { connectUnix, listenUnix } from './socket';

/** Who hosts the core. Only a daemon can be asked to exit. */
export type HostRole = 'daemon' | 'serve' | 'desktop' | 'embedded';

/** The answer to `server.hello`. */
export interface ServerHello {
  readonly role: HostRole;
  readonly build: string;
  readonly pid: number;
}

/** The answer to `server.exit`. */
export interface ExitAnswer {
  readonly exiting: boolean;
  /** Why not, when it stays. */
  readonly reason?: string;
}

export interface HostedCore {
  readonly core: Core;
  readonly role: HostRole;
  /** Sessions connected now (socket, web, desktop ports and in-process clients). */
  readonly clients: number;
  /**
   * Decides a `server.exit` request; `others` is the number of clients besides the asker.
   * Unset: the host does not exit on request.
   */
  onExitRequest: ((others: number) => ExitAnswer) | null;
  /** Connects a transport as a new client session. */
  serve(t: Transport): void;
  /** An in-process client. */
  client(): RpcClient;
  close(): Promise<void>;
}

/** Takes the lock and hosts the core, serving its unix socket. Fails if another core runs. */
export function hostCore(opts: CoreOptions & { readonly role?: HostRole }): Promise<HostedCore> {
  try {
    return openClaimed(claimCore(opts.dataDir), opts);
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

/** The data directory's lock, held by this process: the core is this process's to open. */
export interface CoreClaim {
  readonly layout: DataLayout;
  readonly lock: Lock;
}

/**
 * Takes the data directory's lock, synchronously: throws LOCKED when another core runs. Web
 * mode claims first, then opens the core while it already serves the page (see serve.ts).
 */
export function claimCore(dataDir: string): CoreClaim {
  const layout = new DataLayout(dataDir);
  layout.prepare();
  const lock = acquireLock(layout.lockFile);
  if (!('release' in lock)) {
    throw new NestboxError('LOCKED', `another Nestbox core (pid ${lock.heldBy}) already manages ${layout.dataDir}`);
  }
  return { layout, lock };
}

/** Opens the core under a claim and serves its unix socket; the lock is released if that fails. */
export async function openClaimed({ layout, lock }: CoreClaim, opts: CoreOptions & { readonly role?: HostRole }): Promise<HostedCore> {
  let core: Core;
  let server: net.Server;
  try {
    core = await Core.open(opts);
  } catch (err) {
    lock.release();
    throw err;
  }
  const role = opts.role ?? 'embedded';
  let hosted: HostedCore | null = null;
  let clients = 0;
  const serve = (t: Transport) =>
    serveTransport(t, (push, congested): Session => {
      const inner = core.session(push, congested);
      clients++;
      let disposed = false;
      return {
        async call(method, params) {
          if (method === 'server.hello') return { role, build: buildId(), pid: process.pid } satisfies ServerHello;
          if (method === 'server.exit') {
            const decide = hosted?.onExitRequest;
            return decide ? decide(clients - 1) : ({ exiting: false, reason: `the core is hosted by ${role === 'serve' ? 'nestbox serve' : role === 'desktop' ? 'the desktop app' : 'another program'}` } satisfies ExitAnswer);
          }
          return inner.call(method, params);
        },
        dispose() {
          if (disposed) return;
          disposed = true;
          clients--;
          inner.dispose();
        },
      };
    });
  try {
    server = await listenUnix(layout.coreSocket, serve);
  } catch (err) {
    core.close();
    lock.release();
    throw err;
  }
  hosted = makeHosted(core, role, server, lock, layout, serve, () => clients);
  return hosted;
}

function makeHosted(core: Core, role: HostRole, server: net.Server, lock: Lock, layout: DataLayout, serve: (t: Transport) => void, clients: () => number): HostedCore {
  let closed = false;
  return {
    core,
    role,
    get clients() {
      return clients();
    },
    onExitRequest: null,
    serve,
    client() {
      const [a, b] = memoryTransportPair();
      serve(a);
      return new RpcClient(b);
    },
    async close() {
      if (closed) return;
      closed = true;
      // Synchronously, before anything else: no connection is accepted once a host decided to go.
      server.close();
      try {
        fs.rmSync(layout.coreSocket, { force: true });
      } catch {
        // ignore
      }
      // Storage jobs end first (qemu-img stopped, partial files and half-imported VMs removed).
      await core.jobs.cancelAll();
      core.close();
      lock.release();
    },
  };
}

export interface CoreConnection {
  readonly client: RpcClient;
  /** Set when this process hosts the core (no other core was running). */
  readonly hosted: HostedCore | null;
  close(): Promise<void>;
}

/**
 * Connects to the data directory's core, hosting it in-process when none runs. For tests and
 * tools that want a core in their own process; the CLI uses autostart.ts (a daemon) instead.
 */
export async function connectOrHost(opts: CoreOptions & { hostIfNone?: boolean }): Promise<CoreConnection> {
  const layout = new DataLayout(opts.dataDir);
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (fs.existsSync(layout.coreSocket)) {
      try {
        const t = await connectUnix(layout.coreSocket);
        const client = new RpcClient(t);
        return { client, hosted: null, close: async () => client.close() };
      } catch {
        // A socket left by a core that died: fall through and try to take the lock.
      }
    }
    if (opts.hostIfNone === false) throw new NestboxError('NOT_FOUND', `no Nestbox core is running for ${layout.dataDir}`);
    try {
      const hosted = await hostCore(opts);
      const client = hosted.client();
      return {
        client,
        hosted,
        close: async () => {
          client.close();
          await hosted.close();
        },
      };
    } catch (err) {
      // Another process holds the lock and is still starting its core: wait for its socket.
      if (err instanceof NestboxError && err.code === 'LOCKED' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      throw err;
    }
  }
}
