/**
 * The preload runs sandboxed in every window: it must expose one narrow API and hand the
 * core's port to the page's own origin only.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MENU_CHANNEL, MENU_COMMANDS, PORT_CHANNEL, type DesktopBridge, type MenuCommand } from '../../../src/main/ipc-contract';

const exposed = new Map<string, unknown>();
const listeners = new Map<string, (event: { ports: unknown[] }, ...args: unknown[]) => void>();
const electron = {
  contextBridge: {
    exposeInMainWorld: vi.fn((key: string, api: unknown) => {
      exposed.set(key, api);
    }),
  },
  ipcRenderer: {
    on: vi.fn((channel: string, l: (event: { ports: unknown[] }, ...args: unknown[]) => void) => {
      listeners.set(channel, l);
    }),
    invoke: vi.fn(async (..._args: unknown[]) => '/isos/debian.iso'),
    send: vi.fn(),
  },
  webUtils: {
    getPathForFile: vi.fn((_file: unknown) => '/home/me/Downloads/debian.iso'),
  },
};
const fakeWindow = { postMessage: vi.fn(), location: { origin: 'app://nestbox' } };

beforeEach(async () => {
  exposed.clear();
  listeners.clear();
  vi.clearAllMocks();
  vi.stubGlobal('window', fakeWindow);
  vi.resetModules();
  vi.doMock('electron', () => electron);
  await import('../../../src/main/preload');
});

afterEach(() => {
  vi.doUnmock('electron');
  vi.unstubAllGlobals();
});

describe('preload', () => {
  it('exposes exactly one API, nestboxDesktop, with platform, chooseFile, openConsoleWindow, pathForFile and onMenu', () => {
    expect(electron.contextBridge.exposeInMainWorld).toHaveBeenCalledTimes(1);
    expect([...exposed.keys()]).toEqual(['nestboxDesktop']);
    const api = exposed.get('nestboxDesktop') as Record<string, unknown>;
    expect(Object.keys(api).sort()).toEqual(['chooseFile', 'onMenu', 'openConsoleWindow', 'pathForFile', 'platform']);
    expect(api['platform']).toBe(process.platform);
  });

  it('never hands ipcRenderer itself to the page', () => {
    const api = exposed.get('nestboxDesktop') as Record<string, unknown>;
    for (const v of Object.values(api)) expect(v).not.toBe(electron.ipcRenderer);
  });

  it('chooseFile invokes only the choose-file channel', async () => {
    const api = exposed.get('nestboxDesktop') as { chooseFile(o: unknown): Promise<string | null> };
    const options = { title: 'Choose an ISO image', filters: [{ name: 'ISO images', extensions: ['iso'] }] };
    await expect(api.chooseFile(options)).resolves.toBe('/isos/debian.iso');
    expect(electron.ipcRenderer.invoke).toHaveBeenCalledExactlyOnceWith('nestbox:choose-file', options);
  });

  it('pathForFile asks webUtils for the dropped file and sends nothing over IPC', () => {
    const api = exposed.get('nestboxDesktop') as { pathForFile(f: unknown): string };
    const file = { name: 'debian.iso' };
    expect(api.pathForFile(file)).toBe('/home/me/Downloads/debian.iso');
    expect(electron.webUtils.getPathForFile).toHaveBeenCalledExactlyOnceWith(file);
    expect(electron.ipcRenderer.send).not.toHaveBeenCalled();
    expect(electron.ipcRenderer.invoke).not.toHaveBeenCalled();
  });

  it('openConsoleWindow sends only the open-console channel, with the VM it names', () => {
    const api = exposed.get('nestboxDesktop') as { openConsoleWindow(uuid: string, name: string): void };
    api.openConsoleWindow('0b3c9f2e-5d4a-4e8b-9c1d-2f3a4b5c6d7e', 'vm1');
    expect(electron.ipcRenderer.send).toHaveBeenCalledExactlyOnceWith('nestbox:open-console', { uuid: '0b3c9f2e-5d4a-4e8b-9c1d-2f3a4b5c6d7e', name: 'vm1' });
  });

  it("posts the core's port to the page's own origin, never to '*'", () => {
    const onPort = listeners.get(PORT_CHANNEL);
    expect(onPort).toBeDefined();
    const port = { fake: 'port' };
    onPort!({ ports: [port] });
    expect(fakeWindow.postMessage).toHaveBeenCalledExactlyOnceWith('nestbox:port', 'app://nestbox', [port]);
  });

  it('listens on no other channel than the port and the menu', () => {
    expect([...listeners.keys()].sort()).toEqual([MENU_CHANNEL, PORT_CHANNEL].sort());
  });
});

describe('preload: the application menu', () => {
  const api = () => exposed.get('nestboxDesktop') as DesktopBridge;
  const fromMain = (command: unknown) => listeners.get(MENU_CHANNEL)!({ ports: [] }, command);

  it("hands main's New Virtual Machine command to a subscriber, and only the command", () => {
    const got: unknown[][] = [];
    api().onMenu((...args) => got.push(args));
    fromMain('new-vm');
    expect(got).toEqual([['new-vm']]);
  });

  it('passes every command of the contract, to every subscriber', () => {
    const a: MenuCommand[] = [];
    const b: MenuCommand[] = [];
    api().onMenu((c) => a.push(c));
    api().onMenu((c) => b.push(c));
    for (const c of MENU_COMMANDS) fromMain(c);
    expect(a).toEqual([...MENU_COMMANDS]);
    expect(b).toEqual([...MENU_COMMANDS]);
  });

  it('stops calling a listener once it unsubscribed', () => {
    const got: MenuCommand[] = [];
    const off = api().onMenu((c) => got.push(c));
    fromMain('new-vm');
    off();
    fromMain('preferences');
    expect(got).toEqual(['new-vm']);
  });

  it('drops a command that is not in the contract', () => {
    const got: unknown[] = [];
    api().onMenu((c) => got.push(c));
    for (const bad of ['rm -rf', '', null, 42, { cmd: 'new-vm' }, 'NEW-VM']) fromMain(bad);
    expect(got).toEqual([]);
  });

  it('registers its one menu listener at load, not per subscriber', () => {
    api().onMenu(() => undefined);
    api().onMenu(() => undefined);
    expect(electron.ipcRenderer.on.mock.calls.filter((c) => c[0] === MENU_CHANNEL)).toHaveLength(1);
  });
});
