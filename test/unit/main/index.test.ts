/**
 * Boots src/main/index.ts against a fake `electron` module and checks the security posture
 * and wiring main sets up: one sandboxed window on app://nestbox, the core forked, every IPC
 * sender checked, navigation/new windows/permissions denied, and the quit flow.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { portTransport, serveTransport } from '../../../src/core/api/rpc';
import { MENU_CHANNEL, PORT_CHANNEL } from '../../../src/main/ipc';
import { isMenuCommand, MENU_COMMANDS, type MenuCommand } from '../../../src/main/ipc-contract';
import { QUIT_BUTTONS } from '../../../src/main/quit';
import { CONTENT_SECURITY_POLICY, secureWebPreferences } from '../../../src/main/security';
import { createFakeElectron, fakeEvent, FakeWebContents, FakeWebFrame, type FakeElectron, type FakePort, type FakeUtilityProcess, type FakeWindow } from './fakeElectron';

const SRC_MAIN = fileURLToPath(new URL('../../../src/main/', import.meta.url));
/** Under vitest, main's folder is src/main, so the renderer folder it serves is src/renderer. */
const RENDERER_DIR = path.join(SRC_MAIN, '..', 'renderer');

let userData: string;
let fake: FakeElectron;

beforeEach(() => {
  userData = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-main-'));
});

afterEach(() => {
  vi.doUnmock('electron');
  vi.resetModules();
  fs.rmSync(userData, { recursive: true, force: true });
});

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Imports index.ts against a fresh fake electron; `ready` decides whether app gets ready. */
async function boot(opts: { ready?: boolean; singleInstanceLock?: boolean } = {}): Promise<FakeElectron> {
  fake = createFakeElectron({ userData, ...(opts.singleInstanceLock !== undefined ? { singleInstanceLock: opts.singleInstanceLock } : {}) });
  vi.resetModules();
  vi.doMock('electron', () => fake.module);
  await import('../../../src/main/index');
  if (opts.ready ?? true) {
    fake.markReady();
    await tick();
  }
  return fake;
}

function onlyWindow(): FakeWindow {
  expect(fake.windows).toHaveLength(1);
  return fake.windows[0]!;
}

function core(i = 0): FakeUtilityProcess {
  const c = fake.utilities[i];
  if (!c) throw new Error(`no utility process #${i}`);
  return c;
}

type CoreHandlers = Record<string, (params: unknown) => unknown>;

/** Plays the core on every port main hands to the utility process (now and later). */
function serveCore(proc: FakeUtilityProcess, handlers: CoreHandlers) {
  const calls: { method: string; params: unknown }[] = [];
  const serve = (port: FakePort) =>
    serveTransport(portTransport(port), () => ({
      async call(method, params) {
        calls.push({ method, params });
        const h = handlers[method];
        if (!h) throw new Error(`unexpected core call ${method}`);
        return h(params);
      },
      dispose() {},
    }));
  proc.connected.forEach(serve);
  proc.on('test:connect', serve);
  return calls;
}

function invokeChooseFile(event: unknown, params: unknown): Promise<unknown> {
  const h = fake.ipcHandlers.get('nestbox:choose-file');
  if (!h) throw new Error('no choose-file handler');
  return Promise.resolve(h(event, params));
}

const isoRequest = { title: 'Choose an ISO image', filters: [{ name: 'ISO images', extensions: ['iso'] }] };

describe('before the app is ready', () => {
  it('registers app:// as a privileged standard scheme and does nothing else yet', async () => {
    await boot({ ready: false });
    expect(fake.module.protocol.registerSchemesAsPrivileged).toHaveBeenCalledTimes(1);
    expect(fake.module.protocol.registerSchemesAsPrivileged).toHaveBeenCalledWith([
      { scheme: 'app', privileges: expect.objectContaining({ standard: true, secure: true }) },
    ]);
    expect(fake.module.app.requestSingleInstanceLock).toHaveBeenCalled();
    expect(fake.windows).toHaveLength(0);
    expect(fake.module.utilityProcess.fork).not.toHaveBeenCalled();
    expect(fake.module.protocol.handle).not.toHaveBeenCalled();
  });

  it('a second instance quits at once and sets nothing up', async () => {
    await boot({ singleInstanceLock: false });
    expect(fake.module.app.quit).toHaveBeenCalledTimes(1);
    expect(fake.module.app.whenReady).not.toHaveBeenCalled();
    expect(fake.windows).toHaveLength(0);
    expect(fake.module.utilityProcess.fork).not.toHaveBeenCalled();
    expect(fake.ipcHandlers.size).toBe(0);
  });
});

