/** Consoles and logs: the serial console, screenshots, the event log. */
import fs from 'node:fs';
import type { RpcClient } from '../../core/api/rpc';
import { command, type CommandGroup, opt, req } from '../command';
import { intOpt, out } from '../format';

async function serialConsole(client: RpcClient, ref: string): Promise<void> {
  // Loaded here, not at the top: every command loads this file, only this one needs node:crypto.
  const { randomUUID } = await import('node:crypto');
  const stream = randomUUID();
  const tty = process.stdin.isTTY === true;
  let done = false;
  let finished: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (finished = resolve));
  const finish = () => {
    if (done) return;
    done = true;
    if (tty) process.stdin.setRawMode(false);
    process.stdin.pause();
    client.call('console.close', { stream }).catch(() => undefined).finally(finished);
  };
  // Subscribe before opening: the first bytes can arrive together with the reply.
  client.on('console.data', (ev) => {
    if (ev.stream === stream) process.stdout.write(Buffer.from(ev.data, 'base64'));
  });
  client.on('console.closed', (ev) => {
    if (ev.stream !== stream) return;
    process.stderr.write(`\r\nnestbox: console closed: ${ev.reason}\r\n`);
    finish();
  });
  client.onClose(() => finish());
  await client.call('console.open', { ref, channel: 'serial', stream });
  if (tty) {
    process.stderr.write(`Connected to the serial console of '${ref}'. Press Ctrl+] to detach.\r\n`);
    process.stdin.setRawMode(true);
  }
  process.stdin.on('data', (chunk: Buffer) => {
    if (tty && chunk.includes(0x1d)) return finish();
    client.call('console.write', { stream, data: chunk.toString('base64') }).catch(() => finish());
  });
  process.stdin.on('end', () => {
    // Piped input: give the guest a moment to answer the last line, then leave.
    setTimeout(finish, Number(process.env['NESTBOX_SERIAL_LINGER_MS'] ?? 1500));
  });
  process.stdin.resume();
  await ended;
}

const serial = command({
  name: 'serial',
  args: [req('NAME')],
  options: {},
  summary: 'attach this terminal to the serial console (Ctrl+] detaches)',
  async handler(ctx, [ref]) {
    await serialConsole(await ctx.client(), ref);
  },
});

const screenshot = command({
  name: 'screenshot',
  args: [req('NAME'), req('FILE.png')],
  options: {},
  summary: 'save the screen as PNG',
  async handler(ctx, [ref, file]) {
    const shot = await (await ctx.client()).call('vms.screenshot', { ref });
    fs.writeFileSync(file, Buffer.from(shot.pngBase64, 'base64'));
    out(`Saved ${shot.width}x${shot.height} screenshot to ${file}`);
  },
});

const log = command({
  name: 'log',
  args: [opt('NAME')],
  options: { limit: { type: 'string', value: 'N', help: 'how many events (default 50)' }, json: { type: 'boolean', help: 'machine-readable output' } },
  summary: 'recent events',
  async handler(ctx, [ref], o) {
    const entries = await (await ctx.client()).call('events.recent', { ...(ref ? { ref } : {}), limit: intOpt(o.limit, '--limit') ?? 50 });
    if (o.json) out(JSON.stringify(entries, null, 2));
    else for (const e of entries) out(`${e.ts}  ${e.level.padEnd(7)}  ${e.message}`);
  },
});

export const consoleCommands: CommandGroup = { name: 'console', title: 'Console and log', commands: [serial, screenshot, log] };
