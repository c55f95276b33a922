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

export type RendererToMainChannel = keyof RendererToMain;

/** Main → renderer: the core's port (with `ports`), and menu commands. */
export const PORT_CHANNEL = 'nestbox:port';
export const MENU_CHANNEL = 'nestbox:menu';

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
