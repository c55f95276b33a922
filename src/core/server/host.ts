/**
 * Hosting the core and finding it. Whoever needs the core (CLI, web mode, desktop) first
 * tries the running core's socket; with none, it takes the data directory's lock and hosts
 * the core itself, serving the same socket so later clients join it.
 */
import fs from 'node:fs';
import type net from 'node:net';
import { NestboxError } from '../api/errors';
import { memoryTransportPair, RpcClient, serveTransport, type Transport } from '../api/rpc';
import { Core, type CoreOptions } from '../services/core';
import { DataLayout } from '../store/paths';
import { acquireLock, type Lock } from './lock';
import { connectUnix, listenUnix } from './socket';

export interface HostedCore {
  readonly core: Core;
  /** Connects a transport as a new client session. */
  serve(t: Transport): void;
  /** An in-process client. */
  client(): RpcClient;
  close(): Promise<void>;
}

/** Takes the lock and hosts the core, serving its unix socket. Fails if another core runs. */
export async function hostCore(opts: CoreOptions): Promise<HostedCore> {
  const layout = new DataLayout(opts.dataDir);
  layout.prepare();
  const lock = acquireLock(layout.lockFile);
  if (!('release' in lock)) {
    throw new NestboxError('LOCKED', `another Nestbox core (pid ${lock.heldBy}) already manages ${layout.dataDir}`);
  }
  let core: Core;
  let server: net.Server;
  try {
    core = await Core.open(opts);
  } catch (err) {
    lock.release();
    throw err;
  }
  const serve = (t: Transport) => serveTransport(t, (push, congested) => core.session(push, congested));
  try {
    server = await listenUnix(layout.coreSocket, serve);
  } catch (err) {
    core.close();
    lock.release();
    throw err;
  }
  return makeHosted(core, server, lock, layout, serve);
}

function makeHosted(core: Core, server: net.Server, lock: Lock, layout: DataLayout, serve: (t: Transport) => void): HostedCore {
  let closed = false;
  return {
    core,
    serve,
    client() {
      const [a, b] = memoryTransportPair();
      serve(a);
      return new RpcClient(b);
    },
    async close() {
      if (closed) return;
      closed = true;
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

/** Connects to the data directory's core, hosting it in-process when none runs. */
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
