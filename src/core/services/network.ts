/**
 * NAT port forwarding and the virtual cable. Rules live in the VM's config (SQLite), are
 * applied at start from the argv, and are added or removed while the VM runs through QEMU's
 * hostfwd_add / hostfwd_remove (no restart). Conflicts are found before anything changes.
 */
import { qemuCommands } from '../qemu/commands';
import crypto from 'node:crypto';
import type { HostPermission, NetworkHostInfo, NicSpec, OpResult } from '../api/contract';
import { NestboxError } from '../api/errors';
import {
  BRIDGE_VIAS,
  ConfigError,
  LIMITS,
  NIC_MODELS,
  NIC_MODES,
  parsePortForward,
  parseVmConfig,
  type NicConfig,
  type PortForward,
  type VmConfig,
} from '../domain/config';
import { describeState, isActive, isAllowed } from '../domain/lifecycle';
import { internalSocket } from '../qemu/argv';
import { checkHelperBridge, checkTap, helperStatus, listBridges, type Verdict } from '../network/bridges';
import { portAvailable } from '../network/ports';
import { InternalNetworks } from '../network/switch';
import type { VmRepository, VmRow } from '../store/db';
import type { EventBus } from './events';
import type { VmService } from './vms';

export interface NetworkServiceDeps {
  readonly vms: VmService;
  readonly vmRepo: VmRepository;
  readonly bus: EventBus;
}

const bindKey = (f: Pick<PortForward, 'protocol' | 'hostAddress' | 'hostPort'>) => `${f.protocol}:${f.hostAddress}:${f.hostPort}`;

