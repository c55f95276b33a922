/** The core fixture: a core hosted in the test's own process on a data directory. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RpcClient } from '../../src/core/api/rpc';
import { hostCore, type HostedCore } from '../../src/core/server/host';
import { stopBackgroundDaemon } from './daemon';

/** A fresh data directory. */
export function tempHome(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nbt-'));
}

/**
 * Hosts the core of `home` in this process. A background daemon an earlier CLI command
 * started for `home` is asked to leave first (one core per data directory).
 */
export async function openCore(home: string): Promise<{ hosted: HostedCore; client: RpcClient }> {
  await stopBackgroundDaemon(home);
  const hosted = await hostCore({ dataDir: home });
  return { hosted, client: hosted.client() };
}
