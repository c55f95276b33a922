/**
 * A small journal of storage jobs in SQLite. A row is written before a job touches anything
 * and removed when it ends (done, failed or cancelled: each of those cleans up after itself).
 * A row still 'running' when a core starts belongs to a job the previous core was killed in
 * the middle of: `sweepInterruptedJobs` removes what that job had half made (its output
 * files, the VM an import had created) and keeps the row as 'interrupted', so `jobs.list`
 * and the event log can tell the user.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { JobInfo, JobKind } from '../api/contract';
import { resolveDiskPath } from '../qemu/argv';
import type { Db, VmRepository } from '../store/db';
import type { MediaRepository } from '../store/media';

/**
 * Something a job made on a libvirt host (a volume it created in a pool, a domain it defined):
 * removed from the host if the job is interrupted, once the next core reaches the host.
 */
export type HostLeftover =
  | { readonly kind: 'volume'; readonly host: string; readonly pool: string; readonly volume: string }
  | { readonly kind: 'domain'; readonly host: string; readonly uuid: string };

/** What a core needs of a host to remove leftovers there (a LibvirtConnection, adapted). */
export interface HostUndo {
  /** Resolves when the domain is gone (also when it was never defined); refuses one that runs. */
  undefine(uuid: string): Promise<void>;
  /** Resolves when the volume is gone (also when it was never made). */
  deleteVolume(pool: string, volume: string): Promise<void>;
}

function describeLeftover(x: HostLeftover): string {
  return x.kind === 'volume' ? `volume '${x.pool}/${x.volume}'` : `domain ${x.uuid}`;
}

function isLeftover(v: unknown): v is HostLeftover {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  if (typeof o['host'] !== 'string') return false;
  if (o['kind'] === 'volume') return typeof o['pool'] === 'string' && typeof o['volume'] === 'string';
  return o['kind'] === 'domain' && typeof o['uuid'] === 'string';
}

const sameLeftover = (a: HostLeftover, b: HostLeftover) => JSON.stringify(a) === JSON.stringify(b);

export interface JournalEntry {
  readonly id: string;
  readonly kind: JobKind;
  readonly title: string;
  readonly target: string | null;
  /** Files (or work folders) the job creates; removed if it is interrupted. */
  readonly outputs: string[];
  /** What the job made on libvirt hosts (kept in the outputs column beside the files). */
  readonly onHosts: HostLeftover[];
  /** The VM an import created (known once created). */
  readonly vmUuid: string | null;
  /** The name of the VM an import creates (known before it is created). */
  readonly vmName: string | null;
  readonly state: 'running' | 'interrupted';
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly note: string | null;
}

interface Row {
  id: string;
  kind: string;
  title: string;
  target: string | null;
  outputs: string;
  vm_uuid: string | null;
  vm_name: string | null;
  state: string;
  started_at: string;
  finished_at: string | null;
  note: string | null;
}

/**
 * A VM's own operations: what they leave half done (a snapshot in QEMU, a state file, a
 * VM left 'starting') is undone by reconcile and snapshot recovery, not by removing outputs.
 */
const VM_JOB_KINDS: ReadonlySet<JobKind> = new Set<JobKind>(['clone', 'convertDisk', 'snapshot', 'saveState', 'restoreSnapshot', 'deleteSnapshot', 'autoSnapshot', 'loadState', 'shutdown']);

/** Interrupted jobs kept for `jobs.list`. */
const KEEP_INTERRUPTED = 20;

export class JobJournal {
  constructor(private readonly db: Db) {}

  begin(e: { id: string; kind: JobKind; title: string; target?: string | undefined; outputs?: readonly string[]; vmName?: string | undefined; startedAt: string }): void {
    this.db
      .prepare(`INSERT INTO job_journal (id, kind, title, target, outputs, vm_name, state, started_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?)`)
      .run(e.id, e.kind, e.title, e.target ?? null, JSON.stringify(e.outputs ?? []), e.vmName ?? null, e.startedAt);
  }

  /** More of what the job has made: output files, the VM it created, or something on a host. */
  note(id: string, more: { outputs?: readonly string[]; vmUuid?: string; onHost?: HostLeftover }): void {
    const row = this.db.prepare(`SELECT outputs FROM job_journal WHERE id = ?`).get(id) as { outputs: string } | undefined;
    if (!row) return;
    const { files, onHosts } = splitOutputs(row.outputs);
    const outputs = [...new Set([...files, ...(more.outputs ?? [])])];
    const hostItems = more.onHost && !onHosts.some((x) => sameLeftover(x, more.onHost!)) ? [...onHosts, more.onHost] : onHosts;
    this.db.prepare(`UPDATE job_journal SET outputs = ?, vm_uuid = COALESCE(?, vm_uuid) WHERE id = ?`).run(JSON.stringify([...outputs, ...hostItems]), more.vmUuid ?? null, id);
  }

