/**
 * Makes a dropped file usable by the core as soon as it is dropped: on the desktop its path
 * is known at once; in web mode the upload starts right away (while the user fills in the
 * dialog) and can be cancelled by closing it.
 */
import { useEffect, useState } from 'react';
import { toHostFile, type HostFile, type UploadProgress } from './hostPath';

export type HostFileState =
  | { readonly phase: 'uploading'; readonly progress: UploadProgress }
  | { readonly phase: 'ready'; readonly file: HostFile }
  | { readonly phase: 'failed'; readonly error: unknown };

export function useHostFile(file: File): HostFileState {
  const [state, setState] = useState<HostFileState>({ phase: 'uploading', progress: { loaded: 0, total: file.size } });
  useEffect(() => {
    const abort = new AbortController();
    let done = false;
    setState({ phase: 'uploading', progress: { loaded: 0, total: file.size } });
    toHostFile(
      file,
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
  }, [file]);
  return state;
}
