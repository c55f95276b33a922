/**
 * Web mode: the same renderer, served over HTTP(S), with the RPC over a WebSocket. It binds
 * 127.0.0.1 unless told otherwise, and nothing is served without the access token: the
 * printed URL carries it once, and it is traded for a session whose id the page then holds in
 * an HttpOnly, SameSite=Strict cookie named for this server (data directory and port).
 *
 * Everything a client sends is untrusted, including before it has authenticated: every
 * request and upgrade runs under one guard that answers 400/500 and logs instead of letting
 * anything throw out of the server (a throw there ends `serve` and the core it may host).
 * The Host header must name this server (DNS rebinding), and anything that changes state
 * (the WebSocket, uploads, discards) must come from this server's own page (Origin).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { WireMessage } from '../api/contract';
import { NestboxError } from '../api/errors';
import { isWireMessage, type Transport } from '../api/rpc';
import { clientAddress, DEFAULT_SESSION_IDLE_MS, FailureLimiter, SessionStore, sha256 } from './web-auth';
import { answer, handleDiscard, handleUpload, sweepDeadUploads, type UploadIdentity } from './web-upload';
import { handleSetCreate, handleSetDiscard, handleSetFile, sweepDeadSets, uploadSets } from './web-upload-set';

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
  /**
   * The core's half of `DELETE /upload-set` (a machine uploaded with its disks, web-upload-set.ts):
   * removes the set's folder unless a VM or job uses a file in it (media.discardUploadSet).
   * Machine uploads are refused when absent.
   */
  readonly discardUploadSet?: (folder: string) => Promise<void>;
  readonly token?: string;
  /**
   * Where this server keeps its sessions (the data directory), so pages stay signed in across
   * restarts; also what sets it apart from other servers on this host. In memory when absent.
   */
  readonly stateDir?: string;
  /** Further names (or addresses) this server may be reached by, besides loopback and `host`. */
  readonly allowHosts?: readonly string[];
  /** PEM certificate chain and key: HTTPS and WSS. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Serve plain HTTP on a non-loopback address anyway (refused otherwise). */
  readonly insecure?: boolean;
  /** A session unused this long is over (default a day). */
  readonly sessionIdleMs?: number;
  /** The largest upload accepted (default 64 GiB). */
  readonly maxUploadBytes?: number;
  /** Space an upload must leave free on the upload folder's file system (default 1 GiB). */
  readonly uploadFreeFloorBytes?: number;
  /** Where problems are told (default stderr). */
  readonly log?: (line: string) => void;
}

export interface WebServer {
  readonly url: string;
  readonly token: string;
  readonly port: number;
  /** The name of this server's session cookie. */
  readonly cookieName: string;
  close(): Promise<void>;
}

export const DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 ** 3;
export const DEFAULT_UPLOAD_FREE_FLOOR_BYTES = 1024 ** 3;

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

/** The values of every cookie called `name` (a header may carry several; none is decoded). */
export function cookieValues(header: string | undefined, name: string): string[] {
  const found: string[] = [];
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) found.push(part.slice(eq + 1).trim());
  }
  return found;
}

/**
 * The path and query of a request target, or null when it is not one a browser sends
 * (origin-form `/x?y`, or absolute-form whose host is ignored: the Host header decides).
 */
