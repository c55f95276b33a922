/** VMs: list, create, inspect, change, clone and delete them. */
import fs from 'node:fs';
import path from 'node:path';
import type { CreateVmSpec, HostPool, ModifyVmSpec, UnattendedSpec, VmSummary } from '../../core/api/contract';
import { volumeNameFor } from '../../core/domain/hostvolumes';
import { followJob } from '../progress';
import { parseCpuList } from '../../core/domain/stats';
import { parseSize } from '../../core/domain/units';
import { command, type CommandContext, type CommandGroup, opt, type OptionValues, req, UsageError } from '../command';
import { intOpt, out, printInfo, table, warn } from '../format';
import { vmRows } from './hosts';

const json = { type: 'boolean', help: 'machine-readable output' } as const;

const list = command({
  name: 'list',
  args: [],
  options: { json, host: { type: 'string', value: 'HOST|local', help: "only one libvirt host's VMs (local: this computer's)" } },
  summary: "list VMs and their state (this computer's, then each libvirt host's as HOST:VM)",
  async handler(ctx, _args, o) {
    const c = await ctx.client();
    const vms: readonly VmSummary[] = await c.call('vms.list', o.host !== undefined ? { host: o.host, wait: true } : { wait: true });
    if (o.json) out(JSON.stringify(vms, null, 2));
    else if (vms.length === 0) out(o.host !== undefined ? `No VMs on '${o.host}'.` : 'No VMs yet. Create one with: nestbox create NAME --iso PATH');
    else out(table([['NAME', 'STATE', 'OS TYPE', 'MEMORY', 'CPUS', 'UUID'], ...vmRows(vms)]));
  },
});

const CREATE_OPTIONS = {
  'os-type': { type: 'string', value: 'T', help: 'OS type (nestbox ostypes); sets the presets' },
  memory: { type: 'string', value: 'MiB', help: 'memory in MiB' },
  cpus: { type: 'string', value: 'N', help: 'virtual CPUs' },
  'disk-size': { type: 'string', value: 'SIZE', help: 'a new qcow2 disk of this size (e.g. 20G)' },
  disk: { type: 'string', value: 'PATH', help: 'use an existing disk image' },
  'no-disk': { type: 'boolean', help: 'no disk' },
  iso: { type: 'string', value: 'PATH', help: 'an ISO in the CD/DVD drive (with --host: copied into --pool first)' },
  firmware: { type: 'string', value: 'bios|uefi', help: 'firmware' },
  nic: { type: 'string', value: 'nat|none|internal:NAME|bridged:BRIDGE', help: 'the first network adapter' },
  description: { type: 'string', value: 'TEXT', help: 'a description' },
  'auto-snapshots': { type: 'string', value: 'KEEP', help: 'snapshot before each start, keep the KEEP newest (0: off)' },
  host: { type: 'string', value: 'HOST', help: 'create it on this libvirt host (nestbox host list)' },
  pool: { type: 'string', value: 'POOL', help: "with --host: the storage pool for the disk (and an --iso copied there); default 'default'" },
  'iso-volume': { type: 'string', value: 'POOL/VOL', help: 'with --host: an ISO already in one of its pools' },
  network: { type: 'string', value: 'default|NET|bridge:BR', help: "with --host: NAT on the host's libvirt network NET, or its bridge BR" },
  'secure-boot': { type: 'string', value: 'on|off', help: 'UEFI Secure Boot (default: the OS type\'s preset)' },
  tpm: { type: 'string', value: 'on|off', help: 'a TPM 2.0 through swtpm (default: the OS type\'s preset)' },
  clipboard: { type: 'string', value: 'on|off', help: "clipboard text between the console and the guest's desktop (default on; spice-vdagent in the guest)" },
  share: { type: 'string', value: 'DIR', multiple: true, help: "share a host folder, tagged with its name (repeatable; nestbox share NAME add for more choices)" },
  'share-read-only': { type: 'string', value: 'DIR', multiple: true, help: 'share a host folder the guest can read but not change (repeatable)' },
  unattended: { type: 'boolean', help: 'install the OS from --iso (or set up the cloud image in --disk) unattended' },
  user: { type: 'string', value: 'NAME', help: 'unattended: the user to create' },
  'password-file': { type: 'string', value: 'FILE', help: "unattended: a file holding the user's password (its first line)" },
  hostname: { type: 'string', value: 'NAME', help: "unattended: the guest's host name (default: from the VM's name)" },
  'ssh-key': { type: 'string', value: 'FILE', help: 'unattended: OpenSSH public key(s) to authorize (Linux)' },
  timezone: { type: 'string', value: 'ZONE', help: 'unattended: time zone such as Europe/Berlin (default UTC)' },
  locale: { type: 'string', value: 'LOCALE', help: 'unattended: locale such as de_DE (default en_US)' },
  'product-key': { type: 'string', value: 'KEY', help: 'unattended: Windows product key' },
  json,
} as const;

