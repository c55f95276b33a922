/**
 * Electron main: windows, menus, native dialogs. It forks the core into a utility process
 * and hands each window its own MessagePort to it; it does not relay core calls.
 */
import path from 'node:path';
import fs from 'node:fs';
import { app, BrowserWindow, dialog, ipcMain, Menu, MessageChannelMain, net, protocol, screen, session, shell, utilityProcess, type BrowserWindowConstructorOptions, type UtilityProcess } from 'electron';
import { pathToFileURL } from 'node:url';
import { portTransport, RpcClient } from '../core/api/rpc';
import { handleInvoke, handleSend } from './ipc';
import { CHOOSE_FILE_CHANNEL, MENU_CHANNEL, OPEN_CONSOLE_CHANNEL, PORT_CHANNEL, type MainToRenderer, type MenuCommand } from './ipc-contract';
import { planQuit, QUIT_BUTTONS, type QuitChoice } from './quit';
import { APP_HOST, APP_ORIGIN, APP_SCHEME, CONTENT_SECURITY_POLICY, guardFrameNavigation, guardSession, isAllowedNavigation, resolveAppFile, secureWebPreferences } from './security';
import { loadWindowState, saveWindowState } from './windowState';

protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

/**
 * out/main. Main is bundled as ESM (the package is "type": "module"); `import.meta.dirname`
 * works there natively and electron-vite rewrites it if the output is ever switched to CJS,
 * whereas a bare `__dirname` only works through electron-vite's ESM shim.
 */
const mainDir = import.meta.dirname;
const rendererDir = path.join(mainDir, '..', 'renderer');
const preload = path.join(mainDir, '..', 'preload', 'index.cjs');
/** A core that dies this often within this window is not restarted again (no dialog loop). */
const CORE_MAX_RESTARTS = 3;
const CORE_RESTART_WINDOW_MS = 60_000;
/** How long the quit dialog waits for the core's VM list before quitting without asking. */
const QUIT_LIST_TIMEOUT_MS = 5_000;

let core: UtilityProcess | null = null;
let coreExits: number[] = [];
let lastCoreError: string | null = null;
let mainClient: RpcClient | null = null;
let mainWindow: BrowserWindow | null = null;
let quitting = false;
let confirmingQuit = false;

/**
 * From a checkout, better-sqlite3 in node_modules is the Node build (the CLI and tests use
 * it); `npm start` builds an Electron copy next to it. A packaged app has only the Electron
 * build, rebuilt by electron-builder, and needs nothing here.
 */
function coreEnv(): NodeJS.ProcessEnv {
  if (app.isPackaged) return process.env;
  const binding = path.join(mainDir, '..', 'native', `electron-${process.versions.electron}`, 'better_sqlite3.node');
  return isFile(binding) ? { ...process.env, NESTBOX_SQLITE_BINDING: binding } : process.env;
}

function startCore(): void {
  const proc = utilityProcess.fork(path.join(mainDir, 'core.js'), [], { serviceName: 'Nestbox core', stdio: 'inherit', env: coreEnv() });
  core = proc;
  proc.on('message', (m: unknown) => {
    const msg = m as { type?: unknown; message?: unknown } | null;
    if (msg?.type === 'error' && typeof msg.message === 'string') lastCoreError = msg.message;
  });
  proc.on('exit', (code) => {
    if (quitting || core !== proc) return;
    core = null;
    const now = Date.now();
    coreExits = [...coreExits.filter((t) => now - t < CORE_RESTART_WINDOW_MS), now];
    const why = lastCoreError ? `\n\n${lastCoreError}` : '';
    lastCoreError = null;
    if (coreExits.length > CORE_MAX_RESTARTS) {
      dialog.showErrorBox(
        'Nestbox core keeps stopping',
        `The Nestbox core exited ${coreExits.length} times within a minute (last code ${code}) and is not restarted again. Your VMs keep running; open Nestbox again to reconnect.${why}`,
      );
      return;
    }
    dialog.showErrorBox('Nestbox core stopped', `The Nestbox core exited (code ${code}). Your VMs keep running; Nestbox will reconnect.${why}`);
    startCore();
    for (const w of BrowserWindow.getAllWindows()) connectWindow(w);
  });
  const { port1, port2 } = new MessageChannelMain();
  core.postMessage({ type: 'connect' }, [port1]);
  mainClient = new RpcClient(portTransport(port2));
}

