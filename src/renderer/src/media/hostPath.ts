/**
 * Turning a dropped File into a path the core can open. On the desktop the file already is
 * on the host: the preload's `pathForFile` (Electron's webUtils.getPathForFile) names it and
 * it is used where it is. In web mode the browser may be elsewhere, so the file is streamed
 * to `PUT /upload` (into the host's media folder) with progress, and the path the server
 * answers with is used.
 */
import { NestboxError } from '../../../core/api/errors';
import type { DropItem, PickedFile } from './dropped';

export interface UploadProgress {
  readonly loaded: number;
  readonly total: number;
}

export interface HostFile {
  readonly path: string;
  /** True when the file was copied to the host's media folder for this. */
  readonly uploaded: boolean;
  /**
   * A machine uploaded with its files (web mode): the upload's id, which takes the whole
   * folder back (`DELETE /upload-set?id=`), its folder on the host and the files in it.
   */
  readonly set?: { readonly id: string; readonly dir: string; readonly files: readonly string[] };
}

/** Where the file is on the desktop host, or null (web mode, or a file with no path such as a dragged browser item). */
export function desktopPathOf(file: File): string | null {
  const bridge = window.nestboxDesktop;
  if (!bridge) return null;
  try {
    const p = bridge.pathForFile(file);
    return p ? p : null;
  } catch {
    // webUtils throws for anything that is not a File: treat it as a file with no path.
    return null;
  }
}

/** Streams a file to web mode's upload endpoint; resolves with the path on the host. Abort with `signal`. */
export function uploadFile(file: File, onProgress: (p: UploadProgress) => void, signal?: AbortSignal): Promise<string> {
  return putFile(`/upload?name=${encodeURIComponent(file.name)}`, file, file.name, onProgress, signal);
}

function putFile(url: string, file: File, label: string, onProgress: (p: UploadProgress) => void, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new NestboxError('CANCELLED', `The upload of ${label} was cancelled`));
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    xhr.withCredentials = true;
    xhr.upload.onprogress = (e) => onProgress({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size });
    xhr.onload = () => {
      let body: { path?: unknown; error?: unknown } = {};
      try {
        body = JSON.parse(xhr.responseText) as typeof body;
      } catch {
        // a non-JSON answer is reported by status below
      }
      if (xhr.status === 201 && typeof body.path === 'string') resolve(body.path);
      else {
        const why = typeof body.error === 'string' ? body.error : `the server answered ${xhr.status}`;
        reject(new NestboxError('IO_ERROR', `Could not upload ${label}: ${why}`));
      }
    };
    xhr.onerror = () => reject(new NestboxError('IO_ERROR', `Could not upload ${label}: the connection failed`));
    xhr.onabort = () => reject(new NestboxError('CANCELLED', `The upload of ${label} was cancelled`));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}

/**
 * Removes an upload nothing took up (its import or new VM was cancelled): `DELETE /upload`
 * with the name the server answered. The server removes only files its own uploads wrote,
 * in the upload folder, that no VM uses; it answers why not otherwise.
 */
export async function discardUpload(hostPath: string): Promise<void> {
  const name = hostPath.split('/').pop() ?? '';
  const r = await fetch(`/upload?name=${encodeURIComponent(name)}`, { method: 'DELETE', credentials: 'same-origin' });
  if (r.status === 204 || r.status === 404) return;
  let why = `the server answered ${r.status}`;
  try {
    const body = (await r.json()) as { error?: unknown };
    if (typeof body.error === 'string') why = body.error;
  } catch {
    // not JSON: the status says it
  }
  throw new NestboxError('IO_ERROR', `The upload ${name} was kept: ${why}`);
}

/** The file's path on the host: where it is (desktop) or after uploading it (web mode). */
export async function toHostFile(file: File, onProgress: (p: UploadProgress) => void, signal?: AbortSignal): Promise<HostFile> {
  const local = desktopPathOf(file);
  if (local) return { path: local, uploaded: false };
  if (window.nestboxDesktop) throw new NestboxError('INVALID_ARGUMENT', `${file.name} is not a file on this computer (drop it from a file manager).`);
  return { path: await uploadFile(file, onProgress, signal), uploaded: true };
}

async function errorOf(r: Response): Promise<string> {
  try {
    const body = (await r.json()) as { error?: unknown };
    if (typeof body.error === 'string') return body.error;
  } catch {
    // not JSON: the status says it
  }
  return `the server answered ${r.status}`;
}

/**
 * Web mode: a machine's files into one folder of their own on the host, in the layout its
 * descriptor names. The server checks the list (paths, count, sizes) before a byte is sent;
 * the files then go one after another. A failure or cancel takes the folder back at once.
 */
export async function uploadMachine(
  descriptor: string,
  files: readonly PickedFile[],
  onProgress: (p: UploadProgress) => void,
  signal?: AbortSignal,
): Promise<HostFile> {
  const total = files.reduce((n, f) => n + f.file.size, 0);
  const r = await fetch('/upload-set', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ files: files.map((f) => ({ path: f.rel, size: f.file.size })) }),
    ...(signal ? { signal } : {}),
  });
  if (r.status !== 201) throw new NestboxError('IO_ERROR', `Could not upload ${descriptor}: ${await errorOf(r)}`);
  const made = (await r.json()) as { id: string; dir: string };
  let sent = 0;
  const leaving = discardOnPageHide(made.id);
  try {
    for (const f of files) {
      await putFile(
        `/upload-set?id=${encodeURIComponent(made.id)}&path=${encodeURIComponent(f.rel)}`,
        f.file,
        f.rel,
        (p) => onProgress({ loaded: sent + p.loaded, total }),
        signal,
      );
      sent += f.file.size;
    }
  } catch (err) {
    await discardMachineUpload(made.id).catch(() => undefined);
    throw err;
  } finally {
    leaving();
  }
  return { path: `${made.dir}/${descriptor}`, uploaded: true, set: { id: made.id, dir: made.dir, files: files.map((f) => f.rel) } };
}

/** Takes a machine upload back (its import was cancelled, refused, or done: the disks were copied); the server removes the folder. */
export async function discardMachineUpload(id: string, keepalive = false): Promise<void> {
  const r = await fetch(`/upload-set?id=${encodeURIComponent(id)}`, { method: 'DELETE', credentials: 'same-origin', keepalive });
  if (r.status === 204 || r.status === 404) return;
  throw new NestboxError('IO_ERROR', `The uploaded machine files were kept: ${await errorOf(r)}`);
}

/**
 * A tab closed or reloaded while a machine upload is open: its folder is taken back too
 * (a keepalive request outlives the page). Returns the function that stops listening.
 */
export function discardOnPageHide(id: string): () => void {
  const hide = () => void discardMachineUpload(id, true).catch(() => undefined);
  window.addEventListener('pagehide', hide);
  return () => window.removeEventListener('pagehide', hide);
}

/** What a drop item is on the host: a single file as toHostFile; a machine where it is (desktop) or uploaded with its files (web mode). */
export async function toHostSource(item: DropItem, onProgress: (p: UploadProgress) => void, signal?: AbortSignal): Promise<HostFile> {
  if (item.kind === 'file') return toHostFile(item.file, onProgress, signal);
  if (window.nestboxDesktop) {
    // The desktop reads the disks beside the machine file where they are.
    const local = item.descriptorFile ? desktopPathOf(item.descriptorFile) : null;
    if (local) return { path: local, uploaded: false };
    throw new NestboxError('INVALID_ARGUMENT', `${item.descriptor} is not a file on this computer (drop it from a file manager).`);
  }
  return uploadMachine(item.descriptor, item.files, onProgress, signal);
}
