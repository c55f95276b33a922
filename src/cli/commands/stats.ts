/** Usage statistics: per-minute history and live samples. */
import type { VmInfo, VmStatsSample } from '../../core/api/contract';
import { NestboxError } from '../../core/api/errors';
import type { RpcClient } from '../../core/api/rpc';
import { parseSince, type MinuteAggregate } from '../../core/domain/stats';
import { formatBytes } from '../../core/domain/units';
import { command, type CommandGroup, req, UsageError } from '../command';
import { out, table } from '../format';

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


const stats = command({
  name: 'stats',
  args: [req('NAME')],
  options: {
    since: { type: 'string', value: '10m|1h|ISO', help: 'history since (default 1h)' },
    follow: { type: 'boolean', help: 'live samples, one a second (Ctrl+C stops)' },
    json: { type: 'boolean', help: 'machine-readable output' },
  },
  summary: 'per-minute usage history (kept a week), or live samples with --follow',
  async handler(ctx, [ref], o) {
    const c = await ctx.client();
    const vm = await c.call('vms.info', { ref });
    if (o.follow) {
      await followStats(c, vm, o.json === true);
      return;
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
  },
});

export const statsCommands: CommandGroup = { name: 'stats', title: 'Statistics', commands: [stats] };
