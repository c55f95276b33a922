/**
 * Peer-to-peer live or offline migration through virsh: the source daemon dials the
 * destination itself, so this process only starts it, polls its progress and, when it fails
 * or is cancelled, removes what the destination may have kept. LibvirtConnection.migrate is
 * the way in.
 */
import { NestboxError } from '../api/errors';
import { domainRef } from './domxml';
import { jobResult, parseJobInfo } from './parse';
import { VirshSession } from './session';
import type { MigrateOptions, MigrateProgress, MigrateResult } from './types';
import { checkUri, hostOfUri, virshError } from './virsh';

/**
 * How often a running migration's progress is read. Each read is a virsh process and a new
 * connection to the source daemon, competing with the guest and both daemons for the CPUs; the
 * first read waits this long too, so a migration over within a second runs nothing beside it.
 */
const PROGRESS_EVERY_MS = 1000;

/**
 * Peer-to-peer migration: the source daemon dials the destination itself, so this process
 * only starts it and watches (`domjobinfo` while it runs). Aborting the signal runs
 * `domjobabort`; the VM keeps running on the source and a definition the destination may
 * have kept is removed.
 */
export async function migrateDomain(
  src: VirshSession,
  name: string,
  destUri: string,
  o: MigrateOptions,
  onProgress: (p: MigrateProgress) => void,
  signal: AbortSignal,
): Promise<MigrateResult> {
  const ref = domainRef(name);
  checkUri(destUri);
  const destClient = new VirshSession(o.destClientUri ?? destUri, src.virsh, src.timeoutMs);
  const args = ['migrate', '--p2p'];
  if (o.live) args.push('--live');
  if (o.persistent) args.push('--persistent');
  if (o.undefineSource) args.push('--undefinesource');
  if (o.copyStorage) args.push('--copy-storage-all');
  if (o.unsafe) args.push('--unsafe');
  if (!o.live) args.push('--offline');
  if (o.maxDowntimeMs !== undefined) {
    if (!Number.isInteger(o.maxDowntimeMs) || o.maxDowntimeMs < 1 || o.maxDowntimeMs > 600_000) throw new NestboxError('INVALID_ARGUMENT', 'the maximum downtime must be 1–600000 ms');
  }
  if (o.bandwidthMiBps !== undefined) {
    if (!Number.isInteger(o.bandwidthMiBps) || o.bandwidthMiBps < 1 || o.bandwidthMiBps > 1_000_000) throw new NestboxError('INVALID_ARGUMENT', 'the bandwidth must be 1–1000000 MiB/s');
    args.push('--bandwidth', String(o.bandwidthMiBps));
  }
  if (o.migrateUri !== undefined) {
    if (!/^tcp:\/\/[A-Za-z0-9.:[\]-]{1,255}$/.test(o.migrateUri)) throw new NestboxError('INVALID_ARGUMENT', `'${o.migrateUri}' is not a migration URI (tcp://ADDRESS[:PORT])`);
    args.push('--migrateuri', o.migrateUri);
  }
  args.push('--domain', ref, '--desturi', destUri);
  if (signal.aborted) throw new NestboxError('CANCELLED', `migration of ${name} cancelled`);

  // virsh migrate has no downtime option: set it on the domain first (libvirt keeps it for the job).
  let downtimeSet = o.maxDowntimeMs === undefined;
  if (!downtimeSet) {
    const r = await src.raw(['migrate-setmaxdowntime', '--domain', ref, '--downtime', String(o.maxDowntimeMs)], 'set max downtime');
    downtimeSet = r.code === 0;
  }
  const started = Date.now();
  let done = false;
  let aborted = false;
  let abortDone: Promise<void> = Promise.resolve();
  const onAbort = () => {
    aborted = true;
    abortDone = src.raw(['domjobabort', '--domain', ref], `cancel the migration of ${name}`).then(() => undefined);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  // The wait between two progress reads ends as soon as the migration does: nothing waits for a timer.
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (wake = r));
  const pause = async (ms: number) => {
    let t: NodeJS.Timeout | undefined;
    await Promise.race([new Promise((r) => (t = setTimeout(r, ms))), stopped]);
    clearTimeout(t);
  };
  // Once the job exists on the source, its progress is polled (only while it runs).
  const poll = (async () => {
    if (!downtimeSet) {
      for (let i = 0; i < 50 && !done; i++) {
        const r = await src.raw(['migrate-setmaxdowntime', '--domain', ref, '--downtime', String(o.maxDowntimeMs)], 'set max downtime').catch(() => null);
        if (r?.code === 0) break;
        await pause(100);
      }
    }
    while (!done) {
      await pause(PROGRESS_EVERY_MS);
      if (done) break;
      const r = await src.raw(['domjobinfo', '--domain', ref], 'migration progress').catch(() => null);
      if (!r || r.code !== 0 || done) continue;
      try {
        const info = parseJobInfo(r.stdout, src.host);
        if (info.type !== 'None') onProgress(info.progress);
      } catch {
        /* a malformed progress line is not worth failing a migration for */
      }
    }
  })().catch(() => undefined);
  const stop = () => {
    done = true;
    wake();
  };
  try {
    const r = await src.raw(args, `migrate ${name}`, { timeoutMs: 24 * 3600_000 });
    stop();
    if (r.code !== 0) {
      // A progress read still under way ends before the destination is cleaned up.
      await poll;
      await abortDone;
      const err = virshError(src.uri, `migrate ${name} to ${hostOfUri(destUri)}`, r.stderr);
      await cleanupDestination(src, destClient, ref);
      if (aborted) throw new NestboxError('CANCELLED', `migration of ${name} cancelled; it keeps running on ${src.host}`, err.message);
      throw err;
    }
    const known = o.completedJob ? await o.completedJob().catch(() => null) : null;
    if (known) return known;
    const res = await destClient.raw(['domjobinfo', '--completed', '--domain', ref], 'migration result').catch(() => null);
    if (res && res.code === 0) {
      try {
        return jobResult(parseJobInfo(res.stdout, src.host));
      } catch {
        /* fall through to our own clock */
      }
    }
    return { elapsedMs: Date.now() - started, downtimeMs: null, dataBytes: null };
  } finally {
    stop();
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * After a failed or cancelled migration the destination should have nothing; libvirt can
 * leave a paused incoming domain or (with --persistent) a definition. Both are removed,
 * only when the source still has the domain (so nothing is ever lost).
 */
async function cleanupDestination(src: VirshSession, dest: VirshSession, ref: string): Promise<void> {
  const here = await src.raw(['domstate', '--domain', ref], 'domain state').catch(() => null);
  if (!here || here.code !== 0) return;
  const there = await dest.raw(['domstate', '--domain', ref], 'domain state').catch(() => null);
  if (!there || there.code !== 0) return;
  const state = there.stdout.trim();
  if (state !== 'shut off') await dest.raw(['destroy', '--domain', ref], 'remove the half-migrated domain').catch(() => null);
  await dest.raw(['undefine', '--domain', ref], 'remove the half-migrated definition').catch(() => null);
}
