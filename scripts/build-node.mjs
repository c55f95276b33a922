// Bundles the Node entry points (CLI, headless daemon) into out/node with esbuild.
// Native and optional modules stay external and load from node_modules.
import { build } from 'esbuild';

await build({
  entryPoints: { nestbox: 'src/cli/index.ts' },
  outdir: 'out/node',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external: ['better-sqlite3', 'ws', 'electron'],
  logLevel: 'warning',
});
