import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readSerialLog } from '../../../../src/core/services/consoles';
import { LOG_LIMITS, logGenerations, logLimitsFromEnv, LogRotator, rotateIfLarge } from '../../../../src/core/services/logrotate';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-logrot-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const limits = { maxBytes: 1000, generations: 2 };

describe('rotateIfLarge', () => {
  it('leaves a small log alone', () => {
    const f = path.join(dir, 'serial.log');
    fs.writeFileSync(f, 'short\n');
    expect(rotateIfLarge(f, limits)).toBe(false);
    expect(logGenerations(f, limits)).toEqual([f]);
  });

  it('copies and truncates in place, so a writer holding it open with O_APPEND goes on at the new start', () => {
    const f = path.join(dir, 'serial.log');
    const fd = fs.openSync(f, 'a');
    try {
      fs.writeSync(fd, 'A'.repeat(1000));
      expect(rotateIfLarge(f, limits)).toBe(true);
      fs.writeSync(fd, 'after\n');
      expect(fs.readFileSync(f, 'utf8')).toBe('after\n');
      expect(fs.readFileSync(`${f}.1`, 'utf8')).toBe('A'.repeat(1000));
      // Two more rotations: only `generations` old files stay, the oldest dropped.
      fs.writeSync(fd, 'B'.repeat(994));
      rotateIfLarge(f, limits);
      fs.writeSync(fd, 'C'.repeat(1000));
      rotateIfLarge(f, limits);
      expect(fs.existsSync(`${f}.3`)).toBe(false);
      expect(fs.readFileSync(`${f}.2`, 'utf8')).toMatch(/^after\nB+$/);
      expect(fs.readFileSync(`${f}.1`, 'utf8')).toBe('C'.repeat(1000));
      expect(fs.statSync(f).size).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('a generation never exceeds the cap, however much the guest wrote since the last check: the newest lines stay, after a note', () => {
    const f = path.join(dir, 'serial.log');
    const lines = Array.from({ length: 200 }, (_, i) => `line-${i}-${'x'.repeat(20)}\n`).join('');
    fs.writeFileSync(f, lines);
    expect(rotateIfLarge(f, limits)).toBe(true);
    const kept = fs.readFileSync(`${f}.1`, 'utf8');
    const [note, ...rest] = kept.split('\n');
    expect(note).toMatch(/^\[nestbox: \d+ bytes of older output dropped here/);
    expect(Buffer.byteLength(rest.join('\n'))).toBeLessThanOrEqual(limits.maxBytes);
    // Whole lines, ending with the newest.
    expect(rest[0]).toMatch(/^line-\d+-x{20}$/);
    expect(kept.endsWith('line-199-' + 'x'.repeat(20) + '\n')).toBe(true);
    expect(Number(/(\d+) bytes/.exec(note!)![1]) + Buffer.byteLength(rest.join('\n'))).toBe(lines.length);
    expect(fs.statSync(f).size).toBe(0);
  });

  it('a missing file is not an error', () => {
    expect(rotateIfLarge(path.join(dir, 'nope.log'), limits)).toBe(false);
  });

  it('the rotator checks the files it is given, and a failing list does not throw', () => {
    const f = path.join(dir, 'qemu.log');
    fs.writeFileSync(f, 'x'.repeat(5000));
    new LogRotator(() => [f], limits).tick();
    expect(fs.statSync(f).size).toBe(0);
    new LogRotator(() => {
      throw new Error('The database connection is not open');
    }, limits).tick();
  });

  it('limits come from the environment when valid', () => {
    expect(logLimitsFromEnv({})).toEqual(LOG_LIMITS);
    expect(logLimitsFromEnv({ NESTBOX_LOG_MAX_BYTES: '65536', NESTBOX_LOG_GENERATIONS: '5' })).toEqual({ maxBytes: 65536, generations: 5 });
    expect(logLimitsFromEnv({ NESTBOX_LOG_MAX_BYTES: '-1', NESTBOX_LOG_GENERATIONS: 'x' })).toEqual(LOG_LIMITS);
  });
});

describe('readSerialLog over generations', () => {
  function writeGenerations(): string {
    const f = path.join(dir, 'serial.log');
    // A line split across the rotation boundary reads as one line.
    fs.writeFileSync(`${f}.2`, 'one\ntwo ne');
    fs.writeFileSync(`${f}.1`, 'edle\nthree\n');
    fs.writeFileSync(f, 'four needle\nfive\n');
    return f;
  }

  it('searches every generation as one text, with continuous line numbers', async () => {
    const f = writeGenerations();
    const r = await readSerialLog(f, 'NEEDLE');
    expect(r.matches).toEqual([
      { line: 2, text: 'two needle' },
      { line: 4, text: 'four needle' },
    ]);
    expect(r.size).toBe(fs.statSync(f).size + fs.statSync(`${f}.1`).size + fs.statSync(`${f}.2`).size);
    expect(r.truncated).toBe(false);
  });

  it('the tail spans generations', async () => {
    const f = writeGenerations();
    const all = 'one\ntwo needle\nthree\nfour needle\nfive\n';
    expect((await readSerialLog(f, undefined, 1024)).text).toBe(all);
    const r = await readSerialLog(f, undefined, 1);
    expect(r.text).toBe(all.slice(-Math.min(all.length, 1024)));
  });

  it('a log that does not exist is empty', async () => {
    expect(await readSerialLog(path.join(dir, 'none.log'), 'x')).toEqual({ path: path.join(dir, 'none.log'), size: 0, text: '', matches: [], truncated: false });
  });

  it('streams a large log in chunks and stops at 1000 matches', async () => {
    const f = path.join(dir, 'big.log');
    fs.writeFileSync(f, Array.from({ length: 3000 }, (_, i) => `line ${i} hit`).join('\n'));
    const r = await readSerialLog(f, 'hit');
    expect(r.matches).toHaveLength(1000);
    expect(r.matches[999]).toEqual({ line: 1000, text: 'line 999 hit' });
    expect(r.truncated).toBe(true);
  });
});
