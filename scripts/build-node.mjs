// Bundles the Node entry points (the CLI, and the core it hosts headless) into out/node with esbuild.
// Native and optional modules stay external and load from node_modules.
// The bundle carries a build id (a hash of the sources and the package manifest): a CLI
// recognises a background daemon started by a different build and replaces it when idle.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
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

// esbuild bundles `import fs from 'node:fs'` (and `import * as`) as `__toESM(require('node:fs'))`,
// which copies every export of the module onto a new object with a getter each, once per
// importing file: 19 copies in the CLI bundle, 2.2 ms of every command's start (the same 19
// copies timed alone on the development machine, quiet). For the CLI and its launcher, each Node.js built-in is a small ES
// module instead: its default export is the module itself, its named exports the module's
// plain (non-getter) properties of the building Node.js, read once. A named import of a getter
// (util.parseArgs) or of a property the building Node.js lacks fails the build, never the
// command; code that wants a newer Node.js's property reads it from the default export.
const nodeRequire = createRequire(import.meta.url);
const builtinsAsEsm = {
  name: 'builtins-as-esm',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => (args.namespace === 'builtin-esm' ? { path: args.path, external: true } : { path: args.path, namespace: 'builtin-esm' }));
    b.onLoad({ filter: /.*/, namespace: 'builtin-esm' }, (args) => {
      const names = Object.entries(Object.getOwnPropertyDescriptors(nodeRequire(args.path)))
        .filter(([name, d]) => 'value' in d && name !== 'default' && /^[A-Za-z_$][\w$]*$/.test(name) && isBindingName(name))
        .map(([name]) => name);
      return { loader: 'js', contents: `const m = require(${JSON.stringify(args.path)});\nexport default m;\nexport const { ${names.join(', ')} } = m;\n` };
    });
  },
};
function isBindingName(name) {
  try {
    new Function(`let ${name};`);
    return true;
  } catch {
    return false;
  }
}

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
const strictImports = { logOverride: { 'import-is-undefined': 'error' } };
await build({ ...common, ...strictImports, entryPoints: { nestbox: 'src/cli/index.ts' }, plugins: [coreApart, builtinsAsEsm], supported: { 'dynamic-import': false } });
await build({ ...common, entryPoints: { 'nestbox-core': 'src/core/server/hosting.ts' } });
// The launcher bin/nestbox.cjs runs first: it loads the CLI bundle with a compile cache
// (src/cli/launch.ts). Kept apart from the CLI bundle, which it must not pull in.
await build({ ...common, ...strictImports, entryPoints: { 'nestbox-launch': 'src/cli/launch.ts' }, plugins: [builtinsAsEsm] });
const cli = fs.readFileSync('out/node/nestbox.cjs', 'utf8');
if (!cli.includes('./nestbox-core.cjs')) throw new Error('build-node: the CLI bundle does not load the core bundle apart');
const launch = fs.readFileSync('out/node/nestbox-launch.cjs', 'utf8');
if (/require\("node:(crypto|net|child_process)"\)|src\/cli\/main\.ts/.test(launch)) throw new Error('build-node: the launcher bundle pulls in more than it needs');
