// Per-address request budgets in fixed one-minute windows; a limit of 0 disables it.

export class RateLimiter {
  private windows = new Map<string, number>();
  private windowStart = Date.now();

  constructor(private readonly perMinute: number) {}

  /** Counts one request; returns the ms until the window resets when the budget is spent, else 0. */
  take(address: string, now = Date.now()): number {
    if (this.perMinute === 0) return 0;
    if (now - this.windowStart >= 60_000) {
      this.windows = new Map();
      this.windowStart = now;
    }
    const used = (this.windows.get(address) ?? 0) + 1;
    this.windows.set(address, used);
    return used > this.perMinute ? this.windowStart + 60_000 - now : 0;
  }
}
