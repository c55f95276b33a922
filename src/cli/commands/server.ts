/** Hosting: the headless core and web mode. The logic lives in src/core/server; these parse and call. */
import path from 'node:path';
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
    // The core is loaded here only: other commands start without compiling it.
    const { idleSecondsFromEnv, startDaemon } = await import('../../core/server/hosting');
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
    'allow-host': { type: 'string', value: 'NAME', multiple: true, help: 'also answer to this Host name (e.g. the name a LAN uses for this machine)' },
    'tls-cert': { type: 'string', value: 'FILE', help: 'serve HTTPS with this PEM certificate (chain); needs --tls-key' },
    'tls-key': { type: 'string', value: 'FILE', help: 'the certificate\'s PEM private key' },
    insecure: { type: 'boolean', help: 'allow plain HTTP on a non-loopback address' },
    'max-upload': { type: 'string', value: 'SIZE', help: 'largest upload accepted (default 64G)' },
    'new-token': { type: 'boolean', help: 'issue a new access token (ends every session of the old one)' },
  },
  summary: 'web mode: the desktop UI in a browser (prints a URL with a token)',
  async handler(ctx, _args, o) {
    const { isLoopback, startServe } = await import('../../core/server/hosting');
    const host = o.host ?? '127.0.0.1';
    const s = await startServe({
      dataDir: ctx.home,
      host,
      port: intOpt(o.port, '--port') ?? 8490,
      newToken: o['new-token'] === true,
      staticDir: webRoot(),
      allowHosts: o['allow-host'] ?? [],
      ...(o['tls-cert'] !== undefined ? { tlsCert: o['tls-cert'] } : {}),
      ...(o['tls-key'] !== undefined ? { tlsKey: o['tls-key'] } : {}),
      insecure: o.insecure === true,
      ...(o['max-upload'] !== undefined ? { maxUpload: o['max-upload'] } : {}),
    });
    if (!isLoopback(host)) {
      process.stderr.write(`nestbox: warning: serving on ${host}${s.tls ? '' : ' without TLS'}: anyone who can reach it and has the URL controls your VMs\n`);
    }
    // The URL as soon as the page can load; the core may still be opening (see startServe).
    process.stdout.write(`Nestbox web mode: ${s.url}\n`);
    await s.ready;
    process.stderr.write(`${s.hostsCore ? 'hosting the core' : 'connected to the running core'} for ${ctx.home}; Ctrl+C stops serving (VMs keep running)\n`);
    await signalled();
    await s.close();
  },
});

export const serverCommands: CommandGroup = { name: 'server', title: 'Hosting', commands: [daemon, serve] };
