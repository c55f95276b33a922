/**
 * The preload: one narrow, typed API on `window.nestboxDesktop` (DesktopBridge in
 * ipc-contract.ts), and the hand-over of the core's MessagePort into the page (a port
 * cannot cross contextBridge, so it is posted to the main world, as Electron's
 * documentation describes).
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import {
  CHOOSE_FILE_CHANNEL,
  isMenuCommand,
  MENU_CHANNEL,
  OPEN_CONSOLE_CHANNEL,
  PORT_CHANNEL,
  type ChooseFileParams,
  type DesktopBridge,
  type MenuCommand,
  type OpenConsoleParams,
  type RendererToMainInvoke,
} from './ipc-contract';

ipcRenderer.on(PORT_CHANNEL, (event) => {
  window.postMessage('nestbox:port', window.location.origin, event.ports);
});

/**
 * One IPC listener for the menu, registered at load, fanning out to the page's subscribers:
 * the page never gets ipcRenderer or the event, only the command (checked against the list).
 */
const menuListeners = new Set<(command: MenuCommand) => void>();
ipcRenderer.on(MENU_CHANNEL, (_event, command: unknown) => {
  if (!isMenuCommand(command)) return;
  for (const l of menuListeners) l(command);
});

const bridge: DesktopBridge = {
  platform: process.platform,
  openConsoleWindow: (uuid: string, name: string): void => {
    const payload: OpenConsoleParams = { uuid, name };
    ipcRenderer.send(OPEN_CONSOLE_CHANNEL, payload);
  },
  chooseFile: (options: ChooseFileParams) => ipcRenderer.invoke(CHOOSE_FILE_CHANNEL, options) as Promise<RendererToMainInvoke[typeof CHOOSE_FILE_CHANNEL]['result']>,
  /** Where a file dropped on the window is on disk ('' for one with no path); no IPC, no access beyond the name. */
  pathForFile: (file: File): string => webUtils.getPathForFile(file),
  onMenu: (listener) => {
    const l = (command: MenuCommand) => listener(command);
    menuListeners.add(l);
    return () => {
      menuListeners.delete(l);
    };
  },
};

contextBridge.exposeInMainWorld('nestboxDesktop', bridge);
