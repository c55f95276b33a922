/**
 * The core as Electron's utility process (desktop). Electron main sends one MessagePort per
 * client (each window, and main itself); each becomes a session. If another core already
 * manages the data directory (`nestbox daemon` or `nestbox serve`), every port is bridged to
 * that core's unix socket instead, so there is still exactly one core; when that core goes away
 * (an idle daemon exits), the next window makes this process host it (desktop.ts).
 *
 * Nothing here imports electron: the parent port is found on `process`.
 */
import { portTransport, type NodeStylePort } from '../api/rpc';
import { defaultDataDir } from '../store/paths';
import { desktopCore } from './desktop';

interface ParentPort {
  on(event: 'message', listener: (e: { data: unknown; ports: NodeStylePort[] }) => void): void;
  postMessage(message: unknown): void;
}

async function main(): Promise<void> {
  const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;
  if (!parentPort) throw new Error('utility.ts must run in an Electron utility process');
  const dataDir = defaultDataDir();
  const desktop = await desktopCore(dataDir);
  parentPort.on('message', (e) => {
    const msg = e.data as { type?: string } | null;
    if (msg?.type === 'connect' && e.ports[0]) void desktop.serve(portTransport(e.ports[0]));
    if (msg?.type === 'shutdown') void desktop.close().then(() => process.exit(0));
  });
  parentPort.postMessage({ type: 'ready', hosted: desktop.hosted() !== null, dataDir });
  const stop = () => void desktop.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;
  parentPort?.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
