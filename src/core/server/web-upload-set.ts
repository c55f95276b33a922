/**
 * Web mode's machine uploads: a VirtualBox `.vbox` with its disks, a UTM `.utm` folder, a
 * libvirt domain XML with its disks: files that only make sense together, in the layout the
 * descriptor refers to (`Data/disk.qcow2`, `Snapshots/{uuid}.vdi`). The page first announces
 * every file (`POST /upload-set`: relative paths and sizes, all checked here before a byte is
 * stored), gets a folder of its own (`.import-PID-RANDOM` in the upload folder), then streams
 * each announced file into it (`PUT /upload-set?id=&path=`), and takes the whole folder back
 * with `DELETE /upload-set?id=` (cancelled, refused, or imported: the import copies the disks).
 *
 * The rules of single uploads (web-upload.ts) hold for each file and for the set: the size
 * cap (for the set's total), the free-space floor, private temporary files, never
 * overwriting. Paths are refused, never rewritten (a rewritten name would no longer be the one
 * the descriptor names): no `..`, nothing absolute, no hidden or empty parts, bounded depth,
 * length and number of files; names are taken in Unicode NFC.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { answer, freeBytes, noRoom, processRuns, refuseBody, tooBig, UploadRefused } from './web-upload';

/** At most this many files in one machine upload (a machine has a handful; a UTM bundle a few more). */
export const MAX_SET_FILES = 64;
/** At most this many sets open at once on one server (each is a folder until it is taken back). */
export const MAX_OPEN_SETS = 16;
/**
 * A set untouched this long (no file written, none under way) counts as abandoned — its page
 * was closed without taking it back, e.g. the browser crashed — and is taken back when a new
 * set would exceed MAX_OPEN_SETS. Until then nothing is removed.
 */
export const IDLE_SET_MS = 30 * 60 * 1000;
const MAX_PATH_CHARS = 1024;
const MAX_PART_BYTES = 255;
const MAX_DEPTH = 8;
/** The announcement is a small JSON document. */
const MAX_MANIFEST_BYTES = 256 * 1024;
/** A set's folder in the upload folder: the pid of the server that made it, then a random part. */
export const SET_FOLDER = /^\.import-(\d+)-([0-9a-f]{24})$/;

/**
 * A relative path in a machine upload, as it will be stored (NFC), or why it is refused.
 * Refused rather than cleaned up: the descriptor names its files by these paths.
 */
export function checkSetPath(raw: unknown): { readonly path: string } | { readonly error: string } {
  if (typeof raw !== 'string' || raw === '') return { error: 'a file of the upload has no path' };
  const shown = JSON.stringify(raw.length > 120 ? `${raw.slice(0, 120)}…` : raw);
  if (raw.length > MAX_PATH_CHARS) return { error: `the path ${shown} is longer than ${MAX_PATH_CHARS} characters` };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(raw)) return { error: `the path ${shown} holds control characters` };
  if (raw.includes('\\')) return { error: `the path ${shown} holds a backslash; parts are separated by /` };
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) return { error: `the path ${shown} is absolute; only paths inside the upload are accepted` };
  const p = raw.normalize('NFC');
  const parts = p.split('/');
  if (parts.length > MAX_DEPTH) return { error: `the path ${shown} is more than ${MAX_DEPTH} folders deep` };
  for (const part of parts) {
    if (part === '') return { error: `the path ${shown} has an empty part` };
    if (part === '..' || part === '.') return { error: `the path ${shown} has a '${part}' part; only paths inside the upload are accepted` };
    if (part.startsWith('.')) return { error: `the path ${shown} names a hidden file or folder` };
    if (part.endsWith('.partial')) return { error: `the path ${shown} ends in .partial, the name of unfinished uploads` };
    if (Buffer.byteLength(part) > MAX_PART_BYTES) return { error: `a part of the path ${shown} is longer than ${MAX_PART_BYTES} bytes` };
  }
  return { path: p };
}

