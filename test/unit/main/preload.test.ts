/**
 * The preload runs sandboxed in every window: it must expose one narrow API and hand the
 * core's port to the page's own origin only.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PORT_CHANNEL } from '../../../src/main/ipc';

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
  it('exposes exactly one API, nestboxDesktop, with platform, chooseFile, openConsoleWindow and pathForFile', () => {
    expect(electron.contextBridge.exposeInMainWorld).toHaveBeenCalledTimes(1);
    expect([...exposed.keys()]).toEqual(['nestboxDesktop']);
    const api = exposed.get('nestboxDesktop') as Record<string, unknown>;
    expect(Object.keys(api).sort()).toEqual(['chooseFile', 'openConsoleWindow', 'pathForFile', 'platform']);
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

  it('listens on no other channel', () => {
    expect([...listeners.keys()]).toEqual([PORT_CHANNEL]);
  });
});
