/**
 * `nestbox`: the command line, a client of the core's API. It connects to a running core
 * (desktop app, `nestbox daemon`, `nestbox serve`) or hosts one in-process for the length of
 * the command. VMs keep running after it exits. Errors: one line on stderr, non-zero exit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { CreateVmSpec, JobInfo, MediumInfo, ModifyVmSpec, NicSpec, OpResult, SnapshotInfo, VmInfo, VmStatsSample, VmSummary } from '../core/api/contract';
import type { NicConfig, PortForward } from '../core/domain/config';
import { parseCpuList, parseSince, type MinuteAggregate } from '../core/domain/stats';
import { formatBytes, parseSize } from '../core/domain/units';
import { NestboxError } from '../core/api/errors';
import type { RpcClient } from '../core/api/rpc';
import { describeState } from '../core/domain/lifecycle';
import { OS_TYPES } from '../core/domain/ostypes';
import { bridgeTransports, type Transport } from '../core/api/rpc';
import { connectOrHost, hostCore, type CoreConnection, type HostedCore } from '../core/server/host';
import { connectUnix } from '../core/server/socket';
import { startWebServer } from '../core/server/web';
import { DataLayout, defaultDataDir } from '../core/store/paths';
import { HOST_USAGE, HostUsageError, hostCommand, migrateCommand, vmRows } from './commands/hosts';

const USAGE = `Usage: nestbox <command> [options]

VMs:
  list [--json]                         list VMs and their state
  create NAME [--os-type T] [--memory MiB] [--cpus N] [--disk-size SIZE | --disk PATH | --no-disk]
              [--iso PATH] [--firmware bios|uefi] [--nic nat|none|internal:NAME|bridged:BRIDGE] [--auto-snapshots KEEP] [--json]
  info NAME [--json]                    show a VM's configuration and state
  modify NAME [--memory MiB] [--cpus N] [--iso PATH|none] [--name NEW] [--description TEXT]
              [--cpu-shares N|none] [--cpu-limit PCT|none] [--pin 0,1|none] [--mem-max MiB|none]
              [--balloon on|off] [--mem-merge on|off] [--sockets N --cores N --threads N]
  balloon NAME SIZE                     set a running VM's balloon target (e.g. 512M; the guest keeps SIZE)
  stats NAME [--json] [--since 10m|1h|ISO]   per-minute usage history (kept a week)
  stats NAME --follow [--json]          live samples, one a second (Ctrl+C stops)
              [--auto-snapshots KEEP]   snapshot before each start, keep the KEEP newest (0: off)
  clone SRC NEW [--snapshot SNAP] [--linked] [--keep-macs]   full copy (or linked clone) of a snapshot or the current state
  convert-disk NAME [DISK]              convert a raw/VDI/VMDK disk to qcow2 so it can hold snapshots
  cancel NAME                           stop a clone, disk conversion, live snapshot or Save state of NAME still under way
  start NAME                            start (or resume from its saved state)
  pause NAME | resume NAME | reset NAME
  shutdown NAME [--timeout S]           ACPI power button; waits until the guest is off
  poweroff NAME                         pull the plug
  savestate NAME                        save the machine state and stop
  discardstate NAME                     forget the saved state
  delete NAME [--keep-files]            delete the VM and its folder
  serial NAME                           attach this terminal to the serial console (Ctrl+] detaches)
  screenshot NAME FILE.png              save the screen as PNG
  log [NAME] [--limit N] [--json]       recent events
  portforward NAME list [--json]        NAT port forwarding rules (and the ssh command for port 22)
  portforward NAME add RULE             RULE = name,tcp|udp,[host-ip],host-port,[guest-ip],guest-port
  portforward NAME remove RULE-NAME     (added and removed while the VM runs, no restart)
  portforward NAME ssh [RULE] [--user U]  the ssh command for a rule to guest port 22
  link NAME [NIC] on|off                plug or unplug a running VM's virtual network cable
  nic NAME list [--json]                the VM's network adapters (up to 8)
  nic NAME set N [--mode nat|bridged|internal|none] [--model virtio-net-pci|e1000|rtl8139]
             [--mac auto|MAC] [--bridge BR] [--via helper|tap|vmnet|windows-tap] [--tap TAP]
             [--network NAME] [--nat-net CIDR] [--restrict on|off]   (N: 1-8 or net0...; VM off)
  nic NAME add [same options]           add an adapter (NAT unless --mode says otherwise)
  nic NAME remove N
  snapshot NAME list [--json]           the snapshot tree ('*' marks where the current state hangs)
  snapshot NAME take SNAP [--description TEXT]   live with RAM when running, disk only when off; while a running
                                        VM's memory is saved: progress on stderr, Ctrl+C stops it (nothing is kept)
  snapshot NAME restore SNAP
  snapshot NAME delete SNAP [--branch] [--dry-run]  --branch: with everything below it; --dry-run: only show what goes

Storage:
  media list [--json]                   the media registry: disks and ISOs, sizes, which VMs and snapshots use them
  media info IMAGE [--json]             inspect an image (format, sizes) and register it
  media create FILE --size SIZE [--format qcow2|raw] [--preallocation off|metadata|falloc|full]
  media convert SRC DST [--format F] [--subformat streamOptimized|monolithicSparse]
                                        F: qcow2, raw, vdi, vmdk, vpc, vhdx (default: from DST's extension)
  media resize IMAGE SIZE [--shrink]    grow a disk (shrinking needs --shrink and loses data past the end)
  media compact IMAGE                   rewrite a qcow2/raw image without its unused space
  media check IMAGE [--no-repair]       qemu-img check; leaked clusters are repaired unless --no-repair
  media delete IMAGE [--delete-file]    forget an unused image (and delete its file)
  import FILE [--name N] [--in-place] [--os-type T] [--memory MiB] [--cpus N]
                                        a disk image (VDI, VMDK, VHD(X), qcow2, raw) or an OVA becomes a new VM;
                                        disks are converted to qcow2 into the VM's folder unless --in-place
  export NAME FILE.ova                  export a powered-off VM as an OVA (OVF 1.0, streamOptimized VMDK)
  attach NAME IMAGE [--bus virtio|sata|ide|nvme] [--read-only]   attach an existing image as a new disk
  detach NAME DISK                      detach a disk (disk0, disk1, ...); the file is kept
  jobs [--json] | jobs cancel ID        storage jobs and VM operations in flight (clone, conversion, snapshot, save)
  (\`nestbox disk ...\` is the same as \`nestbox media ...\`)

Host:
  host [--json]                         QEMU, accelerators, firmware, memory, CPUs
  ostypes                               OS types and their presets
  network list [--json]                 host bridges (and whether VMs may use them), internal networks and their VMs
  setting KEY [VALUE | --reset]         show or change a setting (accel: auto, kvm, hvf, whpx, tcg;
                                        snapshotBandwidth: MiB/s for saving a running VM's memory, unset: unlimited)
  daemon                                host the core headless; other clients connect to it
  serve [--port P] [--host ADDR] [--new-token]   web mode: the desktop UI in a browser (prints a URL with a token)

Global options:
  --home DIR     data directory (default: $NESTBOX_HOME or the platform's app-data folder)
  -h, --help     this help

VMs are named by name or UUID.

${HOST_USAGE}`;

class UsageError extends Error {}

function out(s: string): void {
  process.stdout.write(`${s}\n`);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

function intOpt(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`${what} must be a whole number, got '${v}'`);
  return Number(v);
}

function formatMiB(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

function printInfo(vm: VmInfo): void {
  const c = vm.config;
  const lines: [string, string][] = [
    ['Name', vm.name],
    ['UUID', vm.uuid],
    ['State', describeState(vm.state) + (vm.stateReason ? ` (${vm.stateReason})` : '') + (vm.inaccessible ? ` — inaccessible: ${vm.inaccessible}` : '')],
    ['OS type', c.osType],
    ['Memory', `${c.memoryMiB} MiB`],
    ['CPUs', String(c.cpus)],
    ['Firmware', c.firmware.toUpperCase()],
    ['Machine', c.machine],
    ...c.disks.map((d): [string, string] => [`Disk ${d.id}`, `${d.file} (${d.format}, ${d.bus})`]),
    ...c.cdroms.map((d): [string, string] => [`CD/DVD ${d.id}`, d.iso ?? 'empty']),
    ['Boot order', c.bootOrder.join(', ')],
    ...c.nics.map((n): [string, string] => [`NIC ${n.id}`, `${n.mode}, ${n.model}, ${n.mac}${nicTarget(n) !== '-' ? `, ${nicTarget(n)}` : ''}`]),
    ['Display', c.display.adapter],
    ['Serial', c.serial.enabled ? 'enabled' : 'disabled'],
    ['Folder', vm.dir],
  ];
  const r = c.resources;
  if (r) {
    if (r.sockets || r.cores || r.threads) lines.push(['Topology', `${r.sockets ?? 1} socket(s) × ${r.cores ?? 1} core(s) × ${r.threads ?? 1} thread(s)`]);
    if (r.cpuShares !== undefined) lines.push(['CPU shares', String(r.cpuShares)]);
    if (r.cpuLimitPct !== undefined) lines.push(['CPU limit', `${r.cpuLimitPct}% of the host`]);
    if (r.pinCpus) lines.push(['Pinned to', `host CPU ${r.pinCpus.join(', ')}`]);
    if (r.balloon !== undefined) lines.push(['Balloon', r.balloon ? 'yes' : 'no']);
    if (r.memoryMaxMiB !== undefined) lines.push(['Memory ceiling', `${r.memoryMaxMiB} MiB`]);
    if (r.memMerge !== undefined) lines.push(['Page sharing', r.memMerge ? 'mergeable (KSM)' : 'off']);
  }
  for (const s of vm.resourceStatus ?? []) lines.push([`  ${s.setting}`, s.detail]);
  if (vm.runtime) lines.push(['QEMU', `pid ${vm.runtime.pid}, ${vm.runtime.accel}, since ${vm.runtime.startedAt}`]);
  if (vm.hasSavedState) lines.push(['Saved state', 'yes']);
  if (c.autoSnapshot && c.autoSnapshot.keep > 0) lines.push(['Auto snapshots', `before each start, keeping ${c.autoSnapshot.keep}`]);
  if (vm.linkedTo.length) lines.push(['Linked clone of', vm.linkedTo.join(', ')]);
  if (vm.linkedClones.length) lines.push(['Linked clones', `${vm.linkedClones.join(', ')} (they stand on its disks; it cannot be deleted before them)`]);
  if (c.description) lines.push(['Description', c.description]);
  out(table(lines.map(([k, v]) => [`${k}:`, v])));
}

/** The extension of a conversion's target says the format unless --format does. */
function formatFromName(file: string): string | undefined {
  const ext = path.extname(file).slice(1).toLowerCase();
  const map: Record<string, string> = { qcow2: 'qcow2', img: 'raw', raw: 'raw', vdi: 'vdi', vmdk: 'vmdk', vhd: 'vpc', vpc: 'vpc', vhdx: 'vhdx' };
  return map[ext];
}

