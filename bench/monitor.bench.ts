/**
 * What monitoring costs. (1) A guest's download speed through NAT when Nestbox counts its
 * frames (filter-mirror to the core) against the same guest in plain QEMU without the
 * filters, both booted from the test ISO and measured alternately. (2) The core's own CPU
 * time while it samples running VMs every second, against the same daemon with none running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { parseProcStat } from '../src/core/domain/stats';
import { printTable, row, sleep, startDaemon, tempHome, testIso, waitFor, writeResults } from './lib';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 4);
const PEER_FILTER = process.env['BENCH_PEER_FILTER'] === '1';
const BLOB_MIB = Number(process.env['BENCH_BLOB_MIB'] ?? 16);

/** A shell on a guest's serial unix socket: sends a line, waits for a marker. */
class Shell {
  private text = '';
  private constructor(private readonly s: net.Socket) {
    s.on('data', (d: Buffer) => (this.text += d.toString('utf8')));
  }
  static async open(sock: string): Promise<Shell> {
    const s = net.createConnection(sock);
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('error', reject);
    });
    return new Shell(s);
  }
  async run(cmd: string, marker: RegExp, timeoutMs = 120_000): Promise<void> {
    const start = this.text.length;
    const deadline = Date.now() + timeoutMs;
    this.s.write(`\x15${cmd}\n`);
    let resend = Date.now() + 4000;
    while (!marker.test(this.text.slice(start))) {
      if (Date.now() > deadline) throw new Error(`timed out on '${cmd}'`);
      if (Date.now() > resend && this.text.length === start) {
        this.s.write(`\x15${cmd}\n`);
        resend = Date.now() + 4000;
      }
      await sleep(20);
    }
  }
  close(): void {
    this.s.destroy();
  }
}

function ticksOf(pid: number): number {
  return parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))!.ticks;
}

async function main(): Promise<void> {
  const home = tempHome();
  const iso = testIso();
  const blob = Buffer.alloc(BLOB_MIB * 1024 * 1024, 0x5a);
  const served: number[] = [];
  let pendingStart = 0;
  const server = http.createServer((_req, res) => {
    pendingStart = performance.now();
    res.writeHead(200, { 'content-length': blob.length });
    res.end(blob, () => served.push(performance.now() - pendingStart));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;

  const d = await startDaemon(home);
  let plain: ChildProcess | null = null;
  try {
    // Idle daemon CPU first (no VM).
    const idleTicks0 = ticksOf(d.child.pid!);
    await sleep(10_000);
    const idleCpu = ((ticksOf(d.child.pid!) - idleTicks0) / 100 / 10) * 100;

    const name = 'bench-monitor';
    await d.client.call('vms.create', { name, osType: 'linux-other', memoryMiB: 256, cpus: 1, noDisk: true, iso });
    const started = await d.client.call('vms.start', { ref: name });
    await waitFor(started.vm.serialLog, /NESTBOX-NET-UP/, 180_000);

    // Plain QEMU, same guest, user networking without filters, its serial on a unix socket.
    const pdir = fs.mkdtempSync(path.join(home, 'plain-'));
    const psock = path.join(pdir, 'serial.sock');
    const plog = path.join(pdir, 'serial.log');
    plain = spawn('qemu-system-x86_64', [
      '-nodefaults', '-no-user-config', '-machine', 'q35', '-accel', 'tcg', '-cpu', 'max', '-m', '256M', '-smp', '1',
      '-display', 'none', '-device', 'VGA', '-cdrom', iso,
      '-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0,romfile=',
      '-chardev', `socket,id=s0,path=${psock},server=on,wait=off,logfile=${plog}`, '-serial', 'chardev:s0',
      // BENCH_PEER_FILTER=1: the peer gets the same filter-mirror, read by this process (isolates its cost).
      ...(PEER_FILTER
        ? ['-chardev', `socket,id=m0,path=${pdir}/m.sock,server=on,wait=off`, '-object', 'filter-mirror,id=f0,netdev=n0,queue=tx,outdev=m0',
           '-chardev', `socket,id=m1,path=${pdir}/m1.sock,server=on,wait=off`, '-object', 'filter-mirror,id=f1,netdev=n0,queue=rx,outdev=m1']
        : []),
    ], { stdio: 'ignore' });
    await waitFor(plog, /NESTBOX-NET-UP/, 180_000);
    if (PEER_FILTER) for (const f of ['m.sock', 'm1.sock']) net.createConnection(path.join(pdir, f)).on('data', () => undefined).unref();

    // Nestbox's shell goes through the core's serial hub; attach to it with a console stream.
    const stream = `bench-${Date.now()}`;
    let nbText = '';
    d.client.on('console.data', (e) => {
      if (e.stream === stream) nbText += Buffer.from(e.data, 'base64').toString('utf8');
    });
    await d.client.call('console.open', { ref: name, channel: 'serial', stream });
    const nbRun = async (cmd: string, marker: RegExp) => {
      const start = nbText.length;
      await d.client.call('console.write', { stream, data: Buffer.from(`\x15${cmd}\n`).toString('base64') });
      const deadline = Date.now() + 120_000;
      while (!marker.test(nbText.slice(start))) {
        if (Date.now() > deadline) throw new Error(`timed out on '${cmd}'`);
        await sleep(20);
      }
    };
    const plainShell = await Shell.open(psock);
    await nbRun('echo ok-$((1+1))', /ok-2/);
    await plainShell.run('echo ok-$((1+1))', /ok-2/);

    const withCounters: number[] = [];
    const withoutCounters: number[] = [];
    const cmd = (i: number) => `wget -q -O /dev/null http://10.0.2.2:${port}/b; echo done-${i}-$((1+1))`;
    let counted = 0;
    d.client.on('vm.stats', (s) => {
      if (s.name === name) counted = s.nics[0]?.rxBytes ?? 0;
    });
    await d.client.call('stats.subscribe', { ref: name });
    for (let i = 0; i < ROUNDS; i++) {
      await nbRun(cmd(i), new RegExp(`done-${i}-2`));
      withCounters.push((blob.length / 2 ** 20) / (served[served.length - 1]! / 1000));
      await plainShell.run(cmd(i), new RegExp(`done-${i}-2`));
      withoutCounters.push((blob.length / 2 ** 20) / (served[served.length - 1]! / 1000));
    }
    await sleep(1500);

    // Core CPU while sampling one running VM (idle guest), 10 s.
    const t0 = ticksOf(d.child.pid!);
    await sleep(10_000);
    const busyCpu = ((ticksOf(d.child.pid!) - t0) / 100 / 10) * 100;

    const rows = [
      row('guest download through NAT', 'MiB/s', withCounters, PEER_FILTER ? 'plain QEMU + filter-mirror' : 'plain QEMU, no filter', withoutCounters),
      row('core CPU while sampling 1 VM', '% of one CPU', [busyCpu], 'same daemon, no VM', [Math.max(idleCpu, 0.01)]),
    ];
    printTable('Monitoring overhead', rows);
    console.log(`bytes counted by Nestbox for the guest (to the guest): ${counted} (downloads: ${ROUNDS} × ${blob.length})`);
    writeResults('monitor', rows, { blobMiB: BLOB_MIB, rounds: ROUNDS, countedRxBytes: counted });
    plainShell.close();
    await d.client.call('vms.powerOff', { ref: name }).catch(() => undefined);
  } finally {
    plain?.kill('SIGKILL');
    server.close();
    await d.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
