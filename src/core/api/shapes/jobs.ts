/** Jobs in the API: the kinds of long operation and their progress. */
import type { ErrorShape } from '../errors';
import type { MigrateProgressInfo } from './hosts';

export type JobKind =
  | 'create' | 'convert' | 'resize' | 'compact' | 'check' | 'import' | 'export'
  /** A VM's own long operations, listed while their API call runs. */
  | 'clone' | 'convertDisk' | 'snapshot' | 'saveState'
  | 'restoreSnapshot' | 'deleteSnapshot' | 'autoSnapshot' | 'loadState' | 'shutdown'
  /** A VM moved between libvirt hosts. */
  | 'migrate'
  /** A powered-off VM moved between this computer and a libvirt host (its disks copied). */
  | 'move'
  /** A file copied into a libvirt host's storage pool. */
  | 'upload';
/** 'interrupted': the core was stopped (killed, power cut) while the job ran; see the event log for what was cleaned up. */
export type JobState = 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';

/**
 * A long operation: storage work, or a VM's own (a clone, a live snapshot, Save state, ...;
 * those carry `vm`). Methods that start storage work answer at once with it; its progress and
 * its end arrive as `job.progress` events to every client, and `jobs.wait` resolves with the
 * finished job (result or error).
 */
export interface JobInfo {
  readonly id: string;
  readonly kind: JobKind;
  /** What a progress line says, e.g. "Converting disk.vdi to qcow2". */
  readonly title: string;
  readonly state: JobState;
  /** 0–100. */
  readonly percent: number;
  readonly startedAt: string;
  readonly finishedAt?: string;
  /** The medium (or VM) the job is about. */
  readonly target?: string;
  /** The UUID of the VM a VM operation works on (no other long operation of it runs meanwhile). */
  readonly vm?: string;
  /** False for work that cannot be stopped midway (jobs.cancel and vms.cancel refuse it). */
  readonly cancellable?: boolean;
  /** For RAM streamed to a file (Save state, live snapshot): bytes written so far, of about this many. */
  readonly bytesDone?: number;
  readonly bytesTotal?: number;
  readonly error?: ErrorShape;
  /** On success: MediumInfo for media jobs, CheckResult for check, VmInfo for import, {file} for export, MigrateResult for migrate. */
  readonly result?: unknown;
  /** A migration's data figures as it goes. */
  readonly migration?: MigrateProgressInfo;
}