type CreateOptions = OptionValues<typeof CREATE_OPTIONS>;

const create = command({
  name: 'create',
  args: [req('NAME')],
  options: CREATE_OPTIONS,
  summary: 'create a VM (here, or on a libvirt host with --host)',
  details: 'On a host, --iso FILE copies the ISO into the pool first (progress on stderr; Ctrl+C cancels), or reuses a volume of that name and size already there.',
  async handler(ctx, [name], o) {
    const onHost = o.host !== undefined && o.host.toLowerCase() !== 'local';
    for (const k of ['pool', 'iso-volume', 'network'] as const) if (o[k] !== undefined && !onHost) throw new UsageError(`--${k} goes with --host HOST`);
    if (onHost) return createOnHost(ctx, name, o);
    if (o.disk && o['disk-size']) throw new UsageError('give either --disk or --disk-size, not both');
    if (o.firmware && o.firmware !== 'bios' && o.firmware !== 'uefi') throw new UsageError('--firmware must be bios or uefi');
    const nicArg = o.nic ? /^(nat|none)$|^(internal|bridged):(.+)$/.exec(o.nic) : null;
    if (o.nic && !nicArg) throw new UsageError('--nic must be nat, none, internal:NAME or bridged:BRIDGE');
    const spec: CreateVmSpec = {
      name,
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
      ...onOffOpt(o['secure-boot'], '--secure-boot', 'secureBoot'),
      ...onOffOpt(o.tpm, '--tpm', 'tpm'),
      ...onOffOpt(o.clipboard, '--clipboard', 'clipboard'),
      ...createShares(o),
    };
    const unattended = unattendedSpec(o);
    const c = await ctx.client();
    const r = await c.call('vms.create', unattended ? { ...spec, unattended } : spec);
    warn(r);
    if (o.json) out(JSON.stringify(r.vm, null, 2));
    else out(`Created '${r.vm.name}' (${r.vm.uuid}) in ${r.vm.dir}`);
  },
});

/** `--share DIR` and `--share-read-only DIR`, in the order given per kind. */
function createShares(o: CreateOptions): Pick<CreateVmSpec, 'shares'> {
  const shares = [...(o.share ?? []).map((d) => ({ path: path.resolve(d) })), ...(o['share-read-only'] ?? []).map((d) => ({ path: path.resolve(d), readOnly: true }))];
  return shares.length ? { shares } : {};
}

