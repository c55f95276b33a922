/** Networking: port forwarding, the cable, network adapters, the host's networks. */
import type { NicSpec } from '../../core/api/contract';
import { NestboxError } from '../../core/api/errors';
import { command, type CommandGroup, opt, req, UsageError } from '../command';
import { intOpt, nicTarget, out, sshCommand, table } from '../format';

const json = { type: 'boolean', help: 'machine-readable output' } as const;

const forwardList = command({
  name: 'portforward list',
  lead: 1,
  args: [req('NAME')],
  options: { json },
  summary: 'NAT port forwarding rules (and the ssh command for port 22)',
  async handler(ctx, [vm], o) {
    const info = await (await ctx.client()).call('vms.info', { ref: vm });
    const rules = info.config.nics.flatMap((n) => n.forwards.map((f) => ({ nic: n.id, ...f })));
    if (o.json) out(JSON.stringify(rules, null, 2));
    else if (rules.length === 0) out(`'${info.name}' has no port forwarding rules`);
    else {
      out(table([['NAME', 'NIC', 'PROTO', 'HOST', 'GUEST'], ...rules.map((r) => [r.name, r.nic, r.protocol, `${r.hostAddress}:${r.hostPort}`, `${r.guestAddress || '(guest)'}:${r.guestPort}`])]));
      for (const r of rules.filter((x) => x.guestPort === 22 && x.protocol === 'tcp')) out(`ssh: ${sshCommand(r, 'USER')}`);
    }
  },
});

