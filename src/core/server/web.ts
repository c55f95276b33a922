/**
 * Web mode: the same renderer, served over HTTP, with the RPC over a WebSocket. It binds
 * 127.0.0.1 unless told otherwise, and nothing is served without the access token: the
 * printed URL carries it once, the page then holds it as an HttpOnly, SameSite=Strict cookie.
 * The WebSocket also checks that its Origin is this server, so another site in the user's
 * browser cannot drive the core.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { WireMessage } from '../api/contract';
import { NestboxError } from '../api/errors';
import { isWireMessage, type Transport } from '../api/rpc';

export interface WebServerOptions {
  readonly host: string;
  readonly port: number;
  /** The built renderer (index.html and assets). */
  readonly staticDir: string;
  /** Called for each authenticated WebSocket: hand it to a core session. */
  readonly onClient: (t: Transport) => void;
  /** Where uploads (ISOs, disk images) are written; disabled when absent. */
  readonly uploadDir?: string;
  /**
   * The core's half of `DELETE /upload`: deletes the file if nothing uses it (media.discardUpload),
   * else throws its NestboxError. `DELETE /upload` is refused when absent.
   */
  readonly discardUpload?: (file: string) => Promise<void>;
  readonly token?: string;
}

export interface WebServer {
  readonly url: string;
  readonly token: string;
  readonly port: number;
  close(): Promise<void>;
}

const COOKIE = 'nestbox_token';
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** The same CSP as the desktop window: nothing from elsewhere, ever. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

function cookieToken(req: http.IncomingMessage): string | undefined {
  const header = req.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

export function wsTransport(ws: WebSocket): Transport {
  const msgCbs: ((m: WireMessage) => void)[] = [];
  const closeCbs: ((r?: Error) => void)[] = [];
  ws.on('message', (data, isBinary) => {
    if (isBinary) return ws.close(1003, 'binary frames are not used');
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString());
    } catch {
      msg = undefined;
    }
    if (!isWireMessage(msg)) return ws.close(1007, 'not a Nestbox message');
    for (const cb of msgCbs) cb(msg);
  });
  ws.on('close', () => {
    for (const cb of closeCbs) cb();
  });
  ws.on('error', () => undefined);
  return {
    send(msg) {
      if (ws.readyState !== ws.OPEN) throw new NestboxError('PROTOCOL_ERROR', 'the browser went away');
      // A slow browser must not make the core buffer without bound.
      if (ws.bufferedAmount > 64 * 1024 * 1024) {
        ws.terminate();
        return;
      }
      ws.send(JSON.stringify(msg));
    },
    buffered: () => ws.bufferedAmount,
    onMessage: (cb) => msgCbs.push(cb),
    onClose: (cb) => closeCbs.push(cb),
    close: () => ws.close(1000),
  };
}

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const token = opts.token ?? crypto.randomBytes(24).toString('base64url');
  const root = path.resolve(opts.staticDir);
  if (!fs.existsSync(path.join(root, 'index.html'))) {
    throw new NestboxError('NOT_FOUND', `the web UI is not built (${root}/index.html is missing); run 'npm run build:web'`);
  }
  let origin = '';
  /** Files this server's uploads wrote (path → identity), the only ones `DELETE /upload` removes. */
  const uploads = new Map<string, UploadIdentity>();

  const authorised = (req: http.IncomingMessage, url: URL): 'query' | 'cookie' | null => {
    const q = url.searchParams.get('token');
    if (q && safeEqual(q, token)) return 'query';
    const c = cookieToken(req);
    if (c && safeEqual(c, token)) return 'cookie';
    return null;
  };

  const securityHeaders = (res: http.ServerResponse) => {
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cache-Control', 'no-store');
  };

  const server = http.createServer((req, res) => {
    securityHeaders(res);
    const url = new URL(req.url ?? '/', origin || 'http://localhost');
    const auth = authorised(req, url);
    if (!auth) {
      res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Nestbox: open the URL that `nestbox serve` printed (it carries the access token).\n');
      return;
    }
    if (auth === 'query') {
      // Trade the token in the URL for a cookie and drop it from the address bar and history.
      res.setHeader('Set-Cookie', `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
      url.searchParams.delete('token');
      res.writeHead(303, { Location: url.pathname + (url.search || '') });
      res.end();
      return;
    }
    if (req.method === 'PUT' && url.pathname === '/upload' && opts.uploadDir) {
      void handleUpload(req, res, url, opts.uploadDir, origin, uploads);
      return;
    }
    if (req.method === 'DELETE' && url.pathname === '/upload' && opts.uploadDir) {
      void handleDiscard(req, res, url, opts.uploadDir, origin, uploads, opts.discardUpload);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405);
      res.end();
      return;
    }
    let rel = decodeURIComponent(url.pathname);
    if (rel === '/' || !path.extname(rel)) rel = '/index.html';
    const file = path.resolve(root, `.${rel}`);
    if (!file.startsWith(root + path.sep)) {
      res.writeHead(404);
      res.end();
      return;
    }
    fs.stat(file, (err, st) => {
      if (err || !st.isFile()) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('not found');
        return;
      }
      res.writeHead(200, { 'Content-Type': MIME[path.extname(file)] ?? 'application/octet-stream', 'Content-Length': st.size });
      if (req.method === 'HEAD') return res.end();
      fs.createReadStream(file).pipe(res);
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', origin);
    const reject = (status: number, why: string) => {
      socket.end(`HTTP/1.1 ${status} ${why}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (url.pathname !== '/rpc') return reject(404, 'Not Found');
    if (!authorised(req, url)) return reject(401, 'Unauthorized');
    if (req.headers.origin !== origin) return reject(403, 'Forbidden');
    wss.handleUpgrade(req, socket, head, (ws) => opts.onClient(wsTransport(ws)));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new NestboxError('IO_ERROR', err.code === 'EADDRINUSE' ? `port ${opts.port} on ${opts.host} is already in use` : err.message)),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const hostPart = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  origin = `http://${hostPart}:${port}`;
  return {
    url: `${origin}/?token=${token}`,
    token,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Which file an upload wrote: a file put in its place later (even on a reused inode) differs in ctime. */
interface UploadIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly ctimeNs: bigint;
}

function identity(st: fs.BigIntStats): UploadIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, ctimeNs: st.ctimeNs };
}

/** The name an upload is stored under: no folders, only harmless characters, not hidden. */
export function uploadName(raw: string): string | null {
  const name = path.basename(raw).replace(/[^A-Za-z0-9._ ()+-]/g, '_');
  return !name || name.startsWith('.') || name.endsWith('.partial') ? null : name;
}

function answer(res: http.ServerResponse, status: number, error?: string): void {
  if (error === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ error }));
}