function printMedia(list: readonly MediumInfo[]): void {
  if (list.length === 0) {
    out('No media yet.');
    return;
  }
  const used = (m: MediumInfo) =>
    m.usedBy.map((u) => (u.current ? u.vm : '') + (u.snapshots.length ? `${u.current ? ' ' : ''}[${u.vm}: snapshot ${u.snapshots.join(', ')}]` : '')).join(', ') || '-';
  out(table([['NAME', 'FORMAT', 'VIRTUAL', 'ACTUAL', 'USED BY', 'PATH'], ...list.map((m) => [m.name, m.format, formatBytes(m.virtualSize), formatBytes(m.actualSize), m.missing ? `MISSING (${m.problem ?? ''})` : used(m), m.path])]));
}

/**
 * A progress line on stderr: rewritten in place on a terminal, one line each 10% otherwise
 * (so logs stay short). `end` closes it with the outcome, on a terminal only once it showed.
 */
function progressLine(): { show(title: string, percent: number, detail?: string): void; end(title: string, outcome: string): void } {
  const tty = process.stderr.isTTY === true;
  let lastShown = -1;
  return {
    show(title, percent, detail) {
      const pct = Math.max(0, Math.min(100, Math.round(percent)));
      if (tty) process.stderr.write(`\r${title}: ${String(pct).padStart(3)}%${detail ? ` (${detail})` : ''}\x1b[K`);
      else if (Math.floor(pct / 10) > Math.floor(lastShown / 10)) process.stderr.write(`${title}: ${pct}%${detail ? ` (${detail})` : ''}\n`);
      lastShown = pct;
    },
    end(title, outcome) {
      if (tty && lastShown >= 0) process.stderr.write(`\r${title}: ${outcome}\x1b[K\n`);
    },
  };
}

/**
 * Runs a job to its end with a progress line on stderr (rewritten in place on a terminal,
 * every 10% otherwise). Ctrl+C cancels the job, which removes its partial output.
 */
async function followJob(client: RpcClient, start: () => Promise<JobInfo>): Promise<JobInfo> {
  const line = progressLine();
  let id: string | null = null;
  let title = '';
  const show = (j: JobInfo) => {
    if (j.id !== id || j.state !== 'running') return;
    line.show(j.title, j.percent);
  };
  const early: JobInfo[] = [];
  const off = client.on('job.progress', (j) => (id === null ? early.push(j) : show(j)));
  const onSigint = () => {
    if (id) {
      process.stderr.write(`\nnestbox: cancelling ${title}...\n`);
      client.call('jobs.cancel', { id }).catch(() => undefined);
    }
  };
  process.on('SIGINT', onSigint);
  try {
    const job = await start();
    id = job.id;
    title = job.title;
    for (const j of early) show(j);
    const end = await client.call('jobs.wait', { id });
    line.end(end.title, end.state === 'done' ? '100%' : end.state);
    if (end.state !== 'done') throw end.error ? NestboxError.fromShape(end.error) : new NestboxError('INTERNAL', `${end.title}: ${end.state}`);
    return end;
  } finally {
    off();
    process.off('SIGINT', onSigint);
  }
}

/**
 * Takes a snapshot with a progress line on stderr while a running VM's memory is saved
 * (the core's `vm.progress`), and Ctrl+C stopping it through `vms.cancel`: the take then
 * fails with the core's CANCELLED message (nothing kept, the VM keeps running), and so does
 * the command. A save that cannot be stopped (a paused VM's, or one that has just ended)
 * runs on to its end and the command says so.
 */
