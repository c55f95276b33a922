/**
 * `nestbox host add|list|remove|info|edit` and `nestbox migrate`: libvirt hosts from the
 * command line. Every command is a client of the core's API; nothing here talks to libvirt.
 */
import type { HostSpec, HostSummary, JobInfo, MigrateResult, MigrateSpec, VmSummary } from '../../core/api/contract';
import { NestboxError } from '../../core/api/errors';
import type { RpcClient } from '../../core/api/rpc';
import { describeState } from '../../core/domain/lifecycle';
import { formatBytes } from '../../core/domain/units';

export class HostUsageError extends Error {}

export type HostOpts = Readonly<Record<string, string | boolean | undefined>>;

export const HOST_USAGE = `Hosts (libvirt):
  host add NAME URI [--peer-uri URI] [--migrate-addr ADDR]
                                        add a libvirt host: qemu:///system, qemu+ssh://user@server[:port]/system (SSH keys or
                                        agent; never a password), qemu+tls://server/system, qemu+unix:///system?socket=PATH;
                                        --peer-uri: how the other hosts' daemons reach it for migration
  host list [--json]                    hosts with their status, libvirt/QEMU versions, CPUs and memory
  host info NAME [--json]               one host and its VMs
  host edit NAME [--name NEW] [--uri URI] [--peer-uri URI|none] [--migrate-addr ADDR|none]
  host remove NAME                      forget a host (nothing on the host is changed)
  list --host NAME|local                the VMs of one host (HOST:VM names them everywhere: nestbox start lab:web)
  migrate HOST:VM --to HOST2 [--offline] [--copy-storage] [--unsafe] [--max-downtime MS] [--bandwidth MIBPS]
                                        live migration between libvirt hosts, peer to peer; progress on stderr,
                                        Ctrl+C cancels (the VM keeps running where it was). --unsafe: the storage is
                                        shared but libvirt cannot tell (never needed with --copy-storage)`;

