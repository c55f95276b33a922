/** The Manager window's size and position, remembered between runs. */
import fs from 'node:fs';

export interface WindowState {
  readonly x?: number;
  readonly y?: number;
  readonly width: number;
  readonly height: number;
  readonly maximized: boolean;
}

export const DEFAULT_WINDOW: WindowState = { width: 1200, height: 760, maximized: false };

interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** Reads the saved state; falls back to defaults if it is missing, corrupt or off-screen. */
export function loadWindowState(file: string, displays: readonly Rect[]): WindowState {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return DEFAULT_WINDOW;
  }
  // `null`, a number or an array parse fine but are not a saved state.
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return DEFAULT_WINDOW;
  const s = raw as Partial<Record<keyof WindowState, unknown>>;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const width = Math.max(800, Math.min(num(s.width) ?? DEFAULT_WINDOW.width, 10_000));
  const height = Math.max(560, Math.min(num(s.height) ?? DEFAULT_WINDOW.height, 10_000));
  const x = num(s.x);
  const y = num(s.y);
  const maximized = s.maximized === true;
  if (x === undefined || y === undefined) return { width, height, maximized };
  // Only reuse the position if the window's top-left area is on a display that still exists.
  const visible = displays.some((d) => x + 100 > d.x && x < d.x + d.width && y >= d.y && y < d.y + d.height);
  return visible ? { x, y, width, height, maximized } : { width, height, maximized };
}

export function saveWindowState(file: string, state: WindowState): void {
  try {
    fs.writeFileSync(file, JSON.stringify(state));
  } catch {
    // Losing the window position is not worth an error dialog.
  }
}
