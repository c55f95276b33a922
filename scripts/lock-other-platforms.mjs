// The registry mirror these machines use serves only the linux-x64 builds of packages that
// ship one build per platform (rollup, esbuild, ...), so `npm install` cannot record the
// other platforms' optional packages in package-lock.json, and `npm ci` then refuses the
// lock as out of sync. This adds a plain entry (name, version, optional) for each such
// package so the lock is complete; on a machine of another platform npm fetches it by
// version as usual. Run it after changing dependencies: `node scripts/lock-other-platforms.mjs`.
import fs from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const pkgs = lock.packages;
let added = 0;
for (const [where, entry] of Object.entries(pkgs)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    if (!/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec)) continue;
    // Node's resolution: the package's own node_modules, then each ancestor's, then the root.
    const candidates = [];
    for (let base = where; ; ) {
      candidates.push(`${base ? `${base}/` : ''}node_modules/${name}`);
      if (base === '') break;
      const i = base.lastIndexOf('/node_modules/');
      base = i >= 0 ? base.slice(0, i) : '';
    }
    if (candidates.some((c) => pkgs[c])) continue;
    const rootSlot = `node_modules/${name}`;
    const key = pkgs[rootSlot] ? `${where}/node_modules/${name}` : rootSlot;
    pkgs[key] = { version: spec, ...(entry.dev ? { dev: true } : {}), optional: true };
    added++;
  }
}
const sorted = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
lock.packages = sorted;
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} optional platform entries`);
