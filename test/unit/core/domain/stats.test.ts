import { describe, expect, it } from 'vitest';
import {
  aggregateMinute,
  cpuListString,
  cpuPercentOfHost,
  cpuPercentOfOne,
  cpuQuotaMicros,
  FrameCounter,
  latencyMs,
  MinuteAccumulator,
  parseCpuList,
  parseHostCpu,
  parseKbFields,
  parseProcStat,
  parseSince,
  rate,
  weightToShares,
  type SamplePoint,
} from '../../../../src/core/domain/stats';

const STAT = '4242 (qemu-system-x86) S 1 4242 4242 0 -1 4194560 1000 0 0 0 350 150 0 0 20 0 5 0 100 1000000 2000 18446744073709551615';

function point(ts: number, over: Partial<SamplePoint> = {}): SamplePoint {
  return {
    ts, cpuPct: 10, rssBytes: 1000, balloonBytes: null, guestUsedBytes: null,
    diskRdBytes: 0, diskWrBytes: 0, diskRdOps: 0, diskWrOps: 0,
    netRxBytes: null, netTxBytes: null, netRxPackets: null, netTxPackets: null, ...over,
  };
}

describe('/proc parsing', () => {
  it('reads utime + stime, counting fields after the last parenthesis', () => {
    expect(parseProcStat(STAT)).toEqual({ ticks: 500, state: 'S' });
    // A thread name with spaces and parentheses (QEMU's "CPU 0/TCG" under debug-threads).
    expect(parseProcStat('77 (CPU 0/TCG) (x)) R 1 2 3 4 5 6 7 8 9 10 40 2 0 0')).toEqual({ ticks: 42, state: 'R' });
    expect(parseProcStat('garbage')).toBeNull();
  });

  it('reads kB fields as bytes', () => {
    const m = parseKbFields('Name:\tqemu\nVmRSS:\t  2048 kB\nThreads:\t5\n');
    expect(m.get('VmRSS')).toBe(2048 * 1024);
    expect(m.get('Threads')).toBe(5);
  });

  it('reads host busy and total jiffies from /proc/stat', () => {
    expect(parseHostCpu('cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n')).toEqual({ busy: 150, total: 1000 });
  });
});

describe('CPU percentages', () => {
  it('is percent of the whole host', () => {
    // 100 ticks in 1 s at 100 Hz = one CPU busy; on a 2-CPU host that is 50 %.
    expect(cpuPercentOfHost(0, 100, 1, 100, 2)).toBe(50);
    expect(cpuPercentOfHost(0, 200, 2, 100, 4)).toBe(25);
    expect(cpuPercentOfOne(0, 50, 1, 100)).toBe(50);
  });

  it('never goes negative or above 100, and a zero interval gives 0', () => {
    expect(cpuPercentOfHost(500, 100, 1, 100, 2)).toBe(0);
    expect(cpuPercentOfHost(0, 10_000, 1, 100, 2)).toBe(100);
    expect(cpuPercentOfHost(0, 100, 0, 100, 2)).toBe(0);
  });
});

describe('rates and latency', () => {
  it('treats a counter that went backwards as no information', () => {
    expect(rate(100, 300, 2)).toBe(100);
    expect(rate(300, 100, 2)).toBe(0);
  });

  it('averages latency over the operations completed in the interval', () => {
    expect(latencyMs(10, 14, 1_000_000, 9_000_000)).toBe(2);
    expect(latencyMs(10, 10, 0, 0)).toBeNull();
  });
});

describe('per-minute aggregation', () => {
  it('averages levels, keeps maxima and sums amounts', () => {
    const t = Date.UTC(2026, 0, 1, 12, 0, 0);
    const a = aggregateMinute([
      point(t + 1000, { cpuPct: 10, rssBytes: 100, diskWrBytes: 5, netRxBytes: 7, balloonBytes: 512 }),
      point(t + 2000, { cpuPct: 30, rssBytes: 300, diskWrBytes: 6, netRxBytes: null, balloonBytes: 256, guestUsedBytes: 40 }),
    ]);
    expect(a).toMatchObject({ minute: t, samples: 2, cpuAvg: 20, cpuMax: 30, rssAvg: 200, rssMax: 300, diskWrBytes: 11, netRxBytes: 7, netTxBytes: null, balloonLast: 256, guestUsedAvg: 40 });
  });

  it('refuses samples of different minutes', () => {
    expect(() => aggregateMinute([point(0), point(60_000)])).toThrow(/different minutes/);
    expect(() => aggregateMinute([])).toThrow();
  });

  it('hands back a minute when the next one starts, and the rest on flush', () => {
    const acc = new MinuteAccumulator();
    const t = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(acc.add(point(t + 58_000))).toBeNull();
    expect(acc.add(point(t + 59_000))).toBeNull();
    const done = acc.add(point(t + 60_500));
    expect(done).toMatchObject({ minute: t, samples: 2 });
    expect(acc.flush()).toMatchObject({ minute: t + 60_000, samples: 1 });
    expect(acc.flush()).toBeNull();
  });
});

describe('--since', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  it('takes durations and ISO dates', () => {
    expect(parseSince('10m', now)).toBe(now - 600_000);
    expect(parseSince('1h', now)).toBe(now - 3_600_000);
    expect(parseSince('2d', now)).toBe(now - 2 * 86_400_000);
    expect(parseSince('2026-01-01T11:00:00Z', now)).toBe(now - 3_600_000);
  });
  it('says what it expects otherwise', () => {
    expect(() => parseSince('yesterday', now)).toThrow(/duration such as 10m/);
  });
});

describe('cgroup values', () => {
  it('turns a percent of the host into a CFS quota', () => {
    expect(cpuQuotaMicros(25, 2)).toBe(50_000);
    expect(cpuQuotaMicros(100, 2)).toBe(200_000);
  });
  it('maps the weight scale onto v1 shares', () => {
    expect(weightToShares(100)).toBe(1024);
    expect(weightToShares(10)).toBe(102);
    expect(weightToShares(1)).toBe(10);
  });
  it('writes and reads cpuset lists', () => {
    expect(cpuListString([5, 0, 1, 2])).toBe('0-2,5');
    expect(parseCpuList('0-2,5')).toEqual([0, 1, 2, 5]);
    expect(parseCpuList('1,0')).toEqual([0, 1]);
    expect(() => parseCpuList('a')).toThrow(/not a CPU list/);
  });
});

describe('FrameCounter (filter-mirror stream)', () => {
  function frame(len: number): Uint8Array {
    const b = new Uint8Array(4 + len);
    new DataView(b.buffer).setUint32(0, len);
    return b;
  }
  it('counts frames and payload bytes whatever the chunking', () => {
    const stream = new Uint8Array([...frame(60), ...frame(1514), ...frame(0), ...frame(300)]);
    for (const size of [1, 3, 7, 64, stream.length]) {
      const c = new FrameCounter();
      for (let i = 0; i < stream.length; i += size) c.push(stream.subarray(i, i + size));
      expect([c.packets, c.bytes]).toEqual([4, 60 + 1514 + 300]);
    }
  });
});
