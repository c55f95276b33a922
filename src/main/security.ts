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

/**
 * Chromium asks the session's permission *check* handler, not the request handler, before
 * it exposes some capabilities at all (`navigator.permissions.query`, clipboard, HID,
 * serial, USB device lists): without one, those checks answer "granted" by default. The UI
 * needs no browser permission, so every check is denied.
 */
export function denyPermissionCheck(): boolean {
  return false;
}

/** What `will-frame-navigate` tells about a navigation (the fields the guard reads). */
export interface FrameNavigation {
  readonly url: string;
  readonly isMainFrame: boolean;
}

/**
 * `will-navigate` only fires for the main frame. `will-frame-navigate` also fires for
 * subframes (an injected iframe navigating itself to `file://` or the web). The UI has no
 * frames of its own, so a subframe may never navigate; the main frame only within the app.
 */
export function isAllowedFrameNavigation(nav: FrameNavigation): boolean {
  return nav.isMainFrame && isAllowedNavigation(nav.url);
}

/** The parts of an Electron session the guards below need (kept structural: no Electron import). */
export interface GuardableSession {
  setPermissionCheckHandler(handler: (...args: unknown[]) => boolean): void;
}

/** The parts of an Electron WebContents the guards below need. */
export interface GuardableContents {
  on(event: 'will-frame-navigate', listener: (details: FrameNavigation & { preventDefault(): void }) => void): unknown;
}

/** Installs the permission check handler on a session. */
export function guardSession(session: GuardableSession): void {
  session.setPermissionCheckHandler(denyPermissionCheck);
}

/** Installs the frame navigation guard on a web contents. */
export function guardFrameNavigation(contents: GuardableContents): void {
  contents.on('will-frame-navigate', (details) => {
    if (!isAllowedFrameNavigation(details)) details.preventDefault();
  });
}
