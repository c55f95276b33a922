/**
 * NAT port forwarding and the virtual cable. Rules live in the VM's config (SQLite), are
 * applied at start from the argv, and are added or removed while the VM runs through QEMU's
 * hostfwd_add / hostfwd_remove (no restart). Conflicts are found before anything changes.
 */
import type { OpResult } from '../api/contract';
import { NestboxError } from '../api/errors';
import { ConfigError, parsePortForward, parseVmConfig, type NicConfig, type PortForward } from '../domain/config';
import { isActive } from '../domain/lifecycle';
import { portAvailable } from '../network/ports';
import type { VmRepository, VmRow } from '../store/db';
import type { EventBus } from './events';
import type { VmService } from './vms';

export interface NetworkServiceDeps {
  readonly vms: VmService;
  readonly vmRepo: VmRepository;
  readonly bus: EventBus;
}

const bindKey = (f: Pick<PortForward, 'protocol' | 'hostAddress' | 'hostPort'>) => `${f.protocol}:${f.hostAddress}:${f.hostPort}`;

export class NetworkService {
  constructor(private readonly d: NetworkServiceDeps) {}

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
    const out = String((await qemu.qmp.execute<string>('human-monitor-command', { 'command-line': command })) ?? '').trim();
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
    await qemu.qmp.execute('set_link', { name: nic.id, up: connected });
    this.d.vms.log(row.uuid, 'info', 'link', `${connected ? 'connected' : 'disconnected'} the cable of '${nic.id}' of '${row.name}'`);
    return this.d.vms.result(row.uuid);
  }
}
