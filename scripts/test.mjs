#!/usr/bin/env node
/**
 * `npm run test:split` (not used by `npm test`): the unit tests and the integration, reliability and browser
 * tests, in two vitest processes side by side (see vitest.config.ts for how the files are
 * grouped and why). The bundles are already built by `npm test`'s earlier steps; the test
 * guest is built here once, before both processes start, so neither builds it under the
 * other. Each process's lines are prefixed with its group; the run fails if either fails.
 */
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');

const env = { ...process.env, NESTBOX_TESTS_BUILT: '1' };
if (!env.NESTBOX_TEST_ISO) {
  const said = execFileSync('bash', ['test/guest/build.sh'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 })
    .toString()
    .trim()
    .split('\n')
    .pop();
  if (!said || !fs.existsSync(said)) {
    console.error(`test/guest/build.sh did not produce an ISO (said: ${said ?? 'nothing'})`);
    process.exit(1);
  }
  env.NESTBOX_TEST_ISO = said;
}

const runs = [
  // The unit tests first, in the same process as the host group (they take about a minute).
  { name: 'host', args: ['run'] },
  { name: 'guests', args: ['run', '--project', 'integration'] },
];

const started = Date.now();
const children = runs.map((r) => {
  const child = spawn(process.execPath, [vitest, ...r.args], {
    cwd: root,
    env: { ...env, NESTBOX_TEST_GROUP: r.name },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const prefix = `[${r.name}] `;
  for (const [from, to] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ]) {
    let rest = '';
    from.setEncoding('utf8');
    from.on('data', (chunk) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      if (lines.length) to.write(lines.map((l) => prefix + l).join('\n') + '\n');
    });
    from.on('end', () => {
      if (rest) to.write(prefix + rest + '\n');
    });
  }
  const done = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      const s = ((Date.now() - started) / 1000).toFixed(0);
      const how = code === 0 ? 'passed' : `FAILED (${signal ?? `exit ${code}`})`;
      process.stdout.write(`${prefix}${how} after ${s} s\n`);
      resolve(code === 0);
    }),
  );
  return { child, done };
});

// Ctrl+C or a CI timeout ends both groups, with everything they started.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const { child } of children) {
      try {
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    }
  });
}

const results = await Promise.all(children.map((c) => c.done));
if (results.every(Boolean)) {
  console.log(`all test groups passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
} else {
  console.error(`test groups failed: ${runs.filter((_, i) => !results[i]).map((r) => r.name).join(', ')}`);
  process.exit(1);
}