async function takeSnapshot(client: RpcClient, ref: string, name: string, description: string | undefined): Promise<SnapshotInfo> {
  const vm = await client.call('vms.info', { ref });
  const title = `Taking snapshot '${name}' of '${vm.name}'`;
  const line = progressLine();
  const off = client.on('vm.progress', (e) => {
    if (e.uuid !== vm.uuid || e.operation !== 'takeSnapshot' || e.done) return;
    const bytes = e.bytesTotal !== undefined && e.bytesTotal > 0 ? `memory ${formatBytes(Math.min(e.bytesDone ?? 0, e.bytesTotal))} of ${formatBytes(e.bytesTotal)}` : undefined;
    line.show(title, e.percent, bytes);
  });
  let outcome = 'failed';
  const onSigint = () => {
    process.stderr.write(`\nnestbox: stopping snapshot '${name}' of '${vm.name}'...\n`);
    client.call('vms.cancel', { ref: vm.uuid }).then(
      (r) => {
        if (!r.cancelled) process.stderr.write(`nestbox: it cannot be stopped at this point; waiting for it to finish\n`);
      },
      (err: unknown) => process.stderr.write(`nestbox: could not stop it: ${NestboxError.from(err).message}\n`),
    );
  };
  process.on('SIGINT', onSigint);
  try {
    const s = await client.call('snapshots.take', { ref: vm.uuid, name, ...(description ? { description } : {}) });
    outcome = '100%';
    return s;
  } catch (err) {
    if ((err as { code?: string }).code === 'CANCELLED') outcome = 'stopped';
    throw err;
  } finally {
    line.end(title, outcome);
    off();
    process.off('SIGINT', onSigint);
  }
}

/** Where an adapter is attached, in one phrase. */
function nicTarget(n: NicConfig): string {
  switch (n.mode) {
    case 'nat':
      return `${n.natNetwork ?? '10.0.2.0/24'}${n.restrict ? ' (restricted)' : ''}`;
    case 'bridged': {
      const via = n.bridgeVia ?? 'helper';
      return via === 'tap' ? `tap ${n.tap ?? '?'}${n.bridge ? ` on ${n.bridge}` : ''}` : `${n.bridge ?? '?'}${via === 'helper' ? '' : ` (${via})`}`;
    }
    case 'internal':
      return `network '${n.network ?? '?'}'`;
    case 'none':
      return '-';
    default:
      return '-';
  }
}

/** The ssh command that reaches the guest through a rule (a rule on every address: via loopback). */
function sshCommand(r: PortForward, user: string): string {
  const host = r.hostAddress === '0.0.0.0' ? '127.0.0.1' : r.hostAddress;
  return r.hostPort === 22 ? `ssh ${user}@${host}` : `ssh -p ${r.hostPort} ${user}@${host}`;
}

type Opts = Record<string, string | boolean | undefined>;

/** The resource options of `modify`; 'none' clears a setting. */
function resourceChanges(o: Opts): ModifyVmSpec['resources'] | undefined {
  const r: Record<string, unknown> = {};
  const num = (flag: string, key: string) => {
    const v = o[flag];
    if (typeof v !== 'string') return;
    r[key] = v === 'none' ? null : intOpt(v, `--${flag}`);
  };
  const onOff = (flag: string, key: string) => {
    const v = o[flag];
    if (typeof v !== 'string') return;
    if (v !== 'on' && v !== 'off') throw new UsageError(`--${flag} must be on or off`);
    r[key] = v === 'on';
  };
  num('cpu-shares', 'cpuShares');
  num('cpu-limit', 'cpuLimitPct');
  num('mem-max', 'memoryMaxMiB');
  num('sockets', 'sockets');
  num('cores', 'cores');
  num('threads', 'threads');
  onOff('balloon', 'balloon');
  onOff('mem-merge', 'memMerge');
  if (typeof o['pin'] === 'string') {
    try {
      r['pinCpus'] = o['pin'] === 'none' ? null : parseCpuList(o['pin']);
    } catch (err) {
      throw new UsageError(`--pin: ${(err as Error).message}`);
    }
  }
  return Object.keys(r).length ? (r as ModifyVmSpec['resources']) : undefined;
}

const pct = (v: number) => `${v.toFixed(1)}%`;
const rateStr = (v: number) => `${formatBytes(Math.round(v))}/s`;

function historyTable(rows: readonly MinuteAggregate[]): string {
  const nz = (v: number | null) => (v === null ? 'n/a' : formatBytes(v));
  return table([
    ['MINUTE', 'CPU AVG', 'CPU MAX', 'RSS', 'GUEST USED', 'DISK READ', 'DISK WRITE', 'NET RX', 'NET TX'],
    ...rows.map((m) => [
      new Date(m.minute).toISOString().slice(0, 16).replace('T', ' '),
      pct(m.cpuAvg),
      pct(m.cpuMax),
      formatBytes(m.rssAvg),
      nz(m.guestUsedAvg),
      formatBytes(m.diskRdBytes),
      formatBytes(m.diskWrBytes),
      nz(m.netRxBytes),
      nz(m.netTxBytes),
    ]),
  ]);
}

function sampleLine(s: VmStatsSample): string {
  const disk = s.disks.reduce((a, d) => ({ r: a.r + d.rdBytesPerS, w: a.w + d.wrBytesPerS }), { r: 0, w: 0 });
  const nics = s.nics.filter((n) => n.available);
  const net = nics.length ? `net rx ${rateStr(nics.reduce((a, n) => a + n.rxBytesPerS, 0))} tx ${rateStr(nics.reduce((a, n) => a + n.txBytesPerS, 0))}` : 'net n/a';
  const bal = s.memory.balloonBytes === null ? '' : ` balloon ${formatBytes(s.memory.balloonBytes)}`;
  const guest = s.memory.guest ? ` guest used ${formatBytes(s.memory.guest.usedBytes)}` : '';
  return `${new Date(s.ts).toISOString().slice(11, 19)}  cpu ${pct(s.cpu.hostPct).padStart(6)}  rss ${formatBytes(s.memory.rssBytes)}${bal}${guest}  disk r ${rateStr(disk.r)} w ${rateStr(disk.w)}  ${net}`;
}

/** Prints live samples until Ctrl+C or the VM stops. */
async function followStats(c: RpcClient, vm: VmInfo, json: boolean): Promise<void> {
  if (!vm.runtime) throw new NestboxError('INVALID_STATE', `'${vm.name}' is not running`);
  await new Promise<void>((resolve) => {
    const offStats = c.on('vm.stats', (s) => {
      if (s.uuid === vm.uuid) out(json ? JSON.stringify(s) : sampleLine(s));
    });
    const offState = c.on('vm.state', (e) => {
      if (e.uuid === vm.uuid && !['running', 'paused', 'starting', 'stopping', 'saving'].includes(e.state)) done();
    });
    const offClose = c.onClose(() => done());
    const done = () => {
      offStats();
      offState();
      offClose();
      process.off('SIGINT', done);
      resolve();
    };
    process.on('SIGINT', done);
    c.call('stats.subscribe', { ref: vm.uuid }).catch(() => done());
  });
}

function warn(r: OpResult): void {
  for (const w of r.warnings) process.stderr.write(`nestbox: warning: ${w}\n`);
}

async function serialConsole(client: RpcClient, ref: string): Promise<void> {
  const stream = randomUUID();
  const tty = process.stdin.isTTY === true;
  let done = false;
  let finished: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (finished = resolve));
  const finish = () => {
    if (done) return;
    done = true;
    if (tty) process.stdin.setRawMode(false);
    process.stdin.pause();
    client.call('console.close', { stream }).catch(() => undefined).finally(finished);
  };
  // Subscribe before opening: the first bytes can arrive together with the reply.
  client.on('console.data', (ev) => {
    if (ev.stream === stream) process.stdout.write(Buffer.from(ev.data, 'base64'));
  });
  client.on('console.closed', (ev) => {
    if (ev.stream !== stream) return;
    process.stderr.write(`\r\nnestbox: console closed: ${ev.reason}\r\n`);
    finish();
  });
  client.onClose(() => finish());
  await client.call('console.open', { ref, channel: 'serial', stream });
  if (tty) {
    process.stderr.write(`Connected to the serial console of '${ref}'. Press Ctrl+] to detach.\r\n`);
    process.stdin.setRawMode(true);
  }
  process.stdin.on('data', (chunk: Buffer) => {
    if (tty && chunk.includes(0x1d)) return finish();
    client.call('console.write', { stream, data: chunk.toString('base64') }).catch(() => finish());
  });
  process.stdin.on('end', () => {
    // Piped input: give the guest a moment to answer the last line, then leave.
    setTimeout(finish, Number(process.env['NESTBOX_SERIAL_LINGER_MS'] ?? 1500));
  });
  process.stdin.resume();
  await ended;
}