describe('the main window', () => {
  it('is a single window with the secure web preferences', async () => {
    await boot();
    const win = onlyWindow();
    const prefs = win.options['webPreferences'] as { preload: string };
    expect(prefs).toEqual(secureWebPreferences(prefs.preload));
    expect(prefs).toMatchObject({ sandbox: true, contextIsolation: true, nodeIntegration: false, webviewTag: false });
    expect(prefs.preload).toBe(path.join(SRC_MAIN, '..', 'preload', 'index.cjs'));
    expect(win.options).toMatchObject({ show: false, title: 'Nestbox' });
  });

  it('loads app://nestbox/index.html and shows itself when ready', async () => {
    await boot();
    const win = onlyWindow();
    expect(win.loadURL).toHaveBeenCalledWith('app://nestbox/index.html');
    expect(win.show).not.toHaveBeenCalled();
    win.emit('ready-to-show');
    expect(win.show).toHaveBeenCalledTimes(1);
  });

  it('restores the saved size and position, and remembers new ones', async () => {
    fs.writeFileSync(path.join(userData, 'window-state.json'), JSON.stringify({ x: 50, y: 60, width: 1300, height: 900, maximized: true }));
    await boot();
    const win = onlyWindow();
    expect(win.options).toMatchObject({ x: 50, y: 60, width: 1300, height: 900 });
    expect(win.maximize).toHaveBeenCalled();
    win.emit('resize');
    expect(JSON.parse(fs.readFileSync(path.join(userData, 'window-state.json'), 'utf8'))).toEqual({ x: 10, y: 20, width: 1111, height: 777, maximized: false });
  });

  it('gets a port to the core once its page has loaded', async () => {
    await boot();
    const win = onlyWindow();
    const before = core().connected.length;
    win.webContents.emit('did-finish-load');
    expect(core().connected).toHaveLength(before + 1);
    expect(win.webContents.postMessage).toHaveBeenCalledWith(PORT_CHANNEL, null, [expect.anything()]);
    // The window gets the other end of the channel whose first end went to the core.
    const [, , ports] = win.webContents.postMessage.mock.calls[0] as [string, null, FakePort[]];
    expect(ports[0]!.peer).toBe(core().connected.at(-1));
  });

  it('sends menu commands to the window', async () => {
    await boot();
    const win = onlyWindow();
    expect(fake.module.Menu.setApplicationMenu).toHaveBeenCalledTimes(1);
    const template = fake.module.Menu.buildFromTemplate.mock.calls[0]![0] as { label?: string; submenu?: { label?: string; click?: () => void }[] }[];
    const newVm = template.flatMap((m) => m.submenu ?? []).find((i) => i.label?.startsWith('New Virtual Machine'));
    newVm!.click!();
    expect(win.webContents.send).toHaveBeenCalledWith(MENU_CHANNEL, 'new-vm');
  });

  it("offers New VM, the managers and Preferences, each sending its command to the Manager window", async () => {
    await boot();
    const win = onlyWindow();
    const template = fake.module.Menu.buildFromTemplate.mock.calls[0]![0] as { submenu?: { label?: string; click?: () => void; accelerator?: string }[] }[];
    const items = template.flatMap((m) => m.submenu ?? []).filter((i) => i.click && i.label !== 'Nestbox on the web');
    const expected: [string, MenuCommand][] = [
      ['New Virtual Machine…', 'new-vm'],
      ['Virtual Media Manager…', 'media-manager'],
      ['Network Manager…', 'network-manager'],
      ['Activity Overview…', 'activity'],
      ['Preferences…', 'preferences'],
    ];
    expect(items.map((i) => i.label)).toEqual(expected.map(([l]) => l));
    for (const [label, command] of expected) {
      win.webContents.send.mockClear();
      items.find((i) => i.label === label)!.click!();
      expect(win.webContents.send, label).toHaveBeenCalledExactlyOnceWith(MENU_CHANNEL, command);
      expect(isMenuCommand(command)).toBe(true);
    }
    expect([...MENU_COMMANDS].sort()).toEqual(expected.map(([, c]) => c).sort());
    // Only New VM has a shortcut: the others would take keys from the guest's terminal in console windows.
    expect(items.filter((i) => i.accelerator).map((i) => i.label)).toEqual(['New Virtual Machine…']);
  });

  it('brings a minimized Manager window back for a menu command', async () => {
    await boot();
    const win = onlyWindow();
    win.minimized = true;
    const template = fake.module.Menu.buildFromTemplate.mock.calls[0]![0] as { submenu?: { label?: string; click?: () => void }[] }[];
    template.flatMap((m) => m.submenu ?? []).find((i) => i.label === 'Preferences…')!.click!();
    expect(win.restore).toHaveBeenCalledTimes(1);
    expect(win.focus).toHaveBeenCalledTimes(1);
    expect(win.webContents.send).toHaveBeenCalledWith(MENU_CHANNEL, 'preferences');
  });
});

