import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { RpcClient } from '../../src/core/api/rpc';
import { qemuUser } from '../../src/core/qemu/runas';
import { openCore, tempHome } from '../support/core';
import { CLI, ROOT, stopBackgroundDaemon } from '../support/daemon';
import { sleep, waitForFile, waitForState } from '../support/waits';

export { CLI, openCore, ROOT, tempHome, waitForFile, waitForState };

/** The uid QEMU runs as: the unprivileged QEMU user when the tests run as root (runas.ts), else ours. */
export function qemuUid(): number {
  return qemuUser()?.uid ?? process.getuid?.() ?? 0;
}

/**
 * As root, QEMU runs as an unprivileged user (src/core/qemu/runas.ts), and Nestbox never
 * changes a person's own files outside its data folder: a test's image used in place is
 * handed to that user here, as someone running Nestbox as root would do.
 */
export function giveToQemuUser(...files: readonly string[]): void {
  const user = qemuUser();
  if (!user) return;
  for (const f of files) {
    fs.chmodSync(path.dirname(f), 0o755);
    fs.chownSync(f, user.uid, user.gid);
  }
}

export function testIso(): string {
  const iso = process.env['NESTBOX_TEST_ISO'];
  if (!iso || !fs.existsSync(iso)) throw new Error('NESTBOX_TEST_ISO is not set; the integration global setup builds it');
  return iso;
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function cli(home: string, args: readonly string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, NESTBOX_HOME: home, ...opts.env }, timeout: 170_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** A console stream on a VM's serial port with a line buffer to wait on. */
export class SerialSession {
  private text = '';
  private constructor(
    private readonly client: RpcClient,
    readonly stream: string,
  ) {
    client.on('console.data', (ev) => {
      if (ev.stream === stream) this.text += Buffer.from(ev.data, 'base64').toString('utf8');
    });
  }

  static async open(client: RpcClient, ref: string): Promise<SerialSession> {
    const session = new SerialSession(client, randomUUID());
    await client.call('console.open', { ref, channel: 'serial', stream: session.stream });
    return session;
  }

  /**
   * Runs one command in the VM's serial shell (see run) in a session of its own, closed
   * again however the command ends, so the console is free for whatever the test does next.
   */
  static async runOnce(client: RpcClient, ref: string, command: string, until: RegExp, timeoutMs?: number): Promise<string> {
    const serial = await SerialSession.open(client, ref);
    try {
      return await serial.run(command, until, timeoutMs);
    } finally {
      await serial.close();
    }
  }

  get output(): string {
    return this.text;
  }

  async send(line: string): Promise<void> {
    await this.client.call('console.write', { stream: this.stream, data: Buffer.from(`${line}\n`).toString('base64') });
  }

  /**
   * Sends a command and waits for a marker it prints; returns the text captured after sending.
   * A shell that has just started can swallow the first keystrokes (busybox asks the terminal
   * for its cursor position), so an idempotent command is typed again, after Ctrl+U, until
   * its marker shows up. The 90 s default is a hang guard for a TCG guest on a busy machine
   * (the suite runs two test files at once), not a performance claim.
   */
  async run(command: string, until: RegExp, timeoutMs = 90_000): Promise<string> {
    const start = this.text.length;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await this.send(`\x15${command}`);
      const retryAt = Math.min(deadline, Date.now() + 4000);
      while (Date.now() < retryAt) {
        if (until.test(this.text.slice(start))) return this.text.slice(start);
        await sleep(50);
      }
    }
    throw new Error(`timed out waiting for ${until} after '${command}'; got:\n${this.text.slice(start).slice(-1000)}`);
  }

  async close(): Promise<void> {
    await this.client.call('console.close', { stream: this.stream }).catch(() => undefined);
  }
}

export { pidAlive } from '../../src/core/qemu/supervisor';

/** Powers off whatever still runs in `home` and removes it. */
export async function cleanupHome(home: string): Promise<void> {
  const r = await cli(home, ['list', '--json']);
  if (r.code === 0) {
    for (const vm of JSON.parse(r.stdout) as { name: string; state: string }[]) {
      if (['running', 'paused', 'starting', 'stopping', 'saving'].includes(vm.state)) await cli(home, ['poweroff', vm.name]);
    }
  }
  // The background daemon the CLI started for it leaves with it.
  await stopBackgroundDaemon(home);
  fs.rmSync(home, { recursive: true, force: true });
}

/**
 * `qemu-img check` of every image of a VM. While QEMU runs the image is read with
 * --force-share and QEMU still holds refcount updates in its metadata cache, so leaked
 * clusters are expected there and only corruption counts; once QEMU has closed the image
 * (`running` false) it must be entirely clean, leaks included.
 */
export function checkImages(files: readonly string[], running: boolean): void {
  for (const f of files) {
    let out: string;
    try {
      out = execFileSync('qemu-img', ['check', ...(running ? ['-U'] : []), '-f', 'qcow2', '--output=json', f], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      out = String((err as { stdout?: string }).stdout ?? '');
      if (!out) throw err;
    }
    const j = JSON.parse(out) as { corruptions?: number; leaks?: number; 'check-errors'?: number };
    const got = { file: path.basename(f), corruptions: j.corruptions ?? 0, errors: j['check-errors'] ?? 0, ...(running ? {} : { leaks: j.leaks ?? 0 }) };
    expect(got).toEqual({ file: path.basename(f), corruptions: 0, errors: 0, ...(running ? {} : { leaks: 0 }) });
  }
}

/** Awaits a call that must fail, and checks its error code and (optionally) its message. */
export async function expectError(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  const err = (await p.then(
    () => null,
    (e: unknown) => e,
  )) as { code?: string; message?: string } | null;
  expect(err, 'expected the call to fail').not.toBeNull();
  expect(err!.code).toBe(code);
  if (message) expect(err!.message).toMatch(message);
}
