import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_WINDOW, loadWindowState, saveWindowState, type WindowState } from '../../../src/main/windowState';

const ONE_SCREEN = [{ x: 0, y: 0, width: 1920, height: 1080 }];
/** A second display to the left of the primary one (negative coordinates). */
const TWO_SCREENS = [...ONE_SCREEN, { x: -1280, y: 0, width: 1280, height: 1024 }];

let dir: string;
let file: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-winstate-'));
  file = path.join(dir, 'window-state.json');
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const write = (v: unknown) => fs.writeFileSync(file, typeof v === 'string' ? v : JSON.stringify(v));

describe('loadWindowState', () => {
  it('uses the defaults when there is no file', () => {
    expect(loadWindowState(file, ONE_SCREEN)).toEqual(DEFAULT_WINDOW);
  });

  it.each([
    ['truncated JSON', '{"width": 1000, "hei'],
    ['an empty file', ''],
    ['binary junk', '\u0000\u0001\u0002'],
    ['null', 'null'],
    ['a number', '42'],
    ['a string', '"big"'],
    ['an array', '[1000, 700]'],
  ])('uses the defaults for %s', (_what, content) => {
    write(content);
    expect(loadWindowState(file, ONE_SCREEN)).toEqual(DEFAULT_WINDOW);
  });

  it('uses the defaults when the path is a directory', () => {
    expect(loadWindowState(dir, ONE_SCREEN)).toEqual(DEFAULT_WINDOW);
  });

  it('fills in default sizes for missing or non-numeric fields', () => {
    write({ width: 'wide', height: null, maximized: 'yes' });
    expect(loadWindowState(file, ONE_SCREEN)).toEqual({ width: DEFAULT_WINDOW.width, height: DEFAULT_WINDOW.height, maximized: false });
  });

  it('keeps a sane saved state', () => {
    write({ x: 100, y: 50, width: 1300, height: 900, maximized: true });
    expect(loadWindowState(file, ONE_SCREEN)).toEqual({ x: 100, y: 50, width: 1300, height: 900, maximized: true });
  });

  it('clamps a tiny window up to the minimum size', () => {
    write({ width: 10, height: -5, maximized: false });
    expect(loadWindowState(file, ONE_SCREEN)).toEqual({ width: 800, height: 560, maximized: false });
  });

  it('clamps a huge window down', () => {
    write({ width: 1e9, height: 123456, maximized: false });
    expect(loadWindowState(file, ONE_SCREEN)).toEqual({ width: 10_000, height: 10_000, maximized: false });
  });

  it('treats non-finite numbers as missing', () => {
    // JSON cannot carry Infinity or NaN, but 1e999 parses to Infinity.
    write('{"width": 1e999, "height": -1e999, "x": 1e999, "y": 0}');
    const s = loadWindowState(file, ONE_SCREEN);
    expect(s).toEqual({ width: DEFAULT_WINDOW.width, height: DEFAULT_WINDOW.height, maximized: false });
  });

  it.each([
    ['far right', 5000, 100],
    ['far below', 100, 3000],
    ['far left', -3000, 100],
    ['above the top', 100, -200],
  ])('drops a position that is off-screen (%s) but keeps the size', (_what, x, y) => {
    write({ x, y, width: 1000, height: 700, maximized: false });
    expect(loadWindowState(file, ONE_SCREEN)).toEqual({ width: 1000, height: 700, maximized: false });
  });

  it('drops a position when the display it was on is gone', () => {
    write({ x: -1000, y: 100, width: 1000, height: 700, maximized: false });
    expect(loadWindowState(file, TWO_SCREENS)).toMatchObject({ x: -1000, y: 100 });
    expect(loadWindowState(file, ONE_SCREEN)).not.toHaveProperty('x');
  });

  it('drops the position when no displays are known', () => {
    write({ x: 10, y: 10, width: 1000, height: 700, maximized: false });
    expect(loadWindowState(file, [])).toEqual({ width: 1000, height: 700, maximized: false });
  });

  it('drops a half position (x without y)', () => {
    write({ x: 10, width: 1000, height: 700, maximized: false });
    expect(loadWindowState(file, ONE_SCREEN)).toEqual({ width: 1000, height: 700, maximized: false });
  });
});

describe('saveWindowState', () => {
  it('round-trips through loadWindowState', () => {
    const state: WindowState = { x: 40, y: 30, width: 1400, height: 880, maximized: true };
    saveWindowState(file, state);
    expect(loadWindowState(file, ONE_SCREEN)).toEqual(state);
  });

  it('round-trips a state without a position', () => {
    saveWindowState(file, { width: 1024, height: 768, maximized: false });
    expect(loadWindowState(file, ONE_SCREEN)).toEqual({ width: 1024, height: 768, maximized: false });
  });

  it('overwrites the previous state', () => {
    saveWindowState(file, { x: 1, y: 1, width: 900, height: 600, maximized: false });
    saveWindowState(file, { x: 2, y: 2, width: 901, height: 601, maximized: true });
    expect(loadWindowState(file, ONE_SCREEN)).toEqual({ x: 2, y: 2, width: 901, height: 601, maximized: true });
  });

  it('does not throw when the file cannot be written', () => {
    expect(() => saveWindowState(path.join(dir, 'missing', 'deeper', 'state.json'), DEFAULT_WINDOW)).not.toThrow();
  });
});
