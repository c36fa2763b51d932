// Embedded mode: one container is the whole fleet, so the budgets are counted in its memory.
import { BUCKET_MS, BUCKETS, windowWait, type Budget, type BudgetKey, type BudgetName, type Spent } from './budget.js';

export class MemoryBudget implements Budget {
  /** Per budget and network: bucket index → count (only buckets of the last minute are kept). */
  private counters = new Map<string, Map<number, number>>();
  private sweptBucket = 0;

  spend(name: BudgetName, keys: BudgetKey[], now = Date.now()): Promise<Spent> {
    return Promise.resolve(this.spendNow(name, keys, now));
  }

  spendNow(name: BudgetName, keys: BudgetKey[], now = Date.now()): Spent {
    const bucket = Math.floor(now / BUCKET_MS);
    if (bucket - this.sweptBucket >= BUCKETS) this.sweep(bucket);
    const counters = keys.map((k) => this.counter(`${name}:${k.key}`));
    for (let i = 0; i < keys.length; i++) {
      const wait = windowWait(counters[i], keys[i].limit, now);
      if (wait > 0) return { ok: false, index: i, retryAfterMs: wait };
    }
    for (const c of counters) {
      c.set(bucket, (c.get(bucket) ?? 0) + 1);
      for (const b of c.keys()) if (b <= bucket - BUCKETS) c.delete(b);
    }
    return { ok: true };
  }

  private counter(id: string): Map<number, number> {
    let c = this.counters.get(id);
    if (!c) {
      c = new Map();
      this.counters.set(id, c);
    }
    return c;
  }

  /** Once a minute: forget networks with nothing in the window, so memory follows the active networks only. */
  private sweep(bucket: number): void {
    this.sweptBucket = bucket;
    for (const [id, c] of this.counters) if (![...c.keys()].some((b) => b > bucket - BUCKETS)) this.counters.delete(id);
  }
}
