/**
 * The base of this user's private runtime folders: `$XDG_RUNTIME_DIR/nestbox` when that is
 * set and exists, else `<tmp>/nestbox-<uid>`. Each data directory's core socket lives in a
 * folder under it (paths.ts), and the CLI keeps its compile cache there (cli/codecache.ts).
 * Apart from paths.ts, with named imports only, so that the CLI's launcher finds it without
 * loading anything else.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function runtimeBase(): string {
  const xdg = process.env['XDG_RUNTIME_DIR'];
  if (xdg && existsSync(xdg)) return join(xdg, 'nestbox');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return join(tmpdir(), `nestbox-${uid}`);
}
