/**
 * Makes a dropped file (or a machine with its files) usable by the core as soon as it is
 * dropped: on the desktop its path is known at once; in web mode the upload starts right away
 * (while the user fills in the dialog) and can be cancelled by closing it.
 */
import { useEffect, useMemo, useState } from 'react';
import type { DropItem } from './dropped';
import { toHostSource, type HostFile, type UploadProgress } from './hostPath';

export type HostFileState =
  | { readonly phase: 'uploading'; readonly progress: UploadProgress }
  | { readonly phase: 'ready'; readonly file: HostFile }
  | { readonly phase: 'failed'; readonly error: unknown };

function sizeOf(item: DropItem): number {
  return item.kind === 'file' ? item.file.size : item.files.reduce((n, f) => n + f.file.size, 0);
}

export function useHostFile(file: File): HostFileState {
  const item = useMemo<DropItem>(() => ({ kind: 'file', file }), [file]);
  return useHostSource(item);
}

/** As useHostFile, for a drop item; `item` must keep its identity while the dialog is open. */
export function useHostSource(item: DropItem): HostFileState {
  const [state, setState] = useState<HostFileState>({ phase: 'uploading', progress: { loaded: 0, total: sizeOf(item) } });
  useEffect(() => {
    const abort = new AbortController();
    let done = false;
    setState({ phase: 'uploading', progress: { loaded: 0, total: sizeOf(item) } });
    toHostSource(
      item,
      (progress) => {
        if (!abort.signal.aborted) setState({ phase: 'uploading', progress });
      },
      abort.signal,
    ).then(
      (f) => {
        done = true;
        if (!abort.signal.aborted) setState({ phase: 'ready', file: f });
      },
      (error: unknown) => {
        done = true;
        if (!abort.signal.aborted) setState({ phase: 'failed', error });
      },
    );
    return () => {
      if (!done) abort.abort();
    };
  }, [item]);
  return state;
}
