// `node bench/check-readme.mjs` (also run at the end of `npm run bench`): fails (exit 1, naming
// each) when a figure quoted in a table of bench/README.md has no result behind it in
// bench/results/*.json. The rule, also stated in bench/README.md ("Figures and their results"):
//
// - A table under a heading that names benchmarks in backticks, e.g. "## VM start (`start`)",
//   is a result table. In each of its rows, every number in a figure cell (a cell of numbers
//   only: "475 (387–563)", "5", "1.06×", "—") must be found, within the rounding it is printed
//   with, in ONE result of those benchmarks' JSON files: one element of a top-level array
//   that holds a median (`rows`, `slopes`; raw samples are not results). A figure written
//   "N×" must be that result's ratio; any other figure one of its medians, mins, maxes, n or
//   the difference of its two medians (a result without two sides: any number in it). A
//   top-level number of the file (e.g. `addedMs`) is a result of its own. Label cells (metric, peer name) are not checked.
// - The "Targets at a glance" table: every number in its result and "met?" columns (not the
//   target column, which states the target) must be found in some result of any file, as above.
// - A figure printed in s may match a result in ms and the other way round (×/÷ 1000).
//   Dates (2026-11-22), times (13:09), `code spans` and "issue N" are not figures.
// - A table preceded by `<!-- check-readme: skip: REASON -->` is not checked; the check prints
//   it with its reason (for a profile or trace, which is not a benchmark result). Any other
//   table whose heading names no benchmark is an error.
// Prose is not checked: a figure in prose that has no result must say where it comes from.
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const readmePath = path.join(root, 'bench', 'README.md');
const resultsDir = path.join(root, 'bench', 'results');

/** Numeric leaves of a JSON value. */
function leaves(v, out = []) {
  if (typeof v === 'number' && Number.isFinite(v)) out.push(v);
  else if (Array.isArray(v)) for (const x of v) leaves(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) leaves(x, out);
  return out;
}

/**
 * What one result offers: `ratios` (its ratio) and `values` (medians, mins, maxes, n, the
 * difference of the medians; for a result without nestbox/peer sides, every number in it),
 * each also ×/÷ 1000 (s ↔ ms).
 */
function offered(obj) {
  const scale = (vs) => vs.flatMap((v) => [v, v * 1000, v / 1000]);
  if (obj && typeof obj === 'object' && obj.nestbox && obj.peer) {
    const sides = [obj.nestbox, obj.peer].flatMap((x) => [x.median, x.min, x.max, x.n]);
    return { ratios: [obj.ratio].filter(Number.isFinite), values: scale([...sides, obj.nestbox.median - obj.peer.median].filter(Number.isFinite)) };
  }
  return { ratios: [], values: scale(leaves(obj)) };
}

const cache = new Map();
/** Results of one benchmark: the elements of its JSON's top-level arrays. */
function resultsOf(name) {
  if (!cache.has(name)) {
    const file = path.join(resultsDir, `${name}.json`);
    if (!fs.existsSync(file)) cache.set(name, null);
    else {
      const json = JSON.parse(fs.readFileSync(file, 'utf8'));
      // A result is a summary: an element of a top-level array that holds a median (rows,
      // slopes); raw samples are not. Top-level numbers (e.g. start's addedMs) count as one.
      const items = Object.values(json).filter(Array.isArray).flat().filter((x) => x && typeof x === 'object' && JSON.stringify(x).includes('"median"'));
      const scalars = Object.entries(json).filter(([, v]) => typeof v === 'number');
      cache.set(name, [
        ...items.map((x) => ({ ...offered(x), label: x.metric ?? JSON.stringify(x).slice(0, 60) })),
        ...scalars.map(([k, v]) => ({ ...offered(v), label: k })),
      ]);
    }
  }
  return cache.get(name);
}

