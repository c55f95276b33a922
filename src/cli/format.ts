/** Printing helpers shared by the command groups: tables, VM details, media lists. */
import path from 'node:path';
import type { MediumInfo, OpResult, VmInfo } from '../core/api/contract';
import type { NicConfig, PortForward } from '../core/domain/config';
import { describeState } from '../core/domain/lifecycle';
import { formatBytes } from '../core/domain/units';
import { UsageError } from './command';

export function out(s: string): void {
  process.stdout.write(`${s}\n`);
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}


export function intOpt(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`${what} must be a whole number, got '${v}'`);
  return Number(v);
}


export function formatMiB(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}


export function printInfo(vm: VmInfo): void {
  const c = vm.config;
  const lines: [string, string][] = [
    ['Name', vm.name],
    ['UUID', vm.uuid],
    ['State', describeState(vm.state) + (vm.stateReason ? ` (${vm.stateReason})` : '') + (vm.inaccessible ? ` — inaccessible: ${vm.inaccessible}` : '')],
    ['OS type', c.osType],
    ['Memory', `${c.memoryMiB} MiB`],
    ['CPUs', String(c.cpus)],
    ['Firmware', `${c.firmware.toUpperCase()}${c.firmware === 'uefi' ? (c.secureBoot ? ', Secure Boot on' : ', Secure Boot off') : ''}${c.tpm ? ', TPM 2.0' : ''}`],
    ['Machine', c.machine],
    ...c.disks.map((d): [string, string] => [`Disk ${d.id}`, `${d.file} (${d.format}, ${d.bus})`]),
    ...c.cdroms.map((d): [string, string] => [`CD/DVD ${d.id}`, d.iso ?? 'empty']),
    ['Boot order', c.bootOrder.join(', ')],
    ...c.nics.map((n): [string, string] => [`NIC ${n.id}`, `${n.mode}, ${n.model}, ${n.mac}${nicTarget(n) !== '-' ? `, ${nicTarget(n)}` : ''}`]),
    ...(c.shares ?? []).map((x): [string, string] => [`Share ${x.tag}`, `${x.path}${x.readOnly ? ' (read-only)' : ''}`]),
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
  lines.push(['Guest agent', c.guestAgent ? (vm.guestAgent ? (vm.guestAgent.connected ? 'connected' : 'not connected') : 'port present') : 'no port (nestbox modify NAME --guest-agent on)']);
  if (c.display.adapter !== 'none') lines.push(['Clipboard', c.clipboard === false ? 'off (nestbox modify NAME --clipboard on)' : 'on (needs spice-vdagent in the guest)']);
  const g = vm.guestAgent;
  if (g?.os) lines.push(['Guest OS', g.os.prettyName ?? [g.os.name, g.os.version].filter(Boolean).join(' ')]);
  if (g?.hostName) lines.push(['Guest host name', g.hostName]);
  for (const i of g?.interfaces ?? []) lines.push([`Guest ${i.name}`, [i.mac ?? '', ...i.addresses].filter(Boolean).join(' ')]);
  if (vm.clockNote) lines.push(['Clock', vm.clockNote]);
  if (c.autoSnapshot && c.autoSnapshot.keep > 0) lines.push(['Auto snapshots', `before each start, keeping ${c.autoSnapshot.keep}`]);
  if (vm.linkedTo.length) lines.push(['Linked clone of', vm.linkedTo.join(', ')]);
  if (vm.linkedClones.length) lines.push(['Linked clones', `${vm.linkedClones.join(', ')} (they stand on its disks; it cannot be deleted before them)`]);
  if (c.description) lines.push(['Description', c.description]);
  out(table(lines.map(([k, v]) => [`${k}:`, v])));
}

/** The extension of a conversion's target says the format unless --format does. */
export function formatFromName(file: string): string | undefined {
  const ext = path.extname(file).slice(1).toLowerCase();
  const map: Record<string, string> = { qcow2: 'qcow2', img: 'raw', raw: 'raw', vdi: 'vdi', vmdk: 'vmdk', vhd: 'vpc', vpc: 'vpc', vhdx: 'vhdx' };
  return map[ext];
}


export function printMedia(list: readonly MediumInfo[]): void {
  if (list.length === 0) {
    out('No media yet.');
    return;
  }
  const used = (m: MediumInfo) =>
    m.usedBy.map((u) => (u.current ? u.vm : '') + (u.snapshots.length ? `${u.current ? ' ' : ''}[${u.vm}: snapshot ${u.snapshots.join(', ')}]` : '')).join(', ') || '-';
  out(table([['NAME', 'FORMAT', 'VIRTUAL', 'ACTUAL', 'USED BY', 'PATH'], ...list.map((m) => [m.name, m.format, formatBytes(m.virtualSize), formatBytes(m.actualSize), m.missing ? `MISSING (${m.problem ?? ''})` : used(m), m.path])]));
}

/** Where an adapter is attached, in one phrase. */
export function nicTarget(n: NicConfig): string {
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
export function sshCommand(r: PortForward, user: string): string {
  const host = r.hostAddress === '0.0.0.0' ? '127.0.0.1' : r.hostAddress;
  return r.hostPort === 22 ? `ssh ${user}@${host}` : `ssh -p ${r.hostPort} ${user}@${host}`;
}

export function warn(r: OpResult): void {
  for (const w of r.warnings) process.stderr.write(`nestbox: warning: ${w}\n`);
}
