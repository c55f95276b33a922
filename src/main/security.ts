/**
 * The security posture of every window, as data, so it can be tested without Electron:
 * isolated, sandboxed, no Node, UI only from our own `app://nestbox` origin.
 */
export const APP_SCHEME = 'app';
export const APP_HOST = 'nestbox';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

export interface SecureWebPreferences {
  readonly preload: string;
  readonly contextIsolation: true;
  readonly sandbox: true;
  readonly nodeIntegration: false;
  readonly nodeIntegrationInWorker: false;
  readonly nodeIntegrationInSubFrames: false;
  readonly webSecurity: true;
  readonly allowRunningInsecureContent: false;
  readonly experimentalFeatures: false;
  readonly webviewTag: false;
  readonly navigateOnDragDrop: false;
  readonly spellcheck: false;
  /** Middle-click opening links (auxclick) is a navigation path we do not need. */
  readonly disableBlinkFeatures: 'Auxclick';
}

export function secureWebPreferences(preload: string): SecureWebPreferences {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: false,
    disableBlinkFeatures: 'Auxclick',
  };
}

/** Only our own UI, in its top frame, may call into main. */
export function isTrustedSender(frameUrl: string | undefined, isMainFrame: boolean): boolean {
  if (!frameUrl || !isMainFrame) return false;
  try {
    const u = new URL(frameUrl);
    // `host` excludes a port, but user info would still ride along: `app://x@nestbox/`.
    return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}

/** Navigation away from the app is never allowed; links to the web are not opened either. */
export function isAllowedNavigation(url: string): boolean {
  return isTrustedSender(url, true);
}

/**
 * Maps an app:// URL to a file inside the renderer folder, or null for anything that would
 * escape it.
 */
export function resolveAppFile(url: string, rendererDir: string, join: (...p: string[]) => string, normalize: (p: string) => string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST) return null;
  let rel: string;
  try {
    // The URL parser resolves literal and %2e dot segments, but an encoded slash
    // (`..%2f..%2f`) only becomes one here; the containment check below catches it.
    rel = decodeURIComponent(u.pathname);
  } catch {
    return null; // malformed percent-encoding
  }
  if (rel.includes('\0')) return null;
  if (rel === '/' || rel === '') rel = '/index.html';
  const root = normalize(rendererDir);
  // Compare against the root *with* its trailing separator, or `renderer-evil/` would pass
  // as being inside `renderer`.
  const rootWithSep = normalize(join(root, '/'));
  const file = normalize(join(root, rel));
  if (!file.startsWith(rootWithSep) || file === rootWithSep) return null;
  return file;
}
