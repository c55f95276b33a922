/**
 * The freeze around a live snapshot against a fake qemu-ga on a real unix socket (where
 * QEMU's agent chardev would be): frozen when the agent answers; skipped fast when it does
 * not; thawed whenever a freeze was sent, even one left unanswered; thawed early when the
 * guest would stay frozen too long; a failed thaw retried and reported.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RUNTIME_FILES } from '../../../../src/core/qemu/argv';
import { GuestWatch } from '../../../../src/core/services/guestwatch';
import { GuestFreeze, type FreezeLimits } from '../../../../src/core/services/quiesce';

/** Which commands the fake agent leaves unanswered (a hung agent answers none). */
type Silence = ReadonlySet<string> | 'all';

class FakeAgent {
  readonly received: string[] = [];
  silent: Silence = new Set();
  frozen = false;
  /** How many file systems a freeze reports (0: the guest has none qemu-ga freezes). */
  filesystems = 2;
  readonly #server: Server;
  readonly #conns: Socket[] = [];

  constructor(sock: string) {
    this.#server = createServer((c) => {
      this.#conns.push(c);
      c.on('error', () => undefined);
      let buf = '';
      c.on('data', (chunk: Buffer) => {
        for (const ch of chunk.toString('latin1')) {
          if (ch === '\xff') buf = '';
          else if (ch !== '\n') buf += ch;
          else {
            this.#answer(c, buf);
            buf = '';
          }
        }
      });
    });
    this.#server.listen(sock);
  }

  #answer(c: Socket, line: string): void {
    const cmd = JSON.parse(line) as { execute: string; arguments?: { id?: number } };
    this.received.push(cmd.execute);
    if (this.silent === 'all' || this.silent.has(cmd.execute)) return;
    const reply = (v: unknown): void => {
      c.write(JSON.stringify({ return: v }) + '\n');
    };
    switch (cmd.execute) {
      case 'guest-sync-delimited':
        c.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ return: cmd.arguments?.id }) + '\n')]));
        return;
      case 'guest-fsfreeze-freeze':
        this.frozen = true;
        return reply(this.filesystems);
      case 'guest-fsfreeze-thaw':
        this.frozen = false;
        return reply(2);
      case 'guest-fsfreeze-status':
        return reply(this.frozen ? 'frozen' : 'thawed');
      default:
        return reply({});
    }
  }

  close(): void {
    for (const c of this.#conns) c.destroy();
    this.#server.close();
  }
}

const LIMITS: FreezeLimits = { pingMs: 300, freezeMs: 300, maxFrozenMs: 5000, thawMs: 200, thawTries: 2, retryEveryMs: 100, retryForMs: 3000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('GuestFreeze', () => {
  let dir: string;
  let agent: FakeAgent;
  let watch: GuestWatch;
  let logs: [string, string][];
  const log = (level: string, msg: string) => logs.push([level, msg]);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-quiesce-'));
    agent = new FakeAgent(path.join(dir, RUNTIME_FILES.agent));
    watch = new GuestWatch(dir);
    logs = [];
  });
  afterEach(() => {
    watch.close();
    agent.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('freezes when the agent answers, keeps polls off meanwhile, and thaws at the end', async () => {
    const f = await GuestFreeze.begin(watch, log, LIMITS);
    expect(f.outcome).toEqual({ frozen: true, note: null });
    expect(agent.frozen).toBe(true);
    watch.tick(false);
    expect(agent.received).not.toContain('guest-network-get-interfaces');
    await f.end();
    expect(agent.frozen).toBe(false);
    expect(f.outcome.frozen).toBe(false);
    watch.tick(false);
    await sleep(100);
    expect(agent.received).toContain('guest-network-get-interfaces');
    expect(logs[0]?.[1]).toMatch(/^froze 2 file systems of the guest in \d+ ms$/);
  });

  it('skips the freeze, within the ping limit, when the agent does not answer, and sends no freeze', async () => {
    agent.silent = 'all';
    const t0 = Date.now();
    const f = await GuestFreeze.begin(watch, log, LIMITS);
    expect(Date.now() - t0).toBeLessThan(LIMITS.pingMs + 250); // the ping limit fired (liveness), not a performance claim
    expect(f.outcome.frozen).toBe(false);
    expect(f.outcome.note).toMatch(/the guest agent did not answer within 0\.3 s/);
    await f.end();
    expect(agent.received.filter((c) => c.startsWith('guest-fsfreeze'))).toEqual([]);
  });

  it('thaws after a freeze that went unanswered (the agent may carry it out late), and reports a thaw that keeps failing', async () => {
    agent.silent = new Set(['guest-fsfreeze-freeze', 'guest-fsfreeze-thaw']);
    const f = await GuestFreeze.begin(watch, log, { ...LIMITS, retryForMs: 400 });
    expect(f.outcome.frozen).toBe(false);
    expect(f.outcome.note).toMatch(/did not freeze the file systems: .*did not answer guest-fsfreeze-freeze within 300 ms/);
    await f.end();
    expect(agent.received).toContain('guest-fsfreeze-thaw');
    expect(logs.some(([l, m]) => l === 'warning' && /could not thaw the guest's file systems .*; retrying for 0\.4 s/.test(m))).toBe(true);
    await sleep(1200);
    expect(logs.at(-1)).toEqual(['error', expect.stringMatching(/may still be frozen: its agent did not answer a thaw for 0\.4 s/)]);
  });

  it('a thaw that failed is retried until the agent answers', async () => {
    const f = await GuestFreeze.begin(watch, log, LIMITS);
    expect(f.outcome.frozen).toBe(true);
    agent.silent = new Set(['guest-fsfreeze-thaw']);
    await f.end();
    expect(agent.frozen).toBe(true);
    agent.silent = new Set();
    for (let i = 0; i < 50 && agent.frozen; i++) await sleep(100);
    expect(agent.frozen).toBe(false);
    expect(logs.at(-1)).toEqual(['info', "thawed the guest's file systems after all"]);
  });

  it('thaws a guest that would stay frozen longer than the limit, and says the snapshot was not frozen', async () => {
    const f = await GuestFreeze.begin(watch, log, { ...LIMITS, maxFrozenMs: 150 });
    expect(f.outcome.frozen).toBe(true);
    await sleep(400);
    expect(agent.frozen).toBe(false);
    expect(f.outcome).toEqual({ frozen: false, note: expect.stringMatching(/thawed after 0\.15 s frozen, before its disks were snapshotted/) });
    await f.end();
    expect(agent.frozen).toBe(false);
  });

  it('a guest with no file system to freeze is thawed at once (qemu-ga counts itself frozen) and not called frozen', async () => {
    agent.filesystems = 0;
    const f = await GuestFreeze.begin(watch, log, LIMITS);
    expect(agent.frozen).toBe(false);
    expect(f.outcome).toEqual({ frozen: false, note: 'the guest agent found no file system to freeze' });
    const before = agent.received.length;
    await f.end();
    expect(agent.received.slice(before)).toEqual([]);
  });

  it('thawIfFrozen thaws a guest that resumed frozen and leaves a thawed one alone', async () => {
    expect(await watch.thawIfFrozen(500)).toBe(false);
    agent.frozen = true;
    expect(await watch.thawIfFrozen(500)).toBe(true);
    expect(agent.frozen).toBe(false);
  });
});