  /** Forgets what the job made on hosts, in whole (it is complete and stays) or the items given (removed). */
  forgetOnHosts(id: string, items?: readonly HostLeftover[]): void {
    const row = this.db.prepare(`SELECT outputs FROM job_journal WHERE id = ?`).get(id) as { outputs: string } | undefined;
    if (!row) return;
    const { files, onHosts } = splitOutputs(row.outputs);
    const keep = items === undefined ? [] : onHosts.filter((x) => !items.some((y) => sameLeftover(x, y)));
    this.db.prepare(`UPDATE job_journal SET outputs = ? WHERE id = ?`).run(JSON.stringify([...files, ...keep]), id);
  }

  /** Interrupted jobs that still have something on a host to remove. */
  interruptedOnHosts(): JournalEntry[] {
    return (this.db.prepare(`SELECT * FROM job_journal WHERE state = 'interrupted' ORDER BY started_at`).all() as Row[]).map(toEntry).filter((e) => e.onHosts.length > 0);
  }

  /** Adds to an interrupted job's note what was done since. */
  appendNote(id: string, more: string): void {
    this.db.prepare(`UPDATE job_journal SET note = COALESCE(note, '') || ? WHERE id = ?`).run(more, id);
  }

  end(id: string): void {
    this.db.prepare(`DELETE FROM job_journal WHERE id = ? AND state = 'running'`).run(id);
  }

  running(): JournalEntry[] {
    return (this.db.prepare(`SELECT * FROM job_journal WHERE state = 'running' ORDER BY started_at`).all() as Row[]).map(toEntry);
  }

  markInterrupted(id: string, note: string): void {
    this.db.prepare(`UPDATE job_journal SET state = 'interrupted', finished_at = ?, note = ? WHERE id = ?`).run(new Date().toISOString(), note, id);
    this.db
      .prepare(`DELETE FROM job_journal WHERE state = 'interrupted' AND id NOT IN (SELECT id FROM job_journal WHERE state = 'interrupted' ORDER BY finished_at DESC, rowid DESC LIMIT ?)`)
      .run(KEEP_INTERRUPTED);
  }

  /** Interrupted jobs as `jobs.list` shows them. */
  interrupted(): JobInfo[] {
    const rows = (this.db.prepare(`SELECT * FROM job_journal WHERE state = 'interrupted' ORDER BY started_at`).all() as Row[]).map(toEntry);
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      title: r.title,
      state: 'interrupted' as const,
      percent: 0,
      startedAt: r.startedAt,
      ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}),
      ...(r.target ? { target: r.target } : {}),
      error: { code: 'INTERRUPTED', message: r.note ?? 'the core stopped while this job ran' },
    }));
  }

  /** Forgets an interrupted job (the user has seen it). */
  dismiss(id: string): boolean {
    return this.db.prepare(`DELETE FROM job_journal WHERE id = ? AND state = 'interrupted'`).run(id).changes > 0;
  }
}

/** The outputs column: files (strings) and, since moves to hosts, what a job made on a host (objects). */
function splitOutputs(json: string): { files: string[]; onHosts: HostLeftover[] } {
  const all = JSON.parse(json) as unknown[];
  return { files: all.filter((x): x is string => typeof x === 'string'), onHosts: all.filter(isLeftover) };
}

function toEntry(r: Row): JournalEntry {
  const { files, onHosts } = splitOutputs(r.outputs);
  return {
    id: r.id,
    kind: r.kind as JobKind,
    title: r.title,
    target: r.target,
    outputs: files,
    onHosts,
    vmUuid: r.vm_uuid,
    vmName: r.vm_name,
    state: r.state as JournalEntry['state'],
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    note: r.note,
  };
}

/**
 * qemu-img processes the killed core had started go on writing (they are not its children
 * any more once it is gone). Those naming one of `files` on their command line are ended
 * (or a file inside one of them) before their output is removed. Only processes of this user
 * whose executable is qemu-img.
 */
export function killWritersOf(files: readonly string[]): number[] {
  if (files.length === 0 || !fs.existsSync('/proc')) return [];
  const killed: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const exe = fs.readlinkSync(`/proc/${entry}/exe`);
      if (path.basename(exe) !== 'qemu-img') continue;
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!argv.some((a) => files.some((f) => a === f || a.startsWith(`${f}/`)))) continue;
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      /* gone, or not ours */
    }
  }
  return killed;
}

