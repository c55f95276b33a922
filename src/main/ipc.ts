/**
 * The only IPC channels between the renderer and main, one typed map per direction. Core
 * calls do not pass through here: each window has its own MessagePort to the core.
 */
export interface RendererToMain {
  'nestbox:choose-file': {
    params: { title: string; filters: { name: string; extensions: string[] }[] };
    result: string | null;
  };
}

/** Fire-and-forget: open (or focus) the detached console window of a VM. */
export interface RendererToMainSend {
  'nestbox:open-console': { uuid: string; name: string };
}

export type RendererToMainChannel = keyof RendererToMain;

/** Main → renderer: the core's port (with `ports`), and menu commands. */
export const PORT_CHANNEL = 'nestbox:port';
export const MENU_CHANNEL = 'nestbox:menu';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function validateOpenConsoleParams(v: unknown): { uuid: string; name: string } {
  const o = v as { uuid?: unknown; name?: unknown } | null;
  if (!o || typeof o.uuid !== 'string' || !UUID_RE.test(o.uuid) || typeof o.name !== 'string' || o.name.length > 64) {
    throw new Error('invalid open-console request');
  }
  return { uuid: o.uuid, name: o.name };
}

export function validateChooseFileParams(v: unknown): RendererToMain['nestbox:choose-file']['params'] {
  const o = v as { title?: unknown; filters?: unknown } | null;
  if (!o || typeof o.title !== 'string' || o.title.length > 200 || !Array.isArray(o.filters) || o.filters.length > 10) {
    throw new Error('invalid choose-file request');
  }
  const filters = o.filters.map((f: unknown) => {
    const ff = (typeof f === 'object' && f !== null ? f : {}) as { name?: unknown; extensions?: unknown };
    if (
      typeof ff.name !== 'string' ||
      ff.name.length > 100 ||
      !Array.isArray(ff.extensions) ||
      ff.extensions.length > 32 ||
      !ff.extensions.every((e) => typeof e === 'string' && /^[A-Za-z0-9*]{1,10}$/.test(e))
    ) {
      throw new Error('invalid file filter');
    }
    return { name: ff.name, extensions: ff.extensions as string[] };
  });
  return { title: o.title, filters };
}
