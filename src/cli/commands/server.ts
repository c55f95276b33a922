/** Hosting: the headless core and web mode. The logic lives in src/core/server; these parse and call. */
import path from 'node:path';
import { idleSecondsFromEnv, startDaemon } from '../../core/server/daemon';
import { startServe } from '../../core/server/serve';
import { command, type CommandGroup } from '../command';
import { intOpt } from '../format';

/** Resolves on SIGINT or SIGTERM. */
function signalled(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

const daemon = command({
  name: 'daemon',
  args: [],
  options: { background: { type: 'boolean', help: 'as started by the CLI: exit after $NESTBOX_DAEMON_IDLE_S seconds (default 300) without clients or jobs' } },
  summary: 'host the core headless; other clients connect to it (the CLI starts one when none runs)',
  async handler(ctx, _args, o) {
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const d = await startDaemon({ dataDir: ctx.home, idleMs: o.background ? idleSecondsFromEnv() * 1000 : null, log });
    log(`nestbox: core running for ${ctx.home} (pid ${process.pid}); ${o.background ? 'it exits when idle' : 'Ctrl+C stops it'}, VMs keep running`);
    void signalled().then((sig) => d.stop(sig));
    await d.stopped;
  },
});

/** The built renderer: next to the bundle in a checkout (out/node → out/renderer). */
function webRoot(): string {
  return process.env['NESTBOX_WEB_ROOT'] ?? path.resolve(__dirname, '..', 'renderer');
}

const serve = command({
  name: 'serve',
  args: [],
  options: {
    port: { type: 'string', value: 'P', help: 'the port (default 8490)' },
    host: { type: 'string', value: 'ADDR', help: 'the address to bind (default 127.0.0.1)' },
    'new-token': { type: 'boolean', help: 'issue a new access token (shuts out every old URL)' },
  },
  summary: 'web mode: the desktop UI in a browser (prints a URL with a token)',
  async handler(ctx, _args, o) {
    const host = o.host ?? '127.0.0.1';
    const s = await startServe({ dataDir: ctx.home, host, port: intOpt(o.port, '--port') ?? 8490, newToken: o['new-token'] === true, staticDir: webRoot() });
    if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') {
      process.stderr.write(`nestbox: warning: serving on ${host}: anyone who can reach it and has the URL controls your VMs\n`);
    }
    process.stdout.write(`Nestbox web mode: ${s.url}\n`);
    process.stderr.write(`${s.hostsCore ? 'hosting the core' : 'connected to the running core'} for ${ctx.home}; Ctrl+C stops serving (VMs keep running)\n`);
    await signalled();
    await s.close();
  },
});

export const serverCommands: CommandGroup = { name: 'server', title: 'Hosting', commands: [daemon, serve] };