function connectWindow(win: BrowserWindow): void {
  if (!core) return;
  const { port1, port2 } = new MessageChannelMain();
  core.postMessage({ type: 'connect' }, [port1]);
  win.webContents.postMessage(PORT_CHANNEL, null, [port2]);
}

function createWindow(): BrowserWindow {
  const stateFile = path.join(app.getPath('userData'), 'window-state.json');
  const state = loadWindowState(stateFile, screen.getAllDisplays().map((d) => d.workArea));
  const win = secureWindow({
    ...(state.x !== undefined && state.y !== undefined ? { x: state.x, y: state.y } : {}),
    width: state.width,
    height: state.height,
    minWidth: 800,
    minHeight: 560,
    title: 'Nestbox',
    show: false,
  });
  if (state.maximized) win.maximize();
  win.once('ready-to-show', () => win.show());
  win.webContents.on('did-finish-load', () => connectWindow(win));
  const remember = () => {
    if (win.isDestroyed()) return;
    saveWindowState(stateFile, { ...win.getNormalBounds(), maximized: win.isMaximized() });
  };
  win.on('resize', remember);
  win.on('move', remember);
  // A destroyed window must not stay referenced (second-instance, menu commands on macOS).
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = null;
  });
  void win.loadURL(`${APP_ORIGIN}/index.html`);
  return win;
}

/**
 * The only place a window is made. The isolation keys are spelled out here (they equal
 * `secureWebPreferences`, which the unit tests check) so that a reader and Electronegativity's
 * static checks see them at the constructor.
 */
function secureWindow(options: Omit<BrowserWindowConstructorOptions, 'webPreferences'>): BrowserWindow {
  return new BrowserWindow({
    ...options,
    webPreferences: { ...secureWebPreferences(preload), contextIsolation: true, sandbox: true, nodeIntegration: false, disableBlinkFeatures: 'Auxclick' },
  });
}

const consoleWindows = new Map<string, BrowserWindow>();

/** A VM's console in a window of its own (one per VM; asking again focuses it). */
function openConsoleWindow(uuid: string, name: string): void {
  const existing = consoleWindows.get(uuid);
  if (existing && !existing.isDestroyed()) {
    existing.focus();
    return;
  }
  const win = secureWindow({
    width: 1060,
    height: 860,
    minWidth: 640,
    minHeight: 480,
    title: `${name} — Nestbox`,
  });
  consoleWindows.set(uuid, win);
  win.on('closed', () => consoleWindows.delete(uuid));
  win.webContents.on('did-finish-load', () => connectWindow(win));
  void win.loadURL(`${APP_ORIGIN}/index.html#/console/${encodeURIComponent(uuid)}`);
}

/** Sends a menu command to the Manager window (typed by the contract), bringing it to the front. */
function sendMenu(command: MainToRenderer[typeof MENU_CHANNEL]): void {
  const win = mainWindow;
  if (!win || win.isDestroyed()) return;
  if (win.isMinimized()) win.restore();
  win.focus();
  win.webContents.send(MENU_CHANNEL, command);
}

function buildMenu(): void {
  const send = (cmd: MenuCommand) => () => sendMenu(cmd);
  Menu.setApplicationMenu(
    Menu.buildFromTemplate([
      ...(process.platform === 'darwin' ? [{ role: 'appMenu' as const }] : []),
      {
        label: 'File',
        submenu: [
          { label: 'New Virtual Machine…', accelerator: 'CmdOrCtrl+N', click: send('new-vm') },
          { type: 'separator' },
          // No accelerators: they would reach the console windows too, where Ctrl+D and
          // Ctrl+H belong to the guest's terminal.
          { label: 'Virtual Media Manager…', click: send('media-manager') },
          { label: 'Network Manager…', click: send('network-manager') },
          { label: 'Activity Overview…', click: send('activity') },
          { type: 'separator' },
          { label: 'Preferences…', click: send('preferences') },
          { type: 'separator' },
          process.platform === 'darwin' ? { role: 'close' } : { role: 'quit' },
        ],
      },
      { role: 'editMenu' },
      { label: 'View', submenu: [{ role: 'reload' }, { role: 'togglefullscreen' }, ...(app.isPackaged ? [] : [{ role: 'toggleDevTools' as const }])] },
      { role: 'windowMenu' },
      { role: 'help', submenu: [{ label: 'Nestbox on the web', click: () => void shell.openExternal('https://github.com/') }] },
    ]),
  );
}