describe('a closed main window', () => {
  it('is forgotten, so menu commands do not reach a destroyed window', async () => {
    await boot();
    const win = onlyWindow();
    win.destroyed = true;
    win.emit('closed');
    const template = fake.module.Menu.buildFromTemplate.mock.calls[0]![0] as { submenu?: { label?: string; click?: () => void }[] }[];
    template.flatMap((m) => m.submenu ?? []).find((i) => i.label?.startsWith('New Virtual Machine'))!.click!();
    expect(win.webContents.send).not.toHaveBeenCalled();
  });
});

describe('the core', () => {
  it('is forked from core.js next to main, as a utility process', async () => {
    await boot();
    expect(fake.module.utilityProcess.fork).toHaveBeenCalledTimes(1);
    const [modulePath, args, options] = fake.module.utilityProcess.fork.mock.calls[0]!;
    expect(modulePath).toBe(path.join(SRC_MAIN, 'core.js'));
    expect(modulePath.endsWith('core.js')).toBe(true);
    expect(args).toEqual([]);
    expect(options).toMatchObject({ serviceName: 'Nestbox core' });
    // main's own client connects first
    expect(core().postMessage).toHaveBeenCalledWith({ type: 'connect' }, [expect.anything()]);
  });

  it('is restarted when it dies, with the reason shown, and the windows reconnect', async () => {
    await boot();
    const win = onlyWindow();
    core(0).emit('message', { type: 'error', message: 'database is locked' });
    core(0).emit('exit', 1);
    expect(fake.module.dialog.showErrorBox).toHaveBeenCalledWith('Nestbox core stopped', expect.stringContaining('database is locked'));
    expect(fake.module.utilityProcess.fork).toHaveBeenCalledTimes(2);
    expect(core(1).connected.length).toBe(2); // main's client and the window
    expect(win.webContents.postMessage).toHaveBeenCalledWith(PORT_CHANNEL, null, [expect.anything()]);
  });

  it('is not restarted forever when it keeps dying', async () => {
    await boot();
    for (let i = 0; i < 10; i++) fake.utilities.at(-1)!.emit('exit', 1);
    // three restarts, then one "keeps stopping" message and no fifth process
    expect(fake.module.utilityProcess.fork).toHaveBeenCalledTimes(4);
    const titles = fake.module.dialog.showErrorBox.mock.calls.map((c) => c[0]);
    expect(titles).toEqual(['Nestbox core stopped', 'Nestbox core stopped', 'Nestbox core stopped', 'Nestbox core keeps stopping']);
  });

  it('an exit of a replaced core is ignored', async () => {
    await boot();
    core(0).emit('exit', 1);
    core(0).emit('exit', 1);
    expect(fake.module.utilityProcess.fork).toHaveBeenCalledTimes(2);
  });
});

