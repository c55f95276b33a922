/**
 * `nestbox serve`: web mode. Joins the data directory's running core, or hosts it here, and
 * serves the UI (see core/server/web.ts for what the server guarantees).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { NestboxError } from '../core/api/errors';
import { bridgeTransports, type Transport } from '../core/api/rpc';
import { parseSize } from '../core/domain/units';
import { connectOrHost, hostCore, type HostedCore } from '../core/server/host';
import { connectUnix } from '../core/server/socket';
import { isLoopback, startWebServer } from '../core/server/web';
import { DataLayout } from '../core/store/paths';

export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  /** `--new-token`: a new access token, which also ends every session of the old one. */
  readonly rotate: boolean;
  readonly allowHosts: readonly string[];
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly insecure: boolean;
  /** `--max-upload SIZE` as typed (e.g. 64G). */
  readonly maxUpload?: string;
}

export const SERVE_USAGE =
  'serve [--port P] [--host ADDR] [--allow-host NAME]... [--tls-cert FILE --tls-key FILE] [--insecure] [--max-upload SIZE] [--new-token]';

/** The built renderer: next to the bundle in a checkout (out/node → out/renderer). */
function webRoot(): string {
  return process.env['NESTBOX_WEB_ROOT'] ?? path.resolve(__dirname, '..', 'renderer');
}

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

function readPem(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new NestboxError('INVALID_ARGUMENT', `cannot read the TLS ${what} ${file}: ${(err as Error).message}`);
  }
}

export async function serve(home: string, o: ServeOptions): Promise<void> {
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) {
    throw new NestboxError('INVALID_ARGUMENT', '--tls-cert and --tls-key go together (a PEM certificate chain and its private key)');
  }
  let maxUploadBytes: number | undefined;
  if (o.maxUpload !== undefined) {
    try {
      maxUploadBytes = parseSize(o.maxUpload);
    } catch (err) {
      throw new NestboxError('INVALID_ARGUMENT', `--max-upload: ${(err as Error).message}`);
    }
  }
  const tls = o.tlsCert !== undefined && o.tlsKey !== undefined ? { cert: readPem(o.tlsCert, 'certificate'), key: readPem(o.tlsKey, 'key') } : undefined;
  if (!tls && !o.insecure && !isLoopback(o.host)) {
    // Refused before the core is touched: the same check startWebServer makes.
    throw new NestboxError(
      'INVALID_ARGUMENT',
      `serving on ${o.host} without TLS would send the access token and every session over the network in clear text; ` +
        'give a certificate with --tls-cert FILE --tls-key FILE, or --insecure to serve plain HTTP anyway',
    );
  }
  const layout = new DataLayout(home);
  // Join a running core if there is one, else host it here.
  let hosted: HostedCore | null = null;
  let onClient: (t: Transport) => void;
  let existing: Transport | null = null;
  try {
    existing = fs.existsSync(layout.coreSocket) ? await connectUnix(layout.coreSocket) : null;
  } catch {
    existing = null;
  }
  if (existing) {
    existing.close();
    onClient = (t) => {
      connectUnix(layout.coreSocket).then(
        (core) => bridgeTransports(t, core),
        () => t.close(),
      );
    };
  } else {
    hosted = await hostCore({ dataDir: home });
    onClient = (t) => hosted!.serve(t);
  }
  // The core decides whether an upload may go (nothing uses it) and deletes it: in-process when
  // hosted here, else over the running core's socket.
  const discardUpload = async (file: string): Promise<void> => {
    if (hosted) {
      const c = hosted.client();
      try {
        await c.call('media.discardUpload', { path: file });
      } finally {
        c.close();
      }
      return;
    }
    const conn = await connectOrHost({ dataDir: home, hostIfNone: false });
    try {
      await conn.client.call('media.discardUpload', { path: file });
    } finally {
      await conn.close();
    }
  };
  let web;
  try {
    web = await startWebServer({
      host: o.host,
      port: o.port,
      staticDir: webRoot(),
      onClient,
      uploadDir: layout.mediaDir,
      discardUpload,
      token: webToken(layout, o.rotate),
      stateDir: layout.dataDir,
      allowHosts: o.allowHosts,
      ...(tls ? { tls } : {}),
      insecure: o.insecure,
      ...(maxUploadBytes !== undefined ? { maxUploadBytes } : {}),
    });
  } catch (err) {
    await hosted?.close();
    throw err;
  }
  if (!isLoopback(o.host)) {
    process.stderr.write(`nestbox: warning: serving on ${o.host}${tls ? '' : ' without TLS'}: anyone who can reach it and has the URL controls your VMs\n`);
  }
  process.stdout.write(`Nestbox web mode: ${web.url}\n`);
  process.stderr.write(`${hosted ? 'hosting the core' : 'connected to the running core'} for ${home}; Ctrl+C stops serving (VMs keep running)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await web.close();
  await hosted?.close();
}
