/**
 * Snapshot thumbnails: fetched once per snapshot (they never change), only when their row
 * scrolls into view, and kept for the life of the window as data: URLs (the CSP allows
 * data: images).
 */
import { useCallback, useEffect, useState } from 'react';
import type { RpcClient } from '../../../core/api/rpc';
import { useClient } from '../hooks/client';

const MAX_CACHED = 300;
const cache = new Map<string, string | null>();
const inflight = new Map<string, Promise<string | null>>();

function load(client: RpcClient, id: string): Promise<string | null> {
  const running = inflight.get(id);
  if (running) return running;
  const p = client
    .call('snapshots.thumbnail', { id })
    .then(
      (t) => {
        const src = t ? `data:image/png;base64,${t.pngBase64}` : null;
        if (cache.size >= MAX_CACHED) {
          const oldest = cache.keys().next();
          if (!oldest.done) cache.delete(oldest.value);
        }
        cache.set(id, src);
        return src;
      },
      // Not cached: a thumbnail that failed to load (connection hiccup) is asked for again next time.
      () => null,
    )
    .finally(() => inflight.delete(id));
  inflight.set(id, p);
  return p;
}

export type ThumbnailStatus = 'none' | 'loading' | 'loaded';

export interface Thumbnail {
  /** Attach to the element whose visibility triggers the load. */
  readonly ref: (el: Element | null) => void;
  readonly src: string | null;
  readonly status: ThumbnailStatus;
}

/** `lazy`: wait until the element is (nearly) on screen before asking the core. */
export function useThumbnail(id: string | null, has: boolean, lazy = true): Thumbnail {
  const client = useClient();
  const [el, setEl] = useState<Element | null>(null);
  const [visible, setVisible] = useState(!lazy);
  const [, setLoaded] = useState<string | null>(null);
  const ref = useCallback((e: Element | null) => setEl(e), []);

  useEffect(() => {
    if (visible || !el) return undefined;
    if (typeof IntersectionObserver === 'undefined') {
      setVisible(true);
      return undefined;
    }
    const io = new IntersectionObserver(
      (list) => {
        if (list.some((e) => e.isIntersecting)) {
          setVisible(true);
          io.disconnect();
        }
      },
      { rootMargin: '120px' },
    );
    io.observe(el);
    return () => io.disconnect();
  }, [el, visible]);

  const want = id !== null && has && visible && !cache.has(id);
  useEffect(() => {
    if (!want || id === null) return undefined;
    let alive = true;
    void load(client, id).then(() => {
      if (alive) setLoaded(id);
    });
    return () => {
      alive = false;
    };
  }, [client, id, want]);

  if (id === null || !has) return { ref, src: null, status: 'none' };
  const src = cache.get(id);
  if (src === undefined) return { ref, src: null, status: 'loading' };
  return { ref, src, status: src ? 'loaded' : 'none' };
}