describe('nestbox:choose-file', () => {
  it('is the only IPC handler', async () => {
    await boot();
    expect([...fake.ipcHandlers.keys()]).toEqual(['nestbox:choose-file']);
  });

  it('opens the native dialog for our own UI in the main frame', async () => {
    await boot();
    const win = onlyWindow();
    const wc = win.webContents;
    await expect(invokeChooseFile({ sender: wc, senderFrame: wc.mainFrame }, isoRequest)).resolves.toBe('/isos/debian.iso');
    expect(fake.module.dialog.showOpenDialog).toHaveBeenCalledWith(win, { title: isoRequest.title, filters: isoRequest.filters, properties: ['openFile'] });
  });

  it('returns null when the dialog is cancelled', async () => {
    await boot();
    fake.module.dialog.showOpenDialog.mockResolvedValueOnce({ canceled: true, filePaths: [] });
    const wc = onlyWindow().webContents;
    await expect(invokeChooseFile({ sender: wc, senderFrame: wc.mainFrame }, isoRequest)).resolves.toBeNull();
  });

  it.each([
    ['a remote page', 'https://evil.example'],
    ['a file page', 'file:///tmp/evil.html'],
    ['another app host', 'app://evil/index.html'],
  ])('rejects %s in the main frame', async (_what, url) => {
    await boot();
    const wc = onlyWindow().webContents;
    wc.mainFrame.url = url;
    await expect(invokeChooseFile({ sender: wc, senderFrame: wc.mainFrame }, isoRequest)).rejects.toThrow(/untrusted sender/);
    expect(fake.module.dialog.showOpenDialog).not.toHaveBeenCalled();
  });

  it('rejects our own origin in a subframe', async () => {
    await boot();
    const wc = onlyWindow().webContents;
    const subframe = new FakeWebFrame('app://nestbox/index.html');
    await expect(invokeChooseFile({ sender: wc, senderFrame: subframe }, isoRequest)).rejects.toThrow(/untrusted sender/);
    expect(fake.module.dialog.showOpenDialog).not.toHaveBeenCalled();
  });

  it('rejects a sender whose frame is gone', async () => {
    await boot();
    const wc = onlyWindow().webContents;
    await expect(invokeChooseFile({ sender: wc, senderFrame: null }, isoRequest)).rejects.toThrow(/untrusted sender/);
    expect(fake.module.dialog.showOpenDialog).not.toHaveBeenCalled();
  });

  it('rejects a malformed request from a trusted sender', async () => {
    await boot();
    const wc = onlyWindow().webContents;
    await expect(invokeChooseFile({ sender: wc, senderFrame: wc.mainFrame }, { title: 'x', filters: [{ name: 'n', extensions: ['sh;rm'] }] })).rejects.toThrow(/invalid/);
    expect(fake.module.dialog.showOpenDialog).not.toHaveBeenCalled();
  });
});

describe('nestbox:open-console', () => {
  const uuid = '0b3c9f2e-5d4a-4e8b-9c1d-2f3a4b5c6d7e';
  function send(event: unknown, payload: unknown): void {
    const l = fake.ipcListeners.get('nestbox:open-console');
    if (!l) throw new Error('no open-console listener');
    l(event, payload);
  }

  it('is the only fire-and-forget channel', async () => {
    await boot();
    expect([...fake.ipcListeners.keys()]).toEqual(['nestbox:open-console']);
  });

  it("opens the VM's console window for our own UI, once per VM", async () => {
    await boot();
    const wc = onlyWindow().webContents;
    send({ sender: wc, senderFrame: wc.mainFrame }, { uuid, name: 'web' });
    expect(fake.windows).toHaveLength(2);
    expect(fake.windows[1]!.options).toMatchObject({ title: 'web — Nestbox' });
    expect(fake.windows[1]!.loadURL).toHaveBeenCalledWith(`app://nestbox/index.html#/console/${uuid}`);
    send({ sender: wc, senderFrame: wc.mainFrame }, { uuid, name: 'web' });
    expect(fake.windows).toHaveLength(2);
    expect(fake.windows[1]!.focus).toHaveBeenCalledTimes(1);
  });

  it('ignores an untrusted sender', async () => {
    await boot();
    const wc = onlyWindow().webContents;
    wc.mainFrame.url = 'https://evil.example';
    send({ sender: wc, senderFrame: wc.mainFrame }, { uuid, name: 'web' });
    send({ sender: wc, senderFrame: new FakeWebFrame('app://nestbox/index.html') }, { uuid, name: 'web' });
    expect(fake.windows).toHaveLength(1);
  });

  it('drops a malformed request without throwing in main', async () => {
    await boot();
    const wc = onlyWindow().webContents;
    for (const bad of [null, 'x', { uuid: 'not-a-uuid', name: 'web' }, { uuid, name: 'n'.repeat(65) }, { uuid }, { uuid, name: 7 }]) {
      expect(() => send({ sender: wc, senderFrame: wc.mainFrame }, bad), JSON.stringify(bad)).not.toThrow();
    }
    expect(fake.windows).toHaveLength(1);
  });
});