export interface SetManifestFile {
  readonly path: string;
  readonly size: number;
}

/** Checks an announcement: every path, no duplicates, no file that is also a folder, the counts and sizes within the limits. */
export function checkManifest(body: unknown, maxUpload: number, maxFiles = MAX_SET_FILES): { readonly files: readonly SetManifestFile[]; readonly total: number } | { readonly error: string } {
  const files = (body as { files?: unknown } | null)?.files;
  if (!Array.isArray(files) || files.length === 0) return { error: 'an upload of a machine names its files ({ "files": [{ "path", "size" }] })' };
  if (files.length > maxFiles) return { error: `the upload has ${files.length} files, more than ${maxFiles}; drop only the machine file and the disks it names` };
  const out: SetManifestFile[] = [];
  const seen = new Set<string>();
  let total = 0;
  for (const f of files as unknown[]) {
    const c = checkSetPath((f as { path?: unknown } | null)?.path);
    if ('error' in c) return c;
    const size = (f as { size?: unknown }).size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return { error: `the size of ${c.path} is not a size` };
    if (size > maxUpload) return { error: `${c.path}: ${tooBig(size, maxUpload)}` };
    if (seen.has(c.path)) return { error: `${c.path} is named twice` };
    seen.add(c.path);
    total += size;
    out.push({ path: c.path, size });
  }
  for (const f of out) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const folder = parts.slice(0, i).join('/');
      if (seen.has(folder)) return { error: `${folder} is both a file and the folder of ${f.path}` };
    }
  }
  if (total > maxUpload) return { error: `the files together are more than uploads may be: ${tooBig(total, maxUpload).replace(/^the file is /, '')}` };
  return { files: out, total };
}

type FileState = 'waiting' | 'writing' | 'done';

interface UploadSet {
  readonly id: string;
  readonly dir: string;
  readonly files: Map<string, { readonly size: number; state: FileState }>;
  /** Set once the page took the set back: writes still under way are stopped and removed. */
  closed: boolean;
  readonly active: Set<http.IncomingMessage>;
  readonly running: Set<Promise<void>>;
  /** When a file of it last started or ended (ms since the epoch). */
  touched: number;
}

export interface UploadSetContext {
  readonly dir: string;
  readonly sets: Map<string, UploadSet>;
  readonly maxUpload: number;
  readonly freeFloor: number;
  /** The core's half of taking a set back: removes the folder unless a VM or job uses a file in it. */
  readonly discardSet: ((folder: string) => Promise<void>) | undefined;
}

export function uploadSets(): Map<string, UploadSet> {
  return new Map();
}

async function readJson(req: http.IncomingMessage, max: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) throw new UploadRefused(413, `the list of files is larger than ${max} bytes`);
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new UploadRefused(400, 'the list of files is not JSON');
  }
}

/** `POST /upload-set`: checks the announced files and makes the set's folder; answers its id and folder. */
export async function handleSetCreate(req: http.IncomingMessage, res: http.ServerResponse, ctx: UploadSetContext): Promise<void> {
  if (!ctx.discardSet) return answer(res, 405, undefined, true);
  const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
  if (declared !== undefined && (!Number.isSafeInteger(declared) || declared > MAX_MANIFEST_BYTES)) {
    return refuseBody(req, res, declared, 413, `the list of files is larger than ${MAX_MANIFEST_BYTES} bytes`);
  }
  let body: unknown;
  try {
    body = await readJson(req, MAX_MANIFEST_BYTES);
  } catch (err) {
    if (err instanceof UploadRefused) return answer(res, err.status, err.message, true);
    return answer(res, 400, 'the list of files was interrupted', true);
  }
  const m = checkManifest(body, ctx.maxUpload);
  if ('error' in m) return answer(res, 400, m.error);
  let open = [...ctx.sets.values()].filter((s) => !s.closed);
  if (open.length >= MAX_OPEN_SETS) {
    const idle = open.filter((s) => s.active.size === 0 && Date.now() - s.touched >= IDLE_SET_MS);
    await Promise.all(idle.map((s) => takeBack(s, ctx)));
    open = open.filter((s) => !s.closed);
  }
  if (open.length >= MAX_OPEN_SETS) return answer(res, 429, `${open.length} machine uploads are open on this server; finish or cancel one first`);
  await fs.promises.mkdir(ctx.dir, { recursive: true, mode: 0o700 });
  const free = await freeBytes(ctx.dir);
  if (free < m.total + ctx.freeFloor) return answer(res, 507, noRoom(ctx.dir, m.total, ctx.freeFloor, free));
  const id = crypto.randomBytes(12).toString('hex');
  const dir = path.join(ctx.dir, `.import-${process.pid}-${id}`);
  await fs.promises.mkdir(dir, { mode: 0o700 });
  ctx.sets.set(id, { id, dir, files: new Map(m.files.map((f) => [f.path, { size: f.size, state: 'waiting' as FileState }])), closed: false, active: new Set(), running: new Set(), touched: Date.now() });
  res.writeHead(201, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ id, dir }));
}

