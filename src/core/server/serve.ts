/**
 * Web mode (`nestbox serve`): the desktop UI over HTTP and a WebSocket. It joins the data
 * directory's running core if there is one, else hosts the core itself (and then serves the
 * core's unix socket too, so CLI commands join it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { bridgeTransports, RpcClient, type Transport } from '../api/rpc';
import { DataLayout } from '../store/paths';
import { hostCore, type HostedCore } from './host';
import { connectUnix } from './socket';
import { startWebServer } from './web';

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
  readonly newToken: boolean;
  /** The built renderer. */
  readonly staticDir: string;
}

export interface Serving {
  readonly url: string;
  /** True when this process hosts the core (no other core was running). */
  readonly hostsCore: boolean;
  close(): Promise<void>;
}

export async function startServe(opts: ServeOptions): Promise<Serving> {
  const layout = new DataLayout(opts.dataDir);
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
    hosted = await hostCore({ dataDir: opts.dataDir, role: 'serve' });
    onClient = (t) => hosted!.serve(t);
  }
  // The core decides whether an upload may go (nothing uses it) and deletes it: in-process when
  // hosted here, else over the running core's socket.
  const discardUpload = async (file: string): Promise<void> => {
    const c = hosted ? hosted.client() : new RpcClient(await connectUnix(layout.coreSocket));
    try {
      await c.call('media.discardUpload', { path: file });
    } finally {
      c.close();
    }
  };
  const web = await startWebServer({ host: opts.host, port: opts.port, staticDir: opts.staticDir, onClient, uploadDir: layout.mediaDir, discardUpload, token: webToken(layout, opts.newToken) });
  return {
    url: web.url,
    hostsCore: hosted !== null,
    async close() {
      await web.close();
      await hosted?.close();
    },
  };
}
