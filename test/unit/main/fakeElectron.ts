/**
 * A stand-in for the `electron` module, good enough to boot src/main/index.ts under vitest
 * (the Electron binary is not needed): it records what main asks of Electron and lets a test
 * fire the events Electron would fire.
 */
import { EventEmitter } from 'node:events';
import { vi } from 'vitest';

type Handler = (event: unknown, ...args: unknown[]) => unknown;

/** One end of a MessageChannelMain: messages reach the peer asynchronously, as in Electron. */
export class FakePort extends EventEmitter {
  peer: FakePort | null = null;
  closed = false;
  started = false;

  postMessage(data: unknown): void {
    const peer = this.peer;
    if (this.closed || !peer) return;
    setImmediate(() => {
      if (!peer.closed) peer.emit('message', { data, ports: [] });
    });
  }

  start(): void {
    this.started = true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
    this.peer?.close();
  }
}

export class FakeWebFrame {
  constructor(public url: string) {}
}

export class FakeWebContents extends EventEmitter {
  mainFrame = new FakeWebFrame('app://nestbox/index.html');
  windowOpenHandler: ((details: { url: string }) => unknown) | null = null;
  readonly send = vi.fn();
  readonly postMessage = vi.fn();
  readonly setWindowOpenHandler = vi.fn((h: (details: { url: string }) => unknown) => {
    this.windowOpenHandler = h;
  });
  isDestroyed(): boolean {
    return false;
  }
}

/** An event object with a recorded preventDefault, as Electron passes to listeners. */
export function fakeEvent(): { preventDefault: ReturnType<typeof vi.fn>; defaultPrevented: () => boolean } {
  const preventDefault = vi.fn();
  return { preventDefault, defaultPrevented: () => preventDefault.mock.calls.length > 0 };
}

export class FakeUtilityProcess extends EventEmitter {
  /** Ports handed over with `{ type: 'connect' }`, in order (main's own client first). */
  readonly connected: FakePort[] = [];
  readonly postMessage = vi.fn((msg: unknown, ports?: FakePort[]) => {
    if ((msg as { type?: string } | null)?.type === 'connect' && ports?.[0]) {
      this.connected.push(ports[0]);
      this.emit('test:connect', ports[0]);
    }
  });
  readonly kill = vi.fn();
}

export interface FakeElectronOptions {
  readonly userData: string;
  readonly singleInstanceLock?: boolean;
}

export function createFakeElectron(opts: FakeElectronOptions) {
  let markReady!: () => void;
  let ready = false;
  const readyPromise = new Promise<void>((resolve) => {
    markReady = () => {
      ready = true;
      resolve();
    };
  });

  const app = Object.assign(new EventEmitter(), {
    isPackaged: false,
    requestSingleInstanceLock: vi.fn(() => opts.singleInstanceLock ?? true),
    whenReady: vi.fn(() => readyPromise),
    isReady: vi.fn(() => ready),
    getPath: vi.fn((name: string) => {
      if (name !== 'userData') throw new Error(`unexpected app.getPath(${name})`);
      return opts.userData;
    }),
    quit: vi.fn(),
  });

  const windows: FakeBrowserWindow[] = [];

  class FakeBrowserWindow extends EventEmitter {
    static getAllWindows = vi.fn(() => windows.filter((w) => !w.destroyed));
    static fromWebContents = vi.fn((wc: unknown) => windows.find((w) => w.webContents === wc && !w.destroyed) ?? null);

    readonly webContents = new FakeWebContents();
    destroyed = false;
    minimized = false;
    readonly loadURL = vi.fn(async (_url: string) => undefined);
    readonly show = vi.fn();
    readonly focus = vi.fn();
    readonly maximize = vi.fn();
    readonly restore = vi.fn(() => {
      this.minimized = false;
    });

    constructor(readonly options: Record<string, unknown>) {
      super();
      windows.push(this);
      // Electron announces every new web contents on the app.
      app.emit('web-contents-created', {}, this.webContents);
    }

    isMinimized(): boolean {
      return this.minimized;
    }
    isMaximized(): boolean {
      return false;
    }
    isDestroyed(): boolean {
      return this.destroyed;
    }
    getNormalBounds() {
      return { x: 10, y: 20, width: 1111, height: 777 };
    }
    /** What closing the window does in Electron: 'closed', then maybe 'window-all-closed'. */
    close(): void {
      this.destroyed = true;
      this.emit('closed');
      if (FakeBrowserWindow.getAllWindows().length === 0) app.emit('window-all-closed');
    }
  }

  class FakeMessageChannelMain {
    readonly port1 = new FakePort();
    readonly port2 = new FakePort();
    constructor() {
      this.port1.peer = this.port2;
      this.port2.peer = this.port1;
    }
  }

  const ipcHandlers = new Map<string, Handler>();
  /** `ipcMain.on` listeners (fire-and-forget channels). */
  const ipcListeners = new Map<string, Handler>();
  const protocolHandlers = new Map<string, (req: { url: string }) => Promise<Response> | Response>();
  const utilities: FakeUtilityProcess[] = [];

  const module = {
    app,
    BrowserWindow: FakeBrowserWindow,
    ipcMain: {
      handle: vi.fn((channel: string, h: Handler) => {
        if (ipcHandlers.has(channel)) throw new Error(`second handler for ${channel}`);
        ipcHandlers.set(channel, h);
      }),
      on: vi.fn((channel: string, h: Handler) => {
        if (ipcListeners.has(channel)) throw new Error(`second listener for ${channel}`);
        ipcListeners.set(channel, h);
      }),
    },
    dialog: {
      showOpenDialog: vi.fn(async (..._args: unknown[]) => ({ canceled: false, filePaths: ['/isos/debian.iso'] })),
      showMessageBox: vi.fn(async (..._args: unknown[]) => ({ response: 0, checkboxChecked: false })),
      showErrorBox: vi.fn(),
    },
    Menu: {
      buildFromTemplate: vi.fn((template: unknown[]) => ({ template })),
      setApplicationMenu: vi.fn(),
    },
    MessageChannelMain: FakeMessageChannelMain,
    net: {
      fetch: vi.fn(async (_url: string) => new Response('<!doctype html><title>Nestbox</title>', { status: 200, headers: { 'content-type': 'text/html' } })),
    },
    protocol: {
      registerSchemesAsPrivileged: vi.fn(),
      handle: vi.fn((scheme: string, h: (req: { url: string }) => Promise<Response> | Response) => {
        protocolHandlers.set(scheme, h);
      }),
    },
    screen: {
      getAllDisplays: vi.fn(() => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }]),
    },
    session: {
      defaultSession: {
        setPermissionRequestHandler: vi.fn(),
        setPermissionCheckHandler: vi.fn(),
        webRequest: { onHeadersReceived: vi.fn() },
      },
    },
    shell: { openExternal: vi.fn(async () => undefined) },
    utilityProcess: {
      fork: vi.fn((_modulePath: string, _args?: string[], _options?: unknown) => {
        const p = new FakeUtilityProcess();
        utilities.push(p);
        return p;
      }),
    },
  };

  return { module, app, markReady, windows, ipcHandlers, ipcListeners, protocolHandlers, utilities, FakeBrowserWindow };
}

export type FakeElectron = ReturnType<typeof createFakeElectron>;
export type FakeWindow = FakeElectron['windows'][number];
