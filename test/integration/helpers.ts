import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import type { RpcClient } from '../../src/core/api/rpc';
import type { VmState } from '../../src/core/domain/lifecycle';
import { hostCore, type HostedCore } from '../../src/core/server/host';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'bin', 'nestbox.cjs');

export function testIso(): string {
  const iso = process.env['NESTBOX_TEST_ISO'];
  if (!iso || !fs.existsSync(iso)) throw new Error('NESTBOX_TEST_ISO is not set; the integration global setup builds it');
  return iso;
}

/** A fresh data directory; removed (with any VMs it still runs powered off) by `cleanup`. */
export function tempHome(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nbt-'));
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

export async function openCore(home: string): Promise<{ hosted: HostedCore; client: RpcClient }> {
  const hosted = await hostCore({ dataDir: home });
  return { hosted, client: hosted.client() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `file` contains `pattern` (at least `count` times); returns the file's text. */
export async function waitForFile(file: string, pattern: RegExp, timeoutMs = 90_000, count = 1): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const g = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
  let text = '';
  while (Date.now() < deadline) {
    text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if ((text.match(g) ?? []).length >= count) return text;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${pattern} (x${count}) in ${file}; it ends with:\n${text.slice(-1500)}`);
}

export async function waitForState(client: RpcClient, ref: string, state: VmState, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const vm = await client.call('vms.info', { ref });
    if (vm.state === state) return;
    if (Date.now() > deadline) throw new Error(`'${ref}' is ${vm.state}, expected ${state}`);
    await sleep(100);
  }
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
   * its marker shows up.
   */
  async run(command: string, until: RegExp, timeoutMs = 30_000): Promise<string> {
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
