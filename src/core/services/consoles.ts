/**
 * Console streams: the serial port (one hub per VM, fanned out) and the screen (the raw RFB
 * stream of QEMU's VNC server on its unix socket, one connection per viewer, so several
 * viewers work at once and each negotiates its own encodings). The core only relays bytes;
 * no TCP port is ever opened.
 *
 * A slow viewer must never block the VM or the core: when the client's transport is
 * congested the relay stops reading from QEMU's socket, and QEMU's VNC server, which sends
 * updates only as the client asks for them, simply sends fewer.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { SerialLog } from '../api/contract';
import { NestboxError } from '../api/errors';
import { RUNTIME_FILES } from '../qemu/argv';
import { logGenerations } from './logrotate';
import type { SerialHub } from './serial';

export interface StreamSink {
  data(chunk: Buffer): void;
  closed(reason: string): void;
  /** True while the client cannot keep up; the relay pauses reading until it can. */
  congested(): boolean;
}

export interface OpenStream {
  write(data: Buffer): void;
  close(): void;
}

export function openSerialStream(hub: SerialHub, sink: StreamSink): OpenStream {
  const off = hub.subscribe({ data: (c) => sink.data(c), closed: (r) => sink.closed(r) });
  return { write: (d) => hub.write(d), close: off };
}

export async function openVncStream(runDir: string, sink: StreamSink): Promise<OpenStream> {
  const sockPath = path.join(runDir, RUNTIME_FILES.vnc);
  const sock = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.createConnection(sockPath);
    s.once('connect', () => resolve(s));
    s.once('error', (err) => reject(new NestboxError('IO_ERROR', `cannot reach the VM's screen: ${err.message}`)));
  });
  sock.unref();
  sock.setNoDelay(true);
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  const finish = (reason: string) => {
    if (closed) return;
    closed = true;
    if (timer) clearInterval(timer);
    sock.destroy();
    sink.closed(reason);
  };
  sock.on('data', (chunk: Buffer) => {
    sink.data(chunk);
    if (!timer && sink.congested()) {
      sock.pause();
      timer = setInterval(() => {
        if (sink.congested()) return;
        clearInterval(timer!);
        timer = null;
        sock.resume();
      }, 20);
      timer.unref();
    }
  });
  sock.on('error', () => undefined);
  sock.on('close', () => finish('the VM screen closed'));
  return {
    write: (d) => {
      if (!closed) sock.write(d);
    },
    close: () => {
      closed = true;
      if (timer) clearInterval(timer);
      sock.destroy();
    },
  };
}

/**
 * A VM's log on disk (serial or QEMU's), over its rotated generations as one text (see
 * logrotate.ts): its tail, or the lines matching a plain-text query. Read in chunks, so
 * memory stays bounded whatever the size of the files.
 */
export async function readSerialLog(file: string, query: string | undefined, maxBytes = 64 * 1024): Promise<SerialLog> {
  const files = logGenerations(file);
  const sizes = files.map((f) => {
    try {
      return fs.statSync(f).size;
    } catch {
      return 0;
    }
  });
  const size = sizes.reduce((a, b) => a + b, 0);
  if (files.length === 0) return { path: file, size: 0, text: '', matches: [], truncated: false };
  if (!query) {
    const len = Math.min(size, Math.max(1024, Math.min(maxBytes, 4 * 1024 * 1024)));
    const parts: Buffer[] = [];
    let want = len;
    for (let i = files.length - 1; i >= 0 && want > 0; i--) {
      const take = Math.min(want, sizes[i]!);
      parts.unshift(await readRange(files[i]!, sizes[i]! - take, take));
      want -= take;
    }
    return { path: file, size, text: Buffer.concat(parts).toString('utf8'), matches: [], truncated: len < size };
  }
  const needle = query.toLowerCase();
  const matches: { line: number; text: string }[] = [];
  const limit = 256 * 1024 * 1024;
  let scanned = 0;
  let lineNo = 1;
  let pending = '';
  const decoder = new StringDecoder('utf8');
  const consider = (line: string) => {
    if (matches.length < 1000 && line.toLowerCase().includes(needle)) matches.push({ line: lineNo, text: line.replace(/\r$/, '') });
    lineNo++;
  };
  outer: for (let i = 0; i < files.length; i++) {
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(files[i]!, 'r');
    } catch {
      continue; // rotated away meanwhile
    }
    try {
      const buf = Buffer.alloc(256 * 1024);
      // Only what the file held when the search began: a log growing meanwhile is not chased.
      for (let pos = 0; pos < sizes[i]!; ) {
        const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, sizes[i]! - pos), pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        scanned += bytesRead;
        const lines = (pending + decoder.write(buf.subarray(0, bytesRead))).split('\n');
        pending = lines.pop()!;
        for (const l of lines) consider(l);
        if (matches.length >= 1000 || scanned >= limit) break outer;
      }
    } finally {
      await handle.close();
    }
  }
  pending += decoder.end();
  if (matches.length < 1000) consider(pending);
  return { path: file, size, text: '', matches, truncated: matches.length >= 1000 || size > limit };
}

async function readRange(file: string, start: number, length: number): Promise<Buffer> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buf, 0, length, start);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
