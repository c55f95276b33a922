/**
 * The unix-socket transport: newline-delimited JSON. The socket lives in the 0700 runtime
 * directory and is itself 0600, so only this user's processes can reach the core.
 */
import fs from 'node:fs';
import net from 'node:net';
import type { WireMessage } from '../api/contract';
import { NestboxError } from '../api/errors';
import { isWireMessage, type Transport } from '../api/rpc';

const MAX_LINE = 64 * 1024 * 1024;

export function socketTransport(sock: net.Socket): Transport {
  const msgCbs: ((m: WireMessage) => void)[] = [];
  const closeCbs: ((r?: Error) => void)[] = [];
  let buf = '';
  let closed = false;
  let closeReason: Error | undefined;
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > MAX_LINE) {
      closeReason = new NestboxError('PROTOCOL_ERROR', 'message too large');
      sock.destroy();
      return;
    }
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        msg = undefined;
      }
      if (!isWireMessage(msg)) {
        closeReason = new NestboxError('PROTOCOL_ERROR', 'received a line that is not a Nestbox message');
        sock.destroy();
        return;
      }
      for (const cb of msgCbs) cb(msg);
    }
  });
  sock.on('error', (err) => {
    closeReason ??= err;
  });
  sock.on('close', () => {
    closed = true;
    for (const cb of closeCbs) cb(closeReason);
  });
  return {
    send(msg) {
      if (closed) throw new NestboxError('PROTOCOL_ERROR', 'the connection is closed');
      sock.write(`${JSON.stringify(msg)}\n`);
    },
    buffered: () => sock.writableLength,
    onMessage(cb) {
      msgCbs.push(cb);
    },
    onClose(cb) {
      closeCbs.push(cb);
    },
    close() {
      sock.end();
      sock.destroy();
    },
  };
}

export async function listenUnix(path: string, onConnection: (t: Transport) => void): Promise<net.Server> {
  fs.rmSync(path, { force: true });
  const server = net.createServer((sock) => onConnection(socketTransport(sock)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  fs.chmodSync(path, 0o600);
  return server;
}

export function connectUnix(path: string, timeoutMs = 2000): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(path);
    const t = setTimeout(() => {
      sock.destroy();
      reject(new NestboxError('TIMEOUT', `the core at ${path} did not answer`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(t);
      resolve(socketTransport(sock));
    });
    sock.once('error', (err) => {
      clearTimeout(t);
      reject(err);
    });
  });
}
