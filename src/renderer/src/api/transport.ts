/**
 * The renderer's connection to the core. The same UI runs in two hosts and only this file
 * knows the difference: on the desktop the preload hands over a MessagePort; in web mode
 * the page opens a WebSocket back to `nestbox serve` (the access cookie rides along).
 */
import type { WireMessage } from '../../../core/api/contract';
import { NestboxError } from '../../../core/api/errors';
import { RpcClient, type Transport } from '../../../core/api/rpc';
import type { DesktopBridge } from '../../../main/ipc-contract';

export type { DesktopBridge, MenuCommand } from '../../../main/ipc-contract';

declare global {
  interface Window {
    nestboxDesktop?: DesktopBridge;
  }
}

function portTransport(port: MessagePort): Transport {
  const closeCbs: ((r?: Error) => void)[] = [];
  return {
    send: (msg) => port.postMessage(msg),
    onMessage: (cb) => {
      port.onmessage = (e: MessageEvent<WireMessage>) => cb(e.data);
      port.start();
    },
    onClose: (cb) => {
      closeCbs.push(cb);
      port.addEventListener('close', () => cb());
    },
    close: () => {
      port.close();
      for (const cb of closeCbs) cb();
    },
  };
}

function wsTransport(ws: WebSocket): Transport {
  return {
    send: (msg) => {
      if (ws.readyState !== WebSocket.OPEN) throw new NestboxError('PROTOCOL_ERROR', 'not connected to the Nestbox core');
      ws.send(JSON.stringify(msg));
    },
    onMessage: (cb) => ws.addEventListener('message', (e: MessageEvent<string>) => cb(JSON.parse(e.data) as WireMessage)),
    onClose: (cb) => ws.addEventListener('close', (e) => cb(e.code === 1000 ? undefined : new Error(e.reason || `closed (${e.code})`))),
    close: () => ws.close(1000),
  };
}

/**
 * Ports the preload hands over: one at load, and a fresh one whenever Electron main restarts
 * the core. Kept from the start so a reconnect never misses the port that arrived first.
 */
const pendingPorts: MessagePort[] = [];
const portWaiters: ((p: MessagePort) => void)[] = [];
if (typeof window !== 'undefined') {
  window.addEventListener('message', (e: MessageEvent) => {
    if (e.source !== window || e.data !== 'nestbox:port' || !e.ports[0]) return;
    const waiter = portWaiters.shift();
    if (waiter) waiter(e.ports[0]);
    else pendingPorts.push(e.ports[0]);
  });
}

function desktopPort(): Promise<MessagePort> {
  const ready = pendingPorts.pop();
  pendingPorts.length = 0;
  return ready ? Promise.resolve(ready) : new Promise((resolve) => portWaiters.push(resolve));
}

/** Connects to the core through whichever host serves this page. */
export async function connect(): Promise<RpcClient> {
  if (window.nestboxDesktop) return new RpcClient(portTransport(await desktopPort()));
  const url = new URL('/rpc', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new NestboxError('PROTOCOL_ERROR', 'could not connect to the Nestbox core')), { once: true });
  });
  return new RpcClient(wsTransport(ws));
}
