/**
 * The guest's screen: a noVNC RFB session over the core's `vnc` stream, kept alive for as
 * long as the VM has a screen. A reset keeps the VNC connection (QEMU's VNC server lives
 * as long as the QEMU process), so nothing happens then; a stream that ends while the VM
 * still runs (the core closed it, a hiccup) is reopened with backoff; a VM that stops
 * disconnects, and one that starts again is connected once its state says so.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import RFB from '@novnc/novnc';
import type { RpcClient } from '../../../core/api/rpc';
import { reconnectDelay } from './reconnect';
import { STAGE_BG } from './stage';
import { RfbChannel } from './rfbChannel';

export type ScreenStatus =
  | { readonly kind: 'off' }
  | { readonly kind: 'connecting'; readonly attempt: number }
  | { readonly kind: 'connected' }
  | { readonly kind: 'retrying'; readonly attempt: number; readonly reason: string; readonly at: number }
  /** The connection to the core is gone; only a reload helps (see ConnectionLostBanner). */
  | { readonly kind: 'lost' };

export interface Resolution {
  readonly width: number;
  readonly height: number;
}

export interface ScreenOptions {
  readonly client: RpcClient;
  readonly vmRef: string;
  /** The VM has a screen to show now (running, paused, starting, ...). */
  readonly active: boolean;
  /** Where noVNC puts its canvas; null until mounted. */
  readonly target: HTMLElement | null;
  /** Scale the guest screen to the window (true) or show it 1:1 with scroll bars. */
  readonly scale: boolean;
  /** The guest put text on its clipboard (needs a clipboard agent in the guest). */
  readonly onClipboard: (text: string) => void;
}

export interface Screen {
  readonly status: ScreenStatus;
  readonly resolution: Resolution | null;
  /** The canvas has the keyboard: keys go to the guest until the host key releases it. */
  readonly captured: boolean;
  /** The live RFB session, for sending clipboard text and keys. */
  readonly rfb: () => RFB | null;
  /** Gives the keyboard to the guest (focuses the canvas). */
  readonly capture: () => void;
  /** Skips the wait of a pending reconnection. */
  readonly retryNow: () => void;
}

/** The host key, as in VirtualBox: it releases the keyboard and never reaches the guest. */
export const HOST_KEY_CODE = 'ControlRight';
export const HOST_KEY_LABEL = 'Right Ctrl';

