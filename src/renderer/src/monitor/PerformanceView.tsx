/**
 * The Performance tab: what the selected VM uses, live, over the last ten minutes — CPU,
 * memory, disk and network — drawn by @mui/x-charts from the core's `vm.stats` events.
 */
import { useMemo } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Chip from '@mui/material/Chip';
import Paper from '@mui/material/Paper';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { LineChart } from '@mui/x-charts/LineChart';
import type { VmInfo, VmStatsSample } from '../../../core/api/contract';
import { formatBytes } from '../util/format';
import { diskRates, netRates, useVmStats, WINDOW_MS } from './useStats';

const rate = (v: number | null) => (v === null ? '' : `${formatBytes(Math.round(v))}/s`);
const pct = (v: number | null) => (v === null ? '' : `${v.toFixed(1)} %`);
const bytes = (v: number | null) => (v === null ? '' : formatBytes(Math.round(v)));

interface Series {
  readonly label: string;
  readonly data: (number | null)[];
}

function Chart({ id, title, value, series, times, format, max }: {
  readonly id: string;
  readonly title: string;
  readonly value: string;
  readonly series: readonly Series[];
  readonly times: readonly Date[];
  readonly format: (v: number | null) => string;
  readonly max?: number;
}) {
  const now = times.length ? times[times.length - 1]!.getTime() : Date.now();
  return (
    <Paper variant="outlined" sx={{ p: 1.5, minWidth: 0 }} data-testid={`perf-chart-${id}`} aria-label={`${title} chart`}>
      <Stack direction="row" alignItems="baseline" justifyContent="space-between" sx={{ px: 0.5 }}>
        <Typography variant="subtitle2">{title}</Typography>
        <Typography variant="body2" color="text.secondary" data-testid={`perf-value-${id}`} sx={{ fontVariantNumeric: 'tabular-nums' }}>
          {value}
        </Typography>
      </Stack>
      <LineChart
        height={170}
        skipAnimation
        margin={{ left: 4, right: 12, top: 8, bottom: 4 }}
        xAxis={[
          {
            data: [...times],
            scaleType: 'time',
            min: new Date(now - WINDOW_MS),
            max: new Date(now),
            valueFormatter: (d: Date) => d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }),
          },
        ]}
        yAxis={[{ min: 0, ...(max !== undefined ? { max } : {}), valueFormatter: (v: number | null) => format(v), width: 72 }]}
        series={series.map((s) => ({ data: s.data, label: s.label, showMark: false, valueFormatter: format, connectNulls: false }))}
        slotProps={{ legend: { direction: 'horizontal', position: { vertical: 'top', horizontal: 'end' } } }}
      />
    </Paper>
  );
}

function lastOf<T>(xs: readonly T[]): T | undefined {
  return xs[xs.length - 1];
}

export function PerformanceView({ vm }: { readonly vm: VmInfo }) {
  const running = vm.runtime !== null;
  const samples = useVmStats(running ? vm.uuid : null);
  const d = useMemo(() => {
    const times = samples.map((s) => new Date(s.ts));
    const mem = (f: (s: VmStatsSample) => number | null) => samples.map(f);
    return {
      times,
      cpu: samples.map((s) => s.cpu.hostPct),
      vcpus: (lastOf(samples)?.cpu.vcpus ?? []).map((v) => ({ label: `vCPU ${v.index}`, data: samples.map((s) => s.cpu.vcpus.find((x) => x.index === v.index)?.pct ?? null) })),
      rss: mem((s) => s.memory.rssBytes),
      balloon: mem((s) => s.memory.balloonBytes),
      guestUsed: mem((s) => s.memory.guest?.usedBytes ?? null),
      rd: samples.map((s) => diskRates(s).read),
      wr: samples.map((s) => diskRates(s).write),
      rx: samples.map((s) => netRates(s)?.rx ?? null),
      tx: samples.map((s) => netRates(s)?.tx ?? null),
    };
  }, [samples]);
  const last = lastOf(samples);

  if (!running) {
    return (
      <Box sx={{ p: 3 }}>
        <Alert severity="info">Performance is shown while the VM runs. Start it to see its CPU, memory, disk and network use live.</Alert>
      </Box>
    );
  }
  const noNet = last?.nics.filter((n) => !n.available) ?? [];
  const guest = last?.memory.guest;
  return (
    <Box sx={{ p: 2, overflow: 'auto', flex: 1 }} data-testid="performance-view">
      <Stack direction="row" spacing={1} sx={{ mb: 1.5, flexWrap: 'wrap', rowGap: 1 }}>
        <Chip size="small" label={`${vm.cpus} vCPU${vm.cpus > 1 ? 's' : ''} · ${last?.cpu.hostCpus ?? '…'} host CPUs`} />
        <Chip size="small" label={`${formatBytes(vm.memoryMiB * 1024 * 1024)} assigned`} />
        {(vm.resourceStatus ?? []).map((s) => (
          <Chip
            key={s.setting}
            size="small"
            color={s.enforced ? 'default' : 'warning'}
            variant="outlined"
            label={`${s.setting}: ${s.enforced ? 'enforced' : 'not enforced'}`}
            title={s.detail}
          />
        ))}
        {!last && <Chip size="small" color="primary" variant="outlined" label="Waiting for the first samples…" />}
      </Stack>
      <Box sx={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(340px, 1fr))', gap: 1.5 }}>
        <Chart
          id="cpu"
          title="CPU (% of host)"
          value={pct(last?.cpu.hostPct ?? null)}
          times={d.times}
          format={pct}
          max={100}
          series={[{ label: 'QEMU', data: d.cpu }, ...d.vcpus.map((v) => ({ ...v, label: `${v.label} (% of 1 CPU)` }))]}
        />
        <Chart
          id="memory"
          title="Memory"
          value={`${bytes(last?.memory.rssBytes ?? null)} resident${guest ? ` · guest uses ${formatBytes(guest.usedBytes)}` : ''}`}
          times={d.times}
          format={bytes}
          series={[
            { label: 'Resident', data: d.rss },
            ...(last?.memory.balloonBytes !== null && last ? [{ label: 'Balloon (guest keeps)', data: d.balloon }] : []),
            ...(guest ? [{ label: 'Guest used', data: d.guestUsed }] : []),
          ]}
        />
        <Chart
          id="disk"
          title="Disk"
          value={last ? `read ${rate(diskRates(last).read)} · write ${rate(diskRates(last).write)}` : ''}
          times={d.times}
          format={rate}
          series={[{ label: 'Read', data: d.rd }, { label: 'Write', data: d.wr }]}
        />
        <Chart
          id="network"
          title="Network"
          value={last && netRates(last) ? `in ${rate(netRates(last)!.rx)} · out ${rate(netRates(last)!.tx)}` : 'no counters'}
          times={d.times}
          format={rate}
          series={[{ label: 'In (to guest)', data: d.rx }, { label: 'Out', data: d.tx }]}
        />
      </Box>
      {last?.memory.guestNote && (
        <Typography variant="caption" color="text.secondary" component="p" sx={{ mt: 1 }}>
          Guest memory: {last.memory.guestNote}.
        </Typography>
      )}
      {noNet.map((n) => (
        <Typography key={n.id} variant="caption" color="warning.main" component="p" sx={{ mt: 0.5 }}>
          Network adapter {n.id}: {n.reason}
        </Typography>
      ))}
    </Box>
  );
}
