/**
 * Console relay: keystroke-to-screen-update latency and update throughput of a VNC viewer
 * connected through Nestbox's relay (core in `nestbox daemon`, client over its unix socket,
 * RFB bytes in console.* messages) against a viewer on QEMU's VNC socket directly, on the
 * same VM in the same run, measured alternately.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { RUNTIME_FILES } from '../src/core/qemu/argv';
import { DataLayout } from '../src/core/store/paths';
import { relayVncDuplex } from '../test/support/relay';
import { RfbClient, type ByteDuplex } from '../test/support/rfb';
import { printTable, row, sleep, startDaemon, tempHome, testIso, waitFor, writeResults } from './lib';

const KEYS = Number(process.env['BENCH_KEYS'] ?? 40);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const WINDOW_MS = 2000;


function direct(sockPath: string): ByteDuplex {
  const s = net.createConnection(sockPath);
  s.setNoDelay(true);
  return { write: (d) => s.write(d), onData: (cb) => s.on('data', cb), close: () => s.destroy() };
}

async function main(): Promise<void> {
  const home = tempHome();
  const iso = testIso();
  const d = await startDaemon(home);
  try {
    const name = 'bench-console';
    await d.client.call('vms.create', { name, osType: 'linux-other', memoryMiB: 256, cpus: 1, noDisk: true, iso });
    const started = await d.client.call('vms.start', { ref: name });
    await waitFor(started.vm.serialLog, /NESTBOX-GUEST-READY/);
    await sleep(1500);
    const vncSock = path.join(new DataLayout(home).vmRunDir(started.vm.uuid), RUNTIME_FILES.vnc);

    const viaRelay = await RfbClient.connect(await relayVncDuplex(d.client, name));
    const viaDirect = await RfbClient.connect(direct(vncSock));
    viaRelay.startContinuousUpdates();
    viaDirect.startContinuousUpdates();
    await sleep(1000);

    // Latency: type 'x' then erase it, alternating which viewer presses the key. Both viewers
    // receive the same screen change, so the difference of their arrival times is exactly
    // what the relay adds to an update, free of QEMU's 30 ms refresh-timer jitter.
    const lat = { relay: [] as number[], direct: [] as number[] };
    const hop: number[] = [];
    const zero: number[] = [];
    for (let i = 0; i < KEYS; i++) {
      for (const who of (i % 2 ? ['relay', 'direct'] : ['direct', 'relay']) as ('relay' | 'direct')[]) {
        for (const keysym of [0x78, 0xff08]) {
          const presser = who === 'relay' ? viaRelay : viaDirect;
          const atRelay = viaRelay.nextChange(5000);
          const atDirect = viaDirect.nextChange(5000);
          const t0 = performance.now();
          presser.key(keysym, true);
          presser.key(keysym, false);
          const [r, dd] = await Promise.all([atRelay, atDirect]);
          if (keysym === 0x78) lat[who].push((who === 'relay' ? r.at : dd.at) - t0);
          hop.push(r.at - dd.at);
          zero.push(0);
          await sleep(120);
        }
      }
    }

    // Throughput: the guest redraws its screen continuously; count updates per second seen by
    // one viewer at a time (the other disconnected), alternating.
    const serialStream = randomUUID();
    await d.client.call('console.open', { ref: name, channel: 'serial', stream: serialStream });
    const cmd = 'while :; do cat /proc/interrupts > /dev/tty1; done &\n';
    await d.client.call('console.write', { stream: serialStream, data: Buffer.from(`\x15${cmd}`).toString('base64') });
    await sleep(1000);
    const ups = { relay: [] as number[], direct: [] as number[] };
    const mbps = { relay: [] as number[], direct: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const who of (r % 2 ? ['relay', 'direct'] : ['direct', 'relay']) as ('relay' | 'direct')[]) {
        const rfb = who === 'relay' ? viaRelay : viaDirect;
        const from = rfb.updates.length;
        const t0 = performance.now();
        await sleep(WINDOW_MS);
        const got = rfb.updates.slice(from);
        const secs = (performance.now() - t0) / 1000;
        ups[who].push(got.length / secs);
        mbps[who].push(got.reduce((a, u) => a + u.bytes, 0) / secs / 1e6);
      }
    }
    viaRelay.close();
    viaDirect.close();

    const rows = [
      row('keystroke → screen update', 'ms', lat.relay, 'direct VNC', lat.direct, 'relay adds < 5 ms'),
      { ...row('same update: relay arrival − direct arrival', 'ms', hop, 'direct VNC', zero.map(() => 1)), ratio: Number.NaN, peer: { median: 0, min: 0, max: 0, n: zero.length } },
      row('screen updates delivered', 'updates/s', ups.relay, 'direct VNC', ups.direct, '≥ 0.9× direct'),
      row('framebuffer bytes delivered', 'MB/s', mbps.relay, 'direct VNC', mbps.direct),
    ];
    printTable('Console relay vs direct VNC (same VM, same run, alternating)', rows);
    const added = rows[1]!.nestbox.median;
    console.log(`relay adds ${added.toFixed(2)} ms (median) to each screen update; keystroke medians differ by ${(rows[0]!.nestbox.median - rows[0]!.peer.median).toFixed(2)} ms`);
    const file = writeResults('console', rows, { addedLatencyMs: added, keys: KEYS, rounds: ROUNDS });
    console.log(`results: ${path.relative(process.cwd(), file)}`);
    await d.client.call('vms.powerOff', { ref: name });
  } finally {
    await d.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
