/**
 * The internal-network switch against real unix sockets standing in for QEMU's stream
 * netdevs (server side, 4-byte big-endian length framing): it learns MACs, floods broadcast
 * and unknown destinations, and sends known unicast only to its port.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { L2Switch } from '../../../../src/core/network/switch';

interface FakeNic {
  readonly path: string;
  readonly received: Buffer[];
  send(frame: Buffer): void;
  close(): void;
}

async function fakeNic(dir: string, name: string): Promise<FakeNic> {
  const p = path.join(dir, `${name}.sock`);
  const received: Buffer[] = [];
  let peer: net.Socket | null = null;
  let buf = Buffer.alloc(0);
  const srv = net.createServer((s) => {
    peer = s;
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const len = buf.readUInt32BE(0);
        received.push(buf.subarray(4, 4 + len));
        buf = buf.subarray(4 + len);
      }
    });
  });
  await new Promise<void>((r) => srv.listen(p, () => r()));
  return {
    path: p,
    received,
    send(frame) {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(frame.length);
      // Split the write to prove the switch reassembles frames.
      peer!.write(Buffer.concat([len, frame.subarray(0, 3)]));
      peer!.write(frame.subarray(3));
    },
    close() {
      peer?.destroy();
      srv.close();
    },
  };
}

const mac = (last: number) => Buffer.from([0x52, 0x54, 0, 0, 0, last]);
const BCAST = Buffer.alloc(6, 0xff);
const frame = (dst: Buffer, src: Buffer, tag: string) => Buffer.concat([dst, src, Buffer.from([0x08, 0x00]), Buffer.from(tag.padEnd(46, '.'))]);

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('L2Switch', () => {
  let dir: string;
  let a: FakeNic, b: FakeNic, c: FakeNic;
  const sw = new L2Switch('lab');

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-sw-'));
    [a, b, c] = await Promise.all([fakeNic(dir, 'a'), fakeNic(dir, 'b'), fakeNic(dir, 'c')]);
    await sw.attach('vm-a', 'net0', a.path);
    await sw.attach('vm-b', 'net0', b.path);
    await sw.attach('vm-c', 'net1', c.path);
    await until(() => sw.list().every((p) => p.connected));
  });
  afterAll(() => {
    sw.close();
    for (const n of [a, b, c]) n.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('floods broadcast to every other port, not back to the sender', async () => {
    a.send(frame(BCAST, mac(1), 'hello'));
    await until(() => b.received.length === 1 && c.received.length === 1);
    expect(b.received[0]).toEqual(frame(BCAST, mac(1), 'hello'));
    expect(c.received[0]).toEqual(frame(BCAST, mac(1), 'hello'));
    expect(a.received).toHaveLength(0);
  });

  it('sends unicast to a learned MAC only to its port', async () => {
    b.send(frame(mac(1), mac(2), 'reply'));
    await until(() => a.received.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.received[0]).toEqual(frame(mac(1), mac(2), 'reply'));
    expect(c.received).toHaveLength(1);
  });

  it('floods unicast to an unknown MAC, and forgets a port that went away', async () => {
    a.send(frame(mac(9), mac(1), 'who'));
    await until(() => b.received.length === 2 && c.received.length === 2);
    expect(b.received[1]).toEqual(frame(mac(9), mac(1), 'who'));
    sw.detach('vm-b');
    expect(sw.list().map((p) => p.vm)).toEqual(['vm-a', 'vm-c']);
    a.send(frame(mac(2), mac(1), 'gone'));
    await until(() => c.received.length === 3);
    expect(c.received[2]).toEqual(frame(mac(2), mac(1), 'gone'));
  });
});
