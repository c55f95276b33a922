/** Waiting for something in tests: a file's content, a VM's state, a condition. */
import fs from 'node:fs';
import type { RpcClient } from '../../src/core/api/rpc';
import type { VmState } from '../../src/core/domain/lifecycle';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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

/** Waits until `check` returns true; `what` names it in the timeout's message. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
