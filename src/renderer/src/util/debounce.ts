/**
 * Trailing debounce with a ceiling. A burst of core events (1,000 VMs changing state at once)
 * becomes one fetch, yet a steady trickle still refreshes at least every `maxWaitMs`, so the
 * list never looks frozen while events keep arriving.
 */
export class Debouncer {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private firstAt: number | null = null;

  constructor(
    private readonly fn: () => void,
    private readonly waitMs: number,
    private readonly maxWaitMs: number,
  ) {}

  trigger(): void {
    const now = Date.now();
    this.firstAt ??= now;
    if (this.timer !== null) clearTimeout(this.timer);
    const delay = Math.max(0, Math.min(this.waitMs, this.firstAt + this.maxWaitMs - now));
    this.timer = setTimeout(() => this.fire(), delay);
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.firstAt = null;
  }

  private fire(): void {
    this.timer = null;
    this.firstAt = null;
    this.fn();
  }
}
