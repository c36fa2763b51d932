// Per-network budgets: how many of each costly action one network may take per minute, fleet-wide.
// Each action is counted twice: against the fine prefix (an IPv4 address, an IPv6 /64) and against the
// coarse one (/24, /48), whose budget is a multiple of the fine one, so renting a block does not multiply it.

export const BUDGET_NAMES = ['requests', 'sessions', 'placements', 'sockets', 'resumes'] as const;
export type BudgetName = (typeof BUDGET_NAMES)[number];
export type Scope = 'fine' | 'coarse';

export const WINDOW_MS = 60_000;

/** One counter to spend from: `key` names the network (a keyed hash of its prefix), `limit` > 0. */
export interface BudgetKey {
  key: string;
  limit: number;
}

/** The first key whose budget is spent (by index into the keys asked for), and when it has room again. */
export type Spent = { ok: true } | { ok: false; index: number; retryAfterMs: number };

/** Counts one action against every key, or none when any of them is spent (all or nothing). */
export interface Budget {
  spend(name: BudgetName, keys: BudgetKey[], now?: number): Promise<Spent>;
}

/** The minute is counted in buckets of this length: memory per network is a handful of counters, not a log. */
export const BUCKET_MS = 5_000;
/** Buckets that can hold an action of the last minute: the current one and the 12 before it. */
export const BUCKETS = WINDOW_MS / BUCKET_MS + 1;

/**
 * A strict window: every bucket that overlaps the last minute counts whole, so no 60 s anywhere ever holds more
 * than `limit` actions (a sliding estimate lets a burst at a window's edge through up to twice). The price: an
 * action leaves the count up to one bucket (5 s) after it is a minute old.
 * `counts` maps bucket index (ms / BUCKET_MS) to its count, any order, stale ones included.
 * Returns 0 when one more fits, else the ms until enough old buckets have left the window.
 * (redis-budget.ts does the same in Lua.)
 */
export function windowWait(counts: Iterable<[number, number]>, limit: number, now: number): number {
  const current = Math.floor(now / BUCKET_MS);
  const live = [...counts].filter(([b]) => b > current - BUCKETS).sort((a, b) => a[0] - b[0]);
  let total = live.reduce((sum, [, n]) => sum + n, 0);
  if (total + 1 <= limit) return 0;
  for (const [b, n] of live) {
    total -= n;
    if (total + 1 <= limit) return (b + BUCKETS) * BUCKET_MS - now;
  }
  return (current + BUCKETS) * BUCKET_MS - now; // unreachable for limit ≥ 1
}
