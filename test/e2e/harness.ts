/**
 * End-to-end harness: `nestbox serve` as a real child process (web mode, real core, real
 * QEMU) and Debian's Chromium driven by playwright-core, the way a person uses the UI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterEach } from 'vitest';
import { CLI, cli, tempHome } from '../integration/helpers';
import { serveCoreReady } from '../support/serve';

export const CHROMIUM = process.env['NESTBOX_CHROMIUM'] ?? '/usr/bin/chromium';

export interface WebSession {
  readonly home: string;
  readonly url: string;
  serve: ChildProcess;
  readonly browser: Browser;
  readonly context: BrowserContext;
  readonly page: Page;
  readonly consoleErrors: string[];
  close(): Promise<void>;
}

export async function startServe(home: string, port = 0): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', String(port)], {
    env: { ...process.env, NESTBOX_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`nestbox serve printed no URL in 30 s; stderr: ${err}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`nestbox serve exited (${code}): ${err}`));
    });
  });
  // The URL comes as soon as the page can load; tests also use the core's unix socket (the
  // CLI, connectOrHost), which is there once serve says it hosts or joined the core.
  await serveCoreReady(child, () => err);
  return { url, child };
}

/** Sessions still open: what a failed test is reported with (see the afterEach below). */
const openSessions = new Set<WebSession>();

/**
 * When a test fails, each open session's page is saved as `FAILED-<test>.png` beside the
 * other screenshots, and what the page shows in its dialogs and alerts and the core's recent
 * log are printed: a timeout's call log says what was awaited, this says what was there.
 */
afterEach(async (ctx) => {
  if (ctx.task.result?.state !== 'fail' || openSessions.size === 0) return;
  const slug = ctx.task.name.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 80);
  for (const s of openSessions) {
    const report: string[] = [`--- ${ctx.task.name}: the page and the core when it failed ---`];
    try {
      const file = shotPath(`FAILED-${slug}`);
      await s.page.screenshot({ path: file, timeout: 10_000 });
      report.push(`screenshot: ${file}`);
      const shown = await s.page
        .locator('[role=dialog], [role=alert], [role=alertdialog]')
        .evaluateAll((els) => els.map((el) => `${el.getAttribute('role')}: ${(el as HTMLElement).innerText.replace(/\s+/g, ' ').trim().slice(0, 600)}`));
      report.push(...(shown.length ? shown : ['(no dialog or alert shown)']));
    } catch (err) {
      report.push(`the page could not be captured: ${(err as Error).message}`);
    }
    const log = await cli(s.home, ['log', '--limit', '25']);
    report.push('core log (newest last):', log.code === 0 ? log.stdout.trimEnd() : `nestbox log failed: ${log.stderr.trim()}`);
    console.error(report.join('\n'));
  }
}, 60_000);

export async function openWebSession(opts: { colorScheme?: 'light' | 'dark'; home?: string } = {}): Promise<WebSession> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`end-to-end tests need Chromium at ${CHROMIUM} (Debian package chromium): apt-get install chromium`);
  }
  const home = opts.home ?? tempHome();
  const { url, child } = await startServe(home);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: opts.colorScheme ?? 'light' });
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(url);
  const session: WebSession = {
    home,
    url,
    serve: child,
    browser,
    context,
    page,
    consoleErrors,
    async close() {
      openSessions.delete(session);
      await browser.close().catch(() => undefined);
      const proc = session.serve;
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => proc.once('exit', r));
      }
    },
  };
  openSessions.add(session);
  return session;
}

export function shotPath(name: string): string {
  const dir = process.env['NESTBOX_SHOTS'] ?? path.join(process.cwd(), 'out', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, `${name}.png`);
}

/** Drags `file` (or several) over the window (screenshot of the overlay when `shot` is given) and drops it. */
export async function dropFile(page: Page, file: string | readonly string[], shot?: string): Promise<void> {
  await page.evaluate(() => {
    document.getElementById('e2e-drop-source')?.remove();
    const input = document.createElement('input');
    input.type = 'file';
    input.id = 'e2e-drop-source';
    input.multiple = true;
    input.style.display = 'none';
    document.body.append(input);
  });
  await page.locator('#e2e-drop-source').setInputFiles(typeof file === 'string' ? file : [...file]);
  await page.evaluate(() => {
    const input = document.getElementById('e2e-drop-source') as HTMLInputElement;
    const dt = new DataTransfer();
    for (const f of Array.from(input.files!)) dt.items.add(f);
    (window as unknown as { __e2eDrop: DataTransfer }).__e2eDrop = dt;
    for (const type of ['dragenter', 'dragover']) document.body.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
  });
  await page.getByRole('status', { name: 'Drop files here' }).waitFor();
  if (shot) await page.screenshot({ path: shotPath(shot) });
  await page.evaluate(() => {
    const dt = (window as unknown as { __e2eDrop: DataTransfer }).__e2eDrop;
    document.body.dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: dt }));
    document.getElementById('e2e-drop-source')?.remove();
  });
}