/** Makes the folders of `rel` inside `root`, each a real folder (never a symlink that something put there). */
async function makeParents(root: string, rel: string): Promise<string> {
  const parts = rel.split('/');
  let at = root;
  for (const part of parts.slice(0, -1)) {
    at = path.join(at, part);
    try {
      await fs.promises.mkdir(at, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const st = await fs.promises.lstat(at);
    if (!st.isDirectory()) throw new UploadRefused(409, `${path.relative(root, at)} in the upload is not a folder`);
  }
  return path.join(at, parts[parts.length - 1]!);
}

/** `PUT /upload-set?id=&path=`: one announced file, exactly its announced size, into the set's folder. */
export async function handleSetFile(req: http.IncomingMessage, res: http.ServerResponse, url: URL, ctx: UploadSetContext): Promise<void> {
  const set = ctx.sets.get(url.searchParams.get('id') ?? '');
  if (!set) return answer(res, 404, 'no such machine upload on this server', true);
  if (set.closed) return answer(res, 409, 'this machine upload was cancelled', true);
  const c = checkSetPath(url.searchParams.get('path') ?? '');
  if ('error' in c) return answer(res, 400, c.error, true);
  const entry = set.files.get(c.path);
  if (!entry) return answer(res, 400, `${c.path} was not announced for this upload`, true);
  if (entry.state !== 'waiting') return answer(res, 409, `${c.path} is ${entry.state === 'done' ? 'already uploaded' : 'being uploaded'}`, true);
  const lengthHeader = req.headers['content-length'];
  const declared = lengthHeader === undefined ? undefined : Number(lengthHeader);
  if (declared !== undefined && declared !== entry.size) return refuseBody(req, res, declared, 400, `${c.path} was announced with ${entry.size} bytes, not ${lengthHeader}`);
  const free = await freeBytes(set.dir);
  if (free < entry.size + ctx.freeFloor) return refuseBody(req, res, declared, 507, noRoom(ctx.dir, entry.size, ctx.freeFloor, free));

  entry.state = 'writing';
  set.active.add(req);
  set.touched = Date.now();
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  set.running.add(done);
  const partial = path.join(set.dir, `.upload-${process.pid}-${crypto.randomBytes(12).toString('hex')}.partial`);
  let received = 0;
  let checkedAt = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      if (received > entry.size) return cb(new UploadRefused(413, `${c.path} is longer than the ${entry.size} bytes announced`));
      if (received - checkedAt < 256 * 1024 * 1024) return cb(null, chunk);
      checkedAt = received;
      freeBytes(set.dir).then(
        (now) => (now < ctx.freeFloor ? cb(new UploadRefused(507, noRoom(ctx.dir, entry.size, ctx.freeFloor, now))) : cb(null, chunk)),
        () => cb(null, chunk),
      );
    },
  });
  try {
    try {
      await pipeline(req, meter, fs.createWriteStream(partial, { flags: 'wx', mode: 0o600 }));
    } catch (err) {
      if (err instanceof UploadRefused) return answer(res, err.status, err.message, true);
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOSPC') return answer(res, 507, `the disk holding ${ctx.dir} is full`, true);
      if (set.closed) return answer(res, 409, 'this machine upload was cancelled', true);
      if (req.destroyed || e.code === 'ECONNRESET' || e.code === 'ERR_STREAM_PREMATURE_CLOSE') return answer(res, 400, 'the upload was interrupted', true);
      throw err;
    }
    if (set.closed) return answer(res, 409, 'this machine upload was cancelled', true);
    if (received !== entry.size) return answer(res, 400, `${c.path} ended after ${received} of the ${entry.size} bytes announced`, true);
    const target = await makeParents(set.dir, c.path);
    // link never replaces: a name that exists (put there by anyone) refuses this file.
    await fs.promises.link(partial, target).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'EEXIST' ? new UploadRefused(409, `${c.path} already exists in the upload`) : err;
    });
    // Unlinked before answering: dropping the second link changes the file's ctime, and an
    // import started on the answer would see a file that changed while it was read.
    await fs.promises.rm(partial, { force: true });
    entry.state = 'done';
    res.writeHead(201, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ path: target }));
  } catch (err) {
    if (err instanceof UploadRefused) return answer(res, err.status, err.message, true);
    throw err;
  } finally {
    await fs.promises.rm(partial, { force: true });
    if (entry.state === 'writing') entry.state = 'waiting';
    set.active.delete(req);
    set.running.delete(done);
    set.touched = Date.now();
    finished();
  }
}

