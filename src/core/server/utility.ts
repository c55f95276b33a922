/**
 * The core as Electron's utility process (desktop). Electron main sends one MessagePort per
 * client (each window, and main itself); each becomes a session. If another core already
 * manages the data directory (`nestbox daemon` or `nestbox serve`), every port is bridged to
 * that core's unix socket instead, so there is still exactly one core.
 *
 * Nothing here imports electron: the parent port is found on `process`.
 */
import fs from 'node:fs';
import { bridgeTransports, portTransport, type NodeStylePort, type Transport } from '../api/rpc';
import { DataLayout, defaultDataDir } from '../store/paths';
import { hostCore, type HostedCore } from './host';
import { connectUnix } from './socket';

interface ParentPort {
  on(event: 'message', listener: (e: { data: unknown; ports: NodeStylePort[] }) => void): void;
  postMessage(message: unknown): void;
}

async function main(): Promise<void> {
  const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;
  if (!parentPort) throw new Error('utility.ts must run in an Electron utility process');
  const dataDir = defaultDataDir();
  const layout = new DataLayout(dataDir);
  let hosted: HostedCore | null = null;
  let serve: (t: Transport) => void;
  const existing = fs.existsSync(layout.coreSocket) ? await connectUnix(layout.coreSocket).catch(() => null) : null;
  if (existing) {
    existing.close();
    serve = (t) => {
      connectUnix(layout.coreSocket).then(
        (core) => bridgeTransports(t, core),
        () => t.close(),
      );
    };
  } else {
    hosted = await hostCore({ dataDir, role: 'desktop' });
    serve = (t) => hosted!.serve(t);
  }
  parentPort.on('message', (e) => {
    const msg = e.data as { type?: string } | null;
    if (msg?.type === 'connect' && e.ports[0]) serve(portTransport(e.ports[0]));
    if (msg?.type === 'shutdown') void hosted?.close().then(() => process.exit(0));
  });
  parentPort.postMessage({ type: 'ready', hosted: hosted !== null, dataDir });
  const stop = () => void (hosted ? hosted.close() : Promise.resolve()).then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;
  parentPort?.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
