import { describe, expect, it } from 'vitest';
import { NestboxError } from '../../../../src/core/api/errors';
import { findLimiter, IMAGE_TOOL_LIMITS, limitedCommand, limitFailure } from '../../../../src/core/storage/limits';

const L = IMAGE_TOOL_LIMITS.inspect;

describe('limitedCommand', () => {
  it('puts prlimit in front with the CPU and address-space caps', () => {
    const c = limitedCommand('/usr/bin/qemu-img', ['info', 'x'], L, { kind: 'prlimit', path: '/opt/bin/prlimit' });
    expect(c.command).toBe('/opt/bin/prlimit');
    expect(c.args).toEqual(['--cpu=30', `--as=${2 * 1024 * 1024 * 1024}`, '--', '/usr/bin/qemu-img', 'info', 'x']);
    expect(c.env['MALLOC_ARENA_MAX']).toBe('2');
  });

  it('falls back to a sh wrapper that sets ulimits and execs, arguments passed as arguments (never as shell text)', () => {
    const c = limitedCommand('/usr/bin/qemu-img', ['info', '$(reboot); x'], L, { kind: 'sh', path: '/bin/sh' });
    expect(c.command).toBe('/bin/sh');
    expect(c.args[0]).toBe('-c');
    expect(c.args[1]).toBe(`ulimit -t 30 && ulimit -v ${2 * 1024 * 1024} && exec "$0" "$@"`);
    expect(c.args.slice(2)).toEqual(['/usr/bin/qemu-img', 'info', '$(reboot); x']);
  });

  it('refuses, saying what to install, when the host offers no limiter', () => {
    let err: unknown;
    try {
      limitedCommand('/usr/bin/qemu-img', ['info'], L, null);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NestboxError);
    expect((err as NestboxError).code).toBe('HOST_UNSUPPORTED');
    expect((err as NestboxError).message).toMatch(/prlimit.*\/bin\/sh|util-linux/);
  });
});

describe('findLimiter', () => {
  it('finds prlimit on PATH, wherever it is', () => {
    const l = findLimiter({ PATH: process.env['PATH'] ?? '' });
    expect(l?.kind).toBe('prlimit');
  });

  it('uses sh when told to (or when prlimit is missing), and nothing when prlimit is required but absent', () => {
    expect(findLimiter({ PATH: '', NESTBOX_IMAGE_LIMITER: 'sh' })).toEqual({ kind: 'sh', path: '/bin/sh' });
    expect(findLimiter({ PATH: '/nonexistent', NESTBOX_IMAGE_LIMITER: 'prlimit' })?.kind ?? null).toBe(process.platform === 'linux' ? 'prlimit' : null);
  });
});

describe('limitFailure', () => {
  it('names the limit that ended the process', () => {
    expect(limitFailure(L, 'SIGXCPU', '', false)).toMatch(/CPU-time limit \(30 s\)/);
    expect(limitFailure(L, 'SIGKILL', '', false)).toMatch(/CPU-time limit/);
    expect(limitFailure(L, null, 'qemu-img: Failed to allocate memory: Cannot allocate memory', false)).toMatch(/memory limit \(2048 MiB/);
    expect(limitFailure(L, 'SIGABRT', '', false)).toMatch(/memory limit/);
    expect(limitFailure(L, 'SIGKILL', '', true)).toMatch(/stopped after 1 min, the time limit/);
    expect(limitFailure(L, null, "qemu-img: Could not open 'x': No such file", false)).toBeNull();
  });
});
