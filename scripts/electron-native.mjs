// Builds better-sqlite3 for the Electron that `npm start` runs, next to (not over) the Node
// build in node_modules, so the CLI, the tests and the desktop app all work from one
// checkout. The core, when it runs inside Electron from a checkout, loads this binding
// (NESTBOX_SQLITE_BINDING). Packaged apps do not need it: electron-builder rebuilds
// node_modules for Electron inside the package.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const root = path.resolve(import.meta.dirname, '..');
const require = createRequire(import.meta.url);
const electronVersion = require('electron/package.json').version;
const sqliteVersion = require('better-sqlite3/package.json').version;
const outDir = path.join(root, 'out', 'native', `electron-${electronVersion}`);
const target = path.join(outDir, 'better_sqlite3.node');
const stamp = path.join(outDir, 'better-sqlite3.version');

if (fs.existsSync(target) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === sqliteVersion) process.exit(0);

const work = path.join(root, 'out', 'native', 'build');
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(path.join(work, 'node_modules'), { recursive: true });
fs.cpSync(path.join(root, 'node_modules', 'better-sqlite3'), path.join(work, 'node_modules', 'better-sqlite3'), {
  recursive: true,
  filter: (src) => !src.includes(`${path.sep}build${path.sep}`),
});
fs.writeFileSync(path.join(work, 'package.json'), JSON.stringify({ name: 'nestbox-native', version: '0.0.0', dependencies: { 'better-sqlite3': sqliteVersion } }));

process.stderr.write(`Building better-sqlite3 ${sqliteVersion} for Electron ${electronVersion} (once)…\n`);
try {
  const { rebuild } = await import('@electron/rebuild');
  await rebuild({ buildPath: work, electronVersion, onlyModules: ['better-sqlite3'], force: true, buildFromSource: true });
} catch (err) {
  process.stderr.write(
    `Could not build better-sqlite3 for Electron ${electronVersion}: ${err instanceof Error ? err.message : String(err)}\n` +
      'It needs a C++ toolchain (build-essential / Xcode command line tools / Visual Studio Build Tools) and access to Electron\'s headers.\n',
  );
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(1);
}
fs.mkdirSync(outDir, { recursive: true });
fs.copyFileSync(path.join(work, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'), target);
fs.writeFileSync(stamp, sqliteVersion);
fs.rmSync(work, { recursive: true, force: true });
process.stderr.write(`Built ${path.relative(root, target)}\n`);
