/** The host and settings: what this machine offers, OS types, the core's settings. */
import { OS_TYPES } from '../../core/domain/ostypes';
import { formatBytes } from '../../core/domain/units';
import { command, type CommandGroup, opt, req, UsageError } from '../command';
import { out, table } from '../format';

const host = command({
  name: 'host',
  args: [],
  options: { json: { type: 'boolean', help: 'machine-readable output' } },
  summary: 'QEMU, accelerators, firmware, memory, CPUs',
  async handler(ctx, _args, o) {
    const h = await (await ctx.client()).call('host.info', {});
    if (o.json) {
      out(JSON.stringify(h, null, 2));
      return;
    }
    out(table([
      ['Nestbox:', h.nestboxVersion],
      ['Data directory:', h.dataDir],
      ['QEMU:', h.qemu ? `${h.qemu.version} (${h.qemu.binary})` : 'not found'],
      ['Accelerator:', `${h.accelChoice} → ${h.accelEffective ?? 'none'}`],
      ...h.accelerators.map((a) => [`  ${a.name}:`, a.usable ? 'usable' : `not usable: ${a.reason ?? ''}`]),
      ['UEFI firmware:', h.firmware.uefi ?? 'not found'],
      ['Secure Boot firmware:', h.firmware.secureBoot ?? 'not found (Debian/Ubuntu: apt install ovmf)'],
      ['TPM 2.0 (swtpm):', h.swtpm ?? 'not found (Debian/Ubuntu: apt install swtpm swtpm-tools)'],
      ['Host memory:', `${h.memoryMiB} MiB`],
      ['Host CPUs:', String(h.cpus)],
      ...(h.ksm ? [['Page sharing (KSM):', h.ksm.available ? `${h.ksm.running ? 'on' : 'off'}, ${h.ksm.pagesSharing} pages sharing (saves ~${formatBytes(h.ksm.savedBytes)})${h.ksm.reason ? ` — ${h.ksm.reason}` : ''}` : (h.ksm.reason ?? 'not available')]] : []),
      ...(h.cgroups ? [['Resource limits:', `cgroup ${h.cgroups.version}`], ['  cpu:', h.cgroups.cpu], ['  cpuset:', h.cgroups.cpuset], ['  memory:', h.cgroups.memory]] : []),
    ]));
    if (h.accelNote) out(`Note: ${h.accelNote}`);
  },
});

const ostypes = command({
  name: 'ostypes',
  args: [],
  options: {},
  summary: 'OS types and their presets',
  async handler() {
    out(table([['ID', 'NAME', 'MEMORY', 'DISK', 'FIRMWARE', 'NIC'], ...OS_TYPES.map((t) => [t.id, t.label, `${t.preset.memoryMiB} MiB`, `${t.preset.diskGiB} GiB`, t.preset.firmware, t.preset.nicModel])]));
  },
});

const setting = command({
  name: 'setting',
  args: [req('KEY'), opt('VALUE')],
  options: { reset: { type: 'boolean', help: 'back to the default' } },
  summary: 'show or change a setting',
  details: 'accel: auto, kvm, hvf, whpx, tcg; snapshotBandwidth: MiB/s for saving a running VM\'s memory, unset: unlimited',
  async handler(ctx, [key, value], o) {
    if (o.reset && value !== undefined) throw new UsageError('give either a VALUE or --reset, not both', true);
    const c = await ctx.client();
    if (o.reset) await c.call('settings.set', { key, value: null });
    else if (value !== undefined) await c.call('settings.set', { key, value });
    const v = await c.call('settings.get', { key });
    out(`${key} = ${v ?? '(default)'}`);
  },
});

export const hostCommands: CommandGroup = { name: 'host', title: 'Host and settings', commands: [host, ostypes, setting] };