export function requestTarget(raw: string | undefined): URL | null {
  if (!raw) return null;
  try {
    if (raw.startsWith('/')) {
      const u = new URL(raw, 'http://target.invalid');
      // `//host/x` and `/\host` are scheme-relative to URL: not a path of ours.
      return u.host === 'target.invalid' ? u : null;
    }
    if (/^https?:\/\//i.test(raw)) {
      const abs = new URL(raw);
      return new URL(abs.pathname + abs.search, 'http://target.invalid');
    }
  } catch {
    // not a URL
  }
  return null;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

function bracket(name: string): string {
  return name.includes(':') && !name.startsWith('[') ? `[${name}]` : name;
}

/**
 * Every `Host` header value that addresses this server: loopback names and addresses, the
 * bind address (with a wildcard bind, this machine's interface addresses), and `allowHosts`;
 * each with this port (and bare when the port is the scheme's default). A name an attacker's
 * DNS points here is not among them.
 */
export function allowedHosts(host: string, port: number, tls: boolean, extra: readonly string[]): Set<string> {
  const names = new Set<string>([...LOOPBACK_NAMES, host]);
  if (isWildcard(host)) {
    for (const addrs of Object.values(os.networkInterfaces())) for (const a of addrs ?? []) names.add(a.address.replace(/%.*$/, ''));
  }
  const out = new Set<string>();
  for (const raw of extra) {
    const n = raw.trim().toLowerCase();
    if (!n) continue;
    // NAME:PORT (or [v6]:PORT) names a port of its own; anything else gets this server's.
    if (/^(\[[^\]]+\]|[^:]+):\d+$/.test(n)) out.add(n);
    else names.add(n);
  }
  const defaultPort = tls ? 443 : 80;
  for (const n of names) {
    const b = bracket(n.toLowerCase());
    out.add(`${b}:${port}`);
    if (port === defaultPort) out.add(b);
  }
  return out;
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

/** Request targets and errors go to the log shortened and quoted: they are the client's bytes. */
function quote(s: string | undefined, max = 200): string {
  const t = s ?? '';
  return JSON.stringify(t.length > max ? `${t.slice(0, max)}…` : t);
}

type Auth =
  | { readonly kind: 'token' }
  | { readonly kind: 'session'; readonly key: string }
  | { readonly kind: 'none' }
  | { readonly kind: 'refused' }
  | { readonly kind: 'blocked'; readonly retryS: number };

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const token = opts.token ?? crypto.randomBytes(24).toString('base64url');
  const log = opts.log ?? ((line: string) => process.stderr.write(`nestbox serve: ${line}\n`));
  const root = path.resolve(opts.staticDir);
  if (!fs.existsSync(path.join(root, 'index.html'))) {
    throw new NestboxError('NOT_FOUND', `the web UI is not built (${root}/index.html is missing); run 'npm run build:web'`);
  }
  const tls = opts.tls !== undefined;
  if (!tls && !opts.insecure && !isLoopback(opts.host)) {
    throw new NestboxError(
      'INVALID_ARGUMENT',
      `serving on ${opts.host} without TLS would send the access token and every session over the network in clear text; ` +
        'give a certificate with --tls-cert FILE --tls-key FILE, or --insecure to serve plain HTTP anyway',
    );
  }
  const scheme = tls ? 'https' : 'http';
  const maxUpload = opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const freeFloor = opts.uploadFreeFloorBytes ?? DEFAULT_UPLOAD_FREE_FLOOR_BYTES;
  const limiter = new FailureLimiter();
  // Known once listening (the port may be 0).
  let hosts = new Set<string>();
  let cookieName = '';
  let sessions: SessionStore | null = null;
  /** Files this server's uploads wrote (path → identity), the only ones `DELETE /upload` removes. */
  const uploads = new Map<string, UploadIdentity>();
  /** Machine uploads (a descriptor with its disks) this server made folders for, by id. */
  const sets = uploadSets();
  /** Sessions with an open WebSocket are in use even when nothing is said on it. */
  const liveSessions = new Map<WebSocket, string>();

  const hostAllowed = (req: http.IncomingMessage): boolean => hosts.has((req.headers.host ?? '').toLowerCase());
  /** A request from this server's own page: its Origin is this scheme and the (allowed) Host it asked. */
  const sameOrigin = (req: http.IncomingMessage): boolean =>
    typeof req.headers.origin === 'string' && req.headers.origin.toLowerCase() === `${scheme}://${(req.headers.host ?? '').toLowerCase()}`;

  const authenticate = (req: http.IncomingMessage, url: URL): Auth => {
    const addr = clientAddress(req.socket.remoteAddress);
    const q = url.searchParams.get('token');
    const cookies = cookieValues(req.headers.cookie, cookieName);
    if (q === null && cookies.length === 0) return { kind: 'none' };
    const wait = limiter.blockedFor(addr);
    if (wait > 0) return { kind: 'blocked', retryS: Math.ceil(wait / 1000) };
    if (q !== null && safeEqual(q, token)) return { kind: 'token' };
    let ended = false;
    for (const c of cookies) {
      const r = sessions!.check(c);
      if (r.kind === 'ok') return { kind: 'session', key: r.key };
      if (r.kind === 'ended') ended = true;
    }
    // A page left open from before (expired, or the token changed) is not someone guessing.
    if (!ended || q !== null) limiter.fail(addr);
    return { kind: 'refused' };
  };

  const securityHeaders = (res: http.ServerResponse) => {
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cache-Control', 'no-store');
    if (tls) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
  };

  const text = (res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
    res.end(body);
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void | Promise<void> => {
    securityHeaders(res);
    const url = requestTarget(req.url);
    if (!url) return text(res, 400, 'Nestbox: not a request target this server understands.\n');
    if (!hostAllowed(req)) {
      return text(res, 421, `Nestbox: this server is not reached by the name ${quote(req.headers.host, 100)} (nestbox serve --allow-host NAME adds one).\n`);
    }
    const auth = authenticate(req, url);
    switch (auth.kind) {
      case 'blocked':
        return text(res, 429, `Nestbox: too many failed attempts from your address; try again in ${auth.retryS} s.\n`, { 'Retry-After': String(auth.retryS) });
      case 'none':
      case 'refused':
        return text(res, 401, 'Nestbox: open the URL that `nestbox serve` printed (it carries the access token).\n');
      case 'token': {
        // Trade the token in the URL for a session and drop it from the address bar and history.
        const sid = sessions!.create();
        res.setHeader('Set-Cookie', `${cookieName}=${sid}; HttpOnly; SameSite=Strict; Path=/${tls ? '; Secure' : ''}`);
        url.searchParams.delete('token');
        // `/.//host` normalises to `//host`: a Location that would leave this server goes to `/`.
        res.writeHead(303, { Location: url.pathname.startsWith('//') ? '/' : url.pathname + url.search });
        res.end();
        return;
      }
      case 'session':
        break;
      default:
        return assertNever(auth);
    }
    if (url.pathname === '/upload' && opts.uploadDir && (req.method === 'PUT' || req.method === 'DELETE')) {
      if (!sameOrigin(req)) return answer(res, 403, `${req.method === 'PUT' ? 'an upload' : 'removing an upload'} must come from this server's own page (Origin)`);
      if (req.method === 'PUT') return handleUpload(req, res, url, { dir: opts.uploadDir, uploads, maxUpload, freeFloor });
      return handleDiscard(res, url, opts.uploadDir, uploads, opts.discardUpload);
    }
    if (url.pathname === '/upload-set' && opts.uploadDir && (req.method === 'POST' || req.method === 'PUT' || req.method === 'DELETE')) {
      if (!sameOrigin(req)) return answer(res, 403, `${req.method === 'DELETE' ? 'removing an upload' : 'an upload'} must come from this server's own page (Origin)`, req.method !== 'DELETE');
      const ctx = { dir: opts.uploadDir, sets, maxUpload, freeFloor, discardSet: opts.discardUploadSet };
      if (req.method === 'POST') return handleSetCreate(req, res, ctx);
      if (req.method === 'PUT') return handleSetFile(req, res, url, ctx);
      return handleSetDiscard(res, url, ctx);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405);
      res.end();
      return;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname);
    } catch {
      return text(res, 400, 'Nestbox: the path is not valid percent-encoding.\n');
    }
    if (rel.includes('\0')) return text(res, 400, 'Nestbox: the path holds a NUL byte.\n');
    if (rel === '/' || !path.extname(rel)) rel = '/index.html';
    const file = path.resolve(root, `.${rel}`);
    if (!file.startsWith(root + path.sep)) return text(res, 404, 'not found');
    fs.stat(file, (err, st) => {
      guard(req, res, () => {
        if (err || !st.isFile()) return text(res, 404, 'not found');
        res.writeHead(200, { 'Content-Type': MIME[path.extname(file)] ?? 'application/octet-stream', 'Content-Length': st.size });
        if (req.method === 'HEAD') return void res.end();
        const stream = fs.createReadStream(file);
        stream.on('error', () => res.destroy());
        stream.pipe(res);
      });
    });
  };

  /** The one place a request's failure is caught: answered 500 (or cut off) and logged, never thrown. */
  const guard = (req: http.IncomingMessage, res: http.ServerResponse, fn: () => void | Promise<void>): void => {
    const fail = (err: unknown) => {
      log(`${quote(req.method, 20)} ${quote(req.url)} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      try {
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
          res.end('Nestbox: internal error (see the server log).\n');
        } else res.destroy();
      } catch {
        res.destroy();
      }
    };
    try {
      const p = fn();
      if (p) p.catch(fail);
    } catch (err) {
      fail(err);
    }
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    // A client that goes away mid-request is not an error of ours.
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    guard(req, res, () => handle(req, res));
  };
  const server: http.Server = tls ? https.createServer({ cert: opts.tls!.cert, key: opts.tls!.key }, onRequest) : http.createServer(onRequest);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    // Bytes that are not HTTP: answer 400 unless an answer is already under way, never throw.
    if (socket.writable && socket.bytesWritten === 0 && err.code !== 'ECONNRESET') {
      socket.end(`HTTP/1.1 ${err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      setTimeout(() => socket.destroy(), 1000).unref();
    } else socket.destroy();
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  const touchTimer = setInterval(() => {
    for (const key of new Set(liveSessions.values())) sessions?.touch(key);
  }, 60_000);
  touchTimer.unref();

  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on('error', () => undefined);
    const reject = (status: number, why: string, extra = '') => {
      try {
        socket.end(`HTTP/1.1 ${status} ${why}\r\nConnection: close\r\nContent-Length: 0\r\n${extra}\r\n`);
      } catch {
        socket.destroy();
      }
    };
    try {
      const url = requestTarget(req.url);
      if (!url) return reject(400, 'Bad Request');
      if (!hostAllowed(req)) return reject(421, 'Misdirected Request');
      if (url.pathname !== '/rpc') return reject(404, 'Not Found');
      const auth = authenticate(req, url);
      if (auth.kind === 'blocked') return reject(429, 'Too Many Requests', `Retry-After: ${auth.retryS}\r\n`);
      if (auth.kind !== 'session' && auth.kind !== 'token') return reject(401, 'Unauthorized');
      if (!sameOrigin(req)) return reject(403, 'Forbidden');
      wss.handleUpgrade(req, socket, head, (ws) => {
        try {
          if (auth.kind === 'session') {
            liveSessions.set(ws, auth.key);
            ws.on('close', () => {
              liveSessions.delete(ws);
              sessions?.touch(auth.key);
            });
          }
          opts.onClient(wsTransport(ws));
        } catch (err) {
          log(`a WebSocket could not be handed to the core: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
          ws.terminate();
        }
      });
    } catch (err) {
      log(`upgrade ${quote(req.url)} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      reject(500, 'Internal Server Error');
    }
  });

  if (opts.uploadDir) {
    const swept = await sweepDeadUploads(opts.uploadDir);
    if (swept.length > 0) log(`removed ${swept.length} unfinished upload(s) a stopped server left in ${opts.uploadDir}`);
    // Machine uploads a stopped server left: the core decides (it may still be opening), so not awaited.
    const dir = opts.uploadDir;
    const discardSet = opts.discardUploadSet;
    if (discardSet) {
      void sweepDeadSets(dir, discardSet).then((gone) => {
        if (gone.length > 0) log(`removed ${gone.length} machine upload(s) a stopped server left in ${dir}`);
      });
    }
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new NestboxError('IO_ERROR', err.code === 'EADDRINUSE' ? `port ${opts.port} on ${opts.host} is already in use` : err.message)),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  server.on('error', (err) => log(`server error: ${err.message}`));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  hosts = allowedHosts(opts.host, port, tls, opts.allowHosts ?? []);
  // Cookies ignore ports: the name tells this server (data directory + port) from any other.
  const scope = opts.stateDir ? path.resolve(opts.stateDir) : crypto.randomBytes(16).toString('hex');
  const serverId = sha256(`${scope}\n${port}`).slice(0, 16);
  cookieName = `nestbox_${serverId}`;
  sessions = new SessionStore({
    ...(opts.stateDir ? { file: path.join(opts.stateDir, `web-sessions-${serverId}.json`) } : {}),
    tokenHash: sha256(token),
    idleMs: opts.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS,
    log,
  });
  const shown = isWildcard(opts.host) && opts.allowHosts?.[0] ? opts.allowHosts[0] : opts.host;
  const origin = `${scheme}://${bracket(shown)}:${port}`;
  return {
    url: `${origin}/?token=${token}`,
    token,
    port,
    cookieName,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(touchTimer);
        for (const [, key] of liveSessions) sessions?.touch(key);
        sessions?.persist(true);
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function assertNever(x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`);
}