/**
 * `DELETE /upload?name=NAME`: an upload that nothing took up (its import was cancelled) is
 * removed again. Only a file this server's own upload wrote, by the exact name it answered,
 * still the same file, directly in the upload folder; and only if the core says nothing uses it.
 */
async function handleDiscard(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  dir: string,
  origin: string,
  uploads: Map<string, UploadIdentity>,
  discard: ((file: string) => Promise<void>) | undefined,
): Promise<void> {
  // A destructive request: only from this server's own page.
  if (req.headers.origin !== origin) return answer(res, 403);
  if (!discard) return answer(res, 405);
  const raw = url.searchParams.get('name') ?? '';
  const name = uploadName(raw);
  if (name === null || name !== raw) return answer(res, 400, 'not the name of an upload');
  const base = path.resolve(dir);
  const target = path.join(base, name);
  if (path.dirname(target) !== base) return answer(res, 400, 'not the name of an upload');
  const known = uploads.get(target);
  if (!known) return answer(res, 404, 'no such upload from this session');
  let st: fs.BigIntStats;
  try {
    st = fs.lstatSync(target, { bigint: true });
  } catch {
    uploads.delete(target);
    return answer(res, 404, 'the upload is gone');
  }
  const now = identity(st);
  if (!st.isFile() || now.dev !== known.dev || now.ino !== known.ino || now.size !== known.size || now.ctimeNs !== known.ctimeNs) {
    uploads.delete(target);
    return answer(res, 409, 'the file was replaced since it was uploaded; it is left alone');
  }
  try {
    await discard(target);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return answer(res, e.code === 'BUSY' || e.code === 'INVALID_STATE' ? 409 : e.code === 'NOT_FOUND' ? 404 : 500, e.message ?? 'the upload could not be removed');
  }
  uploads.delete(target);
  answer(res, 204);
}

/** Streams an upload into the upload folder under a sanitised name; never overwrites. */
async function handleUpload(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  dir: string,
  origin: string,
  uploads: Map<string, UploadIdentity>,
): Promise<void> {
  if (req.headers.origin && req.headers.origin !== origin) {
    res.writeHead(403);
    res.end();
    return;
  }
  const raw = url.searchParams.get('name') ?? '';
  const name = uploadName(raw);
  if (!name) {
    res.writeHead(400, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: 'a file name is required' }));
    return;
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  let target = path.join(dir, name);
  const ext = path.extname(name);
  for (let i = 2; fs.existsSync(target); i++) target = path.join(dir, `${path.basename(name, ext)} (${i})${ext}`);
  const partial = `${target}.partial`;
  const out = fs.createWriteStream(partial, { flags: 'wx', mode: 0o600 });
  const fail = (status: number, message: string) => {
    out.destroy();
    fs.rmSync(partial, { force: true });
    if (!res.headersSent) res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: message }));
  };
  req.on('aborted', () => fail(400, 'the upload was interrupted'));
  out.on('error', (err: NodeJS.ErrnoException) => fail(err.code === 'ENOSPC' ? 507 : 500, err.code === 'ENOSPC' ? 'the disk is full' : err.message));
  out.on('finish', () => {
    fs.renameSync(partial, target);
    uploads.set(path.resolve(target), identity(fs.lstatSync(target, { bigint: true })));
    res.writeHead(201, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ path: target }));
  });
  req.pipe(out);
}
