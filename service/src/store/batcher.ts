// Groups the placements that arrive in one event-loop turn into one store call:
// one Redis round trip for many placements, each still checked and sequenced in order.
import type { PlaceRequest, PlaceResult } from './store.js';

export interface Pending {
  req: PlaceRequest;
  cooldownMs: number;
}

type Waiter = { resolve: (r: PlaceResult) => void };

export class PlaceBatcher {
  private queue: Pending[] = [];
  private waiters: Waiter[] = [];
  private scheduled = false;
  private inFlight = new Set<Promise<void>>();

  constructor(
    private readonly run: (batch: Pending[]) => Promise<PlaceResult[]>,
    private readonly maxBatch: number,
  ) {}

  add(req: PlaceRequest, cooldownMs: number): Promise<PlaceResult> {
    return new Promise((resolve) => {
      this.queue.push({ req, cooldownMs });
      this.waiters.push({ resolve });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    const waiters = this.waiters;
    this.queue = [];
    this.waiters = [];
    const p = this.run(batch).then(
      (results) => results.forEach((r, i) => waiters[i].resolve(r)),
      (err: Error) => waiters.forEach((w) => w.resolve({ ok: false, error: 'unavailable', reason: err.message })),
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Resolves once every placement handed in so far has its answer. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.all([...this.inFlight]);
  }

  get pending(): number {
    return this.queue.length + this.inFlight.size;
  }
}
