import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  APP_ORIGIN,
  CONTENT_SECURITY_POLICY,
  denyPermissionCheck,
  guardFrameNavigation,
  guardSession,
  isAllowedFrameNavigation,
  isAllowedNavigation,
  isTrustedSender,
  resolveAppFile,
  secureWebPreferences,
} from '../../../src/main/security';

describe('secureWebPreferences', () => {
  const prefs = secureWebPreferences('/app/out/preload/index.cjs');

  it('isolates and sandboxes the renderer with no Node', () => {
    expect(prefs).toMatchObject({
      preload: '/app/out/preload/index.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
    });
  });

  it('keeps web security on and the risky features off', () => {
    expect(prefs).toMatchObject({
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
    });
  });

  it('has no key that would weaken the defaults', () => {
    // A new key must be a deliberate choice: this list is the whole posture.
    expect(Object.keys(prefs).sort()).toEqual(
      [
        'allowRunningInsecureContent',
        'contextIsolation',
        'disableBlinkFeatures',
        'experimentalFeatures',
        'navigateOnDragDrop',
        'nodeIntegration',
        'nodeIntegrationInSubFrames',
        'nodeIntegrationInWorker',
        'preload',
        'sandbox',
        'spellcheck',
        'webSecurity',
        'webviewTag',
      ].sort(),
    );
    expect(prefs.disableBlinkFeatures).toBe('Auxclick');
  });
});

describe('isTrustedSender', () => {
  it.each(['app://nestbox/index.html', 'app://nestbox/', 'app://nestbox', 'app://nestbox/index.html?x=1#vm/3'])('trusts our UI in the main frame: %s', (url) => {
    expect(isTrustedSender(url, true)).toBe(true);
  });

  it('rejects our own UI when it is in a subframe', () => {
    expect(isTrustedSender('app://nestbox/index.html', false)).toBe(false);
  });

  it.each([
    ['http', 'http://nestbox/index.html'],
    ['https', 'https://evil.example/'],
    ['file', 'file:///app/out/renderer/index.html'],
    ['another app host', 'app://evil/index.html'],
    ['a host that merely starts with ours', 'app://nestbox.evil/index.html'],
    ['a port', 'app://nestbox:8080/index.html'],
    ['user info', 'app://attacker@nestbox/index.html'],
    ['user and password', 'app://a:b@nestbox/index.html'],
    ['no authority', 'app:nestbox/index.html'],
    ['an empty host', 'app:///nestbox/index.html'],
    ['javascript:', 'javascript:alert(1)'],
    ['data:', 'data:text/html,<script>1</script>'],
    ['about:blank', 'about:blank'],
    ['devtools', 'devtools://devtools/bundled/inspector.html'],
    ['malformed', 'not a url'],
    ['malformed with scheme', 'app://'],
    ['empty', ''],
  ])('rejects %s', (_what, url) => {
    expect(isTrustedSender(url, true)).toBe(false);
  });

  it('rejects an unknown frame url', () => {
    expect(isTrustedSender(undefined, true)).toBe(false);
    expect(isTrustedSender(undefined, false)).toBe(false);
  });
});

describe('isAllowedNavigation', () => {
  it('allows navigation inside the app', () => {
    expect(isAllowedNavigation(`${APP_ORIGIN}/index.html`)).toBe(true);
    expect(isAllowedNavigation(`${APP_ORIGIN}/index.html#/vms/1`)).toBe(true);
  });

  it.each(['https://example.com/', 'http://localhost:5173/', 'file:///etc/passwd', 'app://evil/', 'javascript:void(0)', 'garbage'])('refuses %s', (url) => {
    expect(isAllowedNavigation(url)).toBe(false);
  });
});