export function useScreen({ client, vmRef, active, target, scale, onClipboard }: ScreenOptions): Screen {
  const [status, setStatus] = useState<ScreenStatus>({ kind: 'off' });
  const [resolution, setResolution] = useState<Resolution | null>(null);
  const [captured, setCaptured] = useState(false);
  const rfbRef = useRef<RFB | null>(null);
  const retryNowRef = useRef<() => void>(() => undefined);
  const scaleRef = useRef(scale);
  scaleRef.current = scale;
  const clipboardRef = useRef(onClipboard);
  clipboardRef.current = onClipboard;

  useEffect(() => {
    if (!active || !target) {
      setStatus({ kind: 'off' });
      setResolution(null);
      return undefined;
    }
    let disposed = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let poll: ReturnType<typeof setInterval> | null = null;

    const stopPolling = () => {
      if (poll !== null) clearInterval(poll);
      poll = null;
    };

    const retry = (reason: string) => {
      if (disposed) return;
      stopPolling();
      if (client.closed) {
        setStatus({ kind: 'lost' });
        return;
      }
      const delay = reconnectDelay(attempt);
      attempt++;
      setStatus({ kind: 'retrying', attempt, reason, at: Date.now() + delay });
      timer = setTimeout(() => {
        timer = null;
        void connect();
      }, delay);
    };

    retryNowRef.current = () => {
      if (timer === null) return;
      clearTimeout(timer);
      timer = null;
      void connect();
    };

    const connect = async (): Promise<void> => {
      if (disposed) return;
      setStatus({ kind: 'connecting', attempt });
      const channel = new RfbChannel(client, vmRef);
      try {
        await channel.opened;
      } catch (err) {
        retry(err instanceof Error ? err.message : String(err));
        return;
      }
      if (disposed) {
        channel.close();
        return;
      }
      let rfb: RFB;
      try {
        rfb = new RFB(target, channel, { shared: true });
      } catch (err) {
        channel.close();
        retry(err instanceof Error ? err.message : String(err));
        return;
      }
      rfbRef.current = rfb;
      rfb.scaleViewport = scaleRef.current;
      rfb.focusOnClick = true;
      rfb.background = STAGE_BG;
      rfb.qualityLevel = 8;
      rfb.compressionLevel = 2;
      rfb.addEventListener('connect', () => {
        attempt = 0;
        setStatus({ kind: 'connected' });
        const read = () => {
          const r = rfbRef.current;
          if (!r || r._fbWidth <= 0 || r._fbHeight <= 0) return;
          setResolution((prev) => (prev && prev.width === r._fbWidth && prev.height === r._fbHeight ? prev : { width: r._fbWidth, height: r._fbHeight }));
        };
        read();
        stopPolling();
        // RFB has no resize event; its framebuffer size is cheap to read.
        poll = setInterval(read, 500);
      });
      rfb.addEventListener('disconnect', () => {
        if (rfbRef.current === rfb) rfbRef.current = null;
        setCaptured(false);
        retry(channel.closeReason ?? 'the screen connection closed');
      });
      rfb.addEventListener('clipboard', (e) => clipboardRef.current(e.detail.text));
    };

    void connect();
    return () => {
      disposed = true;
      if (timer !== null) clearTimeout(timer);
      stopPolling();
      retryNowRef.current = () => undefined;
      const rfb = rfbRef.current;
      rfbRef.current = null;
      // A session noVNC already ended must not be disconnected twice (it logs an error).
      if (rfb) rfb.disconnect();
      setCaptured(false);
    };
  }, [client, vmRef, active, target]);

  useEffect(() => {
    const rfb = rfbRef.current;
    if (rfb) rfb.scaleViewport = scale;
  }, [scale, status]);

  // Keyboard capture: the canvas has focus. The host key gives it back.
  useEffect(() => {
    if (!target) return undefined;
    const onFocusIn = (e: FocusEvent) => setCaptured(e.target instanceof HTMLCanvasElement);
    const onFocusOut = (e: FocusEvent) => {
      if (!(e.relatedTarget instanceof HTMLCanvasElement && target.contains(e.relatedTarget))) setCaptured(false);
    };
    const onKeyDown = (e: KeyboardEvent) => {
      if (e.code !== HOST_KEY_CODE) return;
      // Capture phase on an ancestor: noVNC's listener on the canvas never sees the key.
      e.preventDefault();
      e.stopPropagation();
      rfbRef.current?.blur();
      (document.activeElement as HTMLElement | null)?.blur?.();
      setCaptured(false);
    };
    const onKeyUp = (e: KeyboardEvent) => {
      if (e.code !== HOST_KEY_CODE) return;
      e.preventDefault();
      e.stopPropagation();
    };
    target.addEventListener('focusin', onFocusIn);
    target.addEventListener('focusout', onFocusOut);
    target.addEventListener('keydown', onKeyDown, true);
    target.addEventListener('keyup', onKeyUp, true);
    return () => {
      target.removeEventListener('focusin', onFocusIn);
      target.removeEventListener('focusout', onFocusOut);
      target.removeEventListener('keydown', onKeyDown, true);
      target.removeEventListener('keyup', onKeyUp, true);
    };
  }, [target]);

  const rfb = useCallback(() => rfbRef.current, []);
  const capture = useCallback(() => rfbRef.current?.focus({ preventScroll: true }), []);
  const retryNow = useCallback(() => retryNowRef.current(), []);
  return { status, resolution: status.kind === 'connected' ? resolution : null, captured, rfb, capture, retryNow };
}
