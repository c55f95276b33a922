/**
 * Integration prerequisites: real QEMU and the project's own test guest. Nothing here skips:
 * a missing tool is a failure that says what to install.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function need(binary: string, pkg: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'pipe' });
  } catch {
    throw new Error(`integration tests need '${binary}' (Debian package ${pkg}); install it: apt-get install ${pkg}`);
  }
}

export function setup(): void {
  need('qemu-system-x86_64', 'qemu-system-x86');
  need('qemu-img', 'qemu-utils');
  const root = path.resolve(__dirname, '..', '..');
  // scripts/test.mjs builds once before it starts its two test processes side by side (two
  // builds at once would rewrite out/ under the other's running tests).
  if (process.env['NESTBOX_TESTS_BUILT'] !== '1') execFileSync('node', ['scripts/build-node.mjs'], { cwd: root, stdio: 'inherit' });
  if (!process.env['NESTBOX_TEST_ISO']) {
    const out = execFileSync('bash', ['test/guest/build.sh'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 })
      .toString()
      .trim()
      .split('\n')
      .pop()!;
    if (!fs.existsSync(out)) throw new Error(`test/guest/build.sh did not produce an ISO (said: ${out})`);
    process.env['NESTBOX_TEST_ISO'] = out;
  }
  process.env['NESTBOX_TEST_ISO'] = readableByQemuUser(process.env['NESTBOX_TEST_ISO']);
}

/**
 * As root, Nestbox runs QEMU as an unprivileged user (src/core/qemu/runas.ts), which cannot
 * read an ISO under root's 0700 home (where test/guest/build.sh caches it): the tests use a
 * world-readable copy in the temporary folder instead, as a user would keep ISOs somewhere
 * QEMU can read them.
 */
function readableByQemuUser(iso: string): string {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return iso;
  const real = fs.realpathSync(iso);
  const st = fs.statSync(real);
  // Same file name as the original (tests see names derived from it), in a folder of its own.
  const dir = path.join(os.tmpdir(), `nestbox-test-guest-${st.size}-${Math.floor(st.mtimeMs)}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  const copy = path.join(dir, path.basename(real));
  if (!fs.existsSync(copy) || fs.statSync(copy).size !== st.size) {
    // A partial file of this process's own: two test processes may make the copy at once.
    const partial = `${copy}.${process.pid}.partial`;
    fs.copyFileSync(real, partial);
    fs.chmodSync(partial, 0o644);
    fs.renameSync(partial, copy);
  }
  return copy;
}
