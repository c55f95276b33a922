/**
 * Web mode (`nestbox serve`): the desktop UI over HTTP and a WebSocket. It joins the data
 * directory's running core if there is one, else hosts the core itself (and then serves the
 * core's unix socket too, so CLI commands join it).
 *
 * When it hosts the core, it serves before the core is open: it takes the data directory's
 * lock (so a second core is refused before any URL is printed), starts the web server, and
 * opens the core meanwhile. The browser loads the page while the core reads its inventory;
 * a WebSocket accepted in between is held (heldTransport) and joins the core once it is open.
 * If the core cannot open, `ready` says why and those clients are closed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { bridgeTransports, heldTransport, RpcClient, type Transport } from '../api/rpc';
import { NestboxError } from '../api/errors';
import { parseSize } from '../domain/units';
import { DataLayout } from '../store/paths';
import { claimCore, openClaimed, type HostedCore } from './host';
import { connectUnix } from './socket';
import { isLoopback, startWebServer } from './web';

/**
 * The access token survives restarts of `serve` (kept 0600 in the data directory), so open
 * pages reconnect by themselves after a restart; `--new-token` rotates it.
 */
function webToken(layout: DataLayout, rotate: boolean): string {
  const file = path.join(layout.dataDir, 'web-token');
  if (!rotate) {
    try {
      const t = fs.readFileSync(file, 'utf8').trim();
      if (/^[A-Za-z0-9_-]{32,}$/.test(t)) return t;
    } catch {
      // none yet
    }
  }
  const t = randomBytes(24).toString('base64url');
  fs.mkdirSync(layout.dataDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(`${file}.tmp`, `${t}\n`, { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
  return t;
}

export interface ServeOptions {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  /** `--new-token`: a new access token, which also ends every session of the old one. */
  readonly newToken: boolean;
  /** The built renderer. */
  readonly staticDir: string;
  /** More Host names the server answers to (`--allow-host`), besides loopback and `host`. */
  readonly allowHosts?: readonly string[];
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  /** Plain HTTP on a non-loopback address, knowingly. */
  readonly insecure?: boolean;
  /** `--max-upload SIZE` as typed (e.g. 64G). */
  readonly maxUpload?: string;
}

function readPem(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new NestboxError('INVALID_ARGUMENT', `cannot read the TLS ${what} ${file}: ${(err as Error).message}`);
  }
}

export interface Serving {
  readonly url: string;
  /** True when this process hosts the core (no other core was running). */
  readonly hostsCore: boolean;
  /** Served over HTTPS. */
  readonly tls: boolean;
  /** Settles when the core is open (hosted here) or at once (joined); rejects when it cannot open. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export async function startServe(opts: ServeOptions): Promise<Serving> {
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
    throw new NestboxError('INVALID_ARGUMENT', '--tls-cert and --tls-key go together (a PEM certificate chain and its private key)');
  }
  let maxUploadBytes: number | undefined;
  if (opts.maxUpload !== undefined) {
    try {
      maxUploadBytes = parseSize(opts.maxUpload);
    } catch (err) {
      throw new NestboxError('INVALID_ARGUMENT', `--max-upload: ${(err as Error).message}`);
    }
  }
  const tls = opts.tlsCert !== undefined && opts.tlsKey !== undefined ? { cert: readPem(opts.tlsCert, 'certificate'), key: readPem(opts.tlsKey, 'key') } : undefined;
  if (!tls && opts.insecure !== true && !isLoopback(opts.host)) {
    // Refused before the core is touched: the same check startWebServer makes.
    throw new NestboxError(
      'INVALID_ARGUMENT',
      `serving on ${opts.host} without TLS would send the access token and every session over the network in clear text; ` +
        'give a certificate with --tls-cert FILE --tls-key FILE, or --insecure to serve plain HTTP anyway',
    );
  }
  const layout = new DataLayout(opts.dataDir);
  // Join a running core if there is one, else host it here.
  let opening: Promise<HostedCore> | null = null;
  let onClient: (t: Transport) => void;
  let existing: Transport | null = null;
  try {
    existing = fs.existsSync(layout.coreSocket) ? await connectUnix(layout.coreSocket) : null;
  } catch {
    existing = null;
  }
  if (existing) {
    existing.close();
    onClient = (client) => {
      const t = heldTransport(client);
      connectUnix(layout.coreSocket).then(
        (core) => bridgeTransports(t, core),
        () => t.close(),
      );
    };
  } else {
    // The lock now (LOCKED is refused before serving); the core opens while the page loads.
    const claim = claimCore(opts.dataDir);
    const pending = openClaimed(claim, { dataDir: opts.dataDir, role: 'serve' });
    pending.catch(() => undefined);
    opening = pending;
    onClient = (client) => {
      const t = heldTransport(client);
      pending.then(
        (hosted) => hosted.serve(t),
        () => t.close(),
      );
    };
  }
  const hosting = opening;
  // The core decides whether an upload may go (nothing uses it) and deletes it: in-process when
  // hosted here, else over the running core's socket.
  const coreCall = async (method: 'media.discardUpload' | 'media.discardUploadSet', file: string): Promise<void> => {
    const c = hosting ? (await hosting).client() : new RpcClient(await connectUnix(layout.coreSocket));
    try {
      await c.call(method, { path: file });
    } finally {
      c.close();
    }
  };
  const discardUpload = (file: string) => coreCall('media.discardUpload', file);
  const discardUploadSet = (folder: string) => coreCall('media.discardUploadSet', folder);
  let web;
  try {
    web = await startWebServer({
      host: opts.host,
      port: opts.port,
      staticDir: opts.staticDir,
      onClient,
      uploadDir: layout.mediaDir,
      discardUpload,
      discardUploadSet,
      token: webToken(layout, opts.newToken),
      stateDir: layout.dataDir,
      allowHosts: opts.allowHosts ?? [],
      ...(tls ? { tls } : {}),
      insecure: opts.insecure === true,
      ...(maxUploadBytes !== undefined ? { maxUploadBytes } : {}),
    });
  } catch (err) {
    await hosting?.then((h) => h.close(), () => undefined);
    throw err;
  }
  const server = web;
  return {
    url: server.url,
    hostsCore: hosting !== null,
    tls: tls !== undefined,
    ready: hosting
      ? hosting.then(
          () => undefined,
          async (err: unknown) => {
            await server.close();
            throw err;
          },
        )
      : Promise.resolve(),
    async close() {
      await server.close();
      await hosting?.then((h) => h.close(), () => undefined);
    },
  };
}
