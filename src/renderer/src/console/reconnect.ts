/** How long a viewer waits before reopening a console stream that closed under it. */

/** Delays between reconnection attempts; the last one repeats. */
export const RECONNECT_DELAYS_MS: readonly number[] = [300, 1000, 2000, 4000, 8000];

export function reconnectDelay(attempt: number): number {
  return RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)] ?? 8000;
}
