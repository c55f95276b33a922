/**
 * The CLI's code cache on Node.js 20: a cache is used only when it was made from the very
 * bytes being run, by this Node.js, in a folder only this user writes; anything else (stale,
 * damaged, foreign) is ignored and the bundle runs from source as if there were no cache.
 * Each run is its own Node.js process, as a command is: within one process V8 keeps compiled
 * scripts in memory and would not look at the cache at all.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cacheFileFor, codeCacheDir, readCache } from '../../../src/cli/codecache';

let driver: string;

beforeAll(() => {
  // codecache.ts as CommonJS, and a script that runs a bundle with it and reports.
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-codecache-driver-'));
  buildSync({ entryPoints: [path.join(__dirname, '../../../src/cli/codecache.ts')], outfile: path.join(out, 'codecache.cjs'), bundle: true, platform: 'node', format: 'cjs', logLevel: 'error' });
  driver = path.join(out, 'driver.cjs');
  fs.writeFileSync(
    driver,
    `const { runWithCodeCache } = require('./codecache.cjs');\n` +
      `const [bundle, cacheDir, save] = process.argv.slice(2);\n` +
      `let r;\ntry { r = runWithCodeCache(bundle, cacheDir); } catch (e) { console.log(JSON.stringify({ threw: e.message })); process.exit(0); }\n` +
      `if (save === 'save') r.save();\n` +
      `console.log(JSON.stringify({ cache: r.cache, ran: globalThis.__codecacheTest }));\n`,
  );
});

afterAll(() => {
  fs.rmSync(path.dirname(driver), { recursive: true, force: true });
});

interface Run {
  readonly cache?: 'hit' | 'miss' | 'rejected';
  readonly ran?: { value: string; dep: boolean; file: string; dir: string; self: boolean };
  readonly threw?: string;
}

/** One command: runs the bundle in a new process; with `save`, writes the cache as the launcher does at exit. */
function runWithCodeCache(b: string, c: string, save = false): Run {
  return JSON.parse(execFileSync(process.execPath, [driver, b, c, save ? 'save' : ''], { encoding: 'utf8' })) as Run;
}

let dir: string;
let cacheDir: string;
let bundle: string;

/** A CommonJS "bundle" that records what it ran as and requires a sibling. */
function writeBundle(value: string): void {
  fs.writeFileSync(path.join(dir, 'dep.cjs'), 'module.exports = { dep: true };\n');
  fs.writeFileSync(
    bundle,
    `const dep = require('./dep.cjs');\nfunction later() { return ${JSON.stringify(value)}; }\n` +
      `globalThis.__codecacheTest = { value: later(), dep: dep.dep, file: __filename, dir: __dirname, self: module.exports === exports };\n`,
  );
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-codecache-'));
  cacheDir = path.join(dir, 'cache');
  fs.mkdirSync(cacheDir, { mode: 0o700 });
  bundle = path.join(dir, 'nestbox.cjs');
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('runWithCodeCache', () => {
  it('runs the bundle as require would, writes a cache after a miss and uses it next time', () => {
    writeBundle('one');
    const first = runWithCodeCache(bundle, cacheDir, true);
    expect(first).toEqual({ cache: 'miss', ran: { value: 'one', dep: true, file: bundle, dir, self: true } });
    expect(fs.existsSync(cacheFileFor(cacheDir, bundle))).toBe(true);
    expect(fs.readdirSync(cacheDir)).toHaveLength(1); // no temporary file left
    expect(runWithCodeCache(bundle, cacheDir)).toEqual({ cache: 'hit', ran: first.ran });
    expect(runWithCodeCache(bundle, cacheDir, true).cache).toBe('hit'); // a hit writes nothing
  });

  it('ignores the cache of another bundle of the same length (V8 alone would take it)', () => {
    writeBundle('one');
    runWithCodeCache(bundle, cacheDir, true);
    const before = fs.statSync(bundle).size;
    writeBundle('two');
    expect(fs.statSync(bundle).size).toBe(before);
    const r = runWithCodeCache(bundle, cacheDir, true);
    expect(r.cache).toBe('miss');
    expect(r.ran?.value).toBe('two');
    expect(runWithCodeCache(bundle, cacheDir)).toMatchObject({ cache: 'hit', ran: { value: 'two' } });
  });

  it('runs from source when the cache file is damaged: truncated, garbage, or a foreign header', () => {
    writeBundle('one');
    runWithCodeCache(bundle, cacheDir, true);
    const file = cacheFileFor(cacheDir, bundle);
    const good = fs.readFileSync(file);
    const damaged = [
      good.subarray(0, good.length - 100),
      Buffer.from('not a cache at all'),
      Buffer.concat([Buffer.from(good.toString('latin1').replace(process.version, 'v0.0.1'), 'latin1')]),
      Buffer.alloc(0),
    ];
    for (const bytes of damaged) {
      fs.writeFileSync(file, bytes);
      expect(runWithCodeCache(bundle, cacheDir)).toMatchObject({ cache: 'miss', ran: { value: 'one' } });
    }
  });

  it('runs from source when V8 refuses the cached data, and replaces it', () => {
    writeBundle('one');
    runWithCodeCache(bundle, cacheDir, true);
    const file = cacheFileFor(cacheDir, bundle);
    const good = fs.readFileSync(file);
    const source = fs.readFileSync(bundle);
    const dataAt = good.indexOf(10) + 1 + source.length;
    // Same header and source, the cached data overwritten with zeros (length unchanged).
    const bad = Buffer.concat([good.subarray(0, dataAt), Buffer.alloc(good.length - dataAt)]);
    fs.writeFileSync(file, bad);
    expect(readCache(file, source)).toBeDefined();
    expect(runWithCodeCache(bundle, cacheDir, true)).toMatchObject({ cache: 'rejected', ran: { value: 'one' } });
    expect(runWithCodeCache(bundle, cacheDir).cache).toBe('hit');
  });

  it('throws what the bundle throws', () => {
    fs.writeFileSync(bundle, 'throw new Error("from the bundle");\n');
    expect(runWithCodeCache(bundle, cacheDir)).toEqual({ threw: 'from the bundle' });
  });
});

describe('codeCacheDir', () => {
  it('makes a private folder under a private base', () => {
    const got = codeCacheDir(cacheDir);
    expect(got).toBe(path.join(cacheDir, 'code-cache'));
    expect(fs.statSync(got!).mode & 0o777).toBe(0o700);
  });

  it('refuses a base or a folder others can write, a symlink, or a missing base', () => {
    fs.chmodSync(cacheDir, 0o755);
    expect(codeCacheDir(cacheDir)).toBeNull();
    fs.chmodSync(cacheDir, 0o700);
    fs.mkdirSync(path.join(cacheDir, 'code-cache'), { mode: 0o777 });
    fs.chmodSync(path.join(cacheDir, 'code-cache'), 0o777);
    expect(codeCacheDir(cacheDir)).toBeNull();
    const link = path.join(dir, 'link');
    fs.symlinkSync(cacheDir, link);
    expect(codeCacheDir(link)).toBeNull();
    expect(codeCacheDir(path.join(dir, 'missing'))).toBeNull();
  });
});
