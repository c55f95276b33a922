/**
 * `nestbox daemon`: the core hosted headless. Started by hand it runs until stopped; started
 * in the background by the CLI (autostart.ts) it leaves by itself once nothing needs it for
 * a while: no client connected (a console stream belongs to a client), no job running.
 * Running VMs do not keep it: they outlive the core anyway, and the next core re-attaches.
 */
import { hostCore, type ExitAnswer, type HostedCore } from './host';
import { installMemProbe } from './memprobe';

/** Idle seconds before a background daemon exits; NESTBOX_DAEMON_IDLE_S overrides it. */
export const DEFAULT_IDLE_S = 300;

export function idleSecondsFromEnv(): number {
  const v = process.env['NESTBOX_DAEMON_IDLE_S'];
  if (v === undefined || v === '') return DEFAULT_IDLE_S;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_IDLE_S;
}

export interface DaemonOptions {
  readonly dataDir: string;
  /** Exit after this long without clients or jobs; null: run until stopped. */
  readonly idleMs: number | null;
  /** Lines for the daemon's log (stderr). */
  readonly log: (line: string) => void;
}

export interface Daemon {
  readonly hosted: HostedCore;
  /** Resolves with why the daemon stopped, once the core is closed. */
  readonly stopped: Promise<string>;
  stop(why: string): void;
}

/** What keeps the daemon: other clients, running jobs; null when nothing does. */
function busyWith(hosted: HostedCore, others: number): string | null {
  const jobs = hosted.core.jobs.list().filter((j) => j.state === 'running');
  if (jobs.length) return `running ${jobs.map((j) => `'${j.title}'`).join(', ')}`;
  if (others > 0) return `${others} other client${others > 1 ? 's' : ''} connected`;
  return null;
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const hosted = await hostCore({ dataDir: opts.dataDir, role: 'daemon' });
  let stopping = false;
  let resolveStopped: (why: string) => void = () => undefined;
  const stopped = new Promise<string>((r) => (resolveStopped = r));
  let timer: NodeJS.Timeout | null = null;
  const removeProbe = installMemProbe(opts.log);
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    if (timer) clearInterval(timer);
    removeProbe();
    opts.log(`nestbox: core stopping (${why})`);
    // hosted.close() stops accepting connections before its first await.
    void hosted.close().then(
      () => resolveStopped(why),
      (err: unknown) => resolveStopped(`${why}; closing failed: ${(err as Error).message}`),
    );
  };
  hosted.onExitRequest = (others): ExitAnswer => {
    const busy = busyWith(hosted, others);
    if (busy) return { exiting: false, reason: busy };
    // Answer first, then go: the asker waits for the lock to be free.
    setImmediate(() => stop('asked to exit'));
    return { exiting: true };
  };
  if (opts.idleMs !== null) {
    const idleMs = opts.idleMs;
    let idleSince = Date.now();
    timer = setInterval(
      () => {
        if (busyWith(hosted, hosted.clients)) idleSince = Date.now();
        else if (Date.now() - idleSince >= idleMs) stop(`idle for ${Math.round(idleMs / 1000)} s`);
      },
      Math.max(50, Math.min(1000, idleMs / 4)),
    );
  }
  return { hosted, stopped, stop };
}
