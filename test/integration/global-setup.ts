/**
 * Integration prerequisites: real QEMU and the project's own test guest. Nothing here skips:
 * a missing tool is a failure that says what to install.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
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
  execFileSync('node', ['scripts/build-node.mjs'], { cwd: root, stdio: 'inherit' });
  if (!process.env['NESTBOX_TEST_ISO']) {
    const out = execFileSync('bash', ['test/guest/build.sh'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 })
      .toString()
      .trim()
      .split('\n')
      .pop()!;
    if (!fs.existsSync(out)) throw new Error(`test/guest/build.sh did not produce an ISO (said: ${out})`);
    process.env['NESTBOX_TEST_ISO'] = out;
  }
}
