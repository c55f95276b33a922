/**
 * The progress of one long operation of one VM, as a hook: the clone, disk conversion, live
 * snapshot and Save state dialogs draw their bars from it. Every such operation is a job of
 * the core, so this follows `job.progress` for the VM's job of the matching kind.
 */
import { useEffect, useState } from 'react';
import type { JobKind } from '../../../core/api/contract';
import { useClient } from '../hooks/client';

export type VmProgressOp = 'saveState' | 'restoreState' | 'takeSnapshot' | 'restoreSnapshot' | 'deleteSnapshot' | 'clone' | 'convertDisk';

export interface VmProgress {
  readonly uuid: string;
  readonly operation: VmProgressOp;
  /** 0–100. */
  readonly percent: number;
  readonly done: boolean;
  /** For RAM streamed to a file: bytes written so far, of about this many. */
  readonly bytesDone?: number;
  readonly bytesTotal?: number;
}

/** The job kind each dialog's operation runs as. */
const KIND: Readonly<Record<VmProgressOp, JobKind>> = {
  saveState: 'saveState',
  restoreState: 'loadState',
  takeSnapshot: 'snapshot',
  restoreSnapshot: 'restoreSnapshot',
  deleteSnapshot: 'deleteSnapshot',
  clone: 'clone',
  convertDisk: 'convertDisk',
};

/**
 * The latest progress the core reported for `operation` on the VM while `active` (null
 * until the first event, and again once inactive). The job's end is not kept: the caller
 * learns the end from its own call.
 */
export function useVmProgress(uuid: string, operation: VmProgressOp, active: boolean): VmProgress | null {
  const client = useClient();
  const [progress, setProgress] = useState<VmProgress | null>(null);
  useEffect(() => {
    if (!active) {
      setProgress(null);
      return undefined;
    }
    return client.on('job.progress', (e) => {
      if (e.vm !== uuid || e.kind !== KIND[operation] || e.state !== 'running') return;
      setProgress({
        uuid,
        operation,
        percent: e.percent,
        done: false,
        ...(e.bytesDone !== undefined ? { bytesDone: e.bytesDone } : {}),
        ...(e.bytesTotal !== undefined ? { bytesTotal: e.bytesTotal } : {}),
      });
    });
  }, [client, uuid, operation, active]);
  return progress;
}