async function daemon(home: string): Promise<void> {
  const hosted = await hostCore({ dataDir: home });
  process.stderr.write(`nestbox: core running for ${home} (pid ${process.pid}); Ctrl+C stops it, VMs keep running\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await hosted.close();
}

/** The built renderer: next to the bundle in a checkout (out/node → out/renderer). */
function webRoot(): string {
  return process.env['NESTBOX_WEB_ROOT'] ?? path.resolve(__dirname, '..', 'renderer');
}

/**
 * The access token survives restarts of `serve` (kept 0600 in the data directory), so open
 * pages reconnect by themselves after a restart; `--new-token` rotates it.
 */
function webToken(layout: DataLayout, rotate: boolean): string {
  const file = path.join(layout.dataDir, 'web-token');
  if (!rotate) {
    try {
      const t = fs.readFileSync(file, 'utf8').trim();
      if (/^[A-Za-z0-9_-]{32,}$/.test(t)) return t;
    } catch {
      // none yet
    }
  }
  const t = randomBytes(24).toString('base64url');
  fs.mkdirSync(layout.dataDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(`${file}.tmp`, `${t}\n`, { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
  return t;
}

async function serve(home: string, host: string, port: number, rotate = false): Promise<void> {
  const layout = new DataLayout(home);
  // Join a running core if there is one, else host it here.
  let hosted: HostedCore | null = null;
  let onClient: (t: Transport) => void;
  let existing: Transport | null = null;
  try {
    existing = fs.existsSync(layout.coreSocket) ? await connectUnix(layout.coreSocket) : null;
  } catch {
    existing = null;
  }
  if (existing) {
    existing.close();
    onClient = (t) => {
      connectUnix(layout.coreSocket).then(
        (core) => bridgeTransports(t, core),
        () => t.close(),
      );
    };
  } else {
    hosted = await hostCore({ dataDir: home });
    onClient = (t) => hosted!.serve(t);
  }
  // The core decides whether an upload may go (nothing uses it) and deletes it: in-process when
  // hosted here, else over the running core's socket.
  const discardUpload = async (file: string): Promise<void> => {
    if (hosted) {
      const c = hosted.client();
      try {
        await c.call('media.discardUpload', { path: file });
      } finally {
        c.close();
      }
      return;
    }
    const conn = await connectOrHost({ dataDir: home, hostIfNone: false });
    try {
      await conn.client.call('media.discardUpload', { path: file });
    } finally {
      await conn.close();
    }
  };
  const web = await startWebServer({ host, port, staticDir: webRoot(), onClient, uploadDir: layout.mediaDir, discardUpload, token: webToken(layout, rotate) });
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') {
    process.stderr.write(`nestbox: warning: serving on ${host}: anyone who can reach it and has the URL controls your VMs\n`);
  }
  process.stdout.write(`Nestbox web mode: ${web.url}\n`);
  process.stderr.write(`${hosted ? 'hosting the core' : 'connected to the running core'} for ${home}; Ctrl+C stops serving (VMs keep running)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await web.close();
  await hosted?.close();
}

export async function main(argv: readonly string[]): Promise<number> {
  const { values: o, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      home: { type: 'string' },
      json: { type: 'boolean' },
      'os-type': { type: 'string' },
      memory: { type: 'string' },
      cpus: { type: 'string' },
      'disk-size': { type: 'string' },
      disk: { type: 'string' },
      'no-disk': { type: 'boolean' },
      iso: { type: 'string' },
      firmware: { type: 'string' },
      nic: { type: 'string' },
      name: { type: 'string' },
      description: { type: 'string' },
      timeout: { type: 'string' },
      'keep-files': { type: 'boolean' },
      limit: { type: 'string' },
      port: { type: 'string' },
      reset: { type: 'boolean' },
      'new-token': { type: 'boolean' },
      host: { type: 'string' },
      size: { type: 'string' },
      format: { type: 'string' },
      subformat: { type: 'string' },
      preallocation: { type: 'string' },
      shrink: { type: 'boolean' },
      'no-repair': { type: 'boolean' },
      'delete-file': { type: 'boolean' },
      'in-place': { type: 'boolean' },
      bus: { type: 'string' },
      'read-only': { type: 'boolean' },
      mode: { type: 'string' },
      model: { type: 'string' },
      mac: { type: 'string' },
      bridge: { type: 'string' },
      via: { type: 'string' },
      tap: { type: 'string' },
      network: { type: 'string' },
      'nat-net': { type: 'string' },
      restrict: { type: 'string' },
      user: { type: 'string' },
      'cpu-shares': { type: 'string' },
      'cpu-limit': { type: 'string' },
      pin: { type: 'string' },
      'mem-max': { type: 'string' },
      balloon: { type: 'string' },
      'mem-merge': { type: 'string' },
      sockets: { type: 'string' },
      cores: { type: 'string' },
      threads: { type: 'string' },
      since: { type: 'string' },
      follow: { type: 'boolean' },
      snapshot: { type: 'string' },
      linked: { type: 'boolean' },
      'keep-macs': { type: 'boolean' },
      branch: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      'auto-snapshots': { type: 'string' },
      'peer-uri': { type: 'string' },
      'migrate-addr': { type: 'string' },
      uri: { type: 'string' },
      to: { type: 'string' },
      offline: { type: 'boolean' },
      'copy-storage': { type: 'boolean' },
      unsafe: { type: 'boolean' },
      'max-downtime': { type: 'string' },
      bandwidth: { type: 'string' },
    },
  });
  const [cmd, ...args] = positionals;
  if (o.help || !cmd || cmd === 'help') {
    out(USAGE);
    return cmd || o.help ? 0 : 2;
  }
  const home = o.home ? path.resolve(o.home) : defaultDataDir();
  const need = (n: number, usage: string) => {
    if (args.length !== n) throw new UsageError(`usage: nestbox ${usage}`);
  };

  if (cmd === 'ostypes') {
    out(table([['ID', 'NAME', 'MEMORY', 'DISK', 'FIRMWARE', 'NIC'], ...OS_TYPES.map((t) => [t.id, t.label, `${t.preset.memoryMiB} MiB`, `${t.preset.diskGiB} GiB`, t.preset.firmware, t.preset.nicModel])]));
    return 0;
  }
  if (cmd === 'daemon') {
    await daemon(home);
    return 0;
  }
  if (cmd === 'serve') {
    await serve(home, o.host ?? '127.0.0.1', intOpt(o.port, '--port') ?? 8490, o['new-token'] === true);
    return 0;
  }

  const known = ['list', 'create', 'info', 'modify', 'start', 'pause', 'resume', 'reset', 'shutdown', 'poweroff', 'savestate', 'discardstate', 'delete', 'serial', 'screenshot', 'log', 'host', 'setting', 'snapshot', 'portforward', 'link', 'media', 'disk', 'import', 'export', 'attach', 'detach', 'jobs', 'nic', 'network', 'stats', 'balloon', 'clone', 'convert-disk', 'cancel', 'migrate'];
  if (!known.includes(cmd)) throw new UsageError(`unknown command '${cmd}' (see nestbox --help)`);

  const conn: CoreConnection = await connectOrHost({ dataDir: home });
  const c = conn.client;
  try {
    switch (cmd) {
      case 'list': {
        const vms: readonly VmSummary[] = await c.call('vms.list', o.host !== undefined ? { host: o.host, wait: true } : { wait: true });
        if (o.json) out(JSON.stringify(vms, null, 2));
        else if (vms.length === 0) out(o.host !== undefined ? `No VMs on '${o.host}'.` : 'No VMs yet. Create one with: nestbox create NAME --iso PATH');
        else out(table([['NAME', 'STATE', 'OS TYPE', 'MEMORY', 'CPUS', 'UUID'], ...vmRows(vms)]));
        return 0;
      }
      case 'migrate':
        return await migrateCommand(c, args, o);
      case 'host': {
        if (args.length > 0) return await hostCommand(c, args[0]!, args.slice(1), o);
        const h = await c.call('host.info', {});
        if (o.json) out(JSON.stringify(h, null, 2));
        else {
          out(table([
            ['Nestbox:', h.nestboxVersion],
            ['Data directory:', h.dataDir],
            ['QEMU:', h.qemu ? `${h.qemu.version} (${h.qemu.binary})` : 'not found'],
            ['Accelerator:', `${h.accelChoice} → ${h.accelEffective ?? 'none'}`],
            ...h.accelerators.map((a) => [`  ${a.name}:`, a.usable ? 'usable' : `not usable: ${a.reason ?? ''}`]),
            ['UEFI firmware:', h.firmware.uefi ?? 'not found'],
            ['Host memory:', `${h.memoryMiB} MiB`],
            ['Host CPUs:', String(h.cpus)],
            ...(h.ksm ? [['Page sharing (KSM):', h.ksm.available ? `${h.ksm.running ? 'on' : 'off'}, ${h.ksm.pagesSharing} pages sharing (saves ~${formatBytes(h.ksm.savedBytes)})${h.ksm.reason ? ` — ${h.ksm.reason}` : ''}` : (h.ksm.reason ?? 'not available')]] : []),
            ...(h.cgroups ? [['Resource limits:', `cgroup ${h.cgroups.version}`], ['  cpu:', h.cgroups.cpu], ['  cpuset:', h.cgroups.cpuset], ['  memory:', h.cgroups.memory]] : []),
          ]));
          if (h.accelNote) out(`Note: ${h.accelNote}`);
        }
        return 0;
      }
      case 'create': {
        need(1, 'create NAME [options]');
        if (o.disk && o['disk-size']) throw new UsageError('give either --disk or --disk-size, not both');
        if (o.firmware && o.firmware !== 'bios' && o.firmware !== 'uefi') throw new UsageError('--firmware must be bios or uefi');
        const nicArg = o.nic ? /^(nat|none)$|^(internal|bridged):(.+)$/.exec(o.nic) : null;
        if (o.nic && !nicArg) throw new UsageError('--nic must be nat, none, internal:NAME or bridged:BRIDGE');
        const spec: CreateVmSpec = {
          name: args[0]!,
          ...(o['os-type'] ? { osType: o['os-type'] } : {}),
          ...(o.memory ? { memoryMiB: intOpt(o.memory, '--memory')! } : {}),
          ...(o.cpus ? { cpus: intOpt(o.cpus, '--cpus')! } : {}),
          ...(o['disk-size'] ? { diskSize: o['disk-size'] } : {}),
          ...(o.disk ? { disk: path.resolve(o.disk) } : {}),
          ...(o['no-disk'] ? { noDisk: true } : {}),
          ...(o.iso ? { iso: path.resolve(o.iso) } : {}),
          ...(o.firmware ? { firmware: o.firmware as 'bios' | 'uefi' } : {}),
          ...(nicArg ? { nic: (nicArg[1] ?? nicArg[2]) as 'nat' | 'none' | 'internal' | 'bridged' } : {}),
          ...(nicArg?.[2] === 'internal' ? { nicNetwork: nicArg[3]! } : {}),
          ...(nicArg?.[2] === 'bridged' ? { nicBridge: nicArg[3]! } : {}),
          ...(o.description ? { description: o.description } : {}),
          ...(o['auto-snapshots'] !== undefined ? { autoSnapshots: intOpt(o['auto-snapshots'], '--auto-snapshots')! } : {}),
        };
        const r = await c.call('vms.create', spec);
        warn(r);
        if (o.json) out(JSON.stringify(r.vm, null, 2));
        else out(`Created '${r.vm.name}' (${r.vm.uuid}) in ${r.vm.dir}`);
        return 0;
      }
      case 'info': {
        need(1, 'info NAME [--json]');
        const vm = await c.call('vms.info', { ref: args[0]! });
        if (o.json) out(JSON.stringify(vm, null, 2));
        else printInfo(vm);
        return 0;
      }
      case 'modify': {
        need(1, 'modify NAME [--memory MiB] [--cpus N] [--iso PATH|none] [--name NEW] [--description TEXT] [resource options]');
        const resources = resourceChanges(o);
        const changes: ModifyVmSpec = {
          ...(resources ? { resources } : {}),
          ...(o.memory ? { memoryMiB: intOpt(o.memory, '--memory')! } : {}),
          ...(o.cpus ? { cpus: intOpt(o.cpus, '--cpus')! } : {}),
          ...(o.iso !== undefined ? { iso: o.iso === 'none' || o.iso === '' ? null : path.resolve(o.iso) } : {}),
          ...(o.name ? { name: o.name } : {}),
          ...(o.description !== undefined ? { description: o.description } : {}),
          ...(o['auto-snapshots'] !== undefined ? { autoSnapshots: intOpt(o['auto-snapshots'], '--auto-snapshots')! } : {}),
        };
        if (Object.keys(changes).length === 0) throw new UsageError('nothing to change (see nestbox --help)');
        const r = await c.call('vms.modify', { ref: args[0]!, changes });
        warn(r);
        out(`Modified '${r.vm.name}'`);
        return 0;
      }
      case 'start':
      case 'pause':
      case 'resume':
      case 'reset':
      case 'poweroff':
      case 'savestate':
      case 'discardstate': {
        need(1, `${cmd} NAME`);
        const method = ({
          start: 'vms.start',
          pause: 'vms.pause',
          resume: 'vms.resume',
          reset: 'vms.reset',
          poweroff: 'vms.powerOff',
          savestate: 'vms.saveState',
          discardstate: 'vms.discardState',
        } as const)[cmd];
        const r = await c.call(method, { ref: args[0]! });
        warn(r);
        out(`'${r.vm.name}' is ${describeState(r.vm.state)}`);
        return 0;
      }
      case 'shutdown': {
        need(1, 'shutdown NAME [--timeout S]');
        const timeoutS = intOpt(o.timeout, '--timeout') ?? 60;
        const r = await c.call('vms.shutdown', { ref: args[0]!, timeoutS });
        out(`'${r.vm.name}' is ${describeState(r.vm.state)}`);
        return 0;
      }
      case 'delete': {
        need(1, 'delete NAME [--keep-files]');
        const r = await c.call('vms.delete', { ref: args[0]!, keepFiles: o['keep-files'] === true });
        out(r.removedDir ? `Deleted '${args[0]}' and its files` : `Deleted '${args[0]}' (files kept)`);
        return 0;
      }
      case 'clone': {
        need(2, 'clone SRC NEW [--snapshot SNAP] [--linked] [--keep-macs]');
        const r = await c.call('vms.clone', { ref: args[0]!, name: args[1]!, ...(o.snapshot ? { snapshot: o.snapshot } : {}), linked: o.linked === true, keepMacs: o['keep-macs'] === true });
        warn(r);
        if (o.json) out(JSON.stringify(r.vm, null, 2));
        else out(`Created '${r.vm.name}' (${r.vm.uuid}), a ${o.linked ? 'linked' : 'full'} clone of ${o.snapshot ? `snapshot '${o.snapshot}' of ` : ''}'${args[0]}'`);
        return 0;
      }
      case 'cancel': {
        need(1, 'cancel NAME');
        const r = await c.call('vms.cancel', { ref: args[0]! });
        out(r.cancelled ? `Stopping the clone, conversion or snapshot of '${args[0]}'` : `'${args[0]}' has no clone, conversion or snapshot that can be stopped`);
        return 0;
      }
      case 'convert-disk': {
        if (args.length < 1 || args.length > 2) throw new UsageError('usage: nestbox convert-disk NAME [DISK]');
        const r = await c.call('vms.convertDisk', { ref: args[0]!, ...(args[1] ? { disk: args[1] } : {}) });
        warn(r);
        out(`Converted; '${r.vm.name}' now uses ${r.vm.config.disks.map((d) => `${d.file} (${d.format})`).join(', ')}`);
        return 0;
      }
      case 'serial':
        need(1, 'serial NAME');
        await serialConsole(c, args[0]!);
        return 0;
      case 'screenshot': {
        need(2, 'screenshot NAME FILE.png');
        const shot = await c.call('vms.screenshot', { ref: args[0]! });
        fs.writeFileSync(args[1]!, Buffer.from(shot.pngBase64, 'base64'));
        out(`Saved ${shot.width}x${shot.height} screenshot to ${args[1]}`);
        return 0;
      }
      case 'portforward': {
        const [vm, action, arg] = args;
        if (!vm || !action) throw new UsageError('usage: nestbox portforward NAME list|add RULE|remove RULE-NAME');
        if (action === 'list') {
          const info = await c.call('vms.info', { ref: vm });
          const rules = info.config.nics.flatMap((n) => n.forwards.map((f) => ({ nic: n.id, ...f })));
          if (o.json) out(JSON.stringify(rules, null, 2));
          else if (rules.length === 0) out(`'${info.name}' has no port forwarding rules`);
          else {
            out(table([['NAME', 'NIC', 'PROTO', 'HOST', 'GUEST'], ...rules.map((r) => [r.name, r.nic, r.protocol, `${r.hostAddress}:${r.hostPort}`, `${r.guestAddress || '(guest)'}:${r.guestPort}`])]));
            for (const r of rules.filter((x) => x.guestPort === 22 && x.protocol === 'tcp')) {
              out(`ssh: ${sshCommand(r, 'USER')}`);
            }
          }
          return 0;
        }
        if (action === 'add') {
          const parts = (arg ?? '').split(',');
          if (parts.length !== 6) throw new UsageError('a rule is name,tcp|udp,[host-ip],host-port,[guest-ip],guest-port, e.g. ssh,tcp,,2222,,22');
          const [name, proto, hostIp, hostPort, guestIp, guestPort] = parts as [string, string, string, string, string, string];
          if (proto !== 'tcp' && proto !== 'udp') throw new UsageError('the protocol must be tcp or udp');
          const r = await c.call('network.addForward', {
            ref: vm,
            rule: {
              ...(name ? { name } : {}),
              protocol: proto,
              ...(hostIp ? { hostAddress: hostIp } : {}),
              hostPort: intOpt(hostPort, 'the host port')!,
              ...(guestIp ? { guestAddress: guestIp } : {}),
              guestPort: intOpt(guestPort, 'the guest port')!,
            },
          });
          out(`Forwarding ${proto} ${hostIp || '127.0.0.1'}:${hostPort} to port ${guestPort} of '${r.vm.name}'`);
          return 0;
        }
        if (action === 'remove') {
          if (!arg) throw new UsageError('usage: nestbox portforward NAME remove RULE-NAME');
          await c.call('network.removeForward', { ref: vm, name: arg });
          out(`Removed rule '${arg}'`);
          return 0;
        }
        if (action === 'ssh') {
          const info = await c.call('vms.info', { ref: vm });
          const rules = info.config.nics.flatMap((n) => n.forwards).filter((f) => f.protocol === 'tcp' && f.guestPort === 22 && (!arg || f.name === arg));
          if (rules.length === 0) {
            throw new NestboxError('NOT_FOUND', arg ? `'${info.name}' has no TCP rule '${arg}' to guest port 22` : `'${info.name}' has no rule to guest port 22; add one: nestbox portforward ${info.name} add ssh,tcp,,2222,,22`);
          }
          out(sshCommand(rules[0]!, o.user ?? 'user'));
          return 0;
        }
        throw new UsageError(`unknown portforward action '${action}' (list, add, remove, ssh)`);
      }
      case 'link': {
        const [vm, a, b] = args;
        const nic = b === undefined ? undefined : a;
        const onOff = b ?? a;
        if (!vm || (onOff !== 'on' && onOff !== 'off')) throw new UsageError('usage: nestbox link NAME [NIC] on|off');
        await c.call('network.setLink', { ref: vm, ...(nic ? { nic } : {}), connected: onOff === 'on' });
        out(`Cable ${onOff === 'on' ? 'connected' : 'disconnected'}`);
        return 0;
      }
      case 'network': {
        if (args[0] !== 'list' || args.length !== 1) throw new UsageError('usage: nestbox network list [--json]');
        const net = await c.call('network.host', {});
        if (o.json) {
          out(JSON.stringify(net, null, 2));
          return 0;
        }
        out('Bridges:');
        if (net.bridges.length === 0) out('  none on this host');
        else {
          out(table([
            ['  NAME', 'STATE', 'MEMBERS', 'VMS', 'QEMU-BRIDGE-HELPER'],
            ...net.bridges.map((b) => [`  ${b.name}`, b.state, b.members.join(',') || '-', b.vms.map((v) => `${v.name} (${v.nic})`).join(', ') || '-', b.helper.ok ? 'allowed' : `not allowed: ${b.helper.reason ?? ''}`]),
          ]));
          for (const b of net.bridges.filter((x) => !x.helper.ok && x.helper.fix)) out(`  to allow ${b.name}: ${b.helper.fix!.join(' ; ')}`);
        }
        for (const m of net.missingBridges) out(`  ${m}: named by a VM but not on this host`);
        out(`qemu-bridge-helper: ${net.helper.path ?? 'not installed'}${net.helper.permitted ? '' : ` (${net.helper.reason ?? 'not permitted'})`}`);
        out('');
        out('Internal networks:');
        if (net.internalNetworks.length === 0) out('  none (give an adapter --mode internal --network NAME)');
        else out(table([['  NAME', 'VMS'], ...net.internalNetworks.map((n) => [`  ${n.name}`, n.vms.map((v) => `${v.name} (${v.nic})${v.connected ? ' *' : ''}`).join(', ')])]));
        if (net.internalNetworks.some((n) => n.vms.some((v) => v.connected))) out("  * connected to this core's switch now");
        return 0;
      }
      case 'nic': {
        const [vm, action, n] = args;
        if (!vm || !action) throw new UsageError('usage: nestbox nic NAME list|set N|add|remove N [options]');
        const spec = (): NicSpec => {
          if (o.restrict !== undefined && o.restrict !== 'on' && o.restrict !== 'off') throw new UsageError('--restrict must be on or off');
          return {
            ...(o.mode !== undefined ? { mode: o.mode as NicSpec['mode'] } : {}),
            ...(o.model !== undefined ? { model: o.model as NicSpec['model'] } : {}),
            ...(o.mac !== undefined ? { mac: o.mac } : {}),
            ...(o.bridge !== undefined ? { bridge: o.bridge } : {}),
            ...(o.via !== undefined ? { bridgeVia: o.via as NicSpec['bridgeVia'] } : {}),
            ...(o.tap !== undefined ? { tap: o.tap } : {}),
            ...(o.network !== undefined ? { network: o.network } : {}),
            ...(o['nat-net'] !== undefined ? { natNetwork: o['nat-net'] } : {}),
            ...(o.restrict !== undefined ? { restrict: o.restrict === 'on' } : {}),
          };
        };
        switch (action) {
          case 'list': {
            const info = await c.call('vms.info', { ref: vm });
            if (o.json) out(JSON.stringify(info.config.nics, null, 2));
            else if (info.config.nics.length === 0) out(`'${info.name}' has no network adapters; add one: nestbox nic ${info.name} add`);
            else out(table([['#', 'ID', 'MODE', 'MODEL', 'MAC', 'ATTACHED TO'], ...info.config.nics.map((x, i) => [String(i + 1), x.id, x.mode, x.model, x.mac, nicTarget(x)])]));
            return 0;
          }
          case 'set': {
            if (!n) throw new UsageError('usage: nestbox nic NAME set N [options]');
            const changes = spec();
            if (Object.keys(changes).length === 0) throw new UsageError('nothing to change (see nestbox --help)');
            const r = await c.call('network.setNic', { ref: vm, nic: n, changes });
            const x = r.vm.config.nics.find((k) => k.id === n) ?? r.vm.config.nics[Number(n) - 1];
            out(x ? `Adapter ${x.id} of '${r.vm.name}': ${x.mode}, ${x.model}, ${x.mac}${nicTarget(x) !== '-' ? `, ${nicTarget(x)}` : ''}` : `Modified '${r.vm.name}'`);
            return 0;
          }
          case 'add': {
            const r = await c.call('network.addNic', { ref: vm, spec: spec() });
            const x = r.vm.config.nics[r.vm.config.nics.length - 1]!;
            out(`Added adapter ${x.id} to '${r.vm.name}': ${x.mode}, ${x.model}, ${x.mac}`);
            return 0;
          }
          case 'remove': {
            if (!n) throw new UsageError('usage: nestbox nic NAME remove N');
            const r = await c.call('network.removeNic', { ref: vm, nic: n });
            out(`Removed adapter ${n} from '${r.vm.name}'`);
            return 0;
          }
          default:
            throw new UsageError(`unknown nic action '${action}' (list, set, add, remove)`);
        }
      }
      case 'snapshot': {
        const [vm, action, snap] = args;
        if (!vm || !action) throw new UsageError('usage: nestbox snapshot NAME list|take|restore|delete [SNAP]');
        switch (action) {
          case 'list': {
            const l = await c.call('snapshots.list', { ref: vm });
            if (o.json) out(JSON.stringify(l, null, 2));
            else if (l.snapshots.length === 0) out(`'${vm}' has no snapshots`);
            else {
              const print = (parent: string | null, depth: number) => {
                for (const s of l.snapshots.filter((x) => x.parentId === parent)) {
                  out(`${'  '.repeat(depth)}${s.id === l.current ? '* ' : '- '}${s.name}  (${s.createdAt}${s.withRam ? ', with RAM' : ''}${s.auto ? ', automatic' : ''})  ${s.id}`);
                  print(s.id, depth + 1);
                }
              };
              print(null, 0);
            }
            return 0;
          }
          case 'take': {
            if (!snap) throw new UsageError('usage: nestbox snapshot NAME take SNAP [--description TEXT]');
            const s = await takeSnapshot(c, vm, snap, o.description);
            out(`Took snapshot '${s.name}' (${s.id})${s.withRam ? ' with RAM' : ''}`);
            return 0;
          }
          case 'restore': {
            if (!snap) throw new UsageError('usage: nestbox snapshot NAME restore SNAP');
            const r = await c.call('snapshots.restore', { ref: vm, id: snap });
            out(`Restored '${snap}'; '${r.vm.name}' is ${describeState(r.vm.state)}`);
            return 0;
          }
          case 'delete': {
            if (!snap) throw new UsageError('usage: nestbox snapshot NAME delete SNAP [--branch] [--dry-run]');
            const branch = o.branch === true;
            if (branch || o['dry-run']) {
              const p = await c.call('snapshots.previewDelete', { ref: vm, id: snap, branch });
              if (o.json && o['dry-run']) {
                out(JSON.stringify(p, null, 2));
                return 0;
              }
              const names = p.snapshots.map((x) => `'${x.name}'`).join(', ');
              out(`${o['dry-run'] ? 'Would delete' : 'Deleting'} ${p.snapshots.length} snapshot${p.snapshots.length > 1 ? 's' : ''}: ${names}; frees about ${formatMiB(p.approxBytes)} (${formatMiB(p.ramBytes)} of it saved memory)`);
              if (o['dry-run']) return 0;
            }
            await c.call(branch ? 'snapshots.deleteBranch' : 'snapshots.delete', { ref: vm, id: snap });
            out(branch ? `Deleted the branch of '${snap}'` : `Deleted snapshot '${snap}'`);
            return 0;
          }
          default:
            throw new UsageError(`unknown snapshot action '${action}' (list, take, restore, delete)`);
        }
      }
      case 'disk':
      case 'media': {
        const [action, ...rest] = args;
        const one = (usage: string) => {
          if (rest.length !== 1) throw new UsageError(`usage: nestbox media ${usage}`);
          return path.resolve(rest[0]!);
        };
        switch (action) {
          case 'list': {
            const list = await c.call('media.registry', {});
            if (o.json) out(JSON.stringify(list, null, 2));
            else printMedia(list);
            return 0;
          }
          case 'info': {
            const m = await c.call('media.info', { path: one('info IMAGE [--json]') });
            if (o.json) out(JSON.stringify(m, null, 2));
            else printMedia([m]);
            return 0;
          }
          case 'create': {
            const file = one('create FILE --size SIZE [--format qcow2|raw] [--preallocation MODE]');
            if (!o.size) throw new UsageError('media create needs --size (e.g. --size 20G)');
            const format = o.format ?? 'qcow2';
            if (format !== 'qcow2' && format !== 'raw') throw new UsageError('--format must be qcow2 or raw');
            const pre = o.preallocation ?? 'off';
            if (!['off', 'metadata', 'falloc', 'full'].includes(pre)) throw new UsageError('--preallocation must be off, metadata, falloc or full');
            const j = await followJob(c, () => c.call('media.create', { path: file, format, size: o.size!, preallocation: pre as 'off' }));
            const m = j.result as MediumInfo;
            out(`Created ${m.path} (${m.format}, ${formatBytes(m.virtualSize)})`);
            return 0;
          }
          case 'convert': {
            if (rest.length !== 2) throw new UsageError('usage: nestbox media convert SRC DST [--format F] [--subformat S]');
            const target = path.resolve(rest[1]!);
            const format = o.format ?? formatFromName(target);
            if (!format) throw new UsageError(`cannot tell the format from '${rest[1]}'; pass --format qcow2|raw|vdi|vmdk|vpc|vhdx`);
            const j = await followJob(c, () =>
              c.call('media.convert', {
                source: path.resolve(rest[0]!),
                target,
                format: format as 'qcow2',
                ...(o.subformat ? { subformat: o.subformat as 'streamOptimized' } : {}),
              }),
            );
            out(`Converted to ${(j.result as MediumInfo).path} (${format})`);
            return 0;
          }
          case 'resize': {
            if (rest.length !== 2) throw new UsageError('usage: nestbox media resize IMAGE SIZE [--shrink]');
            const j = await followJob(c, () => c.call('media.resize', { path: path.resolve(rest[0]!), size: rest[1]!, shrink: o.shrink === true }));
            out(`Resized ${(j.result as MediumInfo).path} to ${formatBytes((j.result as MediumInfo).virtualSize)}`);
            return 0;
          }
          case 'compact': {
            const file = one('compact IMAGE');
            const j = await followJob(c, () => c.call('media.compact', { path: file }));
            out(`Compacted ${file}: it now takes ${formatBytes((j.result as MediumInfo).actualSize)}`);
            return 0;
          }
          case 'check': {
            const file = one('check IMAGE [--no-repair]');
            const j = await followJob(c, () => c.call('media.check', { path: file, repair: o['no-repair'] !== true }));
            const r = j.result as { corruptions: number; leaks: number; leaksFixed: number };
            if (o.json) out(JSON.stringify(r, null, 2));
            else out(r.corruptions ? `${file}: ${r.corruptions} corruption(s) found` : r.leaks ? `${file}: ${r.leaks} leaked cluster(s), ${r.leaksFixed} repaired` : `${file}: no errors`);
            return r.corruptions ? 1 : 0;
          }
          case 'delete': {
            const file = one('delete IMAGE [--delete-file]');
            await c.call('media.delete', { path: file, deleteFile: o['delete-file'] === true });
            out(o['delete-file'] ? `Deleted ${file}` : `Removed ${file} from the registry (the file is kept)`);
            return 0;
          }
          default:
            throw new UsageError(`unknown media action '${action ?? ''}' (list, info, create, convert, resize, compact, check, delete)`);
        }
      }
      case 'import': {
        need(1, 'import FILE [--name N] [--in-place] [--os-type T] [--memory MiB] [--cpus N]');
        const j = await followJob(c, () =>
          c.call('vms.import', {
            file: path.resolve(args[0]!),
            ...(o.name ? { name: o.name } : {}),
            mode: o['in-place'] ? 'inPlace' : 'copy',
            ...(o['os-type'] ? { osType: o['os-type'] } : {}),
            ...(o.memory ? { memoryMiB: intOpt(o.memory, '--memory')! } : {}),
            ...(o.cpus ? { cpus: intOpt(o.cpus, '--cpus')! } : {}),
            ...(o.bus ? { diskBus: o.bus as 'virtio' } : {}),
          }),
        );
        const vm = j.result as VmInfo;
        if (o.json) out(JSON.stringify(vm, null, 2));
        else out(`Imported '${vm.name}' (${vm.uuid}) in ${vm.dir}`);
        return 0;
      }
      case 'export': {
        need(2, 'export NAME FILE.ova');
        const j = await followJob(c, () => c.call('vms.export', { ref: args[0]!, file: path.resolve(args[1]!) }));
        out(`Exported '${args[0]}' to ${(j.result as { file: string }).file}`);
        return 0;
      }
      case 'attach': {
        need(2, 'attach NAME IMAGE [--bus virtio|sata|ide|nvme] [--read-only]');
        const r = await c.call('vms.attachDisk', { ref: args[0]!, path: path.resolve(args[1]!), ...(o.bus ? { bus: o.bus as 'virtio' } : {}), readOnly: o['read-only'] === true });
        const d = r.vm.config.disks[r.vm.config.disks.length - 1]!;
        out(`Attached ${d.file} to '${r.vm.name}' as ${d.id} (${d.format}, ${d.bus})`);
        return 0;
      }
      case 'detach': {
        need(2, 'detach NAME DISK');
        await c.call('vms.detachDisk', { ref: args[0]!, disk: args[1]! });
        out(`Detached ${args[1]} from '${args[0]}' (the file is kept)`);
        return 0;
      }
      case 'jobs': {
        if (args[0] === 'cancel') {
          if (args.length !== 2) throw new UsageError('usage: nestbox jobs cancel ID');
          const j = await c.call('jobs.cancel', { id: args[1]! });
          out(`${j.title}: ${j.state}`);
          return 0;
        }
        const jobs = await c.call('jobs.list', {});
        if (o.json) out(JSON.stringify(jobs, null, 2));
        else if (jobs.length === 0) out('No jobs.');
        else out(table([['ID', 'STATE', 'PERCENT', 'TITLE'], ...jobs.map((j) => [j.id, j.state, `${j.percent}%`, j.title + (j.error ? ` (${j.error.message})` : '')])]));
        return 0;
      }
      case 'setting': {
        if (args.length < 1 || args.length > 2) throw new UsageError('usage: nestbox setting KEY [VALUE | --reset]');
        const key = args[0]!;
        if (o.reset) await c.call('settings.set', { key, value: null });
        else if (args[1] !== undefined) await c.call('settings.set', { key, value: args[1] });
        const v = await c.call('settings.get', { key });
        out(`${key} = ${v ?? '(default)'}`);
        return 0;
      }
      case 'balloon': {
        need(2, 'balloon NAME SIZE   (e.g. 512M, 1G, or MiB)');
        const spec = args[1]!;
        let mib: number;
        try {
          mib = /^\d+$/.test(spec) ? Number(spec) : Math.floor(parseSize(spec) / (1024 * 1024));
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        const r = await c.call('vms.balloon', { ref: args[0]!, targetMiB: mib });
        out(`The balloon of '${r.vm.name}' now leaves the guest ${mib} MiB of its ${r.vm.memoryMiB} MiB`);
        return 0;
      }
      case 'stats': {
        need(1, 'stats NAME [--json] [--since 10m|1h|ISO] [--follow]');
        const vm = await c.call('vms.info', { ref: args[0]! });
        if (o.follow) {
          await followStats(c, vm, o.json === true);
          return 0;
        }
        let since: number;
        try {
          since = parseSince(o.since ?? '1h', Date.now());
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        const rows = await c.call('stats.history', { ref: vm.uuid, since });
        if (o.json) out(JSON.stringify(rows, null, 2));
        else if (rows.length === 0) out(`No history for '${vm.name}' since ${new Date(since).toISOString()} (minutes are recorded while it runs)`);
        else out(historyTable(rows));
        return 0;
      }
      case 'log': {
        if (args.length > 1) throw new UsageError('usage: nestbox log [NAME] [--limit N]');
        const entries = await c.call('events.recent', { ...(args[0] ? { ref: args[0] } : {}), limit: intOpt(o.limit, '--limit') ?? 50 });
        if (o.json) out(JSON.stringify(entries, null, 2));
        else for (const e of entries) out(`${e.ts}  ${e.level.padEnd(7)}  ${e.message}`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command '${cmd}'`);
    }
  } finally {
    await conn.close();
  }
}

export function run(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof UsageError || err instanceof HostUsageError || (err as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')) {
        process.stderr.write(`nestbox: ${(err as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      const e = NestboxError.from(err);
      process.stderr.write(`nestbox: ${e.message}\n`);
      if (process.env['NESTBOX_DEBUG'] && e.detail) process.stderr.write(`${e.detail}\n`);
      process.exitCode = 1;
    },
  );
}
