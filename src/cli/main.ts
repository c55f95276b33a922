/**
 * `nestbox`: the command line, a client of the core's API. It connects to a running core
 * (desktop app, `nestbox daemon`, `nestbox serve`) or hosts one in-process for the length of
 * the command. VMs keep running after it exits. Errors: one line on stderr, non-zero exit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { CreateVmSpec, ModifyVmSpec, OpResult, VmInfo, VmSummary } from '../core/api/contract';
import { NestboxError } from '../core/api/errors';
import type { RpcClient } from '../core/api/rpc';
import { describeState } from '../core/domain/lifecycle';
import { OS_TYPES } from '../core/domain/ostypes';
import { bridgeTransports, type Transport } from '../core/api/rpc';
import { connectOrHost, hostCore, type CoreConnection, type HostedCore } from '../core/server/host';
import { connectUnix } from '../core/server/socket';
import { startWebServer } from '../core/server/web';
import { DataLayout, defaultDataDir } from '../core/store/paths';

const USAGE = `Usage: nestbox <command> [options]

VMs:
  list [--json]                         list VMs and their state
  create NAME [--os-type T] [--memory MiB] [--cpus N] [--disk-size SIZE | --disk PATH | --no-disk]
              [--iso PATH] [--firmware bios|uefi] [--nic nat|none] [--auto-snapshots KEEP] [--json]
  info NAME [--json]                    show a VM's configuration and state
  modify NAME [--memory MiB] [--cpus N] [--iso PATH|none] [--name NEW] [--description TEXT]
              [--auto-snapshots KEEP]   snapshot before each start, keep the KEEP newest (0: off)
  clone SRC NEW [--snapshot SNAP] [--linked]   full copy (or linked clone) of a snapshot or the current state
  convert-disk NAME [DISK]              convert a raw/VDI/VMDK disk to qcow2 so it can hold snapshots
  cancel NAME                           stop a clone or disk conversion of NAME that is still copying
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
  link NAME [NIC] on|off                plug or unplug a running VM's virtual network cable
  snapshot NAME list [--json]           the snapshot tree ('*' marks where the current state hangs)
  snapshot NAME take SNAP [--description TEXT]   live with RAM when running, disk only when off
  snapshot NAME restore SNAP
  snapshot NAME delete SNAP [--branch] [--dry-run]  --branch: with everything below it; --dry-run: only show what goes

Host:
  host [--json]                         QEMU, accelerators, firmware, memory, CPUs
  ostypes                               OS types and their presets
  setting KEY [VALUE | --reset]         show or change a setting (accel: auto, kvm, hvf, whpx, tcg)
  daemon                                host the core headless; other clients connect to it
  serve [--port P] [--host ADDR] [--new-token]   web mode: the desktop UI in a browser (prints a URL with a token)

Global options:
  --home DIR     data directory (default: $NESTBOX_HOME or the platform's app-data folder)
  -h, --help     this help

VMs are named by name or UUID.`;

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
    ['State', describeState(vm.state) + (vm.stateReason ? ` (${vm.stateReason})` : '')],
    ['OS type', c.osType],
    ['Memory', `${c.memoryMiB} MiB`],
    ['CPUs', String(c.cpus)],
    ['Firmware', c.firmware.toUpperCase()],
    ['Machine', c.machine],
    ...c.disks.map((d): [string, string] => [`Disk ${d.id}`, `${d.file} (${d.format}, ${d.bus})`]),
    ...c.cdroms.map((d): [string, string] => [`CD/DVD ${d.id}`, d.iso ?? 'empty']),
    ['Boot order', c.bootOrder.join(', ')],
    ...c.nics.map((n): [string, string] => [`NIC ${n.id}`, `${n.mode}, ${n.model}, ${n.mac}`]),
    ['Display', c.display.adapter],
    ['Serial', c.serial.enabled ? 'enabled' : 'disabled'],
    ['Folder', vm.dir],
  ];
  if (vm.runtime) lines.push(['QEMU', `pid ${vm.runtime.pid}, ${vm.runtime.accel}, since ${vm.runtime.startedAt}`]);
  if (vm.hasSavedState) lines.push(['Saved state', 'yes']);
  if (c.autoSnapshot && c.autoSnapshot.keep > 0) lines.push(['Auto snapshots', `before each start, keeping ${c.autoSnapshot.keep}`]);
  if (vm.linkedTo.length) lines.push(['Linked clone of', vm.linkedTo.join(', ')]);
  if (vm.linkedClones.length) lines.push(['Linked clones', `${vm.linkedClones.join(', ')} (they stand on its disks; it cannot be deleted before them)`]);
  if (c.description) lines.push(['Description', c.description]);
  out(table(lines.map(([k, v]) => [`${k}:`, v])));
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
  const web = await startWebServer({ host, port, staticDir: webRoot(), onClient, uploadDir: layout.mediaDir, token: webToken(layout, rotate) });
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
      snapshot: { type: 'string' },
      linked: { type: 'boolean' },
      branch: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      'auto-snapshots': { type: 'string' },
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

  const known = ['list', 'create', 'info', 'modify', 'start', 'pause', 'resume', 'reset', 'shutdown', 'poweroff', 'savestate', 'discardstate', 'delete', 'serial', 'screenshot', 'log', 'host', 'setting', 'snapshot', 'portforward', 'link', 'clone', 'convert-disk', 'cancel'];
  if (!known.includes(cmd)) throw new UsageError(`unknown command '${cmd}' (see nestbox --help)`);

  const conn: CoreConnection = await connectOrHost({ dataDir: home });
  const c = conn.client;
  try {
    switch (cmd) {
      case 'list': {
        const vms: readonly VmSummary[] = await c.call('vms.list', {});
        if (o.json) out(JSON.stringify(vms, null, 2));
        else if (vms.length === 0) out('No VMs yet. Create one with: nestbox create NAME --iso PATH');
        else out(table([['NAME', 'STATE', 'OS TYPE', 'MEMORY', 'CPUS', 'UUID'], ...vms.map((v) => [v.name, describeState(v.state), v.osType, `${v.memoryMiB} MiB`, String(v.cpus), v.uuid])]));
        return 0;
      }
      case 'host': {
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
          ]));
          if (h.accelNote) out(`Note: ${h.accelNote}`);
        }
        return 0;
      }
      case 'create': {
        need(1, 'create NAME [options]');
        if (o.disk && o['disk-size']) throw new UsageError('give either --disk or --disk-size, not both');
        if (o.firmware && o.firmware !== 'bios' && o.firmware !== 'uefi') throw new UsageError('--firmware must be bios or uefi');
        if (o.nic && o.nic !== 'nat' && o.nic !== 'none') throw new UsageError('--nic must be nat or none');
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
          ...(o.nic ? { nic: o.nic as 'nat' | 'none' } : {}),
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
        need(1, 'modify NAME [--memory MiB] [--cpus N] [--iso PATH|none] [--name NEW] [--description TEXT]');
        const changes: ModifyVmSpec = {
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
        need(2, 'clone SRC NEW [--snapshot SNAP] [--linked]');
        const r = await c.call('vms.clone', { ref: args[0]!, name: args[1]!, ...(o.snapshot ? { snapshot: o.snapshot } : {}), linked: o.linked === true });
        warn(r);
        if (o.json) out(JSON.stringify(r.vm, null, 2));
        else out(`Created '${r.vm.name}' (${r.vm.uuid}), a ${o.linked ? 'linked' : 'full'} clone of ${o.snapshot ? `snapshot '${o.snapshot}' of ` : ''}'${args[0]}'`);
        return 0;
      }
      case 'cancel': {
        need(1, 'cancel NAME');
        const r = await c.call('vms.cancel', { ref: args[0]! });
        out(r.cancelled ? `Stopping the disk copy of '${args[0]}'` : `'${args[0]}' has no clone or conversion running`);
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
              out(`ssh: ssh -p ${r.hostPort} USER@${r.hostAddress === '0.0.0.0' ? '127.0.0.1' : r.hostAddress}`);
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
        throw new UsageError(`unknown portforward action '${action}' (list, add, remove)`);
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
            const s = await c.call('snapshots.take', { ref: vm, name: snap, ...(o.description ? { description: o.description } : {}) });
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
      case 'setting': {
        if (args.length < 1 || args.length > 2) throw new UsageError('usage: nestbox setting KEY [VALUE | --reset]');
        const key = args[0]!;
        if (o.reset) await c.call('settings.set', { key, value: null });
        else if (args[1] !== undefined) await c.call('settings.set', { key, value: args[1] });
        const v = await c.call('settings.get', { key });
        out(`${key} = ${v ?? '(default)'}`);
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
      if (err instanceof UsageError || (err as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')) {
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
