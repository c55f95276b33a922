/**
 * Web UI: time from launching `nestbox serve` to an interactive VM list (the first machine's
 * row visible, and a click on it answered by its details), with 1,000 VMs in the inventory,
 * against the same launch with 10 VMs (the scaling ratio), measured alternately in Debian's
 * Chromium. The desktop window loads the same renderer; its launch cannot be measured here
 * (no Electron binary on this machine).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { chromium } from 'playwright-core';
import { CLI, printTable, row, startDaemon, tempHome, testIso, writeResults } from './lib';

const REPS = Number(process.env['BENCH_REPS'] ?? 7);
const BIG = Number(process.env['BENCH_VMS'] ?? 1000);
const SMALL = 10;
const CHROMIUM = process.env['NESTBOX_CHROMIUM'] ?? '/usr/bin/chromium';

async function serve(home: string): Promise<{ url: string; stop(): Promise<void> }> {
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
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

async function main(): Promise<void> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium is needed at ${CHROMIUM} (apt-get install chromium)`);
  const iso = testIso();
  const homes: Record<number, string> = {};
  for (const n of [SMALL, BIG]) {
    homes[n] = tempHome();
    const d = await startDaemon(homes[n]!);
    process.stdout.write(`creating ${n} VMs…\n`);
    for (let i = 0; i < n; i++) {
      await d.client.call('vms.create', { name: `vm-${String(i).padStart(4, '0')}`, osType: i % 3 ? 'linux-other' : 'windows-11', memoryMiB: 128, cpus: 1, noDisk: true, nic: 'none', iso, group: `group ${i % 7}` });
    }
    await d.stop();
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const visible: Record<number, number[]> = { [SMALL]: [], [BIG]: [] };
  const interactive: Record<number, number[]> = { [SMALL]: [], [BIG]: [] };
  try {
    for (let i = 0; i < REPS; i++) {
      for (const n of i % 2 ? [BIG, SMALL] : [SMALL, BIG]) {
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        const page = await context.newPage();
        const t0 = performance.now();
        const s = await serve(homes[n]!);
        try {
          await page.goto(s.url);
          const first = page.getByRole('option', { name: 'vm-0000', exact: true });
          await first.waitFor({ state: 'visible', timeout: 120_000 });
          visible[n]!.push(performance.now() - t0);
          await first.click();
          await page.getByRole('heading', { name: 'vm-0000', exact: true }).waitFor({ state: 'visible', timeout: 120_000 });
          interactive[n]!.push(performance.now() - t0);
        } finally {
          await context.close();
          await s.stop();
        }
      }
    }
  } finally {
    await browser.close();
    for (const h of Object.values(homes)) fs.rmSync(h, { recursive: true, force: true });
  }
  const rows = [
    row(`launch → VM list visible, ${BIG} VMs`, 'ms', visible[BIG]!, `${SMALL} VMs`, visible[SMALL]!),
    row(`launch → first click answered, ${BIG} VMs`, 'ms', interactive[BIG]!, `${SMALL} VMs`, interactive[SMALL]!),
  ];
  printTable(`Web UI launch (nestbox serve + Chromium): ${BIG} VMs vs ${SMALL} VMs, alternating`, rows);
  console.log(`results: ${writeResults('ui', rows, { reps: REPS, vms: BIG })}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
