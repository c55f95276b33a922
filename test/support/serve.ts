/**
 * `nestbox serve` as a real child process for the web-server tests, and plain requests to it
 * (over TCP from a chosen loopback address, or raw bytes on a socket).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { CLI } from '../integration/helpers';

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly url: URL;
  readonly port: number;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Still running. */
  alive(): boolean;
  stop(): Promise<void>;
}

export async function startServeProcess(home: string, args: readonly string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { env: { ...process.env, NESTBOX_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<URL>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`nestbox serve printed no URL in 30 s; stderr: ${err}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(https?:\/\/\S+\/\?token=\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(new URL(m[1]!));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`nestbox serve exited (${code}): ${err}`));
    });
  });
  // The URL comes as soon as the page can load; the core may still be opening. Its unix socket
  // (which these tests also use) is there once serve says it hosts or joined the core.
  await serveCoreReady(child, () => err);
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    url,
    port: Number(url.port),
    stderr: () => err,
    alive,
    async stop() {
      if (!alive()) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/**
 * Waits until `nestbox serve` says on stderr that it hosts the core or joined the running
 * one: from then on the core's unix socket answers (its URL comes earlier, as soon as the
 * page can load). `stderr` returns all it wrote so far; a listener that collects it must be
 * registered before this is called, so each chunk is counted before it is checked.
 */
export function serveCoreReady(child: ChildProcess, stderr: () => string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // A liveness bound for a hung start-up, not a performance claim.
    const t = setTimeout(() => reject(new Error(`nestbox serve never said its core was ready; stderr: ${stderr()}`)), 60_000);
    const check = () => {
      if (/hosting the core|connected to the running core/.test(stderr())) {
        clearTimeout(t);
        resolve();
      }
    };
    check();
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`nestbox serve exited (${code}): ${stderr()}`));
    });
  });
}

/** `nestbox serve ARGS` that is expected to refuse to start: its exit code and stderr. */
export function serveRefusal(home: string, args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { env: { ...process.env, NESTBOX_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stderr: err });
    }),
  );
}

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** An HTTP request to 127.0.0.1:port with exactly these headers (Host included), from `localAddress`. */
export function httpTo(
  port: number,
  p: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer; localAddress?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: p, method: opts.method ?? 'GET', headers: { Host: `127.0.0.1:${port}`, ...opts.headers }, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Sends raw bytes and collects what comes back until the server closes or `ms` pass. */
export function rawExchange(port: number, bytes: Buffer | string, ms = 2000, localAddress?: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
    let got = '';
    const done = () => {
      clearTimeout(t);
      sock.destroy();
      resolve(got);
    };
    const t = setTimeout(done, ms);
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
    sock.on('error', done);
    sock.on('close', done);
    sock.on('connect', () => sock.write(bytes));
  });
}

/** Trades the printed URL's token for a session cookie (`name=value`). */
export async function login(serve: ServeProcess): Promise<string> {
  const r = await httpTo(serve.port, `/?token=${serve.url.searchParams.get('token')}`);
  if (r.status !== 303) throw new Error(`login answered ${r.status}: ${r.body}`);
  return String(r.headers['set-cookie']![0]).split(';')[0]!;
}
