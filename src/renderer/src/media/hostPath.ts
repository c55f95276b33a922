/**
 * Turning a dropped File into a path the core can open. On the desktop the file already is
 * on the host: the preload's `pathForFile` (Electron's webUtils.getPathForFile) names it and
 * it is used where it is. In web mode the browser may be elsewhere, so the file is streamed
 * to `PUT /upload` (into the host's media folder) with progress, and the path the server
 * answers with is used.
 */
import { NestboxError } from '../../../core/api/errors';

export interface UploadProgress {
  readonly loaded: number;
  readonly total: number;
}

export interface HostFile {
  readonly path: string;
  /** True when the file was copied to the host's media folder for this. */
  readonly uploaded: boolean;
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
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `/upload?name=${encodeURIComponent(file.name)}`);
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
        reject(new NestboxError('IO_ERROR', `Could not upload ${file.name}: ${why}`));
      }
    };
    xhr.onerror = () => reject(new NestboxError('IO_ERROR', `Could not upload ${file.name}: the connection failed`));
    xhr.onabort = () => reject(new NestboxError('CANCELLED', `The upload of ${file.name} was cancelled`));
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
