/**
 * Web mode's uploads: `POST /upload` streams a file into the upload folder (size cap, free
 * space floor, never overwriting), `DELETE /upload` takes back one nothing used. Apart from the
 * server (web.ts) because they are file-system work with their own rules, not HTTP plumbing.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { formatBytes } from '../domain/units';

/** Which file an upload wrote: a file put in its place later (even on a reused inode) differs in ctime. */
export interface UploadIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly ctimeNs: bigint;
}

export function identity(st: fs.BigIntStats): UploadIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, ctimeNs: st.ctimeNs };
}

/** The name an upload is stored under: no folders, only harmless characters, not hidden. */
export function uploadName(raw: string): string | null {
  const name = path.basename(raw).replace(/[^A-Za-z0-9._ ()+-]/g, '_');
  return !name || name.startsWith('.') || name.endsWith('.partial') ? null : name;
}

export function answer(res: http.ServerResponse, status: number, error?: string, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = close ? { Connection: 'close' } : {};
  if (error === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ error }));
}

/**
 * `DELETE /upload?name=NAME`: an upload that nothing took up (its import was cancelled) is
 * removed again. Only a file this server's own upload wrote, by the exact name it answered,
 * still the same file, directly in the upload folder; and only if the core says nothing uses it.
 */
export async function handleDiscard(
  res: http.ServerResponse,
  url: URL,
  dir: string,
  uploads: Map<string, UploadIdentity>,
  discard: ((file: string) => Promise<void>) | undefined,
): Promise<void> {
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

/** An upload stopped on purpose: its status and the reason the user reads. */
export class UploadRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Bodies up to this size are read (and dropped) before a refusal is answered. */
const DRAIN_LIMIT = 8 * 1024 * 1024;

/**
 * Refuses an upload before its body was read. A small body is read and dropped first, so the
 * client, still sending, gets the answer instead of a reset connection (EPIPE); a large one is
 * answered at once and the connection closed. Either way nothing of it is kept.
 */
export function refuseBody(req: http.IncomingMessage, res: http.ServerResponse, declared: number | undefined, status: number, error: string): void {
  if (declared === undefined || declared > DRAIN_LIMIT || req.readableEnded) return answer(res, status, error, true);
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    answer(res, status, error, true);
  };
  const timer = setTimeout(finish, 5_000);
  req.on('end', finish);
  req.on('error', finish);
  req.resume();
}

export async function freeBytes(dir: string): Promise<number> {
  const st = await fs.promises.statfs(dir);
  return st.bavail * st.bsize;
}

export function tooBig(size: number, max: number): string {
  return `the file is ${formatBytes(size)}, more than uploads may be (${formatBytes(max)}; nestbox serve --max-upload SIZE changes it)`;
}

export function noRoom(dir: string, size: number | undefined, floor: number, free: number): string {
  const need = (size ?? 0) + floor;
  const what = size === undefined ? `${formatBytes(floor)} kept free` : `${formatBytes(size)} for the file plus ${formatBytes(floor)} kept free`;
  return `not enough free space in ${dir}: the upload needs ${formatBytes(need)} (${what}) and ${formatBytes(free)} is free`;
}

/**
 * Streams an upload into a private temporary file of its own, then links it into the upload
 * folder under the first free variant of its sanitised name: never overwrites, and two uploads
 * of one name at once both land (`x.iso`, `x (2).iso`). Refused up front, and stopped while
 * streaming, when it would pass the size cap or leave less than the floor free.
 */