describe('resolveAppFile', () => {
  const posixRoot = '/opt/nestbox/out/renderer';
  const resolvePosix = (url: string) => resolveAppFile(url, posixRoot, path.posix.join, path.posix.normalize);
  const winRoot = 'C:\\Program Files\\Nestbox\\out\\renderer';
  const resolveWin = (url: string) => resolveAppFile(url, winRoot, path.win32.join, path.win32.normalize);

  /** Whatever comes back must be inside the renderer folder. */
  const inside = (file: string | null, root: string, sep: string) => file === null || file.startsWith(root + sep);

  it('maps the root to index.html', () => {
    expect(resolvePosix('app://nestbox/')).toBe(`${posixRoot}/index.html`);
    expect(resolvePosix('app://nestbox')).toBe(`${posixRoot}/index.html`);
    expect(resolveWin('app://nestbox/')).toBe(`${winRoot}\\index.html`);
  });

  it('maps files and assets inside the renderer folder', () => {
    expect(resolvePosix('app://nestbox/index.html')).toBe(`${posixRoot}/index.html`);
    expect(resolvePosix('app://nestbox/assets/index-abc.js')).toBe(`${posixRoot}/assets/index-abc.js`);
    expect(resolvePosix('app://nestbox/assets/index.js?v=1#x')).toBe(`${posixRoot}/assets/index.js`);
    expect(resolvePosix('app://nestbox/assets/my%20font.woff2')).toBe(`${posixRoot}/assets/my font.woff2`);
    expect(resolveWin('app://nestbox/assets/index-abc.js')).toBe(`${winRoot}\\assets\\index-abc.js`);
  });

  it('keeps literal dot segments inside the folder (the URL parser collapses them first)', () => {
    // `new URL` resolves `..` against the root of the URL path, so this is renderer/etc/passwd.
    for (const url of ['app://nestbox/../../etc/passwd', 'app://nestbox/%2e%2e/%2e%2e/etc/passwd', 'app://nestbox/%2E%2E/%2e./etc/passwd', 'app://nestbox/assets/../../../etc/passwd']) {
      const file = resolvePosix(url);
      expect(file).toBe(`${posixRoot}/etc/passwd`);
      expect(inside(file, posixRoot, '/')).toBe(true);
    }
  });

  it.each([
    ['encoded slashes', 'app://nestbox/..%2f..%2f..%2fetc%2fpasswd'],
    ['mixed encoded slashes', 'app://nestbox/assets/..%2F..%2F..%2Fetc/passwd'],
    ['a sibling folder sharing the prefix', 'app://nestbox/..%2frenderer-evil%2fx.js'],
    ['a sibling folder (no trailing part)', 'app://nestbox/..%2frenderer2'],
    ['the parent folder itself', 'app://nestbox/..%2f'],
    ['malformed percent-encoding', 'app://nestbox/%E0%A4%A'],
    ['a NUL byte', 'app://nestbox/index.html%00.png'],
    ['another host', 'app://evil/index.html'],
    ['our host with a port', 'app://nestbox:1/index.html'],
    ['another scheme', 'file:///opt/nestbox/out/renderer/index.html'],
    ['https', 'https://nestbox/index.html'],
    ['a malformed url', '::::'],
  ])('refuses %s', (_what, url) => {
    expect(resolvePosix(url)).toBeNull();
  });

  it.each([
    ['encoded backslashes', 'app://nestbox/..%5c..%5cWindows%5cwin.ini'],
    ['a sibling folder sharing the prefix', 'app://nestbox/..%5crenderer-evil%5cx.js'],
    ['a drive letter', 'app://nestbox/..%5c..%5c..%5c..%5cD:%5csecret'],
  ])('refuses %s on Windows paths', (_what, url) => {
    expect(resolveWin(url)).toBeNull();
  });

  it('never resolves outside the folder, whatever the encoding (sampled)', () => {
    const parts = ['..', '%2e%2e', '.%2e', '%2f', '%5c', '/', 'etc', 'renderer', 'renderer-x', '%00', '.', 'a'];
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 2000; i++) {
      let p = '';
      const n = 1 + (rnd() % 8);
      for (let j = 0; j < n; j++) p += parts[rnd() % parts.length];
      const url = `app://nestbox/${p}`;
      expect(inside(resolvePosix(url), posixRoot, '/'), url).toBe(true);
      expect(inside(resolveWin(url), winRoot, '\\'), url).toBe(true);
    }
  });

  it('works when the folder is given with a trailing separator', () => {
    expect(resolveAppFile('app://nestbox/index.html', `${posixRoot}/`, path.posix.join, path.posix.normalize)).toBe(`${posixRoot}/index.html`);
    expect(resolveAppFile('app://nestbox/..%2frenderer-evil', `${posixRoot}/`, path.posix.join, path.posix.normalize)).toBeNull();
  });
});

describe('CONTENT_SECURITY_POLICY', () => {
  const directives = new Map(
    CONTENT_SECURITY_POLICY.split(';')
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => {
        const [name, ...values] = d.split(/\s+/);
        return [name!, values] as const;
      }),
  );

  it('never allows eval', () => {
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe-eval');
    expect(CONTENT_SECURITY_POLICY).not.toContain('wasm-unsafe-eval');
  });

  it("allows scripts from 'self' only", () => {
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('default-src')).toEqual(["'self'"]);
  });

  it('names no remote hosts or schemes that load remote code', () => {
    for (const values of directives.values()) {
      for (const v of values) {
        expect(v, `CSP source ${v}`).toMatch(/^('self'|'none'|'unsafe-inline'|data:|blob:)$/);
      }
    }
  });

  it('inline code is allowed for styles only (MUI/emotion), never scripts', () => {
    for (const [name, values] of directives) {
      if (values.includes("'unsafe-inline'")) expect(name).toBe('style-src');
    }
  });

  it('locks down plugins, base, framing and forms', () => {
    expect(directives.get('object-src')).toEqual(["'none'"]);
    expect(directives.get('base-uri')).toEqual(["'none'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(directives.get('form-action')).toEqual(["'none'"]);
  });

  it('is a single header value (no newlines that could split it)', () => {
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/[\r\n]/);
  });
});

describe('permission checks and frame navigation', () => {
  it('denies every permission check', () => {
    expect(denyPermissionCheck()).toBe(false);
    let installed: ((...args: unknown[]) => boolean) | null = null;
    guardSession({ setPermissionCheckHandler: (h) => (installed = h) });
    expect(installed).not.toBeNull();
    expect(installed!({}, 'media', 'app://nestbox', {})).toBe(false);
  });

  it('lets only the main frame navigate, and only within the app', () => {
    expect(isAllowedFrameNavigation({ url: 'app://nestbox/index.html', isMainFrame: true })).toBe(true);
    for (const url of ['https://example.com/', 'file:///etc/passwd', 'app://evil/', 'javascript:alert(1)', 'app://x@nestbox/']) {
      expect(isAllowedFrameNavigation({ url, isMainFrame: true }), url).toBe(false);
    }
    expect(isAllowedFrameNavigation({ url: 'app://nestbox/index.html', isMainFrame: false })).toBe(false);
  });

  it('the guard prevents what it does not allow', () => {
    let listener: ((d: { url: string; isMainFrame: boolean; preventDefault(): void }) => void) | null = null;
    guardFrameNavigation({ on: (_e, l) => (listener = l) });
    let prevented = 0;
    listener!({ url: 'https://example.com/', isMainFrame: true, preventDefault: () => prevented++ });
    listener!({ url: 'app://nestbox/index.html', isMainFrame: true, preventDefault: () => prevented++ });
    expect(prevented).toBe(1);
  });
});
