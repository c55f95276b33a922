/**
 * How the CLI reaches the data directory's core: connect to its socket; when none answers,
 * start `nestbox daemon --background` detached (its own session, output to a log in the
 * data directory) and connect to that. The lock file decides races: of two daemons started
 * at once one takes the lock, the other exits, and both CLIs end up on the one that won.
 *
 * At connect the CLI asks `server.hello`: a daemon of a different build is asked to exit
 * (it does when idle, and a new one is started) or, when busy, used as it is.
 *
 * Every CLI command passes through here, so what is only needed when no core answers (the
 * lock check, node:child_process to start a daemon) is loaded only then: a command against
 * a running core does not pay for it at start-up.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NestboxError } from '../api/errors';
import { RpcClient } from '../api/rpc';
import { DataLayout } from '../store/paths';
import { buildId } from './build';
import type { ExitAnswer, ServerHello } from './host';
import { connectUnix } from './socket';

const LOG_MAX_BYTES = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface AutostartOptions {
  readonly dataDir: string;
  /** The command that runs `nestbox daemon --background` (node and the CLI's script). */
  readonly daemonCommand: readonly [string, ...string[]];
  /** Notes for the user (stderr). */
  readonly note: (line: string) => void;
  readonly timeoutMs?: number;
}

export interface CoreLink {
  readonly client: RpcClient;
  /** Who hosts the core (null: a core of a build older than `server.hello`). */
  readonly hello: ServerHello | null;
  close(): Promise<void>;
}

/** The methods of the hosting layer are not part of the core's typed API. */
function hostCall<T>(client: RpcClient, method: 'server.hello' | 'server.exit', params: unknown): Promise<T> {
  const call = client.call as unknown as (this: RpcClient, m: string, p: unknown) => Promise<T>;
  return call.call(client, method, params);
}

export function daemonLogFile(dataDir: string): string {
  return path.join(dataDir, 'daemon.log');
}

/** Starts the daemon detached: its own session (setsid), stdio to the log, not waited for. */
async function spawnDaemon(layout: DataLayout, command: readonly [string, ...string[]]): Promise<ChildProcess> {
  const { spawn } = await import('node:child_process');
  const log = daemonLogFile(layout.dataDir);
  try {
    if (fs.statSync(log).size > LOG_MAX_BYTES) fs.renameSync(log, `${log}.1`);
  } catch {
    // no log yet
  }
  const fd = fs.openSync(log, 'a', 0o600);
  try {
    fs.writeSync(fd, `--- ${new Date().toISOString()} starting the Nestbox core (build ${buildId()})\n`);
    const [cmd, ...args] = command;
    const child = spawn(cmd, args, { cwd: layout.dataDir, detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, NESTBOX_HOME: layout.dataDir } });
    child.on('error', () => undefined);
    child.unref();
    return child;
  } finally {
    fs.closeSync(fd);
  }
}

function logTail(dataDir: string): string {
  try {
    return fs.readFileSync(daemonLogFile(dataDir), 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '';
  }
}

/** No live process holds the data directory's core lock (so no core is on its way up). */
async function nobodyHoldsLock(layout: DataLayout): Promise<boolean> {
  const { lockHolder } = await import('./lock');
  return lockHolder(layout.lockFile) === null;
}

async function tryConnect(socket: string): Promise<RpcClient | null> {
  if (!fs.existsSync(socket)) return null;
  try {
    return new RpcClient(await connectUnix(socket));
  } catch {
    return null;
  }
}

/** Connects to the data directory's core, starting a background daemon when none runs. */
export async function connectCore(opts: AutostartOptions): Promise<CoreLink> {
  const layout = new DataLayout(opts.dataDir);
  layout.prepare();
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let child: ChildProcess | null = null;
  let starts = 0;
  let replacing: number | null = null;
  for (;;) {
    const client = await tryConnect(layout.coreSocket);
    if (client) {
      let hello: ServerHello | null = null;
      let usable = true;
      try {
        hello = await hostCall<ServerHello>(client, 'server.hello', {});
      } catch (err) {
        // A core from before `server.hello` answers UNKNOWN_METHOD: use it as it is. A closed
        // connection is a daemon on its way out: wait for it and start another.
        if (!(err instanceof NestboxError && err.code === 'UNKNOWN_METHOD')) usable = false;
      }
      if (usable && hello && hello.role === 'daemon' && hello.build !== buildId()) {
        const answer = await hostCall<ExitAnswer>(client, 'server.exit', { reason: `replaced by build ${buildId()}` }).catch((): ExitAnswer => ({ exiting: false, reason: 'it did not answer' }));
        if (answer.exiting) {
          if (replacing !== hello.pid) opts.note(`nestbox: replacing the core of another Nestbox build (pid ${hello.pid}, build ${hello.build})`);
          replacing = hello.pid;
          usable = false;
        } else {
          opts.note(`nestbox: the running core (pid ${hello.pid}) is from another Nestbox build (${hello.build}) and busy (${answer.reason ?? 'busy'}); using it`);
        }
      }
      if (usable) {
        const c = client;
        return { client: c, hello, close: async () => c.close() };
      }
      client.close();
    } else if ((child === null || child.exitCode !== null || child.signalCode !== null) && (await nobodyHoldsLock(layout))) {
      if (starts >= 3) {
        throw new NestboxError('INTERNAL', `the Nestbox core did not start for ${layout.dataDir}; ${daemonLogFile(layout.dataDir)} ends with:\n${logTail(layout.dataDir)}`);
      }
      starts++;
      child = await spawnDaemon(layout, opts.daemonCommand);
    }
    if (Date.now() > deadline) {
      throw new NestboxError('TIMEOUT', `no Nestbox core answered for ${layout.dataDir}; see ${daemonLogFile(layout.dataDir)}`);
    }
    await sleep(50);
  }
}
