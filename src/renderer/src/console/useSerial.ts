/**
 * The guest's serial port in a terminal. Each time the stream (re)opens, the terminal is
 * redrawn from the tail of the log QEMU keeps on disk and then follows the live bytes, so a
 * reconnection loses nothing and a stopped VM still shows what it printed last. The live
 * stream is opened *before* the log is read; the bytes that are in both are written once.
 */
import { useEffect, useRef, useState } from 'react';
import type { Terminal } from '@xterm/xterm';
import type { RpcClient } from '../../../core/api/rpc';
import { ConsoleStream } from './consoleStream';
import { reconnectDelay } from './reconnect';

export type SerialStatus =
  | { readonly kind: 'off' }
  | { readonly kind: 'disabled' }
  | { readonly kind: 'connecting' }
  | { readonly kind: 'connected' }
  | { readonly kind: 'retrying'; readonly reason: string }
  | { readonly kind: 'lost' };

/** How much of the on-disk log is replayed into the terminal. */
export const REPLAY_BYTES = 256 * 1024;

const encoder = new TextEncoder();

/**
 * The part of `live` not already at the end of `logTail`: the longest prefix of `live`
 * that `logTail` ends with is dropped.
 */
export function withoutOverlap(logTail: Uint8Array, live: Uint8Array): Uint8Array {
  const max = Math.min(logTail.length, live.length);
  for (let k = max; k > 0; k--) {
    let same = true;
    const off = logTail.length - k;
    for (let i = 0; i < k; i++) {
      if (logTail[off + i] !== live[i]) {
        same = false;
        break;
      }
    }
    if (same) return live.subarray(k);
  }
  return live;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// eslint-disable-next-line no-control-regex -- these are terminal escape sequences
const REPORT = /^(?:\x1b\[\??\d+(?:;\d+)*R|\x1b\[[?>]?[\d;]*c|\x1b\[\??\d+(?:;\d+)*\$y|\x1b\[\d+(?:;\d+)*t|\x1bP[\s\S]*?\x1b\\|\x1b\][\s\S]*?(?:\x07|\x1b\\)|\x1b\[[IO])+$/;

/**
 * Whether `data` is the terminal answering the guest (cursor position, device attributes,
 * mode and window reports, focus events) rather than the user typing.
 */
export function isTerminalReport(data: string): boolean {
  return REPORT.test(data);
}

const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

export interface SerialOptions {
  readonly client: RpcClient;
  readonly vmRef: string;
  /** The VM runs (its serial port can be opened). */
  readonly active: boolean;
  /** The VM has a serial port at all. */
  readonly enabled: boolean;
  readonly term: Terminal | null;
}

export function useSerial({ client, vmRef, active, enabled, term }: SerialOptions): SerialStatus {
  const [status, setStatus] = useState<SerialStatus>({ kind: 'off' });
  /** Set when the terminal shows a session that has ended (so a note is printed once). */
  const shownRef = useRef<'none' | 'log' | 'live'>('none');

  useEffect(() => {
    if (!term) return undefined;
    if (!enabled) {
      setStatus({ kind: 'disabled' });
      return undefined;
    }
    let disposed = false;

    if (!active) {
      setStatus({ kind: 'off' });
      if (shownRef.current === 'live') {
        term.write(`\r\n${DIM}[the VM is not running — the log stays searchable]${RESET}\r\n`);
        shownRef.current = 'log';
      } else if (shownRef.current === 'none') {
        // A stopped VM: show what its serial port printed last.
        client.call('console.serialLog', { ref: vmRef, maxBytes: REPLAY_BYTES }).then(
          (log) => {
            if (disposed || shownRef.current !== 'none') return;
            term.reset();
            term.write(log.text);
            if (log.text) term.write(`\r\n${DIM}[the VM is not running]${RESET}\r\n`);
            shownRef.current = 'log';
          },
          () => undefined,
        );
      }
      return () => {
        disposed = true;
      };
    }

    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let stream: ConsoleStream | null = null;
    /**
     * While old output is replayed, the terminal's own answers (a replayed "where is the
     * cursor?" query makes xterm reply) must not reach the guest as if typed.
     */
    let replaying = 0;
    const input = term.onData((data) => {
      if (replaying > 0) return;
      // The serial port is shared: only the terminal someone is typing into answers the
      // guest's queries, or every open viewer would answer and the shell would read junk.
      if (isTerminalReport(data) && !(document.hasFocus() && term.element?.contains(document.activeElement))) return;
      stream?.write(encoder.encode(data));
    });
    const binary = term.onBinary((data) => {
      if (replaying > 0) return;
      const bytes = new Uint8Array(data.length);
      for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff;
      stream?.write(bytes);
    });

    const retry = (reason: string) => {
      if (disposed) return;
      if (client.closed) {
        setStatus({ kind: 'lost' });
        return;
      }
      const delay = reconnectDelay(attempt);
      attempt++;
      setStatus({ kind: 'retrying', reason });
      timer = setTimeout(() => {
        timer = null;
        void connect();
      }, delay);
    };

    const connect = async (): Promise<void> => {
      setStatus({ kind: 'connecting' });
      let s: ConsoleStream;
      try {
        s = await ConsoleStream.open(client, vmRef, 'serial');
      } catch (err) {
        retry(err instanceof Error ? err.message : String(err));
        return;
      }
      if (disposed) {
        s.close();
        return;
      }
      stream = s;
      // Live bytes wait here until the log tail is on screen.
      let held: Uint8Array[] | null = [];
      const onClosed = (reason: string) => {
        if (stream === s) stream = null;
        // Reopening redraws from the log, so nothing is printed here; a stopped VM gets its
        // note when its state arrives.
        retry(reason);
      };
      s.attach({
        data: (bytes) => {
          if (held) held.push(bytes);
          else term.write(bytes);
        },
        closed: onClosed,
      });
      let tail = new Uint8Array(0);
      try {
        const log = await client.call('console.serialLog', { ref: vmRef, maxBytes: REPLAY_BYTES });
        tail = encoder.encode(log.text);
      } catch {
        // Without the log the terminal simply starts empty.
      }
      if (disposed || s.closed) return;
      term.reset();
      replaying++;
      term.write(tail, () => replaying--);
      const live = withoutOverlap(tail, concat(held ?? []));
      held = null;
      if (live.length > 0) term.write(live);
      shownRef.current = 'live';
      attempt = 0;
      setStatus({ kind: 'connected' });
    };

    void connect();
    return () => {
      disposed = true;
      if (timer !== null) clearTimeout(timer);
      input.dispose();
      binary.dispose();
      stream?.close();
      stream = null;
    };
  }, [client, vmRef, active, enabled, term]);

  return status;
}