export async function handleUpload(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  ctx: { readonly dir: string; readonly uploads: Map<string, UploadIdentity>; readonly maxUpload: number; readonly freeFloor: number },
): Promise<void> {
  const { dir, maxUpload, freeFloor } = ctx;
  const name = uploadName(url.searchParams.get('name') ?? '');
  if (!name) return answer(res, 400, 'a file name is required', true);
  const lengthHeader = req.headers['content-length'];
  const declared = lengthHeader === undefined ? undefined : Number(lengthHeader);
  if (declared !== undefined && !Number.isSafeInteger(declared)) return answer(res, 400, 'the Content-Length is not a size', true);
  if (declared !== undefined && declared > maxUpload) return refuseBody(req, res, declared, 413, tooBig(declared, maxUpload));
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
  const free = await freeBytes(dir);
  if (free < (declared ?? 0) + freeFloor) return refuseBody(req, res, declared, 507, noRoom(dir, declared, freeFloor, free));

  const partial = path.join(dir, `.upload-${process.pid}-${crypto.randomBytes(12).toString('hex')}.partial`);
  let received = 0;
  let checkedAt = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      if (received > maxUpload) return cb(new UploadRefused(413, tooBig(received, maxUpload)));
      // Another writer may be filling the disk meanwhile: look again every 256 MiB.
      if (received - checkedAt < 256 * 1024 * 1024) return cb(null, chunk);
      checkedAt = received;
      freeBytes(dir).then(
        (now) => (now < freeFloor ? cb(new UploadRefused(507, noRoom(dir, declared, freeFloor, now))) : cb(null, chunk)),
        () => cb(null, chunk),
      );
    },
  });
  try {
    await pipeline(req, meter, fs.createWriteStream(partial, { flags: 'wx', mode: 0o600 }));
  } catch (err) {
    await fs.promises.rm(partial, { force: true });
    if (err instanceof UploadRefused) return answer(res, err.status, err.message, true);
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOSPC') return answer(res, 507, `the disk holding ${dir} is full`, true);
    if (req.destroyed || e.code === 'ECONNRESET' || e.code === 'ERR_STREAM_PREMATURE_CLOSE') return answer(res, 400, 'the upload was interrupted', true);
    throw err;
  }
  let target: string;
  try {
    target = await placeUpload(partial, dir, name);
  } finally {
    await fs.promises.rm(partial, { force: true });
  }
  ctx.uploads.set(path.resolve(target), identity(await fs.promises.lstat(target, { bigint: true })));
  res.writeHead(201, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ path: target }));
}

/** An upload's temporary file: the pid of the server writing it, then a random part. */
const PARTIAL_NAME = /^\.upload-(?:(\d+)-)?[0-9a-f]{24}\.partial$/;
/** A temporary upload file without a pid (an older build's) is left alone while it is this fresh. */
const UNOWNED_PARTIAL_GRACE_MS = 60 * 60 * 1000;

/**
 * Removes the temporary files of uploads that a server killed mid-way left in `dir`: those of
 * a server that is no longer running (another `serve` on this data directory may be
 * uploading right now), and unowned ones nobody has written to for an hour. Returns the names.
 */
export async function sweepDeadUploads(dir: string, now = Date.now()): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return [];
  }
  const swept: string[] = [];
  for (const n of names) {
    const m = PARTIAL_NAME.exec(n);
    if (!m) continue;
    const f = path.join(dir, n);
    try {
      const st = await fs.promises.lstat(f);
      if (!st.isFile()) continue;
      const dead = m[1] !== undefined ? !processRuns(Number(m[1])) : now - st.mtimeMs > UNOWNED_PARTIAL_GRACE_MS;
      if (!dead) continue;
      await fs.promises.rm(f, { force: true });
      swept.push(n);
    } catch {
      // gone meanwhile
    }
  }
  return swept;
}

export function processRuns(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Links `partial` in as `name`, `name (2)`, …: whichever is free, atomically (link fails on an existing name). */
async function placeUpload(partial: string, dir: string, name: string): Promise<string> {
  const ext = path.extname(name);
  const stem = path.basename(name, ext);
  for (let i = 1; i <= 10_000; i++) {
    const target = path.join(dir, i === 1 ? name : `${stem} (${i})${ext}`);
    try {
      await fs.promises.link(partial, target);
      return target;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
      // A file system without hard links: a rename, after checking the name is free.
      if (fs.existsSync(target)) continue;
      await fs.promises.rename(partial, target);
      return target;
    }
  }
  throw new UploadRefused(409, `there are too many uploads named ${name}`);
}