/** The figures in a piece of text: { text, value, tol }. */
export function figures(text) {
  const cleaned = text
    .replace(/`[^`]*`/g, ' ')
    .replace(/\d{4}-\d{2}-\d{2}/g, ' ')
    .replace(/\b\d{1,2}:\d{2}(:\d{2})?\b/g, ' ')
    .replace(/\bissues? \d+(\s*(,|and)\s*\d+)*/gi, ' ');
  const re = /(?<![\w.,])[+−-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])(×)?/g;
  const out = [];
  for (const m of cleaned.matchAll(re)) {
    const t = m[0].replace(/^[+−-]/, '').replace(/,/g, '').replace('×', '');
    const dec = t.includes('.') ? t.split('.')[1].length : 0;
    const value = Number(t);
    out.push({ text: m[0], value, ratio: m[1] === '×', tol: 0.5 * 10 ** -dec + 1e-9 * value });
  }
  return out;
}

/** A figure written "N×" must be a result's ratio; any other, one of its values. */
const matches = (fig, res) => (fig.ratio ? res.ratios : res.values).some((v) => Math.abs(Math.abs(v) - fig.value) <= fig.tol);

const FIGURE_CELL = /^[\s\d.,()+−–×-]*$|^\s*—\s*$/;

function splitRow(line) {
  return line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
}

export function check(readme) {
  const lines = readme.split('\n');
  const errors = [];
  const skipped = [];
  let heading = '';
  let names = [];
  for (let i = 0; i < lines.length; i++) {
    const h = /^#{2,3} (.*)/.exec(lines[i]);
    if (h) {
      heading = h[1];
      if (lines[i].startsWith('## ')) names = [...heading.matchAll(/`([\w-]+)`/g)].map((m) => m[1]);
      continue;
    }
    if (!lines[i].startsWith('|')) continue;
    // A table: lines i..j-1.
    let j = i;
    while (j < lines.length && lines[j].startsWith('|')) j++;
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === '') k--;
    const skip = k >= 0 ? /<!--\s*check-readme:\s*skip:\s*(.*?)\s*-->/.exec(lines[k]) : null;
    const table = { start: i + 1, header: splitRow(lines[i]), rows: lines.slice(i + 2, j).map((l, n) => ({ line: i + 3 + n, cells: splitRow(l) })) };
    i = j - 1;
    if (skip) {
      skipped.push(`bench/README.md:${table.start}: table under "${heading}" not checked: ${skip[1]}`);
      continue;
    }
    if (/^Targets/.test(heading)) {
      const all = fs.readdirSync(resultsDir).filter((f) => f.endsWith('.json')).flatMap((f) => resultsOf(f.replace(/\.json$/, '')));
      const pool = { ratios: all.flatMap((r) => r.ratios), values: all.flatMap((r) => r.values) };
      for (const r of table.rows) {
        for (const cell of r.cells.slice(1)) {
          for (const fig of figures(cell)) {
            if (!matches(fig, pool)) errors.push(`bench/README.md:${r.line}: "${fig.text}" in the targets table (row "${r.cells[0]}") is in no result of bench/results/*.json`);
          }
        }
      }
      continue;
    }
    if (!names.length) {
      errors.push(`bench/README.md:${table.start}: table under "${heading}": the section names no benchmark in backticks and the table has no check-readme skip marker`);
      continue;
    }
    const missing = names.filter((n) => resultsOf(n) === null);
    if (missing.length) {
      errors.push(`bench/README.md:${table.start}: table under "${heading}": no bench/results/${missing.join('.json, ')}.json`);
      continue;
    }
    const results = names.flatMap((n) => resultsOf(n));
    for (const r of table.rows) {
      const figs = r.cells.filter((c) => FIGURE_CELL.test(c)).flatMap(figures);
      if (!figs.length) continue;
      const best = results
        .map((res) => ({ res, missing: figs.filter((f) => !matches(f, res)) }))
        .sort((a, b) => a.missing.length - b.missing.length)[0];
      if (!best || best.missing.length) {
        const near = best ? `; nearest: "${best.res.label}", lacking ${best.missing.map((f) => f.text).join(', ')}` : '';
        errors.push(`bench/README.md:${r.line}: row "${r.cells[0]}" (${figs.map((f) => f.text).join(' ')}) has no result in bench/results/{${names.join(',')}}.json${near}`);
      }
    }
  }
  return { errors, skipped };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { errors, skipped } = check(fs.readFileSync(readmePath, 'utf8'));
  for (const s of skipped) console.log(s);
  if (errors.length) {
    for (const e of errors) console.error(e);
    console.error(`check-readme: ${errors.length} figure(s) in bench/README.md without a result behind them`);
    process.exit(1);
  }
  console.log('check-readme: every figure in the tables of bench/README.md has a result in bench/results/');
}
