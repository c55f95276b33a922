// Bundles the Node entry points (the CLI, and the core it hosts headless) into out/node with esbuild.
// Native and optional modules stay external and load from node_modules.
// The bundle carries a build id (a hash of the sources and the package manifest): a CLI
// recognises a background daemon started by a different build and replaces it when idle.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

function sourceHash() {
  const h = createHash('sha256');
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|tsx|json)$/.test(e.name)) h.update(p).update('\0').update(fs.readFileSync(p)).update('\0');
    }
  };
  walk('src');
  h.update(fs.readFileSync('package.json'));
  return h.digest('hex').slice(0, 16);
}

// Two bundles: the CLI (nestbox.cjs) and the core it hosts for `daemon` and `serve`
// (nestbox-core.cjs). A command that only talks to a running core never compiles the core:
// the CLI's import of src/core/server/hosting.ts stays a require of the sibling bundle.
const coreApart = {
  name: 'core-apart',
  setup(b) {
    b.onResolve({ filter: /\/core\/server\/hosting$/ }, (args) =>
      args.importer.includes(`${path.sep}src${path.sep}cli${path.sep}`) ? { path: './nestbox-core.cjs', external: true } : undefined,
    );
  },
};

const common = {
  outdir: 'out/node',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external: ['better-sqlite3', 'ws', 'electron'],
  define: { __NESTBOX_BUILD_ID__: JSON.stringify(sourceHash()) },
  logLevel: 'warning',
};
// `supported: dynamic-import false`: the CLI's `await import(core)` becomes a require. Node's
// import() of a CommonJS file first scans all of it for its exports (cjs-module-lexer, about
// 70 ms for the core bundle), which `daemon` and `serve` would pay at every start.
await build({ ...common, entryPoints: { nestbox: 'src/cli/index.ts' }, plugins: [coreApart], supported: { 'dynamic-import': false } });
await build({ ...common, entryPoints: { 'nestbox-core': 'src/core/server/hosting.ts' } });
const cli = fs.readFileSync('out/node/nestbox.cjs', 'utf8');
if (!cli.includes('./nestbox-core.cjs')) throw new Error('build-node: the CLI bundle does not load the core bundle apart');