/** The unattended options of `create`; the password only ever comes from a file (never argv, never a prompt echo). */
function unattendedSpec(o: Readonly<Record<string, string | boolean | readonly string[] | undefined>>): UnattendedSpec | undefined {
  const flags = ['user', 'password-file', 'hostname', 'ssh-key', 'timezone', 'locale', 'product-key'].filter((f) => o[f] !== undefined);
  if (!o['unattended']) {
    if (flags.length) throw new UsageError(`--${flags[0]} goes with --unattended`);
    return undefined;
  }
  const user = o['user'];
  const pwFile = o['password-file'];
  if (typeof user !== 'string') throw new UsageError('--unattended needs --user NAME');
  if (typeof pwFile !== 'string') throw new UsageError('--unattended needs --password-file FILE (a file holding the password)');
  const read = (file: string, what: string): string => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${what} '${file}': ${(err as Error).message}`);
    }
  };
  const password = read(pwFile, 'the password file').split(/\r?\n/)[0] ?? '';
  if (password === '') throw new UsageError(`the password file '${pwFile}' is empty`);
  const keyFile = o['ssh-key'];
  const sshKeys = typeof keyFile === 'string' ? read(keyFile, 'the SSH key file').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#')) : [];
  const str = (k: string): string | undefined => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
  return {
    user,
    password,
    ...(str('hostname') ? { hostname: str('hostname')! } : {}),
    ...(str('timezone') ? { timezone: str('timezone')! } : {}),
    ...(str('locale') ? { locale: str('locale')! } : {}),
    ...(str('product-key') ? { productKey: str('product-key')! } : {}),
    ...(sshKeys.length ? { sshKeys } : {}),
  };
}

/** The hardware options `create` shares between this computer and a host. */
function commonSpec(o: CreateOptions): Partial<CreateVmSpec> {
  if (o.firmware && o.firmware !== 'bios' && o.firmware !== 'uefi') throw new UsageError('--firmware must be bios or uefi');
  return {
    ...(o['os-type'] ? { osType: o['os-type'] } : {}),
    ...(o.memory ? { memoryMiB: intOpt(o.memory, '--memory')! } : {}),
    ...(o.cpus ? { cpus: intOpt(o.cpus, '--cpus')! } : {}),
    ...(o['disk-size'] ? { diskSize: o['disk-size'] } : {}),
    ...(o['no-disk'] ? { noDisk: true } : {}),
    ...(o.firmware ? { firmware: o.firmware as 'bios' | 'uefi' } : {}),
    ...(o.description ? { description: o.description } : {}),
  };
}

/**
 * `create --host`: the ISO is a volume there (--iso-volume), or --iso FILE copied into the
 * pool first as a job (a volume of that name and size already there is used as it is).
 */
async function createOnHost(ctx: CommandContext, name: string, o: CreateOptions): Promise<void> {
  const host = o.host!;
  if (o.disk) throw new UsageError('--disk is a file on this computer; on a host the disk is a new volume in --pool');
  if (o.iso && o['iso-volume']) throw new UsageError('give either --iso FILE or --iso-volume POOL/VOL, not both');
  if (o['auto-snapshots'] !== undefined) throw new UsageError('--auto-snapshots is for VMs on this computer');
  if (o.share !== undefined || o['share-read-only'] !== undefined) throw new UsageError('--share: shared folders are folders of this computer, for VMs on this computer');
  // The core refuses these for a host too (UNSUPPORTED); said here before anything is copied there.
  const HOST_LACKS = { 'secure-boot': 'Secure Boot', tpm: 'a TPM', clipboard: 'the clipboard channel' } as const;
  for (const k of ['secure-boot', 'tpm', 'clipboard'] as const) {
    if (o[k] === undefined) continue;
    onOffOpt(o[k], `--${k}`, 'value');
    if (o[k] === 'on') throw new UsageError(`--${k} on: a libvirt host cannot do that yet (Nestbox sets up ${HOST_LACKS[k]} for VMs on this computer only)`);
  }
  const unattendedFlags = ['unattended', 'user', 'password-file', 'hostname', 'ssh-key', 'timezone', 'locale', 'product-key'] as const;
  const given = unattendedFlags.find((f) => o[f] !== undefined && o[f] !== false);
  if (given) throw new UsageError(`--${given}: a libvirt host cannot do that yet (an automatic install is prepared for VMs on this computer only)`);
  if (o.nic && o.network) throw new UsageError('give either --nic or --network, not both');
  let net: Pick<CreateVmSpec, 'nic' | 'nicNetwork' | 'nicBridge'> = {};
  const n = o.network ?? (o.nic === 'nat' ? 'default' : o.nic);
  if (n !== undefined) {
    const m = /^(?:bridge|bridged):(.+)$/.exec(n);
    if (m) net = { nic: 'bridged', nicBridge: m[1]! };
    else if (n === 'none') net = { nic: 'none' };
    else if (/^[A-Za-z0-9_][A-Za-z0-9._+-]*$/.test(n) && !n.includes(':')) net = { nic: 'nat', nicNetwork: n };
    else throw new UsageError('--network must be a libvirt network (default), bridge:BRIDGE or none');
  }
  const c = await ctx.client();
  const pool = o.pool ?? 'default';
  let isoVolume = o['iso-volume'];
  if (o.iso) {
    const file = path.resolve(o.iso);
    const size = fs.statSync(file, { throwIfNoEntry: false });
    if (!size?.isFile()) throw new UsageError(`--iso ${o.iso}: no such file`);
    const volume = volumeNameFor(file);
    const pools: readonly HostPool[] = await c.call('hosts.pools', { name: host });
    const there = pools.find((p) => p.name === pool)?.isos.find((v) => v.name === volume);
    if (there && there.capacity === size.size) {
      process.stderr.write(`Using ${pool}/${volume} already on ${host}\n`);
    } else {
      await followJob(c, () => c.call('hosts.uploadIso', { name: host, pool, file, volume }));
    }
    isoVolume = `${pool}/${volume}`;
  }
  const spec: CreateVmSpec = {
    name,
    host,
    ...commonSpec(o),
    ...(o.pool ? { pool: o.pool } : {}),
    ...(isoVolume ? { isoVolume } : {}),
    ...net,
  };
  const r = await c.call('vms.create', spec);
  warn(r);
  if (o.json) out(JSON.stringify(r.vm, null, 2));
  else out(`Created '${host}:${r.vm.name}' (${r.vm.uuid}) on host '${host}'`);
}

const info = command({
  name: 'info',
  args: [req('NAME')],
  options: { json },
  summary: "show a VM's configuration and state",
  async handler(ctx, [ref], o) {
    const vm = await (await ctx.client()).call('vms.info', { ref });
    if (o.json) out(JSON.stringify(vm, null, 2));
    else printInfo(vm);
  },
});

const MODIFY_OPTIONS = {
  memory: { type: 'string', value: 'MiB', help: 'memory in MiB' },
  cpus: { type: 'string', value: 'N', help: 'virtual CPUs' },
  iso: { type: 'string', value: 'PATH|none', help: 'the ISO in the CD/DVD drive (none: empty it)' },
  name: { type: 'string', value: 'NEW', help: 'rename' },
  description: { type: 'string', value: 'TEXT', help: 'the description' },
  'cpu-shares': { type: 'string', value: 'N|none', help: 'relative CPU weight (live)' },
  'cpu-limit': { type: 'string', value: 'PCT|none', help: 'CPU ceiling in % of one host CPU (live)' },
  pin: { type: 'string', value: '0,1|none', help: 'pin to host CPUs (live)' },
  'mem-max': { type: 'string', value: 'MiB|none', help: 'memory ceiling of the QEMU process (live)' },
  balloon: { type: 'string', value: 'on|off', help: 'a memory balloon device (powered off)' },
  'guest-agent': { type: 'string', value: 'on|off', help: "the guest agent's port: addresses, shutdown, consistent snapshots, clock (powered off)" },
  clipboard: { type: 'string', value: 'on|off', help: "clipboard text between the console and the guest's desktop (spice-vdagent in the guest; powered off)" },
  'mem-merge': { type: 'string', value: 'on|off', help: 'page sharing (KSM) (powered off)' },
  sockets: { type: 'string', value: 'N', help: 'CPU topology: sockets (powered off)' },
  cores: { type: 'string', value: 'N', help: 'CPU topology: cores per socket' },
  threads: { type: 'string', value: 'N', help: 'CPU topology: threads per core' },
  'auto-snapshots': { type: 'string', value: 'KEEP', help: 'snapshot before each start, keep the KEEP newest (0: off)' },
  'secure-boot': { type: 'string', value: 'on|off', help: 'UEFI Secure Boot (powered off; a fresh variable store)' },
  tpm: { type: 'string', value: 'on|off', help: 'a TPM 2.0 through swtpm (powered off)' },
  'reset-tpm': { type: 'string', value: 'NAME', help: "erase the TPM's state (stale or damaged); repeat the VM's name to confirm" },
} as const;

/** `--flag on|off` as a boolean setting, or nothing when the flag is absent. */
function onOffOpt<K extends string>(v: string | undefined, flag: string, key: K): Partial<Record<K, boolean>> {
  if (v === undefined) return {};
  if (v !== 'on' && v !== 'off') throw new UsageError(`${flag} must be on or off`);
  return { [key]: v === 'on' } as Partial<Record<K, boolean>>;
}

/** The resource options of `modify`; 'none' clears a setting. */
function resourceChanges(o: Readonly<Record<string, string | undefined>>): ModifyVmSpec['resources'] | undefined {
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

const modify = command({
  name: 'modify',
  args: [req('NAME')],
  options: MODIFY_OPTIONS,
  summary: "change a VM's settings ('none' clears a resource setting)",
  async handler(ctx, [ref], o) {
    const resources = resourceChanges(o);
    const changes: ModifyVmSpec = {
      ...(resources ? { resources } : {}),
      ...(o.memory ? { memoryMiB: intOpt(o.memory, '--memory')! } : {}),
      ...(o.cpus ? { cpus: intOpt(o.cpus, '--cpus')! } : {}),
      ...(o.iso !== undefined ? { iso: o.iso === 'none' || o.iso === '' ? null : path.resolve(o.iso) } : {}),
      ...(o.name ? { name: o.name } : {}),
      ...(o.description !== undefined ? { description: o.description } : {}),
      ...(o['auto-snapshots'] !== undefined ? { autoSnapshots: intOpt(o['auto-snapshots'], '--auto-snapshots')! } : {}),
      ...onOffOpt(o['guest-agent'], '--guest-agent', 'guestAgent'),
      ...onOffOpt(o.clipboard, '--clipboard', 'clipboard'),
      ...onOffOpt(o['secure-boot'], '--secure-boot', 'secureBoot'),
      ...onOffOpt(o.tpm, '--tpm', 'tpm'),
    };
    if (o['reset-tpm'] !== undefined) {
      // Erasing a TPM loses what the guest sealed in it: the user confirms by naming the VM.
      if (o['reset-tpm'] !== ref) throw new UsageError(`--reset-tpm erases the TPM of '${ref}' (BitLocker keys, Windows Hello and anything else the guest kept in it); confirm with --reset-tpm '${ref}'`);
      (changes as { resetTpm?: boolean }).resetTpm = true;
    }
    if (Object.keys(changes).length === 0) throw new UsageError('nothing to change (see nestbox modify --help)');
    const r = await (await ctx.client()).call('vms.modify', { ref, changes });
    warn(r);
    out(`Modified '${r.vm.name}'`);
  },
});

const balloon = command({
  name: 'balloon',
  args: [req('NAME'), req('SIZE')],
  options: {},
  summary: "set a running VM's balloon target (e.g. 512M, 1G, or MiB; the guest keeps SIZE)",
  async handler(ctx, [ref, size]) {
    let mib: number;
    try {
      mib = /^\d+$/.test(size) ? Number(size) : Math.floor(parseSize(size) / (1024 * 1024));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const r = await (await ctx.client()).call('vms.balloon', { ref, targetMiB: mib });
    out(`The balloon of '${r.vm.name}' now leaves the guest ${mib} MiB of its ${r.vm.memoryMiB} MiB`);
  },
});

const clone = command({
  name: 'clone',
  args: [req('SRC'), req('NEW')],
  options: {
    snapshot: { type: 'string', value: 'SNAP', help: 'clone this snapshot instead of the current state' },
    linked: { type: 'boolean', help: 'a linked clone (stands on the source\'s disks)' },
    'keep-macs': { type: 'boolean', help: 'keep the MAC addresses (new ones otherwise)' },
    json,
  },
  summary: 'full copy (or linked clone) of a snapshot or the current state',
  async handler(ctx, [src, name], o) {
    const r = await (await ctx.client()).call('vms.clone', { ref: src, name, ...(o.snapshot ? { snapshot: o.snapshot } : {}), linked: o.linked === true, keepMacs: o['keep-macs'] === true });
    warn(r);
    if (o.json) out(JSON.stringify(r.vm, null, 2));
    else out(`Created '${r.vm.name}' (${r.vm.uuid}), a ${o.linked ? 'linked' : 'full'} clone of ${o.snapshot ? `snapshot '${o.snapshot}' of ` : ''}'${src}'`);
  },
});

const convertDisk = command({
  name: 'convert-disk',
  args: [req('NAME'), opt('DISK')],
  options: {},
  summary: 'convert a raw/VDI/VMDK disk to qcow2 so it can hold snapshots',
  async handler(ctx, [ref, disk]) {
    const r = await (await ctx.client()).call('vms.convertDisk', { ref, ...(disk ? { disk } : {}) });
    warn(r);
    out(`Converted; '${r.vm.name}' now uses ${r.vm.config.disks.map((d) => `${d.file} (${d.format})`).join(', ')}`);
  },
});

const cancel = command({
  name: 'cancel',
  args: [req('NAME')],
  options: {},
  summary: 'stop a clone, disk conversion, live snapshot or Save state of NAME still under way',
  async handler(ctx, [ref]) {
    const r = await (await ctx.client()).call('vms.cancel', { ref });
    out(r.cancelled ? `Stopping the clone, conversion or snapshot of '${ref}'` : `'${ref}' has no clone, conversion or snapshot that can be stopped`);
  },
});

const del = command({
  name: 'delete',
  args: [req('NAME')],
  options: { 'keep-files': { type: 'boolean', help: "keep the VM's folder" } },
  summary: 'delete the VM and its folder',
  async handler(ctx, [ref], o) {
    const r = await (await ctx.client()).call('vms.delete', { ref, keepFiles: o['keep-files'] === true });
    out(r.removedDir ? `Deleted '${ref}' and its files` : `Deleted '${ref}' (files kept)`);
  },
});

export const vmCommands: CommandGroup = {
  name: 'vms',
  title: 'VMs',
  commands: [list, create, info, modify, balloon, clone, convertDisk, cancel, del],
};