/** Denies navigation, new windows, webviews and permission requests in every web contents. */
function lockDown(): void {
  app.on('web-contents-created', (_e, contents) => {
    contents.on('will-navigate', (ev, url) => {
      if (!isAllowedNavigation(url)) ev.preventDefault();
    });
    contents.on('will-redirect', (ev, url) => {
      if (!isAllowedNavigation(url)) ev.preventDefault();
    });
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
    contents.on('will-attach-webview', (ev) => ev.preventDefault());
    guardFrameNavigation(contents);
  });
  session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
  guardSession(session.defaultSession);
  session.defaultSession.webRequest.onHeadersReceived((details, cb) => {
    cb({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });
  protocol.handle(APP_SCHEME, async (req) => {
    const file = resolveAppFile(req.url, rendererDir, path.join, path.normalize);
    if (!file || !isFile(file)) return new Response('not found', { status: 404 });
    const res = await net.fetch(pathToFileURL(file).toString());
    // webRequest's header hooks never fire for custom protocols (electron/electron#6021),
    // so the CSP travels on the app:// response itself.
    const headers = new Headers(res.headers);
    headers.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    headers.set('X-Content-Type-Options', 'nosniff');
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
  });
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Every channel through the wrappers in ipc.ts: sender checked, payload parsed (zod). */
function handleIpc(): void {
  handleSend(ipcMain, OPEN_CONSOLE_CHANNEL, (p) => openConsoleWindow(p.uuid, p.name));
  handleInvoke(ipcMain, CHOOSE_FILE_CHANNEL, async (params, event) => {
    const win = BrowserWindow.fromWebContents(event.sender);
    const filters = params.filters.map((f) => ({ name: f.name, extensions: [...f.extensions] }));
    const r = win
      ? await dialog.showOpenDialog(win, { title: params.title, filters, properties: ['openFile'] })
      : await dialog.showOpenDialog({ title: params.title, filters, properties: ['openFile'] });
    return r.canceled ? null : (r.filePaths[0] ?? null);
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

async function confirmQuit(): Promise<boolean> {
  if (!mainClient) return true;
  // VMs outlive the core, so a core that cannot answer is no reason to keep the app open.
  const all = await withTimeout(mainClient.call('vms.list', {}), QUIT_LIST_TIMEOUT_MS).catch(() => []);
  // Only this computer's VMs are the app's to stop; a libvirt host's VMs run on there.
  const vms = all.filter((v) => v.host === undefined);
  const plan = await planQuit(vms, async (vm, remaining) => {
    const r = await dialog.showMessageBox({
      type: 'question',
      title: 'Close Nestbox',
      message: `'${vm.name}' is still running. What should happen to it?`,
      detail: 'Keeping it running lets you reconnect the next time you open Nestbox.',
      buttons: QUIT_BUTTONS.map((b) => b.label),
      cancelId: QUIT_BUTTONS.length - 1,
      defaultId: 1,
      ...(remaining > 0 ? { checkboxLabel: `Do the same for the other ${remaining} running VM${remaining > 1 ? 's' : ''}` } : {}),
    });
    return { choice: QUIT_BUTTONS[r.response]?.choice ?? ('cancel' as QuitChoice), applyToAll: r.checkboxChecked };
  });
  if (!plan.quit) return false;
  for (const a of plan.actions) {
    await mainClient.call(a.method, { ref: a.vm }).catch((err: Error) => dialog.showErrorBox(`Could not stop '${a.vm}'`, err.message));
  }
  return true;
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (mainWindow && !mainWindow.isDestroyed()) {
      if (mainWindow.isMinimized()) mainWindow.restore();
      mainWindow.focus();
    } else if (app.isReady()) {
      mainWindow = createWindow();
    }
  });
  app.whenReady().then(() => {
    lockDown();
    handleIpc();
    buildMenu();
    startCore();
    mainWindow = createWindow();
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) mainWindow = createWindow();
    });
  });
  app.on('before-quit', (ev) => {
    if (quitting) return;
    ev.preventDefault();
    if (confirmingQuit) return; // the question is already on screen
    confirmingQuit = true;
    void confirmQuit()
      .catch(() => false)
      .then((ok) => {
        confirmingQuit = false;
        if (!ok) {
          // Closing the last window is what asked to quit on Linux/Windows: bring it back.
          if (BrowserWindow.getAllWindows().length === 0) mainWindow = createWindow();
          return;
        }
        quitting = true;
        core?.postMessage({ type: 'shutdown' });
        setTimeout(() => app.quit(), 300);
      });
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
}

export { APP_HOST };