/**
 * `DELETE /upload-set?id=`: the page is done with the set (cancelled, refused or imported).
 * Writes still under way are cut off and their temporary files removed first; the core then
 * removes the folder, unless a VM or a job uses a file in it (an import that runs from it).
 */
export async function handleSetDiscard(res: http.ServerResponse, url: URL, ctx: UploadSetContext): Promise<void> {
  if (!ctx.discardSet) return answer(res, 405);
  const set = ctx.sets.get(url.searchParams.get('id') ?? '');
  if (!set) return answer(res, 404, 'no such machine upload on this server');
  const kept = await takeBack(set, ctx);
  if (kept) return answer(res, kept.status, kept.message);
  answer(res, 204);
}

/**
 * Closes `set` (writes under way are cut off and wait for their temporary files to go) and has
 * the core remove its folder. Null once it is gone; otherwise why the core kept it: the set
 * stays closed, so it no longer counts as open.
 */
async function takeBack(set: UploadSet, ctx: UploadSetContext): Promise<{ status: number; message: string } | null> {
  set.closed = true;
  for (const r of set.active) r.destroy();
  await Promise.all([...set.running]);
  try {
    await ctx.discardSet!(set.dir);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code !== 'NOT_FOUND') {
      // In use, or no longer the folder this server made (the core refuses a replaced one): kept, and said why.
      return { status: e.code === 'BUSY' || e.code === 'INVALID_STATE' || e.code === 'INVALID_ARGUMENT' ? 409 : 500, message: e.message ?? 'the upload could not be removed' };
    }
  }
  ctx.sets.delete(set.id);
  return null;
}

/**
 * The set folders that a server killed mid-way left in `dir` (its pid no longer runs): handed
 * to the core's check-and-remove, which keeps any a VM uses. Returns the folders removed.
 */
export async function sweepDeadSets(dir: string, discardSet: (folder: string) => Promise<void>): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return [];
  }
  const swept: string[] = [];
  for (const n of names) {
    const m = SET_FOLDER.exec(n);
    if (!m || processRuns(Number(m[1]))) continue;
    try {
      await discardSet(path.join(dir, n));
      swept.push(n);
    } catch {
      // in use, or gone meanwhile: left alone
    }
  }
  return swept;
}
