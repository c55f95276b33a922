/**
 * The guest agent client against a fake guest on a real unix socket. The guest is the
 * hostile party, so simulating it is the point: random bytes, huge lines, silence, replies
 * to questions asked long ago. None of it may hang a call past its deadline, crash the
 * client, or keep it from working once the guest behaves again.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestAgentClient, guestCommands, parseInterfaces } from '../../../../src/core/qemu/agent';
import { NestboxError } from '../../../../src/core/api/errors';

type Behaviour = 'honest' | 'silent' | 'garbage' | 'hugeLine' | 'endlessLine' | 'stale' | 'badJson' | 'wrongShape' | 'slowDrip';

/** A qemu-ga look-alike whose behaviour the test switches at will. */
class FakeGuest {
  behaviour: Behaviour = 'honest';
  readonly received: string[] = [];
  conns: Socket[] = [];
  #buf = '';
  readonly #rand: () => number;

  constructor(seed: number) {
    let s = seed >>> 0;
    this.#rand = () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
  }

  attach(sock: Socket): void {
    this.conns.push(sock);
    sock.on('error', () => undefined);
    sock.on('data', (chunk: Buffer) => {
      // The agent's parser: 0xFF resets it.
      const s = chunk.toString('latin1');
      for (const ch of s) {
        if (ch === '\xff') {
          this.#buf = '';
          continue;
        }
        if (ch !== '\n') {
          this.#buf += ch;
          continue;
        }
        const line = this.#buf;
        this.#buf = '';
        this.received.push(line);
        this.#answer(sock, line);
      }
    });
  }

  #randomBytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.#rand() * 256);
    return b;
  }

  #answer(sock: Socket, line: string): void {
    let cmd: { execute: string; arguments?: { id?: number } };
    try {
      cmd = JSON.parse(line) as typeof cmd;
    } catch {
      sock.write('{"error": {"class": "GenericError", "desc": "JSON parse error"}}\n');
      return;
    }
    const honest = (): void => {
      if (cmd.execute === 'guest-sync-delimited') sock.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ return: cmd.arguments?.id }) + '\n')]));
      else if (cmd.execute === 'guest-shutdown') return;
      else if (cmd.execute === 'guest-get-host-name') sock.write(JSON.stringify({ return: { 'host-name': 'fake\u001b[31mguest' } }) + '\n');
      else if (cmd.execute === 'guest-fsfreeze-freeze') sock.write('{"return": 2}\n');
      else sock.write('{"return": {}}\n');
    };
    switch (this.behaviour) {
      case 'honest':
        honest();
        return;
      case 'silent':
        return;
      case 'garbage':
        sock.write(this.#randomBytes(1 + Math.floor(this.#rand() * 4096)));
        return;
      case 'hugeLine':
        sock.write(Buffer.alloc(3 * 1024 * 1024, 0x41));
        sock.write('\n');
        return;
      case 'endlessLine':
        for (let i = 0; i < 8; i++) sock.write(Buffer.alloc(512 * 1024, 0x7b));
        return;
      case 'stale':
        // Replies to questions asked before a reboot or a timeout come before the sync's
        // answer (the agent answers in order), even an old sync's marker and id.
        if (cmd.execute === 'guest-sync-delimited') {
          sock.write('{"return": 12345}\n{"return": {"old": true}}\n');
          sock.write(Buffer.from([0xff]));
          sock.write('{"return": 99}\n');
        }
        honest();
        return;
      case 'badJson':
        sock.write('{"return": \n');
        return;
      case 'wrongShape':
        sock.write(cmd.execute === 'guest-sync-delimited' ? Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ return: cmd.arguments?.id }) + '\n')]) : '[1,2,3]\n');
        return;
      case 'slowDrip': {
        // One byte every 20 ms of a reply that never ends.
        let n = 0;
        const t = setInterval(() => {
          if (sock.destroyed || this.behaviour !== 'slowDrip' || n++ > 100) return clearInterval(t);
          sock.write('x');
        }, 20);
        return;
      }
      default: {
        const never: never = this.behaviour;
        throw new Error(String(never));
      }
    }
  }
}

