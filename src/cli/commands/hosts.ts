/**
 * `nestbox host add|list|info|edit|remove` and `nestbox migrate`: libvirt hosts from the
 * command line. Every command is a client of the core's API; nothing here talks to libvirt.
 * (`nestbox host` alone, this computer's capabilities, is in host.ts.)
 */
import type { HostSpec, HostSummary, MigrateResult, MigrateSpec, MoveResult, MoveSpec, VmSummary } from '../../core/api/contract';
import { describeState } from '../../core/domain/lifecycle';
import { formatBytes } from '../../core/domain/units';
import { followJob } from '../progress';
import { command, type CommandGroup, req, UsageError } from '../command';
import { intOpt, out, table } from '../format';

const json = { type: 'boolean', help: 'machine-readable output' } as const;

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

function hostRows(h: HostSummary): string[][] {
  return [
    ['Host:', h.name],
    ['URI:', h.uri],
    ['Status:', hostStatus(h)],
    ...(h.peerUri ? [['Peer URI:', h.peerUri]] : []),
    ...(h.migrateAddr ? [['Migration address:', h.migrateAddr]] : []),
    ...(h.libvirtVersion ? [['libvirt:', h.libvirtVersion]] : []),
    ...(h.hypervisorVersion ? [['QEMU:', h.hypervisorVersion]] : []),
    ...(h.hostname ? [['Hostname:', h.hostname]] : []),
    ...(h.cpus !== undefined ? [['CPUs:', `${h.cpus}${h.cpuModel ? ` (${h.cpuModel})` : ''}`]] : []),
    ...(h.memoryMiB !== undefined ? [['Memory:', `${h.memoryMiB} MiB`]] : []),
    ['VMs:', String(h.vmCount)],
  ];
}

/** The rows of `nestbox list`: a host's VMs named HOST:VM, with why their host cannot be reached. */
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

const add = command({
  name: 'host add',
  args: [req('NAME'), req('URI')],
  options: {
    'peer-uri': { type: 'string', value: 'URI', help: "how the other hosts' daemons reach this one for migration (default: URI)" },
    'migrate-addr': { type: 'string', value: 'ADDR', help: "where migration data is sent when the host's name does not resolve on its peers" },
    json,
  },
  summary: 'add a libvirt host (connects once first; nothing is stored when that fails)',
  details:
    'URI: qemu:///system, qemu+ssh://user@server[:port]/system (SSH keys or agent; never a password),\n' +
    'qemu+tls://server/system, qemu+unix:///system?socket=PATH. Nestbox never installs anything on a host\n' +
    'and never opens a port there.',
  async handler(ctx, [name, uri], o) {
    const spec: HostSpec = { name, uri, ...(o['peer-uri'] ? { peerUri: o['peer-uri'] } : {}), ...(o['migrate-addr'] ? { migrateAddr: o['migrate-addr'] } : {}) };
    const h = await (await ctx.client()).call('hosts.add', spec);
    if (o.json) out(JSON.stringify(h, null, 2));
    else out(`Added host '${h.name}': ${hostStatus(h)}${h.libvirtVersion ? ` (libvirt ${h.libvirtVersion}${h.hypervisorVersion ? `, QEMU ${h.hypervisorVersion}` : ''})` : ''}`);
  },
});

const list = command({
  name: 'host list',
  args: [],
  options: { json },
  summary: 'libvirt hosts: status, libvirt/QEMU versions, CPUs, memory, VMs',
  async handler(ctx, _args, o) {
    const hosts = await (await ctx.client()).call('hosts.list', { wait: true });
    if (o.json) out(JSON.stringify(hosts, null, 2));
    else if (hosts.length === 0) out('No hosts yet. Add one with: nestbox host add NAME qemu+ssh://user@server/system');
    else {
      out(
        table([
          ['NAME', 'STATUS', 'LIBVIRT', 'QEMU', 'CPUS', 'MEMORY', 'VMS', 'URI'],
          ...hosts.map((h) => [h.name, hostStatus(h), h.libvirtVersion ?? '-', h.hypervisorVersion ?? '-', h.cpus !== undefined ? String(h.cpus) : '-', h.memoryMiB !== undefined ? `${h.memoryMiB} MiB` : '-', String(h.vmCount), h.uri]),
        ]),
      );
    }
  },
});

const info = command({
  name: 'host info',
  args: [req('NAME')],
  options: { json },
  summary: 'one libvirt host and its VMs',
  async handler(ctx, [name], o) {
    const h = await (await ctx.client()).call('hosts.info', { name, wait: true });
    if (o.json) {
      out(JSON.stringify(h, null, 2));
      return;
    }
    out(table(hostRows(h)));
    if (h.vms.length) out(`\n${table([['NAME', 'STATE', 'OS TYPE', 'MEMORY', 'CPUS', 'UUID'], ...vmRows(h.vms)])}`);
  },
});

const edit = command({
  name: 'host edit',
  args: [req('NAME')],
  options: {
    name: { type: 'string', value: 'NEW', help: 'rename the host' },
    uri: { type: 'string', value: 'URI', help: 'reach it another way (checked by connecting)' },
    'peer-uri': { type: 'string', value: 'URI|none', help: "how the other hosts' daemons reach it" },
    'migrate-addr': { type: 'string', value: 'ADDR|none', help: 'where migration data is sent' },
  },
  summary: 'rename a host or change how it is reached',
  async handler(ctx, [name], o) {
    const none = (v: string) => (v === 'none' || v === '' ? null : v);
    const changes: Partial<HostSpec> = {
      ...(o.name ? { name: o.name } : {}),
      ...(o.uri ? { uri: o.uri } : {}),
      ...(o['peer-uri'] !== undefined ? { peerUri: none(o['peer-uri']) } : {}),
      ...(o['migrate-addr'] !== undefined ? { migrateAddr: none(o['migrate-addr']) } : {}),
    };
    if (Object.keys(changes).length === 0) throw new UsageError('nothing to change', true);
    const h = await (await ctx.client()).call('hosts.update', { name, changes });
    out(`Changed host '${h.name}': ${hostStatus(h)}`);
  },
});