export interface SweepDeps {
  readonly journal: JobJournal;
  readonly vmRepo: VmRepository;
  readonly media: MediaRepository;
  /** Deletes a VM with its folder. */
  deleteVm(uuid: string): Promise<void>;
  log(uuid: string | null, message: string): void;
}

/**
 * After a core (re)start, before clients are served: undoes what the jobs the previous core
 * was killed in the middle of had half made, and marks them interrupted.
 */
export async function sweepInterruptedJobs(d: SweepDeps): Promise<void> {
  for (const j of d.journal.running()) {
    const done: string[] = [];
    let vm = j.vmUuid ? d.vmRepo.get(j.vmUuid) : undefined;
    // Killed between creating the VM and noting its uuid: the VM of that name made since.
    if (!vm && !j.vmUuid && j.vmName) {
      const byName = d.vmRepo.findByName(j.vmName);
      if (byName && byName.createdAt >= j.startedAt) vm = byName;
    }
    const files = [...j.outputs];
    if (vm) files.push(vm.dir, ...vm.config.disks.filter((x) => x.owned).map((x) => resolveDiskPath(vm!.dir, x.file)));
    const killed = killWritersOf(files);
    if (killed.length) done.push(`stopped the qemu-img process${killed.length > 1 ? 'es' : ''} (${killed.join(', ')}) it had left running`);
    for (const f of j.outputs) {
      const existed = fs.existsSync(f);
      fs.rmSync(f, { recursive: true, force: true });
      if (d.media.get(f)) d.media.delete(f);
      if (existed) done.push(`removed the unfinished file '${f}'`);
    }
    if (vm) {
      try {
        await d.deleteVm(vm.uuid);
        done.push(`removed the half-made VM '${vm.name}'`);
      } catch (err) {
        done.push(`could not remove the half-made VM '${vm.name}': ${(err as Error).message}`);
      }
    }
    // Hosts are not connected yet: what the job made there is removed once each is (undoOnHosts).
    const hosts = [...new Set(j.onHosts.map((x) => x.host))];
    if (hosts.length) done.push(`what it had copied to ${hosts.map((h) => `host '${h}'`).join(' and ')} (${j.onHosts.map(describeLeftover).join(', ')}) is removed once the host is reached`);
    const nothing = VM_JOB_KINDS.has(j.kind) ? 'the VM itself was put back in order when the core started (see its log)' : 'it had not made anything yet';
    const note = `'${j.title}' was interrupted when the core stopped; ${done.length ? done.join('; ') : nothing}`;
    d.journal.markInterrupted(j.id, note);
    d.log(null, note);
  }
}

export interface HostUndoDeps {
  readonly journal: JobJournal;
  /** The host's connection once it is reached, or null (unknown, or unreachable for now). */
  reach(host: string): Promise<HostUndo | null>;
  log(message: string): void;
}

/**
 * Removes what interrupted jobs had made on libvirt hosts (a move's copied volumes and its
 * definition): the domain first, then the volumes. Runs once the core serves clients, each
 * host as soon as it is reached; what cannot be removed now (the host unreachable) stays in
 * the journal for the next start.
 */
export async function undoOnHosts(d: HostUndoDeps): Promise<void> {
  for (const j of d.journal.interruptedOnHosts()) {
    for (const host of [...new Set(j.onHosts.map((x) => x.host))]) {
      const items = j.onHosts.filter((x) => x.host === host).sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'domain' ? -1 : 1));
      const conn = await d.reach(host).catch(() => null);
      if (!conn) {
        d.log(`'${j.title}' was interrupted; its leftovers on host '${host}' (${items.map(describeLeftover).join(', ')}) are removed when the host is reached on a later start`);
        continue;
      }
      const removed: HostLeftover[] = [];
      const failed: string[] = [];
      for (const x of items) {
        // A definition that cannot go (someone started it meanwhile) keeps its volumes too.
        if (x.kind === 'volume' && failed.length > 0) {
          failed.push(`${describeLeftover(x)}: kept with the domain`);
          continue;
        }
        try {
          if (x.kind === 'domain') await conn.undefine(x.uuid);
          else await conn.deleteVolume(x.pool, x.volume);
          removed.push(x);
        } catch (err) {
          failed.push(`${describeLeftover(x)}: ${(err as Error).message}`);
        }
      }
      d.journal.forgetOnHosts(j.id, removed);
      const what = removed.length ? `; removed from host '${host}': ${removed.map(describeLeftover).join(', ')}` : '';
      const left = failed.length ? `; could not remove from host '${host}': ${failed.join('; ')}` : '';
      d.journal.appendNote(j.id, what + left);
      d.log(`'${j.title}' was interrupted${what}${left}`);
    }
  }
}
