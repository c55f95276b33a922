/**
 * Loads the CLI bundle with a V8 code cache, so a command does not compile the bundle again
 * at every start. Node.js 22.1 and later do this themselves (`module.enableCompileCache`,
 * used instead when present: launch.ts); this is the same for Node.js 20, which has only the
 * V8 primitives (`vm.Script`'s `cachedData`). Compiling the 110 KB bundle from source took
 * 2.5 ms on the quiet development machine (5.6–11.5 ms while other test suites ran), with the
 * cache 0.6 ms; reading the cache and this launcher cost about 0.8 ms of that back.
 *
 * A cache must never change what runs, so it is used only when all of these hold, and the
 * bundle is compiled from source as if there were no cache otherwise:
 * - it sits in a folder of this user that nobody else can write (mode 0700, ours, not a
 *   symlink), so no other user can put a cache there for us to run;
 * - its header names this Node.js version and architecture;
 * - it holds a byte-for-byte copy of the source it was made from, and that copy equals the
 *   bundle read now (V8's own check of a cache against its source compares only the source's
 *   length, so a rebuilt bundle of the same length would otherwise run stale code);
 * - V8 accepts it (its version and flags match; `cachedDataRejected` otherwise).
 * A missing or rejected cache is written after the command (at exit, so it holds the
 * functions the command compiled too), to a temporary file renamed into place: a reader sees
 * an old cache or a whole new one, never a part. Any failure to read or write one is ignored.
 * Not guarded against: a cache file damaged in place with its length intact (V8 checks the
 * payload's checksum only in debug builds); the files are written whole and renamed, in a
 * folder only this user writes, so that takes a damaged disk, which would damage the bundle
 * as well.
 */
import { closeSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

const MAGIC = 'nestbox-code-cache 1';

/** The header line: what the cache was made for, and the lengths of the two parts after it. */
function header(sourceBytes: number, cacheBytes: number): string {
  return `${MAGIC} ${process.version} ${process.arch} ${sourceBytes} ${cacheBytes}\n`;
}

/** A folder only this user can write: ours, 0700 (not on Windows, where the check is the profile's), not a symlink. */
export function privateDir(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory()) return false;
    if (process.platform === 'win32') return true;
    return typeof process.getuid === 'function' && st.uid === process.getuid() && (st.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

/** The cached data for `source` from `file`, or undefined when the file is missing, foreign, stale or damaged. */
export function readCache(file: string, source: Buffer): Buffer | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch {
    return undefined;
  }
  const nl = buf.indexOf(10);
  if (nl < 0 || nl > 200) return undefined;
  const fields = buf.subarray(0, nl).toString('latin1').split(' ');
  const [sourceBytes, cacheBytes] = [Number(fields[4]), Number(fields[5])];
  if (buf.subarray(0, nl + 1).toString('latin1') !== header(sourceBytes, cacheBytes)) return undefined;
  if (sourceBytes !== source.length || cacheBytes <= 0 || nl + 1 + sourceBytes + cacheBytes !== buf.length) return undefined;
  if (!buf.subarray(nl + 1, nl + 1 + sourceBytes).equals(source)) return undefined;
  return buf.subarray(nl + 1 + sourceBytes);
}

/** Writes a cache for `source` to `file` through a temporary file renamed into place. */
export function writeCache(file: string, source: Buffer, data: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, header(source.length, data.length));
      writeSync(fd, source);
      writeSync(fd, data);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch {
    rmSync(tmp, { force: true });
  }
}

/** FNV-1a (32 bits) of a string, in hex: a short file name per bundle path. */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** Where the cache of `bundle` goes in `cacheDir`: one file per bundle path. */
export function cacheFileFor(cacheDir: string, bundle: string): string {
  return join(cacheDir, `${basename(bundle)}-${fnv1a(bundle)}.cache`);
}

/**
 * The code-cache folder under `base` (a private runtime folder of this user, created by
 * whoever runs first), or null when `base` is not private or the folder cannot be made so.
 */
export function codeCacheDir(base: string): string | null {
  if (!privateDir(base)) return null;
  const dir = join(base, 'code-cache');
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch {
    // there already, or not possible: checked below
  }
  return privateDir(dir) ? dir : null;
}

export interface CodeCacheResult {
  /** 'hit': V8 used the cache; 'miss': none usable; 'rejected': V8 refused it (another V8 or flags). */
  readonly cache: 'hit' | 'miss' | 'rejected';
  /**
   * Writes a new cache after a miss or a rejection (nothing after a hit). Called at exit by
   * the launcher, so the cache holds the functions the command compiled too.
   */
  save(): void;
}

/**
 * Runs the CommonJS file `bundle` as `require(bundle)` would (its own `require` resolving
 * from its folder, `module`, `exports`, `__filename`, `__dirname`), compiled with the cache
 * in `cacheDir` when one is usable. Throws what the bundle throws. Only for a file that is a
 * program's entry: it is not entered in require's cache.
 */
export function runWithCodeCache(bundle: string, cacheDir: string): CodeCacheResult {
  const source = readFileSync(bundle);
  const file = cacheFileFor(cacheDir, bundle);
  const cachedData = readCache(file, source);
  const wrapper = `(function (exports, require, module, __filename, __dirname) { ${source.toString('utf8')}\n})`;
  const script = new Script(wrapper, { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  const cache = !cachedData ? 'miss' : script.cachedDataRejected ? 'rejected' : 'hit';
  const mod = { exports: {} as unknown, filename: bundle, id: bundle, loaded: false };
  const fn = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
  fn.call(mod.exports, mod.exports, createRequire(bundle), mod, bundle, dirname(bundle));
  mod.loaded = true;
  return {
    cache,
    save: () => {
      if (cache !== 'hit') writeCache(file, source, script.createCachedData());
    },
  };
}