const remove = command({
  name: 'host remove',
  args: [req('NAME')],
  options: {},
  summary: 'forget a libvirt host (nothing on the host is changed)',
  async handler(ctx, [name]) {
    await (await ctx.client()).call('hosts.remove', { name });
    out(`Removed host '${name}' (nothing on the host was changed)`);
  },
});

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

const migrate = command({
  name: 'migrate',
  args: [req('HOST:VM')],
  options: {
    to: { type: 'string', value: 'HOST2', help: 'the destination host (required)' },
    offline: { type: 'boolean', help: "move a powered-off VM's definition" },
    'copy-storage': { type: 'boolean', help: 'copy the disks to the destination (storage not shared)' },
    unsafe: { type: 'boolean', help: 'the storage is shared but libvirt cannot tell (a directory both hosts see)' },
    'max-downtime': { type: 'string', value: 'MS', help: 'longest pause of the guest at the switch-over' },
    bandwidth: { type: 'string', value: 'MIBPS', help: 'limit the migration to this many MiB/s' },
    json,
  },
  summary: 'live migration between libvirt hosts, peer to peer (progress on stderr; Ctrl+C cancels)',
  details: 'Cancelling leaves the VM running where it was and nothing on the destination.',
  async handler(ctx, [ref], o) {
    if (!o.to) throw new UsageError('--to HOST2 names the destination', true);
    const maxDowntimeMs = intOpt(o['max-downtime'], '--max-downtime');
    const bandwidthMiBps = intOpt(o.bandwidth, '--bandwidth');
    const spec: MigrateSpec = {
      ref,
      to: o.to,
      ...(o.offline ? { live: false } : {}),
      ...(o['copy-storage'] ? { copyStorage: true } : {}),
      ...(o.unsafe ? { unsafe: true } : {}),
      ...(maxDowntimeMs !== undefined ? { maxDowntimeMs } : {}),
      ...(bandwidthMiBps !== undefined ? { bandwidthMiBps } : {}),
    };
    const c = await ctx.client();
    const end = await followJob(c, () => c.call('vms.migrate', spec), {
      detail: (j) => {
        const m = j.migration;
        return m ? `sent ${formatBytes(m.dataProcessed)}, remaining ${formatBytes(m.dataRemaining)}${m.dirtyRate !== null ? `, dirtying ${formatBytes(m.dirtyRate)}/s` : ''}` : 'starting';
      },
      cancelling: 'cancelling the migration (the VM keeps running where it was)',
    });
    const r = end.result as MigrateResult;
    if (o.json) out(JSON.stringify(r, null, 2));
    else {
      out(
        `Migrated '${r.vm}' from '${r.from}' to '${r.to}' in ${seconds(r.elapsedMs)}; ` +
          `downtime ${r.downtimeMs !== null ? `${r.downtimeMs} ms (libvirt's figure)` : 'not reported by libvirt'}${r.dataBytes !== null ? `; ${formatBytes(r.dataBytes)} sent` : ''}`,
      );
    }
  },
});

const move = command({
  name: 'move',
  args: [req('VM|HOST:VM')],
  options: {
    to: { type: 'string', value: 'HOST|local', help: "where the VM goes: a host's name, or local for this computer (required)" },
    pool: { type: 'string', value: 'POOL', help: "moving to a host: the storage pool for its disks (default: 'default')" },
    name: { type: 'string', value: 'NAME', help: 'its name at the other end (default: the same)' },
    'delete-source': { type: 'boolean', help: 'remove it (and its disks) where it came from once the move succeeded' },
    json,
  },
  summary: 'move a powered-off VM between this computer and a libvirt host (disks copied; Ctrl+C cancels)',
  details: 'Nothing is deleted where the VM came from unless --delete-source is given. Cancelling or a failure\nleaves nothing half-made at either end.',
  async handler(ctx, [ref], o) {
    if (!o.to) throw new UsageError('--to HOST (or --to local) names where the VM goes', true);
    const spec: MoveSpec = { ref, to: o.to, ...(o.pool ? { pool: o.pool } : {}), ...(o.name ? { name: o.name } : {}), ...(o['delete-source'] ? { deleteSource: true } : {}) };
    const c = await ctx.client();
    const end = await followJob(c, () => c.call('vms.move', spec), { cancelling: 'cancelling the move (nothing is left half-made)' });
    const r = end.result as MoveResult;
    if (o.json) out(JSON.stringify(r, null, 2));
    else {
      out(`Moved '${r.vm}' to ${r.to === 'local' ? 'this computer' : `'${r.to}'`} as ${r.ref} (${formatBytes(r.bytesCopied)} copied in ${seconds(r.elapsedMs)})${r.deletedSource ? '; removed where it was' : `; it is still on ${r.from === 'local' ? 'this computer' : `'${r.from}'`} too`}`);
      for (const w of r.warnings) out(`warning: ${w}`);
    }
  },
});

export const libvirtHostCommands: CommandGroup = { name: 'hosts', title: 'libvirt hosts, migration and moving VMs', commands: [add, list, info, edit, remove, migrate, move] };