let dir: string;
let server: Server;
let guest: FakeGuest;
let client: GuestAgentClient;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nb-qga-'));
  guest = new FakeGuest(20);
  server = createServer((s) => guest.attach(s));
  await new Promise<void>((r) => server.listen(join(dir, 'qga.sock'), r));
  client = new GuestAgentClient(join(dir, 'qga.sock'), { maxLineBytes: 64 * 1024, syncTimeoutMs: 300 });
});

afterEach(async () => {
  client.close();
  for (const c of guest.conns) c.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

async function settleWithin(p: Promise<unknown>, ms: number): Promise<{ ok: boolean; err?: NestboxError; elapsed: number }> {
  const t0 = Date.now();
  const timer = new Promise<'hung'>((r) => setTimeout(() => r('hung'), ms));
  const r = await Promise.race([p.then(() => ({ ok: true })).catch((e: unknown) => ({ ok: false, err: e as NestboxError })), timer]);
  if (r === 'hung') throw new Error(`the call did not settle within ${ms} ms`);
  return { ...r, elapsed: Date.now() - t0 };
}

describe('GuestAgentClient', () => {
  it('syncs with guest-sync-delimited before the first call and then calls plainly', async () => {
    const cmd = guestCommands(client);
    await cmd.ping(1000);
    expect(client.synced).toBe(true);
    expect(JSON.parse(guest.received[0]!)).toMatchObject({ execute: 'guest-sync-delimited' });
    expect(JSON.parse(guest.received[1]!)).toEqual({ execute: 'guest-ping' });
    expect(await cmd.freeze(1000)).toBe(2);
    // One sync only while the stream stays in step.
    expect(guest.received.filter((l) => l.includes('guest-sync-delimited'))).toHaveLength(1);
  });

  it('strips control characters from what the guest says', async () => {
    expect(await guestCommands(client).hostName(1000)).toBe('fake [31mguest');
  });

  it('a silent guest fails the call with TIMEOUT at its deadline, and the next call re-syncs', async () => {
    const cmd = guestCommands(client);
    await cmd.ping(1000);
    guest.behaviour = 'silent';
    const r = await settleWithin(cmd.ping(250), 2000);
    expect(r.ok).toBe(false);
    expect(r.err?.code).toBe('TIMEOUT');
    expect(r.elapsed).toBeLessThan(1000); // the 250 ms timeout fired (liveness), not a performance claim
    expect(client.synced).toBe(false);
    guest.behaviour = 'honest';
    await cmd.ping(1000);
    expect(guest.received.filter((l) => l.includes('guest-sync-delimited'))).toHaveLength(2);
  });

  it('drops stale replies before the sync marker and answers with the right one', async () => {
    guest.behaviour = 'stale';
    await expect(guestCommands(client).freeze(1000)).resolves.toBe(2);
  });

  it('a line over the limit fails the call with PROTOCOL_ERROR without buffering it', async () => {
    const cmd = guestCommands(client);
    await cmd.ping(1000);
    guest.behaviour = 'hugeLine';
    const r = await settleWithin(cmd.ping(2000), 5000);
    expect(r.err?.code).toBe('PROTOCOL_ERROR');
    guest.behaviour = 'honest';
    await cmd.ping(2000);
  });

  it('replies that are not JSON or of the wrong shape are protocol errors', async () => {
    const cmd = guestCommands(client);
    guest.behaviour = 'wrongShape';
    await expect(cmd.interfaces(1000)).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
    await expect(cmd.freeze(1000)).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
    guest.behaviour = 'honest';
    await cmd.ping(1000);
    guest.behaviour = 'badJson';
    await expect(cmd.ping(1000)).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('guest-shutdown expects no reply', async () => {
    const r = await settleWithin(guestCommands(client).shutdown(1000), 1500);
    expect(r.ok).toBe(true);
    for (let i = 0; i < 50 && !guest.received.some((l) => l.includes('guest-shutdown')); i++) await new Promise((res) => setTimeout(res, 10));
    expect(guest.received.some((l) => l.includes('guest-shutdown'))).toBe(true);
  });

  it('no socket is a clear error; a closed client refuses calls', async () => {
    const c2 = new GuestAgentClient(join(dir, 'nothing.sock'));
    await expect(c2.call('guest-ping', undefined, { timeoutMs: 500 })).rejects.toMatchObject({ code: 'QMP_DISCONNECTED' });
    c2.close();
    await expect(c2.call('guest-ping', undefined, { timeoutMs: 500 })).rejects.toMatchObject({ code: 'QMP_DISCONNECTED' });
  });

  it('dials again after the socket went away (QEMU restarted)', async () => {
    const cmd = guestCommands(client);
    await cmd.ping(1000);
    for (const c of guest.conns) c.destroy();
    await new Promise((r) => setTimeout(r, 50));
    await cmd.ping(1000);
    expect(guest.conns.length).toBe(2);
  });

  it('calls are serialised: a hung call delays the next one by at most its deadline', async () => {
    const cmd = guestCommands(client);
    await cmd.ping(1000);
    guest.behaviour = 'silent';
    const a = cmd.ping(300);
    guest.behaviour = 'silent';
    const b = settleWithin(cmd.ping(600), 3000);
    await expect(a).rejects.toMatchObject({ code: 'TIMEOUT' });
    const rb = await b;
    expect(rb.err?.code).toBe('TIMEOUT');
    expect(rb.elapsed).toBeLessThan(1500); // its own timeout fired (liveness), not a performance claim
  });

  it('fuzz: 120 rounds of hostile behaviour never hang a call or break the client', async () => {
    const hostile: Behaviour[] = ['silent', 'garbage', 'hugeLine', 'endlessLine', 'stale', 'badJson', 'wrongShape', 'slowDrip', 'honest'];
    let seed = 7;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const codes = new Set<string>();
    const cmd = guestCommands(client);
    for (let round = 0; round < 120; round++) {
      guest.behaviour = hostile[Math.floor(rand() * hostile.length)]!;
      const which = Math.floor(rand() * 3);
      const call = which === 0 ? cmd.ping(200) : which === 1 ? cmd.interfaces(200) : cmd.freeze(200);
      const r = await settleWithin(call, 1500);
      if (!r.ok) {
        expect(r.err).toBeInstanceOf(NestboxError);
        codes.add(r.err!.code);
      }
      if (round % 10 === 9) {
        // Every so often the guest behaves, and then the client must work again.
        const before = guest.behaviour;
        guest.behaviour = 'honest';
        await cmd.ping(1000).catch((e: unknown) => {
          throw new Error(`round ${round} after ${before}: ${String(e)}`);
        });
      }
    }
    expect([...codes].every((c) => ['TIMEOUT', 'PROTOCOL_ERROR', 'QMP_ERROR'].includes(c))).toBe(true);
    expect(codes.has('TIMEOUT')).toBe(true);
    expect(codes.has('PROTOCOL_ERROR')).toBe(true);
    guest.behaviour = 'honest';
    await cmd.ping(1000);
  }, 120_000);
});

describe('parseInterfaces', () => {
  it('keeps what is well formed, bounds lists and drops the rest', () => {
    const many = Array.from({ length: 200 }, (_, i) => ({ name: `eth${i}`, 'ip-addresses': [] }));
    expect(parseInterfaces(many)).toHaveLength(64);
    const r = parseInterfaces([
      {
        name: 'eth0',
        'hardware-address': '52:54:00:AA:bb:cc',
        'ip-addresses': [
          { 'ip-address-type': 'ipv4', 'ip-address': '10.0.2.15', prefix: 24 },
          { 'ip-address-type': 'ipx', 'ip-address': '1', prefix: 1 },
          { 'ip-address-type': 'ipv6', 'ip-address': 'fe80::1', prefix: 999 },
        ],
        statistics: { 'rx-bytes': 10, 'tx-bytes': 20, 'rx-packets': 1, 'tx-packets': 2 },
      },
      { name: 7 },
      'junk',
      { name: 'eth1', 'hardware-address': 'zz', statistics: { 'rx-bytes': -1, 'tx-bytes': 3 } },
    ]);
    expect(r).toEqual([
      { name: 'eth0', mac: '52:54:00:aa:bb:cc', addresses: [{ family: 'ipv4', address: '10.0.2.15', prefix: 24 }], stats: { rxBytes: 10, txBytes: 20, rxPackets: 1, txPackets: 2 } },
      { name: 'eth1', mac: null, addresses: [], stats: null },
    ]);
    expect(() => parseInterfaces({})).toThrow(NestboxError);
  });
});
