/**
 * Web mode's HTTP server in the test's own process, in front of a core the test hosts, with a
 * stub UI folder (the upload and discard routes do not need the real bundle), signed in: the
 * session cookie from following the start URL, and the Origin its requests must carry.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { startWebServer, type WebServer, type WebServerOptions } from '../../src/core/server/web';
import { DataLayout } from '../../src/core/store/paths';
import { request } from './http';

export interface TestWebServer {
  readonly server: WebServer;
  readonly origin: string;
  readonly cookie: string;
  /** The media folder the server uploads into. */
  readonly media: string;
  /** The headers a signed-in page sends: its cookie and its origin. */
  auth(): Record<string, string>;
}

/** Starts the server on a free loopback port; the core's discard calls are wired in. */
export async function startTestWebServer(
  home: string,
  hosted: HostedCore,
  client: RpcClient,
  options: Partial<Pick<WebServerOptions, 'maxUploadBytes' | 'uploadFreeFloorBytes'>> = {},
): Promise<TestWebServer> {
  const media = new DataLayout(home).mediaDir;
  const ui = path.join(home, 'ui');
  fs.mkdirSync(ui, { recursive: true });
  fs.writeFileSync(path.join(ui, 'index.html'), '<!doctype html><title>Nestbox</title>');
  const server = await startWebServer({
    host: '127.0.0.1',
    port: 0,
    staticDir: ui,
    uploadDir: media,
    onClient: (t) => hosted.serve(t),
    ...options,
    discardUpload: async (file) => {
      await client.call('media.discardUpload', { path: file });
    },
    discardUploadSet: async (folder) => {
      await client.call('media.discardUploadSet', { path: folder });
    },
  });
  const origin = new URL(server.url).origin;
  // The start URL carries the token and answers with the session cookie and a redirect.
  const r = await request(server.url);
  const cookie = (r.headers['set-cookie']?.[0] ?? '').split(';')[0]!;
  if (r.status !== 303 || !cookie) {
    await server.close();
    throw new Error(`web server sign-in answered ${r.status} with cookie '${cookie}'`);
  }
  return { server, origin, cookie, media, auth: () => ({ Cookie: cookie, Origin: origin }) };
}