function out(s: string): void {
  process.stdout.write(`${s}\n`);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

function intOpt(v: string | boolean | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new HostUsageError(`${what} must be a whole number, got '${String(v)}'`);
  return Number(v);
}

function strOpt(o: HostOpts, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' ? v : undefined;
}

export function hostStatus(h: HostSummary): string {
  switch (h.status) {
    case 'connected':
      return 'connected';
    case 'connecting':
      return 'connecting';
    case 'unreachable':
      return `unreachable${h.reason ? `: ${h.reason}` : ''}`;
    default:
      return h.status;
  }
}

function hostRows(h: HostSummary): [string, string][] {
  return [
    ['Host:', h.name],
    ['URI:', h.uri],
    ['Status:', hostStatus(h)],
    ...(h.peerUri ? ([['Peer URI:', h.peerUri]] as [string, string][]) : []),
    ...(h.migrateAddr ? ([['Migration address:', h.migrateAddr]] as [string, string][]) : []),
    ...(h.libvirtVersion ? ([['libvirt:', h.libvirtVersion]] as [string, string][]) : []),
    ...(h.hypervisorVersion ? ([['QEMU:', h.hypervisorVersion]] as [string, string][]) : []),
    ...(h.hostname ? ([['Hostname:', h.hostname]] as [string, string][]) : []),
    ...(h.cpus !== undefined ? ([['CPUs:', `${h.cpus}${h.cpuModel ? ` (${h.cpuModel})` : ''}`]] as [string, string][]) : []),
    ...(h.memoryMiB !== undefined ? ([['Memory:', `${h.memoryMiB} MiB`]] as [string, string][]) : []),
    ['VMs:', String(h.vmCount)],
  ];
}

/** The rows of `nestbox list` for VMs that live on hosts (the HOST column). */
export function vmRows(vms: readonly VmSummary[]): string[][] {
  return vms.map((v) => [
    v.host ? `${v.host}:${v.name}` : v.name,
    v.unreachable ? `${v.unreachable} (last seen ${describeState(v.state)})` : describeState(v.state) + (v.inaccessible ? ' (inaccessible)' : ''),
    v.osType,
    `${v.memoryMiB} MiB`,
    String(v.cpus),
    v.uuid,
  ]);
}

/** `nestbox host SUB ...`; answers the exit code. */
export async function hostCommand(c: RpcClient, sub: string, args: readonly string[], o: HostOpts): Promise<number> {
  const need = (n: number, usage: string) => {
    if (args.length !== n) throw new HostUsageError(`usage: nestbox host ${usage}`);
  };
  switch (sub) {
    case 'add': {
      need(2, 'add NAME URI [--peer-uri URI] [--migrate-addr ADDR]');
      const spec: HostSpec = {
        name: args[0]!,
        uri: args[1]!,
        ...(strOpt(o, 'peer-uri') ? { peerUri: strOpt(o, 'peer-uri')! } : {}),
        ...(strOpt(o, 'migrate-addr') ? { migrateAddr: strOpt(o, 'migrate-addr')! } : {}),
      };
      const h = await c.call('hosts.add', spec);
      if (o['json']) out(JSON.stringify(h, null, 2));
      else out(`Added host '${h.name}': ${hostStatus(h)}${h.libvirtVersion ? ` (libvirt ${h.libvirtVersion}${h.hypervisorVersion ? `, QEMU ${h.hypervisorVersion}` : ''})` : ''}`);
      return 0;
    }
    case 'list': {
      need(0, 'list [--json]');
      const hosts = await c.call('hosts.list', { wait: true });
      if (o['json']) out(JSON.stringify(hosts, null, 2));
      else if (hosts.length === 0) out('No hosts yet. Add one with: nestbox host add NAME qemu+ssh://user@server/system');
      else {
        out(
          table([
            ['NAME', 'STATUS', 'LIBVIRT', 'QEMU', 'CPUS', 'MEMORY', 'VMS', 'URI'],
            ...hosts.map((h) => [h.name, hostStatus(h), h.libvirtVersion ?? '-', h.hypervisorVersion ?? '-', h.cpus !== undefined ? String(h.cpus) : '-', h.memoryMiB !== undefined ? `${h.memoryMiB} MiB` : '-', String(h.vmCount), h.uri]),
          ]),
        );
      }
      return 0;
    }
    case 'info': {
      need(1, 'info NAME [--json]');
      const h = await c.call('hosts.info', { name: args[0]!, wait: true });
      if (o['json']) out(JSON.stringify(h, null, 2));
      else {
        out(table(hostRows(h)));
        if (h.vms.length) out(`\n${table([['NAME', 'STATE', 'OS TYPE', 'MEMORY', 'CPUS', 'UUID'], ...vmRows(h.vms)])}`);
      }
      return 0;
    }
    case 'edit': {
      need(1, 'edit NAME [--name NEW] [--uri URI] [--peer-uri URI|none] [--migrate-addr ADDR|none]');
      const none = (v: string | undefined) => (v === 'none' || v === '' ? null : v);
      const changes: Partial<HostSpec> = {
        ...(strOpt(o, 'name') ? { name: strOpt(o, 'name')! } : {}),
        ...(strOpt(o, 'uri') ? { uri: strOpt(o, 'uri')! } : {}),
        ...(strOpt(o, 'peer-uri') !== undefined ? { peerUri: none(strOpt(o, 'peer-uri')) } : {}),
        ...(strOpt(o, 'migrate-addr') !== undefined ? { migrateAddr: none(strOpt(o, 'migrate-addr')) } : {}),
      };
      if (Object.keys(changes).length === 0) throw new HostUsageError('nothing to change (see nestbox --help)');
      const h = await c.call('hosts.update', { name: args[0]!, changes });
      out(`Changed host '${h.name}': ${hostStatus(h)}`);
      return 0;
    }
    case 'remove': {
      need(1, 'remove NAME');
      await c.call('hosts.remove', { name: args[0]! });
      out(`Removed host '${args[0]!}' (nothing on the host was changed)`);
      return 0;
    }
    default:
      throw new HostUsageError(`unknown host command '${sub}' (add, list, info, edit, remove; 'nestbox host' alone shows this computer)`);
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * `nestbox migrate HOST:VM --to HOST2`: runs the migration job with a progress line on stderr
 * (data sent, remaining, dirty rate) and Ctrl+C cancelling it; prints the total time and
 * libvirt's downtime.
 */
export async function migrateCommand(c: RpcClient, args: readonly string[], o: HostOpts): Promise<number> {
  if (args.length !== 1 || !strOpt(o, 'to')) throw new HostUsageError('usage: nestbox migrate HOST:VM --to HOST2 [--offline] [--copy-storage] [--unsafe] [--max-downtime MS] [--bandwidth MIBPS]');
  const maxDowntimeMs = intOpt(o['max-downtime'], '--max-downtime');
  const bandwidthMiBps = intOpt(o['bandwidth'], '--bandwidth');
  const spec: MigrateSpec = {
    ref: args[0]!,
    to: strOpt(o, 'to')!,
    ...(o['offline'] ? { live: false } : {}),
    ...(o['copy-storage'] ? { copyStorage: true } : {}),
    ...(o['unsafe'] ? { unsafe: true } : {}),
    ...(maxDowntimeMs !== undefined ? { maxDowntimeMs } : {}),
    ...(bandwidthMiBps !== undefined ? { bandwidthMiBps } : {}),
  };
  const tty = process.stderr.isTTY === true;
  let id: string | null = null;
  let lastLine = 0;
  const show = (j: JobInfo) => {
    if (j.id !== id || j.state !== 'running') return;
    const m = j.migration;
    const detail = m ? `sent ${formatBytes(m.dataProcessed)}, remaining ${formatBytes(m.dataRemaining)}${m.dirtyRate !== null ? `, dirtying ${formatBytes(m.dirtyRate)}/s` : ''}` : 'starting';
    const line = `${j.title}: ${String(j.percent).padStart(3)}% (${detail})`;
    if (tty) process.stderr.write(`\r${line}\x1b[K`);
    else if (Date.now() - lastLine > 1000) {
      lastLine = Date.now();
      process.stderr.write(`${line}\n`);
    }
  };
  const early: JobInfo[] = [];
  const off = c.on('job.progress', (j) => (id === null ? early.push(j) : show(j)));
  const onSigint = () => {
    if (!id) return;
    process.stderr.write(`\nnestbox: cancelling the migration (the VM keeps running where it was)...\n`);
    c.call('jobs.cancel', { id }).catch(() => undefined);
  };
  process.on('SIGINT', onSigint);
  try {
    const job = await c.call('vms.migrate', spec);
    id = job.id;
    for (const j of early) show(j);
    const end = await c.call('jobs.wait', { id });
    if (tty) process.stderr.write('\n');
    if (end.state !== 'done') throw end.error ? NestboxError.fromShape(end.error) : new NestboxError('INTERNAL', `${end.title}: ${end.state}`);
    const r = end.result as MigrateResult;
    if (o['json']) out(JSON.stringify(r, null, 2));
    else {
      out(
        `Migrated '${r.vm}' from '${r.from}' to '${r.to}' in ${seconds(r.elapsedMs)}; ` +
          `downtime ${r.downtimeMs !== null ? `${r.downtimeMs} ms (libvirt's figure)` : 'not reported by libvirt'}${r.dataBytes !== null ? `; ${formatBytes(r.dataBytes)} sent` : ''}`,
      );
    }
    return 0;
  } finally {
    off();
    process.off('SIGINT', onSigint);
  }
}
