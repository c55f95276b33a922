/**
 * What bin/nestbox.cjs runs first: loads the CLI bundle (out/node/nestbox.cjs) with a
 * compile cache, so a command does not compile the bundle again at every start. Node.js 22.1
 * and later keep the cache themselves (`module.enableCompileCache`); on older versions
 * (Node.js 20) codecache.ts does the same with V8's code cache. Either cache lives in this
 * user's private runtime folder (never in a folder another user can write), and without one
 * (the folder not made yet, `NODE_DISABLE_COMPILE_CACHE` set, or Node.js's source maps on)
 * the bundle is required as it is. Its own bundle (out/node/nestbox-launch.cjs), with named
 * imports only, so that it loads nothing the command does not.
 */
// The module object itself, looked up when run: `enableCompileCache` is newer than the Node.js
// that may have built this file.
import nodeModule from 'node:module';
import { runtimeBase } from '../core/store/runtimebase';
import { codeCacheDir, runWithCodeCache } from './codecache';

type EnableCompileCache = (dir?: string) => unknown;

/** Runs the CLI bundle `bundle`; `fallback` is the caller's `require`, used when no cache applies. */
export function launch(bundle: string, fallback: NodeJS.Require): void {
  const dir = process.env['NODE_DISABLE_COMPILE_CACHE'] ? null : codeCacheDir(runtimeBase());
  const enableCompileCache = (nodeModule as { enableCompileCache?: EnableCompileCache }).enableCompileCache;
  if (dir === null) {
    fallback(bundle);
  } else if (typeof enableCompileCache === 'function') {
    enableCompileCache(dir);
    fallback(bundle);
  } else if (process.sourceMapsEnabled) {
    // Node maps a required file's stack traces through its source map, not a vm.Script's.
    fallback(bundle);
  } else {
    const { save } = runWithCodeCache(bundle, dir);
    process.once('exit', save);
  }
}
