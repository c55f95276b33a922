import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { installMemProbe, MEMPROBE_ENV, writeMemSample } from '../../../../src/core/server/memprobe';

const dirs: string[] = [];
afterEach(() => {
  delete process.env[MEMPROBE_ENV];
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tmpFile(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-memprobe-'));
  dirs.push(d);
  return path.join(d, 'mem.json');
}

describe('memory probe (benchmarks only)', () => {
  it('installs nothing when the variable is not set', () => {
    const before = process.listenerCount('SIGUSR2');
    const lines: string[] = [];
    const remove = installMemProbe((l) => lines.push(l));
    expect(process.listenerCount('SIGUSR2')).toBe(before);
    expect(lines).toEqual([]);
    remove();
  });

  it('refuses the variable without --expose-gc', () => {
    expect(typeof (globalThis as { gc?: unknown }).gc).not.toBe('function');
    process.env[MEMPROBE_ENV] = tmpFile();
    const before = process.listenerCount('SIGUSR2');
    const lines: string[] = [];
    installMemProbe((l) => lines.push(l));
    expect(process.listenerCount('SIGUSR2')).toBe(before);
    expect(lines.join('\n')).toMatch(/refused.*--expose-gc/);
  });

  it('writes the figures after a real forced GC', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const file = tmpFile();
    const s = writeMemSample(gc, file, 3);
    const read = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof s;
    expect(read).toEqual(s);
    expect(read.seq).toBe(3);
    expect(read.rss).toBeGreaterThan(read.heapUsed);
    expect(read.heapTotal).toBeGreaterThanOrEqual(read.heapUsed);
    expect(fs.existsSync(`${file}.tmp`)).toBe(false);
  });
});
