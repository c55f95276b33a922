/**
 * Moving a volume's bytes between this machine and a host through virsh (`vol-upload`,
 * `vol-download`), with progress: an upload is fed through a FIFO so the bytes sent can be
 * counted, a download is watched growing in a temporary file renamed when it is complete.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NestboxError } from '../api/errors';
import { checkLibvirtName } from './domxml';
import { parseVolumeXml } from './parse';
import type { VirshSession } from './session';

/**
 * Uploads a local file into a volume (which must exist and be large enough). The file is
 * fed to virsh through a FIFO so that the bytes sent can be counted for progress.
 */
export async function uploadVolume(s: VirshSession, pool: string, vol: string, file: string, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<void> {
  const p = checkLibvirtName(pool, 'storage pool name');
  const v = checkLibvirtName(vol, 'volume name');
  const total = fs.statSync(file).size;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbx-up-'));
  const fifo = path.join(dir, 'data');
  try {
    await new Promise<void>((resolve, reject) => {
      const mk = spawn('mkfifo', ['-m', '0600', fifo], { stdio: 'ignore' });
      mk.on('error', reject);
      mk.on('close', (c) => (c === 0 ? resolve() : reject(new NestboxError('IO_ERROR', 'mkfifo failed'))));
    });
    const upload = s.run(['vol-upload', '--pool', p, '--vol', v, '--file', fifo], `upload into ${vol}`, { timeoutMs: 24 * 3600_000, ...(signal ? { signal } : {}) });
    let sent = 0;
    const feed = new Promise<void>((resolve, reject) => {
      const src = fs.createReadStream(file, { highWaterMark: 1024 * 1024 });
      const dst = fs.createWriteStream(fifo);
      src.on('data', (b) => {
        sent += b.length;
        onProgress?.(sent, total);
      });
      src.on('error', reject);
      dst.on('error', reject);
      dst.on('close', resolve);
      src.pipe(dst);
      upload.catch(() => {
        src.destroy();
        dst.destroy();
        resolve();
      });
    });
    await Promise.all([upload, feed]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Downloads a volume into a local file, written under a temporary name until it is complete. */
export async function downloadVolume(s: VirshSession, pool: string, vol: string, file: string, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<void> {
  const p = checkLibvirtName(pool, 'storage pool name');
  const v = checkLibvirtName(vol, 'volume name');
  const info = parseVolumeXml((await s.run(['vol-dumpxml', '--pool', p, '--vol', v], `volume ${vol}`)).trim(), s.host);
  const total = info.capacity;
  const tmp = `${file}.part-${randomBytes(4).toString('hex')}`;
  const timer = onProgress
    ? setInterval(() => {
        try {
          onProgress(fs.statSync(tmp).size, total);
        } catch {
          /* not created yet */
        }
      }, 250)
    : null;
  try {
    await s.run(['vol-download', '--pool', p, '--vol', v, '--file', tmp], `download ${vol}`, { timeoutMs: 24 * 3600_000, ...(signal ? { signal } : {}) });
    fs.renameSync(tmp, file);
    onProgress?.(fs.statSync(file).size, total);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  } finally {
    if (timer) clearInterval(timer);
  }
}
