/** A byte duplex over a VNC console stream of the core's API, for the RFB test client. */
import { randomUUID } from 'node:crypto';
import type { RpcClient } from '../../src/core/api/rpc';
import type { ByteDuplex } from './rfb';

export async function relayVncDuplex(client: RpcClient, ref: string): Promise<ByteDuplex & { stream: string }> {
  // Named and subscribed before opening: the RFB greeting can arrive with the reply.
  const stream = randomUUID();
  const listeners: ((d: Buffer) => void)[] = [];
  const early: Buffer[] = [];
  client.on('console.data', (ev) => {
    if (ev.stream !== stream) return;
    const b = Buffer.from(ev.data, 'base64');
    if (listeners.length) for (const l of listeners) l(b);
    else early.push(b);
  });
  await client.call('console.open', { ref, channel: 'vnc', stream });
  return {
    stream,
    write: (d) => void client.call('console.write', { stream, data: d.toString('base64') }).catch(() => undefined),
    onData: (cb) => {
      listeners.push(cb);
      for (const b of early.splice(0)) cb(b);
    },
    close: () => void client.call('console.close', { stream }).catch(() => undefined),
  };
}
