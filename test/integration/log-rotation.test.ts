/**
 * A guest flooding its serial port cannot fill the host's disk: QEMU appends the serial log,
 * the core rotates it (a small cap here, NESTBOX_LOG_MAX_BYTES, so the test guest overflows
 * it quickly), only a few generations stay, and the log search still finds the newest text,
 * streamed over the generations.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RpcClient } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { until } from '../support/host-setup';
import { cleanupHome, openCore, SerialSession, tempHome, testIso, waitForFile } from './helpers';

const NAME = 'chatty';
const CAP = 32 * 1024;
const GENERATIONS = 2;
const LINES = 6000;
/** The longest "older output dropped" line a generation may start with. */
const NOTE_MAX = 200;

describe('the serial log is bounded', () => {
  let home: string;
  let hosted: HostedCore;
  let client: RpcClient;
  let serialLog: string;

  beforeAll(async () => {
    process.env['NESTBOX_LOG_MAX_BYTES'] = String(CAP);
    process.env['NESTBOX_LOG_GENERATIONS'] = String(GENERATIONS);
    home = tempHome();
    ({ hosted, client } = await openCore(home));
    await client.call('vms.create', { name: NAME, osType: 'linux-other', memoryMiB: 256, cpus: 1, noDisk: true, nic: 'none', iso: testIso() });
    const r = await client.call('vms.start', { ref: NAME });
    serialLog = r.vm.serialLog;
    await waitForFile(serialLog, /NESTBOX-GUEST-READY/);
  });
  afterAll(async () => {
    delete process.env['NESTBOX_LOG_MAX_BYTES'];
    delete process.env['NESTBOX_LOG_GENERATIONS'];
    await client.call('vms.powerOff', { ref: NAME }).catch(() => undefined);
    await hosted.close();
    await cleanupHome(home);
  });

  it('keeps a few capped generations while the guest writes far more, and the search finds the latest text', async () => {
    const serial = await SerialSession.open(client, NAME);
    const pad = 'x'.repeat(80);
    // The shell answers first; the flood is then typed once (run() would type it again).
    await serial.run('echo SHELL-$((1+1))', /SHELL-2/, 60_000);
    const start = serial.output.length;
    await serial.send(`i=0; while [ $i -lt ${LINES} ]; do echo "FLOOD-LINE-$i-${pad}"; i=$((i+1)); done; echo FLOOD-DONE-$((6*7))`);
    const deadline = Date.now() + 170_000;
    while (!/FLOOD-DONE-42/.test(serial.output.slice(start)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const out = serial.output.slice(start);
    expect(out).toMatch(/FLOOD-DONE-42/);
    await serial.close();
    // What the guest wrote is far more than everything the log may keep.
    expect(out.length).toBeGreaterThan(LINES * 90);
    expect(out.length).toBeGreaterThan(4 * (GENERATIONS + 1) * CAP);
    // The rotator checks every second: once it has, the current file is under the cap again.
    const files = [serialLog, ...Array.from({ length: GENERATIONS + 2 }, (_, i) => `${serialLog}.${i + 1}`)];
    await until('the rotator to bring the current log under the cap', () => fs.statSync(serialLog).size < CAP);
    const sizes = files.map((f) => (fs.existsSync(f) ? fs.statSync(f).size : -1));
    expect(sizes[GENERATIONS + 1], 'no generation beyond the limit').toBe(-1);
    expect(sizes[GENERATIONS + 2]).toBe(-1);
    for (let i = 1; i <= GENERATIONS; i++) expect(sizes[i], `${files[i]} exists`).toBeGreaterThan(0);
    const total = sizes.filter((s) => s > 0).reduce((a, b) => a + b, 0);
    // A generation holds at most the cap (and a line saying what older output was dropped),
    // however fast the guest wrote.
    for (const s of sizes) expect(s).toBeLessThanOrEqual(CAP + NOTE_MAX);
    expect(total).toBeLessThanOrEqual((GENERATIONS + 1) * (CAP + NOTE_MAX));
    expect(total).toBeLessThan(out.length);

    const found = await client.call('console.serialLog', { ref: NAME, query: 'flood-done-42' });
    expect(found.matches.length).toBeGreaterThanOrEqual(1);
    expect(found.matches.at(-1)!.text).toContain('FLOOD-DONE-42');
    const last = await client.call('console.serialLog', { ref: NAME, query: `FLOOD-LINE-${LINES - 1}-` });
    expect(last.matches.map((m) => m.text)).toEqual(expect.arrayContaining([expect.stringContaining(`FLOOD-LINE-${LINES - 1}-${pad}`)]));
    // The oldest output was rotated away; the size reported covers every kept generation.
    const first = await client.call('console.serialLog', { ref: NAME, query: 'FLOOD-LINE-0-' });
    expect(first.matches).toEqual([]);
    expect(found.size).toBe(total);
    const tail = await client.call('console.serialLog', { ref: NAME });
    expect(tail.text).toContain('FLOOD-DONE-42');

    // The guest is still fine, and its new output still lands in the (rotated) log.
    const again = await SerialSession.open(client, NAME);
    await again.run('echo AFTER-$((40+2))', /AFTER-42/, 60_000);
    await again.close();
    await waitForFile(serialLog, /AFTER-42/, 10_000);
  });
});
