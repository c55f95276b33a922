/**
 * The one contract between Electron main, the preload and the renderer: every IPC channel,
 * its direction and its payload type. Core calls do not pass through here (each window has
 * its own MessagePort to the core).
 *
 * Pure on purpose: no imports, so the sandboxed preload can bundle it and the renderer can
 * import its types. The payloads are checked where they enter main, in ipc.ts (zod).
 */

/** Main → renderer: the core's MessagePort (in `ports`, no payload). */
export const PORT_CHANNEL = 'nestbox:port';
/** Main → renderer: a command chosen in the application menu. */
export const MENU_CHANNEL = 'nestbox:menu';
/** Renderer → main, answered: the native open-file dialog. */
export const CHOOSE_FILE_CHANNEL = 'nestbox:choose-file';
/** Renderer → main, fire-and-forget: open (or focus) a VM's console window. */
export const OPEN_CONSOLE_CHANNEL = 'nestbox:open-console';

export interface FileFilter {
  readonly name: string;
  readonly extensions: readonly string[];
}

export interface ChooseFileParams {
  readonly title: string;
  readonly filters: readonly FileFilter[];
}

export interface OpenConsoleParams {
  readonly uuid: string;
  readonly name: string;
}

/** What the menu can ask the Manager window to do (each opens a window of the Manager). */
export const MENU_COMMANDS = ['new-vm', 'media-manager', 'network-manager', 'activity', 'preferences'] as const;
export type MenuCommand = (typeof MENU_COMMANDS)[number];

export function isMenuCommand(v: unknown): v is MenuCommand {
  return typeof v === 'string' && (MENU_COMMANDS as readonly string[]).includes(v);
}

/** Renderer → main, `ipcRenderer.invoke` / `ipcMain.handle`. */
export interface RendererToMainInvoke {
  [CHOOSE_FILE_CHANNEL]: { params: ChooseFileParams; result: string | null };
}

/** Renderer → main, `ipcRenderer.send` / `ipcMain.on`. */
export interface RendererToMainSend {
  [OPEN_CONSOLE_CHANNEL]: OpenConsoleParams;
}

/** Main → renderer, `webContents.send` / `postMessage` and `ipcRenderer.on`. */
export interface MainToRenderer {
  [PORT_CHANNEL]: null;
  [MENU_CHANNEL]: MenuCommand;
}

export type InvokeChannel = keyof RendererToMainInvoke;
export type SendChannel = keyof RendererToMainSend;

/** What the desktop preload exposes on `window.nestboxDesktop` (nothing in web mode). */
export interface DesktopBridge {
  /** Native open-file dialog; resolves with the chosen path or null. */
  chooseFile(options: ChooseFileParams): Promise<string | null>;
  /** Opens (or focuses) the VM's console in a window of its own. */
  openConsoleWindow(uuid: string, name: string): void;
  /** The path of a file dropped on the window (Electron's webUtils.getPathForFile); '' when it has none. */
  pathForFile(file: File): string;
  /** Calls `listener` with each application-menu command; returns the unsubscribe. */
  onMenu(listener: (command: MenuCommand) => void): () => void;
  readonly platform: string;
}