/** A MAC in QEMU's locally administered 52:54:00 range that no adapter in `taken` has. */
export function generateMac(taken: ReadonlySet<string>): string {
  for (;;) {
    const mac = `52:54:00:${[...crypto.randomBytes(3)].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
    if (!taken.has(mac)) return mac;
  }
}

function permission(v: Verdict): HostPermission {
  return { ok: v.ok, ...(v.reason ? { reason: v.reason } : {}), ...(v.fix ? { fix: v.fix } : {}), ...(v.warning ? { warning: v.warning } : {}) };
}

/** The message of a refusal: why, then the commands that fix it. */
function refusal(what: string, v: Verdict): NestboxError {
  const fix = v.fix?.length ? ` To allow it, run: ${v.fix.join(' ; ')}` : '';
  return new NestboxError('ADMISSION_DENIED', `${what}: ${v.reason ?? 'not allowed'}.${fix}`, v.fix?.join('\n'));
}

export class NetworkService {
  readonly internal = new InternalNetworks();

  constructor(private readonly d: NetworkServiceDeps) {
    // Internal networks follow the VMs: the switch connects when a VM runs, lets go when it stops.
    d.bus.on((name, data) => {
      if (name !== 'vm.state') return;
      const ev = data as { uuid: string; state: string };
      if (ev.state === 'running' || ev.state === 'paused') void this.connectInternal(ev.uuid);
      else if (ev.state !== 'starting' && ev.state !== 'stopping' && ev.state !== 'saving') this.internal.detachVm(ev.uuid);
    });
  }

  /** Connects the switch to every internal adapter of every running VM (after a core start). */
  async reattachAll(): Promise<void> {
    for (const row of this.d.vmRepo.list()) if (isActive(row.state)) await this.connectInternal(row.uuid);
  }

  private async connectInternal(uuid: string): Promise<void> {
    const row = this.d.vmRepo.get(uuid);
    const runDir = row && this.d.vmRepo.getRuntime(uuid)?.runDir;
    if (!row || !runDir) return;
    for (const n of row.config.nics) {
      if (n.mode !== 'internal' || !n.network) continue;
      if (this.internal.ports(n.network).some((p) => p.vm === uuid && p.nic === n.id && p.connected)) continue;
      try {
        await this.internal.attach(n.network, uuid, n.id, internalSocket(runDir, n.id));
        this.d.vms.log(uuid, 'info', 'internal-network', `connected '${n.id}' of '${row.name}' to internal network '${n.network}'`);
      } catch (err) {
        this.d.vms.log(uuid, 'warning', 'internal-network', `could not connect '${n.id}' of '${row.name}' to internal network '${n.network}': ${(err as Error).message}`);
      }
    }
  }

  /**
   * Checks, before QEMU is launched, that the host lets every adapter attach where its config
   * says. Returns warnings; throws ADMISSION_DENIED / HOST_UNSUPPORTED with the fix.
   */
  preflight(config: VmConfig): string[] {
    const warnings: string[] = [];
    for (const n of config.nics) {
      if (n.mode !== 'bridged') continue;
      const via = n.bridgeVia ?? 'helper';
      const what = `adapter '${n.id}' cannot be bridged to '${via === 'tap' ? n.tap : n.bridge}'`;
      switch (via) {
        case 'helper': {
          if (process.platform !== 'linux') throw new NestboxError('HOST_UNSUPPORTED', `${what}: qemu-bridge-helper exists only on Linux`);
          const v = checkHelperBridge(n.bridge ?? '');
          if (!v.ok) throw refusal(what, v);
          if (v.warning) warnings.push(v.warning);
          break;
        }
        case 'tap': {
          if (process.platform !== 'linux') throw new NestboxError('HOST_UNSUPPORTED', `${what}: tap devices are supported only on Linux`);
          const v = checkTap(n.tap ?? '', n.bridge);
          if (!v.ok) throw refusal(what, v);
          break;
        }
        case 'vmnet':
          if (process.platform !== 'darwin') throw new NestboxError('HOST_UNSUPPORTED', `${what}: vmnet-bridged exists only on macOS`);
          break;
        case 'windows-tap':
          if (process.platform !== 'win32') throw new NestboxError('HOST_UNSUPPORTED', `${what}: TAP-Windows adapters exist only on Windows`);
          break;
        default: {
          const never: never = via;
          throw new NestboxError('INVALID_CONFIG', `unknown bridge attachment ${String(never)}`);
        }
      }
    }
    return warnings;
  }

  hostInfo(): NetworkHostInfo {
    const rows = this.d.vmRepo.list();
    const bridged = new Map<string, { uuid: string; name: string; nic: string }[]>();
    const internal = new Map<string, NetworkHostInfo['internalNetworks'][number]['vms'][number][]>();
    for (const r of rows) {
      for (const n of r.config.nics) {
        if (n.mode === 'bridged' && n.bridge) {
          const l = bridged.get(n.bridge) ?? [];
          l.push({ uuid: r.uuid, name: r.name, nic: n.id });
          bridged.set(n.bridge, l);
        }
        if (n.mode === 'internal' && n.network) {
          const l = internal.get(n.network) ?? [];
          const connected = this.internal.ports(n.network).some((p) => p.vm === r.uuid && p.nic === n.id && p.connected);
          l.push({ uuid: r.uuid, name: r.name, nic: n.id, state: r.state, connected });
          internal.set(n.network, l);
        }
      }
    }
    const bridges = listBridges();
    const helper = helperStatus();
    return {
      bridges: bridges.map((b) => ({ ...b, helper: permission(checkHelperBridge(b.name)), vms: bridged.get(b.name) ?? [] })),
      helper: { path: helper.path, permitted: helper.permitted, ...(helper.reason ? { reason: helper.reason } : {}), ...(helper.fix ? { fix: helper.fix } : {}) },
      internalNetworks: [...internal.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, vms]) => ({ name, vms })),
      missingBridges: [...bridged.keys()].filter((b) => !bridges.some((h) => h.name === b)).sort(),
    };
  }

  private takenMacs(except?: { uuid: string; nic: string }): Set<string> {
    return new Set(
      this.d.vmRepo.list().flatMap((r) => r.config.nics.filter((n) => !(except && r.uuid === except.uuid && n.id === except.nic)).map((n) => n.mac)),
    );
  }

  newMac(): { mac: string } {
    return { mac: generateMac(this.takenMacs()) };
  }

  private findNic(row: VmRow, ref: string): NicConfig {
    const byNumber = /^[1-8]$/.test(ref) ? row.config.nics[Number(ref) - 1] : undefined;
    const nic = byNumber ?? row.config.nics.find((n) => n.id === ref);
    if (!nic) throw new NestboxError('NOT_FOUND', `'${row.name}' has no network adapter '${ref}' (it has ${row.config.nics.length})`);
    return nic;
  }

  private requireOff(row: VmRow, verb: string): void {
    if (!isAllowed(row.state, 'modifyHardware')) {
      throw new NestboxError(
        'INVALID_STATE',
        `cannot ${verb} of '${row.name}' while it is ${describeState(row.state)}; power it off first` + (row.state === 'saved' ? ' (or discard its saved state)' : ''),
      );
    }
  }

  /** Applies `spec` to `nic`, validating values the config parser would only name by path. */
  private applySpec(row: VmRow, nic: NicConfig, spec: NicSpec): NicConfig {
    if (!spec || typeof spec !== 'object') throw new NestboxError('INVALID_ARGUMENT', 'no adapter changes given');
    const known = ['mode', 'model', 'mac', 'natNetwork', 'restrict', 'mirrorCounters', 'bridge', 'bridgeVia', 'tap', 'network'];
    for (const k of Object.keys(spec)) if (!known.includes(k)) throw new NestboxError('INVALID_ARGUMENT', `unknown adapter setting '${k}' (known: ${known.join(', ')})`);
    if (spec.mode !== undefined && !NIC_MODES.includes(spec.mode)) throw new NestboxError('INVALID_ARGUMENT', `the mode must be one of ${NIC_MODES.join(', ')}`);
    if (spec.model !== undefined && !NIC_MODELS.includes(spec.model)) throw new NestboxError('INVALID_ARGUMENT', `the model must be one of ${NIC_MODELS.join(', ')}`);
    if (spec.bridgeVia !== undefined && !BRIDGE_VIAS.includes(spec.bridgeVia)) throw new NestboxError('INVALID_ARGUMENT', `bridge attachment must be one of ${BRIDGE_VIAS.join(', ')}`);
    let mac = nic.mac;
    if (spec.mac !== undefined) {
      const taken = this.takenMacs({ uuid: row.uuid, nic: nic.id });
      if (spec.mac === 'auto') mac = generateMac(taken);
      else {
        mac = String(spec.mac).trim().toLowerCase().replace(/-/g, ':');
        if (/^[0-9a-f]{12}$/.test(mac)) mac = mac.match(/../g)!.join(':');
        if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) throw new NestboxError('INVALID_ARGUMENT', `'${spec.mac}' is not a MAC address (six hex pairs such as 52:54:00:12:34:56)`);
        if (parseInt(mac.slice(0, 2), 16) & 1) throw new NestboxError('INVALID_ARGUMENT', `'${mac}' is a multicast address; an adapter needs a unicast MAC (even first byte)`);
        if (mac === '00:00:00:00:00:00') throw new NestboxError('INVALID_ARGUMENT', 'the MAC address must not be all zeros');
        if (taken.has(mac)) {
          const owner = this.d.vmRepo.list().find((r) => r.config.nics.some((n) => n.mac === mac && !(r.uuid === row.uuid && n.id === nic.id)));
          throw new NestboxError('ALREADY_EXISTS', `MAC ${mac} is already used by '${owner?.name ?? 'another VM'}'`);
        }
      }
    }
    const next: Record<string, unknown> = { ...nic, mac };
    for (const k of ['mode', 'model', 'natNetwork', 'restrict', 'mirrorCounters', 'bridge', 'bridgeVia', 'tap', 'network'] as const) {
      const v = spec[k];
      if (v === undefined) continue;
      if (v === '' && k !== 'mode' && k !== 'model') delete next[k];
      else next[k] = v;
    }
    if (next['natNetwork'] === '10.0.2.0/24') delete next['natNetwork'];
    if (next['restrict'] === false) delete next['restrict'];
    if (next['mirrorCounters'] === false) delete next['mirrorCounters'];
    return next as unknown as NicConfig;
  }

  private saveNics(row: VmRow, nics: readonly unknown[]): void {
    let config: VmConfig;
    try {
      config = parseVmConfig({ ...row.config, nics });
    } catch (err) {
      if (err instanceof ConfigError) throw new NestboxError('INVALID_ARGUMENT', err.message.replace(/^nics\[\d+\]\./, ''));
      throw err;
    }
    this.d.vmRepo.updateConfig(config);
    this.d.bus.emit('vm.changed', { uuid: row.uuid });
  }

  setNic(ref: string, nicRef: string, spec: NicSpec): OpResult {
    const row = this.d.vms.resolve(ref);
    const nic = this.findNic(row, nicRef);
    this.requireOff(row, `change network adapter '${nic.id}'`);
    const next = this.applySpec(row, nic, spec);
    this.saveNics(row, row.config.nics.map((n) => (n.id === nic.id ? next : n)));
    this.d.vms.log(row.uuid, 'info', 'nic', `changed ${Object.keys(spec).join(', ')} of adapter '${nic.id}' of '${row.name}'`);
    return this.d.vms.result(row.uuid);
  }

  addNic(ref: string, spec: NicSpec = {}): OpResult {
    const row = this.d.vms.resolve(ref);
    this.requireOff(row, 'add a network adapter');
    if (row.config.nics.length >= LIMITS.maxNics) throw new NestboxError('INVALID_ARGUMENT', `'${row.name}' already has ${LIMITS.maxNics} network adapters, the most a VM can have`);
    const ids = new Set(row.config.nics.map((n) => n.id));
    let i = 0;
    while (ids.has(`net${i}`)) i++;
    const model = row.config.nics[0]?.model ?? 'virtio-net-pci';
    const base: NicConfig = { id: `net${i}`, mode: 'nat', model, mac: generateMac(this.takenMacs()), forwards: [] };
    const nic = this.applySpec(row, base, spec);
    this.saveNics(row, [...row.config.nics, nic]);
    this.d.vms.log(row.uuid, 'info', 'nic', `added network adapter '${nic.id}' (${nic.mode}) to '${row.name}'`);
    return this.d.vms.result(row.uuid);
  }

  removeNic(ref: string, nicRef: string): OpResult {
    const row = this.d.vms.resolve(ref);
    const nic = this.findNic(row, nicRef);
    this.requireOff(row, `remove network adapter '${nic.id}'`);
    this.saveNics(row, row.config.nics.filter((n) => n.id !== nic.id));
    this.d.vms.log(row.uuid, 'info', 'nic', `removed network adapter '${nic.id}' from '${row.name}'`);
    return this.d.vms.result(row.uuid);
  }

  private nic(row: VmRow, nicId: string | undefined): NicConfig {
    const nats = row.config.nics.filter((n) => n.mode === 'nat');
    const nic = nicId ? row.config.nics.find((n) => n.id === nicId) : nats[0];
    if (!nic) throw new NestboxError('NOT_FOUND', nicId ? `'${row.name}' has no network adapter '${nicId}'` : `'${row.name}' has no NAT network adapter`);
    if (nic.mode !== 'nat') throw new NestboxError('INVALID_STATE', `adapter '${nic.id}' of '${row.name}' is not attached to NAT`);
    return nic;
  }

  /**
   * HMP through QMP: hostfwd_add/remove have no QMP equivalent in QEMU 7.2 and report only
   * in text, so `ok` says which output means success.
   */
  private async hmp(row: VmRow, command: string, ok: (out: string) => boolean): Promise<void> {
    const qemu = this.d.vms.qemuOf(row.uuid);
    if (!qemu) throw new NestboxError('INVALID_STATE', `'${row.name}' has no QEMU process attached`);
    const out = String((await qemuCommands(qemu.qmp).humanMonitor(command)) ?? '').trim();
    if (!ok(out)) throw new NestboxError('QEMU_FAILED', `QEMU refused '${command}': ${out}`);
  }

  private save(row: VmRow, nicId: string, forwards: readonly PortForward[]): void {
    try {
      this.d.vmRepo.updateConfig(
        parseVmConfig({ ...row.config, nics: row.config.nics.map((n) => (n.id === nicId ? { ...n, forwards } : n)) }),
      );
    } catch (err) {
      if (err instanceof ConfigError) throw new NestboxError('INVALID_ARGUMENT', err.message);
      throw err;
    }
    this.d.bus.emit('vm.changed', { uuid: row.uuid });
  }

  async addForward(ref: string, nicId: string | undefined, input: Partial<PortForward> & { guestPort: number; hostPort: number }): Promise<OpResult> {
    const row = this.d.vms.resolve(ref);
    if (row.state === 'starting' || row.state === 'saving') {
      throw new NestboxError('INVALID_STATE', `cannot change port forwarding of '${row.name}' while it is ${row.state}`);
    }
    const nic = this.nic(row, nicId);
    let rule: PortForward;
    try {
      rule = parsePortForward(
        {
          name: input.name ?? `rule${nic.forwards.length + 1}`,
          protocol: input.protocol ?? 'tcp',
          hostAddress: input.hostAddress ?? '127.0.0.1',
          hostPort: input.hostPort,
          guestAddress: input.guestAddress ?? '',
          guestPort: input.guestPort,
        },
        'rule',
      );
    } catch (err) {
      if (err instanceof ConfigError) throw new NestboxError('INVALID_ARGUMENT', err.message);
      throw err;
    }
    if (nic.forwards.some((f) => f.name === rule.name)) throw new NestboxError('ALREADY_EXISTS', `'${row.name}' already has a rule named '${rule.name}'`);
    for (const other of this.d.vmRepo.list()) {
      for (const n of other.config.nics) {
        const clash = n.forwards.find((f) => bindKey(f) === bindKey(rule) || (f.protocol === rule.protocol && f.hostPort === rule.hostPort && (f.hostAddress === '0.0.0.0' || rule.hostAddress === '0.0.0.0')));
        if (clash) {
          throw new NestboxError('ALREADY_EXISTS', `${rule.protocol.toUpperCase()} port ${rule.hostPort} is already forwarded by rule '${clash.name}' of '${other.name}'`);
        }
      }
    }
    const busy = await portAvailable(rule.protocol, rule.hostAddress, rule.hostPort);
    if (busy) throw new NestboxError('ADMISSION_DENIED', busy);
    if (isActive(row.state)) {
      await this.hmp(row, `hostfwd_add ${nic.id} ${rule.protocol}:${rule.hostAddress}:${rule.hostPort}-${rule.guestAddress}:${rule.guestPort}`, (out) => out === '');
    }
    this.save(row, nic.id, [...nic.forwards, rule]);
    this.d.vms.log(row.uuid, 'info', 'port-forward', `forwarding ${rule.protocol} ${rule.hostAddress}:${rule.hostPort} to guest port ${rule.guestPort} of '${row.name}' ('${rule.name}')`);
    return this.d.vms.result(row.uuid);
  }

  async removeForward(ref: string, nicId: string | undefined, name: string): Promise<OpResult> {
    const row = this.d.vms.resolve(ref);
    const nic = this.nic(row, nicId);
    const rule = nic.forwards.find((f) => f.name === name);
    if (!rule) throw new NestboxError('NOT_FOUND', `'${row.name}' has no port forwarding rule '${name}'`);
    if (isActive(row.state)) await this.hmp(row, `hostfwd_remove ${nic.id} ${rule.protocol}:${rule.hostAddress}:${rule.hostPort}`, (out) => /removed/.test(out));
    this.save(row, nic.id, nic.forwards.filter((f) => f.name !== name));
    this.d.vms.log(row.uuid, 'info', 'port-forward', `removed port forwarding rule '${name}' of '${row.name}'`);
    return this.d.vms.result(row.uuid);
  }

  /** Plugs or unplugs the virtual cable of a running VM's adapter (QMP set_link). */
  async setLink(ref: string, nicId: string | undefined, connected: boolean): Promise<OpResult> {
    const row = this.d.vms.resolve(ref);
    const nic = nicId ? row.config.nics.find((n) => n.id === nicId) : row.config.nics[0];
    if (!nic) throw new NestboxError('NOT_FOUND', `'${row.name}' has no network adapter${nicId ? ` '${nicId}'` : ''}`);
    const qemu = this.d.vms.qemuOf(row.uuid);
    if (!qemu || !isActive(row.state)) throw new NestboxError('INVALID_STATE', `'${row.name}' is not running`);
    await qemuCommands(qemu.qmp).setLink(nic.id, connected);
    this.d.vms.log(row.uuid, 'info', 'link', `${connected ? 'connected' : 'disconnected'} the cable of '${nic.id}' of '${row.name}'`);
    return this.d.vms.result(row.uuid);
  }
}
