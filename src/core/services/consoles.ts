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
import type { SerialLog } from '../api/contract';
import { NestboxError } from '../api/errors';
import { RUNTIME_FILES } from '../qemu/argv';
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

/** The serial log on disk: its tail, or the lines matching a plain-text query. */
export function readSerialLog(file: string, query: string | undefined, maxBytes = 64 * 1024): SerialLog {
  if (!fs.existsSync(file)) return { path: file, size: 0, text: '', matches: [], truncated: false };
  const size = fs.statSync(file).size;
  if (!query) {
    const len = Math.min(size, Math.max(1024, Math.min(maxBytes, 4 * 1024 * 1024)));
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return { path: file, size, text: buf.toString('utf8'), matches: [], truncated: len < size };
    } finally {
      fs.closeSync(fd);
    }
  }
  // Searching reads the whole log (bounded): logs are text, and grows slowly.
  const limit = 256 * 1024 * 1024;
  const text = fs.readFileSync(file, { encoding: 'utf8', flag: 'r' }).slice(0, limit);
  const needle = query.toLowerCase();
  const matches: { line: number; text: string }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && matches.length < 1000; i++) {
    if (lines[i]!.toLowerCase().includes(needle)) matches.push({ line: i + 1, text: lines[i]!.replace(/\r$/, '') });
  }
  return { path: file, size, text: '', matches, truncated: matches.length >= 1000 || size > limit };
}