describe('every web contents is locked down', () => {
  async function contents(): Promise<FakeWebContents> {
    await boot();
    const wc = new FakeWebContents();
    fake.module.app.emit('web-contents-created', {}, wc);
    return wc;
  }

  it('applies to the main window too', async () => {
    await boot();
    expect(onlyWindow().webContents.setWindowOpenHandler).toHaveBeenCalledTimes(1);
  });

  it('denies window.open, whatever the url', async () => {
    const wc = await contents();
    expect(wc.windowOpenHandler).not.toBeNull();
    for (const url of ['https://example.com/', 'app://nestbox/index.html', 'about:blank']) {
      expect(wc.windowOpenHandler!({ url })).toEqual({ action: 'deny' });
    }
  });

  it('prevents navigation away from the app but not within it', async () => {
    const wc = await contents();
    const away = fakeEvent();
    wc.emit('will-navigate', away, 'https://example.com');
    expect(away.defaultPrevented()).toBe(true);
    const home = fakeEvent();
    wc.emit('will-navigate', home, 'app://nestbox/index.html');
    expect(home.defaultPrevented()).toBe(false);
    for (const url of ['file:///etc/passwd', 'app://evil/index.html', 'javascript:alert(1)']) {
      const ev = fakeEvent();
      wc.emit('will-navigate', ev, url);
      expect(ev.defaultPrevented(), url).toBe(true);
    }
  });

  it('prevents redirects away from the app', async () => {
    const wc = await contents();
    const away = fakeEvent();
    wc.emit('will-redirect', away, 'https://example.com');
    expect(away.defaultPrevented()).toBe(true);
    const home = fakeEvent();
    wc.emit('will-redirect', home, 'app://nestbox/index.html');
    expect(home.defaultPrevented()).toBe(false);
  });

  it('refuses to attach webviews', async () => {
    const wc = await contents();
    const ev = fakeEvent();
    wc.emit('will-attach-webview', ev, {}, {});
    expect(ev.defaultPrevented()).toBe(true);
  });

  it('denies every permission request', async () => {
    await boot();
    expect(fake.module.session.defaultSession.setPermissionRequestHandler).toHaveBeenCalledTimes(1);
    const handler = fake.module.session.defaultSession.setPermissionRequestHandler.mock.calls[0]![0] as (wc: unknown, perm: string, cb: (ok: boolean) => void) => void;
    for (const perm of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal', 'fullscreen']) {
      const cb = vi.fn();
      handler(onlyWindow().webContents, perm, cb);
      expect(cb, perm).toHaveBeenCalledExactlyOnceWith(false);
    }
  });

  it('injects the CSP header into responses', async () => {
    await boot();
    const onHeaders = fake.module.session.defaultSession.webRequest.onHeadersReceived;
    expect(onHeaders).toHaveBeenCalledTimes(1);
    const listener = onHeaders.mock.calls[0]![0] as (details: unknown, cb: (r: { responseHeaders: Record<string, string[]> }) => void) => void;
    const cb = vi.fn();
    listener({ url: 'https://x/', responseHeaders: { 'Content-Type': ['text/html'] } }, cb);
    expect(cb).toHaveBeenCalledWith({ responseHeaders: { 'Content-Type': ['text/html'], 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
    const cb2 = vi.fn();
    listener({ url: 'https://x/' }, cb2);
    expect(cb2).toHaveBeenCalledWith({ responseHeaders: { 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });
});

describe('the app:// protocol', () => {
  async function handler() {
    await boot();
    const h = fake.protocolHandlers.get('app');
    if (!h) throw new Error('no app:// handler');
    return (url: string) => Promise.resolve(h({ url }));
  }

  it('serves files from the renderer folder with the CSP on the response', async () => {
    const serve = await handler();
    const res = await serve('app://nestbox/index.html');
    expect(fake.module.net.fetch).toHaveBeenCalledWith(pathToFileURL(path.join(RENDERER_DIR, 'index.html')).toString());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-type')).toBe('text/html');
    expect(await res.text()).toContain('<title>Nestbox</title>');
  });

  it('serves index.html for the bare origin', async () => {
    const serve = await handler();
    expect((await serve('app://nestbox/')).status).toBe(200);
    expect(fake.module.net.fetch).toHaveBeenCalledWith(pathToFileURL(path.join(RENDERER_DIR, 'index.html')).toString());
  });

  it.each([
    ['an encoded traversal', 'app://nestbox/..%2f..%2fpackage.json'],
    ['a sibling folder', 'app://nestbox/..%2fmain%2findex.ts'],
    ['a missing file', 'app://nestbox/no-such-file.js'],
    ['a directory', 'app://nestbox/src'],
    ['another host', 'app://evil/index.html'],
  ])('answers 404 for %s without touching the file system', async (_what, url) => {
    const serve = await handler();
    const res = await serve(url);
    expect(res.status).toBe(404);
    expect(fake.module.net.fetch).not.toHaveBeenCalled();
  });
});

describe('a second instance', () => {
  it('focuses the existing window, restoring it if minimized', async () => {
    await boot();
    const win = onlyWindow();
    win.minimized = true;
    fake.module.app.emit('second-instance', {}, ['nestbox'], '/');
    expect(win.restore).toHaveBeenCalledTimes(1);
    expect(win.focus).toHaveBeenCalledTimes(1);
    expect(fake.windows).toHaveLength(1);
  });

  it('opens a window again when the last one was closed (macOS keeps running)', async () => {
    await boot();
    const win = onlyWindow();
    win.destroyed = true;
    win.emit('closed');
    fake.module.app.emit('second-instance', {}, ['nestbox'], '/');
    expect(win.focus).not.toHaveBeenCalled();
    expect(fake.windows).toHaveLength(2);
    expect(fake.windows[1]!.loadURL).toHaveBeenCalledWith('app://nestbox/index.html');
  });
});

describe('quitting', () => {
  const summary = (name: string, state: string) => ({ uuid: `uuid-${name}`, name, osType: 'linux', group: '', state, memoryMiB: 512, cpus: 1 });

  function quit() {
    const ev = fakeEvent();
    fake.module.app.emit('before-quit', ev);
    return ev;
  }

  it('asks nothing and stops the core when no VM runs', async () => {
    await boot();
    const calls = serveCore(core(), { 'vms.list': () => [summary('off', 'poweredOff')] });
    const ev = quit();
    expect(ev.defaultPrevented()).toBe(true);
    await vi.waitFor(() => expect(fake.module.app.quit).toHaveBeenCalled(), { timeout: 2000 });
    expect(calls.map((c) => c.method)).toEqual(['vms.list']);
    expect(fake.module.dialog.showMessageBox).not.toHaveBeenCalled();
    expect(core().postMessage).toHaveBeenCalledWith({ type: 'shutdown' });
    // The quit main asks for itself then goes through.
    const again = quit();
    expect(again.defaultPrevented()).toBe(false);
  });

  it('asks about a running VM and carries out the answer before quitting', async () => {
    await boot();
    const calls = serveCore(core(), { 'vms.list': () => [summary('web', 'running')], 'vms.saveState': () => ({ ok: true }) });
    fake.module.dialog.showMessageBox.mockResolvedValueOnce({ response: QUIT_BUTTONS.findIndex((b) => b.choice === 'save'), checkboxChecked: false });
    quit();
    await vi.waitFor(() => expect(fake.module.app.quit).toHaveBeenCalled(), { timeout: 2000 });
    expect(fake.module.dialog.showMessageBox).toHaveBeenCalledTimes(1);
    const box = fake.module.dialog.showMessageBox.mock.calls[0]![0] as { message: string; buttons: string[]; cancelId: number; checkboxLabel?: string };
    expect(box.message).toContain("'web'");
    expect(box.buttons).toEqual(QUIT_BUTTONS.map((b) => b.label));
    expect(box.buttons[box.cancelId]).toBe('Cancel');
    expect(box.checkboxLabel).toBeUndefined(); // only one VM: nothing to apply to the others
    expect(calls).toEqual([
      { method: 'vms.list', params: {} },
      { method: 'vms.saveState', params: { ref: 'web' } },
    ]);
  });

  it('offers to apply the answer to the other running VMs', async () => {
    await boot();
    const calls = serveCore(core(), { 'vms.list': () => [summary('a', 'running'), summary('b', 'running'), summary('c', 'running')], 'vms.powerOff': () => ({ ok: true }) });
    fake.module.dialog.showMessageBox.mockResolvedValueOnce({ response: QUIT_BUTTONS.findIndex((b) => b.choice === 'powerOff'), checkboxChecked: true });
    quit();
    await vi.waitFor(() => expect(fake.module.app.quit).toHaveBeenCalled(), { timeout: 2000 });
    const box = fake.module.dialog.showMessageBox.mock.calls[0]![0] as { checkboxLabel?: string };
    expect(box.checkboxLabel).toMatch(/other 2 running VMs/);
    expect(fake.module.dialog.showMessageBox).toHaveBeenCalledTimes(1);
    expect(calls.filter((c) => c.method === 'vms.powerOff').map((c) => c.params)).toEqual([{ ref: 'a' }, { ref: 'b' }, { ref: 'c' }]);
  });

  it('stays open when the person cancels, and asks only once at a time', async () => {
    await boot();
    const calls = serveCore(core(), { 'vms.list': () => [summary('web', 'running')] });
    let answer!: (r: { response: number; checkboxChecked: boolean }) => void;
    fake.module.dialog.showMessageBox.mockImplementationOnce(() => new Promise((resolve) => (answer = resolve)));
    quit();
    await vi.waitFor(() => expect(fake.module.dialog.showMessageBox).toHaveBeenCalledTimes(1));
    const second = quit(); // Cmd+Q again while the question is on screen
    expect(second.defaultPrevented()).toBe(true);
    answer({ response: QUIT_BUTTONS.length - 1, checkboxChecked: false });
    await new Promise((r) => setTimeout(r, 400));
    expect(fake.module.dialog.showMessageBox).toHaveBeenCalledTimes(1);
    expect(fake.module.app.quit).not.toHaveBeenCalled();
    expect(core().postMessage).not.toHaveBeenCalledWith({ type: 'shutdown' });
    expect(calls.map((c) => c.method)).toEqual(['vms.list']);
  });

  it('closing the last window asks to quit (Linux/Windows), and a cancel brings the window back', async () => {
    if (process.platform === 'darwin') return; // macOS apps stay open without windows
    await boot();
    serveCore(core(), { 'vms.list': () => [summary('web', 'running')] });
    fake.module.dialog.showMessageBox.mockResolvedValueOnce({ response: QUIT_BUTTONS.length - 1, checkboxChecked: false });
    fake.module.app.quit.mockImplementation(() => fake.module.app.emit('before-quit', fakeEvent()));
    onlyWindow().close();
    await vi.waitFor(() => expect(fake.FakeBrowserWindow.getAllWindows()).toHaveLength(1), { timeout: 2000 });
    expect(fake.windows).toHaveLength(2);
    expect(fake.windows[1]!.loadURL).toHaveBeenCalledWith('app://nestbox/index.html');
  });

  it('quits without asking when the core does not answer', async () => {
    await boot();
    core().connected[0]!.peer!.close(); // main's client loses its core
    quit();
    await vi.waitFor(() => expect(fake.module.app.quit).toHaveBeenCalled(), { timeout: 2000 });
    expect(fake.module.dialog.showMessageBox).not.toHaveBeenCalled();
  });

  it('quits without asking when the core hangs (after a timeout)', async () => {
    await boot();
    serveCore(core(), { 'vms.list': () => new Promise(() => {}) });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      quit();
      await tick();
      await vi.advanceTimersByTimeAsync(4_000);
      expect(fake.module.app.quit).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(1_500);
      expect(fake.module.app.quit).toHaveBeenCalled();
      expect(fake.module.dialog.showMessageBox).not.toHaveBeenCalled();
    } finally {
      vi.useRealTimers();
    }
  });

  it('a core exit while quitting is not treated as a crash', async () => {
    await boot();
    serveCore(core(), { 'vms.list': () => [] });
    quit();
    await vi.waitFor(() => expect(core().postMessage).toHaveBeenCalledWith({ type: 'shutdown' }), { timeout: 2000 });
    core().emit('exit', 0);
    expect(fake.module.dialog.showErrorBox).not.toHaveBeenCalled();
    expect(fake.module.utilityProcess.fork).toHaveBeenCalledTimes(1);
  });
});
