/**
 * Where the console lives. A hash route, `#/console/<uuid>`, renders the console alone: the
 * desktop's console window loads it, a browser tab opens it, and it survives a reload.
 * Everything else is the Manager.
 */
import { useEffect, useState } from 'react';

export type Route = { readonly kind: 'manager' } | { readonly kind: 'console'; readonly ref: string };

const CONSOLE_PREFIX = '#/console/';

export function parseRoute(hash: string): Route {
  if (!hash.startsWith(CONSOLE_PREFIX)) return { kind: 'manager' };
  let ref: string;
  try {
    ref = decodeURIComponent(hash.slice(CONSOLE_PREFIX.length).split(/[/?]/, 1)[0] ?? '');
  } catch {
    return { kind: 'manager' };
  }
  return ref ? { kind: 'console', ref } : { kind: 'manager' };
}

export function consoleHash(uuid: string): string {
  return `${CONSOLE_PREFIX}${encodeURIComponent(uuid)}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}

/** The console in a tab of its own (web mode); the tab shares the session cookie. */
export function openConsoleTab(uuid: string): void {
  window.open(consoleHash(uuid), '_blank', 'noopener');
}
