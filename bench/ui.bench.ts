/**
 * Web UI: time from launching `nestbox serve` to an interactive VM list (the first machine's
 * row visible, and a click on it answered by its details), with 1,000 and 5,000 VMs in the
 * inventory, against the same launch with 10 VMs (the scaling ratio), measured in Debian's
 * Chromium. The sizes take turns: each repetition starts with the next size in rotation, so
 * no size always runs first or last. Each launch also records where its time went (serve
 * printing its URL, the page's `load`, the page creating its WebSocket). The desktop window loads the same
 * renderer; its launch cannot be measured here (no Electron binary on this machine).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { chromium } from 'playwright-core';
import { CLI, printTable, row, startDaemon, stat, tempHome, testIso, writeResults } from './lib';

const REPS = Number(process.env['BENCH_REPS'] ?? 7);
const SIZES = (process.env['BENCH_UI_SIZES'] ?? '10,1000,5000').split(',').map(Number);
const SMALL = SIZES[0]!;
const CHROMIUM = process.env['NESTBOX_CHROMIUM'] ?? '/usr/bin/chromium';
/** Targets of issue 21, by VM count: launch → first click answered. */
const TARGET_MS: Record<number, number> = { 1000: 1000, 5000: 2000 };

async function serve(home: string, t0: number): Promise<{ url: string; urlAt: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { env: { ...process.env, NESTBOX_HOME: home }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (c) => reject(new Error(`nestbox serve exited (${c})`)));
  });
  const urlAt = performance.now() - t0;
  return {
    url,
    urlAt,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/**
 * In the page: the centre of an element matching `selector` (with exactly `text`, if given)
 * that is laid out and in the viewport, or null.
 */
function shown({ selector, text }: { selector: string; text?: string }): { x: number; y: number } | null {
  for (const el of Array.from(document.querySelectorAll(selector))) {
    if (text !== undefined && el.textContent?.trim() !== text) continue;
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < window.innerHeight) return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
  }
  return null;
}

interface Launch {
  readonly url: number;
  readonly load: number;
  readonly socket: number;
  readonly visible: number;
  readonly interactive: number;
}

async function main(): Promise<void> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium is needed at ${CHROMIUM} (apt-get install chromium)`);
  const iso = testIso();
  const homes: Record<number, string> = {};
  // BENCH_UI_HOMES=DIR keeps the inventories in DIR/<n> and reuses them (for runs one after another).
  const keep = process.env['BENCH_UI_HOMES'];
  for (const n of SIZES) {
    homes[n] = keep ? `${keep}/${n}` : tempHome();
    if (keep && fs.existsSync(`${homes[n]}/ready`)) continue;
    fs.mkdirSync(homes[n]!, { recursive: true });
    const d = await startDaemon(homes[n]!);
    process.stdout.write(`creating ${n} VMs…\n`);
    for (let i = 0; i < n; i++) {
      await d.client.call('vms.create', { name: `vm-${String(i).padStart(4, '0')}`, osType: i % 3 ? 'linux-other' : 'windows-11', memoryMiB: 128, cpus: 1, noDisk: true, nic: 'none', iso, group: `group ${i % 7}` });
    }
    await d.stop();
    if (keep) fs.writeFileSync(`${homes[n]}/ready`, `${n}\n`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const launches: Record<number, Launch[]> = Object.fromEntries(SIZES.map((n) => [n, []]));
  try {
    for (let i = 0; i < REPS; i++) {
      const order = SIZES.map((_, k) => SIZES[(i + k) % SIZES.length]!);
      for (const n of order) {
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        const page = await context.newPage();
        let socket = NaN;
        let load = NaN;
        const t0 = performance.now();
        page.on('websocket', () => {
          socket = performance.now() - t0;
        });
        page.on('load', () => {
          load = performance.now() - t0;
        });
        const s = await serve(homes[n]!, t0);
        try {
          await page.goto(s.url, { waitUntil: 'commit' });
          // Checked at every animation frame in the page: a locator's waitFor polls with a
          // back-off that reaches 500 ms, which would add up to half a second to a launch.
          const row = await page.waitForFunction(shown, { selector: '[role="option"][data-vm-name="vm-0000"]' }, { polling: 'raf', timeout: 120_000 });
          const visible = performance.now() - t0;
          // A mouse click where the row is (Input.dispatchMouseEvent), without a locator click's
          // actionability waits (element stable over two frames, and so on: about 0.1 s).
          const at = (await row.jsonValue()) as { x: number; y: number };
          await page.mouse.click(at.x, at.y);
          await page.waitForFunction(shown, { selector: '[role="option"][data-vm-name="vm-0000"][aria-selected="true"]' }, { polling: 'raf', timeout: 120_000 });
          await page.waitForFunction(shown, { selector: 'h1, h2, h3, h4, h5, h6, [role="heading"]', text: 'vm-0000' }, { polling: 'raf', timeout: 120_000 });
          const interactive = performance.now() - t0;
          launches[n]!.push({ url: s.urlAt, load, socket, visible, interactive });
          process.stdout.write(`${n} VMs: url ${s.urlAt.toFixed(0)}, load ${load.toFixed(0)}, socket ${socket.toFixed(0)}, visible ${visible.toFixed(0)}, interactive ${interactive.toFixed(0)} ms\n`);
        } finally {
          await context.close();
          await s.stop();
        }
      }
    }
  } finally {
    await browser.close();
    if (!keep) for (const h of Object.values(homes)) fs.rmSync(h, { recursive: true, force: true });
  }
  const pick = (n: number, k: keyof Launch) => launches[n]!.map((l) => l[k]);
  const rows = SIZES.slice(1).flatMap((n) => [
    row(`launch → VM list visible, ${n} VMs`, 'ms', pick(n, 'visible'), `${SMALL} VMs`, pick(SMALL, 'visible')),
    row(`launch → first click answered, ${n} VMs`, 'ms', pick(n, 'interactive'), `${SMALL} VMs`, pick(SMALL, 'interactive'), TARGET_MS[n] ? `< ${TARGET_MS[n]} ms` : undefined),
  ]);
  // Where a launch's time goes, per size (medians of the same launches).
  const PHASES = ['url', 'load', 'socket', 'visible', 'interactive'] as const;
  const phases = SIZES.map((n) => ({ vms: n, ...(Object.fromEntries(PHASES.map((k) => [k, stat(pick(n, k))])) as Record<(typeof PHASES)[number], ReturnType<typeof stat>>) }));
  printTable(`Web UI launch (nestbox serve + Chromium): ${SIZES.slice(1).join(' and ')} VMs vs ${SMALL} VMs, sizes in rotation`, rows);
  console.log('\nphases (median ms: serve URL printed, page load, WebSocket open, first row visible, click answered)');
  for (const p of phases) console.log(`${String(p.vms).padStart(5)} VMs: ${PHASES.map((k) => `${k} ${p[k].median.toFixed(0)}`).join(', ')}`);
  console.log(`results: ${writeResults('ui', rows, { reps: REPS, sizes: SIZES, phases })}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
