/**
 * Snapshot operations in flight, per VM. They outlive the view that started them: a user
 * may switch to the Details tab or another VM while a live snapshot is saved (seconds under
 * TCG), and on coming back the Snapshots view still shows the progress and blocks a second
 * operation on the same VM.
 */
import { useSyncExternalStore } from 'react';

export type SnapshotOpKind = 'take' | 'restore' | 'delete';

export interface PendingOp {
  readonly kind: SnapshotOpKind;
  /** What is happening now, in words ("Saving the memory of 's1'…"). */
  readonly text: string;
  readonly since: number;
}

const pending = new Map<string, PendingOp>();
const listeners = new Set<() => void>();

function emit(): void {
  for (const l of listeners) l();
}

function subscribe(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function usePendingSnapshotOp(uuid: string): PendingOp | undefined {
  return useSyncExternalStore(subscribe, () => pending.get(uuid));
}

export function pendingSnapshotOp(uuid: string): PendingOp | undefined {
  return pending.get(uuid);
}

/** Runs `work` with the VM marked busy; `step` changes the words of a multi-step operation. */
export async function runSnapshotOp<T>(uuid: string, kind: SnapshotOpKind, text: string, work: (step: (text: string) => void) => Promise<T>): Promise<T> {
  const since = Date.now();
  pending.set(uuid, { kind, text, since });
  emit();
  try {
    return await work((t) => {
      pending.set(uuid, { kind, text: t, since });
      emit();
    });
  } finally {
    pending.delete(uuid);
    emit();
  }
}
