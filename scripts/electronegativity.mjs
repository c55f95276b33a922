// Builds the Electron bundles (main, preload, renderer) and runs Doyensec's Electronegativity
// over them. Fails on any finding of HIGH severity; prints the rest for review. Runs offline:
// the Electron version is given so that it does not look up releases on the network.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const electronVersion = String(pkg.devDependencies.electron).replace(/^[^\d]*/, '');
const bin = path.join(root, 'node_modules', '.bin');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', ...opts });
  if (r.error) throw r.error;
  return r;
}

const build = run(path.join(bin, 'electron-vite'), ['build', '--logLevel', 'warn'], { stdio: 'inherit' });
if (build.status !== 0) {
  console.error('electronegativity: electron-vite build failed');
  process.exit(1);
}
const scan = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-eg-'));
try {
  for (const d of ['main', 'preload', 'renderer']) fs.cpSync(path.join(root, 'out', d), path.join(scan, d), { recursive: true });
  fs.copyFileSync(path.join(root, 'package.json'), path.join(scan, 'package.json'));
  const csv = path.join(scan, 'report.csv');
  const r = run(path.join(bin, 'electronegativity'), ['-i', scan, '-r', '-e', electronVersion, '-o', csv, '-v', 'false']);
  if (!fs.existsSync(csv)) {
    console.error(`electronegativity produced no report (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    process.exit(1);
  }
  const [header, ...findings] = parseCsv(fs.readFileSync(csv, 'utf8')).filter((row) => row.length > 3);
  const col = (name) => header.findIndex((h) => h.trim() === name);
  const [iIssue, iSev, iFile, iLoc, iDesc] = ['issue', 'severity', 'filename', 'location', 'description'].map(col);
  const high = [];
  for (const f of findings) {
    const line = `${f[iIssue]} ${f[iSev]} at ${f[iFile]}:${f[iLoc]}: ${f[iDesc]}`;
    if (f[iSev] === 'HIGH') high.push(line);
    else console.log(`electronegativity: ${line}`);
  }
  if (high.length) {
    console.error(`electronegativity: ${high.length} HIGH finding(s):`);
    for (const h of high) console.error(`  ${h}`);
    process.exit(1);
  }
  console.log(`electronegativity: no HIGH findings (${findings.length} lower ones listed above; Electron ${electronVersion})`);
} finally {
  fs.rmSync(scan, { recursive: true, force: true });
}

/** RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else if (c !== '\r') field += c;
  }
  if (field || row.length) rows.push([...row, field]);
  return rows.map((r) => r.map((x) => x.trim()));
}
