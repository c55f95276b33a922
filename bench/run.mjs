// `npm run bench [name…]`: bundles the TypeScript benchmarks with esbuild and runs them one
// after another. Each prints a table side by side with its peer and writes JSON to
// bench/results/. Then checks that bench/README.md quotes no figure without a result
// (bench/check-readme.mjs, also runnable alone).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const all = fs.readdirSync(path.join(root, 'bench')).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace('.bench.ts', ''));
const wanted = process.argv.slice(2).length ? process.argv.slice(2) : all;
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')} (have: ${all.join(', ')})`);
  process.exit(2);
}
spawnSync(process.execPath, ['scripts/build-node.mjs'], { cwd: root, stdio: 'inherit' });
let failed = false;
for (const name of wanted) {
  const outfile = path.join(root, 'out', 'bench', `${name}.cjs`);
  await build({
    entryPoints: [path.join(root, 'bench', `${name}.bench.ts`)],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['better-sqlite3', 'ws', 'playwright-core', 'electron'],
    logLevel: 'warning',
  });
  const r = spawnSync(process.execPath, [outfile], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}
// Last: every figure in bench/README.md's tables must have a result behind it (check-readme.mjs).
const check = spawnSync(process.execPath, [path.join(root, 'bench', 'check-readme.mjs')], { cwd: root, stdio: 'inherit' });
if (check.status !== 0) failed = true;
process.exit(failed ? 1 : 0);
