/**
 * The preload: one narrow, typed API on `window.nestboxDesktop`, and the hand-over of the
 * core's MessagePort into the page (a port cannot cross contextBridge, so it is posted to
 * the main world, as Electron's documentation describes).
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron';

const PORT_CHANNEL = 'nestbox:port';

ipcRenderer.on(PORT_CHANNEL, (event) => {
  window.postMessage('nestbox:port', window.location.origin, event.ports);
});

contextBridge.exposeInMainWorld('nestboxDesktop', {
  platform: process.platform,
  openConsoleWindow: (uuid: string, name: string): void => ipcRenderer.send('nestbox:open-console', { uuid, name }),
  chooseFile: (options: { title: string; filters: { name: string; extensions: string[] }[] }): Promise<string | null> =>
    ipcRenderer.invoke('nestbox:choose-file', options) as Promise<string | null>,
  /** Where a file dropped on the window is on disk ('' for one with no path); no IPC, no access beyond the name. */
  pathForFile: (file: File): string => webUtils.getPathForFile(file),
});