const forwardAdd = command({
  name: 'portforward add',
  lead: 1,
  args: [req('NAME'), req('RULE')],
  options: {},
  summary: 'RULE = name,tcp|udp,[host-ip],host-port,[guest-ip],guest-port',
  details: 'rules are added and removed while the VM runs, no restart',
  async handler(ctx, [vm, rule]) {
    const parts = rule.split(',');
    if (parts.length !== 6) throw new UsageError('a rule is name,tcp|udp,[host-ip],host-port,[guest-ip],guest-port, e.g. ssh,tcp,,2222,,22');
    const [name, proto, hostIp, hostPort, guestIp, guestPort] = parts as [string, string, string, string, string, string];
    if (proto !== 'tcp' && proto !== 'udp') throw new UsageError('the protocol must be tcp or udp');
    const r = await (await ctx.client()).call('network.addForward', {
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
  },
});

const forwardRemove = command({
  name: 'portforward remove',
  lead: 1,
  args: [req('NAME'), req('RULE-NAME')],
  options: {},
  summary: 'remove a rule (while the VM runs, no restart)',
  async handler(ctx, [vm, rule]) {
    await (await ctx.client()).call('network.removeForward', { ref: vm, name: rule });
    out(`Removed rule '${rule}'`);
  },
});

const forwardSsh = command({
  name: 'portforward ssh',
  lead: 1,
  args: [req('NAME'), opt('RULE')],
  options: { user: { type: 'string', value: 'U', help: 'the user name in the command (default: user)' } },
  summary: 'the ssh command for a rule to guest port 22',
  async handler(ctx, [vm, rule], o) {
    const info = await (await ctx.client()).call('vms.info', { ref: vm });
    const rules = info.config.nics.flatMap((n) => n.forwards).filter((f) => f.protocol === 'tcp' && f.guestPort === 22 && (!rule || f.name === rule));
    if (rules.length === 0) {
      throw new NestboxError('NOT_FOUND', rule ? `'${info.name}' has no TCP rule '${rule}' to guest port 22` : `'${info.name}' has no rule to guest port 22; add one: nestbox portforward ${info.name} add ssh,tcp,,2222,,22`);
    }
    out(sshCommand(rules[0]!, o.user ?? 'user'));
  },
});

const link = command({
  name: 'link',
  args: [req('NAME'), opt('NIC'), req('on|off')],
  options: {},
  summary: "plug or unplug a running VM's virtual network cable",
  async handler(ctx, [vm, nic, onOff]) {
    if (onOff !== 'on' && onOff !== 'off') throw new UsageError('usage: nestbox link NAME [NIC] on|off', false);
    await (await ctx.client()).call('network.setLink', { ref: vm, ...(nic ? { nic } : {}), connected: onOff === 'on' });
    out(`Cable ${onOff === 'on' ? 'connected' : 'disconnected'}`);
  },
});

const NIC_OPTIONS = {
  mode: { type: 'string', value: 'nat|bridged|internal|none', help: 'how the adapter is attached' },
  model: { type: 'string', value: 'virtio-net-pci|e1000|rtl8139', help: 'the emulated card' },
  mac: { type: 'string', value: 'auto|MAC', help: 'the MAC address' },
  bridge: { type: 'string', value: 'BR', help: 'the host bridge (bridged)' },
  via: { type: 'string', value: 'helper|tap|vmnet|windows-tap', help: 'how a bridged adapter reaches the bridge' },
  tap: { type: 'string', value: 'TAP', help: 'the tap device (--via tap)' },
  network: { type: 'string', value: 'NAME', help: 'the internal network (internal)' },
  'nat-net': { type: 'string', value: 'CIDR', help: 'the NAT network (nat)' },
  restrict: { type: 'string', value: 'on|off', help: 'NAT without access to the outside (nat)' },
  'mirror-counters': { type: 'string', value: 'on|off', help: 'traffic counters by mirroring frames (nat, internal; for guests without an agent; costs throughput)' },
} as const;

function nicSpec(o: { readonly [K in keyof typeof NIC_OPTIONS]?: string }): NicSpec {
  if (o.restrict !== undefined && o.restrict !== 'on' && o.restrict !== 'off') throw new UsageError('--restrict must be on or off');
  const mirror = o['mirror-counters'];
  if (mirror !== undefined && mirror !== 'on' && mirror !== 'off') throw new UsageError('--mirror-counters must be on or off');
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
    ...(mirror !== undefined ? { mirrorCounters: mirror === 'on' } : {}),
  };
}

const nicList = command({
  name: 'nic list',
  lead: 1,
  args: [req('NAME')],
  options: { json },
  summary: "the VM's network adapters (up to 8)",
  async handler(ctx, [vm], o) {
    const info = await (await ctx.client()).call('vms.info', { ref: vm });
    if (o.json) out(JSON.stringify(info.config.nics, null, 2));
    else if (info.config.nics.length === 0) out(`'${info.name}' has no network adapters; add one: nestbox nic ${info.name} add`);
    else out(table([['#', 'ID', 'MODE', 'MODEL', 'MAC', 'ATTACHED TO'], ...info.config.nics.map((x, i) => [String(i + 1), x.id, x.mode, x.model, x.mac, nicTarget(x)])]));
  },
});

const nicSet = command({
  name: 'nic set',
  lead: 1,
  args: [req('NAME'), req('N')],
  options: NIC_OPTIONS,
  summary: 'change an adapter (N: 1-8 or net0...; the VM is off)',
  async handler(ctx, [vm, n], o) {
    const changes = nicSpec(o);
    if (Object.keys(changes).length === 0) throw new UsageError('nothing to change (see nestbox nic --help)');
    const r = await (await ctx.client()).call('network.setNic', { ref: vm, nic: n, changes });
    const x = r.vm.config.nics.find((k) => k.id === n) ?? r.vm.config.nics[Number(n) - 1];
    out(x ? `Adapter ${x.id} of '${r.vm.name}': ${x.mode}, ${x.model}, ${x.mac}${nicTarget(x) !== '-' ? `, ${nicTarget(x)}` : ''}` : `Modified '${r.vm.name}'`);
  },
});

const nicAdd = command({
  name: 'nic add',
  lead: 1,
  args: [req('NAME')],
  options: NIC_OPTIONS,
  summary: 'add an adapter (NAT unless --mode says otherwise)',
  async handler(ctx, [vm], o) {
    const r = await (await ctx.client()).call('network.addNic', { ref: vm, spec: nicSpec(o) });
    const x = r.vm.config.nics[r.vm.config.nics.length - 1]!;
    out(`Added adapter ${x.id} to '${r.vm.name}': ${x.mode}, ${x.model}, ${x.mac}`);
  },
});

const nicRemove = command({
  name: 'nic remove',
  lead: 1,
  args: [req('NAME'), req('N')],
  options: {},
  summary: 'remove an adapter',
  async handler(ctx, [vm, n]) {
    const r = await (await ctx.client()).call('network.removeNic', { ref: vm, nic: n });
    out(`Removed adapter ${n} from '${r.vm.name}'`);
  },
});

const networkList = command({
  name: 'network list',
  args: [],
  options: { json },
  summary: 'host bridges (and whether VMs may use them), internal networks and their VMs',
  async handler(ctx, _args, o) {
    const net = await (await ctx.client()).call('network.host', {});
    if (o.json) {
      out(JSON.stringify(net, null, 2));
      return;
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
  },
});

export const networkCommands: CommandGroup = {
  name: 'network',
  title: 'Network',
  commands: [forwardList, forwardAdd, forwardRemove, forwardSsh, link, nicList, nicSet, nicAdd, nicRemove, networkList],
};
