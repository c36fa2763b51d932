// Channel → gap-free, in-order runs → one binary frame per interval → app.publish to every client.
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { CanvasStore, Placement, Run } from './store/store.js';
import { encodeFrames } from './wire/frames.js';

export const UPDATES_TOPIC = 'updates';
export const RESET_MESSAGE = '{"t":"reset"}';

export interface Publisher {
  publish(topic: string, message: Uint8Array | string, isBinary: boolean): boolean;
}

export interface FanoutOptions {
  store: CanvasStore;
  publisher: Publisher;
  width: number;
  intervalMs: number;
  log: Logger;
  metrics: Metrics;
  /** How many published entries stay in memory to serve ?since= tails without a store round trip. */
  ringSize?: number;
}

const BACKFILL_PAGE = 10_000;

export class Fanout {
  /** Highest seq handed to the pending batch (or published). */
  private lastSeq = 0;
  /** Highest seq published to the topic. */
  private sent = 0;
  private pending: number[] = [];
  private held: Run[] = [];
  private initializing = true;
  private backfilling = false;
  private backfillAgain = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly ring: Uint32Array;
  /** The ring holds valid entries only for seqs above this one. */
  private ringFloor = 0;
  private readonly listeners: ((firstSeq: number, entries: number[]) => void)[] = [];

  constructor(private readonly opts: FanoutOptions) {
    this.ring = new Uint32Array(opts.ringSize ?? 1 << 18);
  }

  async start(): Promise<void> {
    this.opts.store.subscribe(
      (run) => this.onRun(run),
      () => this.backfill(),
    );
    while (!this.stopped) {
      try {
        this.lastSeq = this.sent = this.ringFloor = await this.opts.store.headSeq();
        break;
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, 'fanout waiting for the store');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    this.initializing = false;
    this.releaseHeld();
    this.timer = setInterval(() => this.flush(), this.opts.intervalMs);
  }

  /** The seq of the last placement every subscribed client has been sent. */
  get sentSeq(): number {
    return this.sent;
  }

  /** Called with each published batch (after the topic got it), e.g. for in-process consumers. */
  onPublished(fn: (firstSeq: number, entries: number[]) => void): void {
    this.listeners.push(fn);
  }

  /** True when recent(after) would answer from memory. */
  covers(after: number): boolean {
    return after >= this.sent || (after >= this.ringFloor && this.sent - after <= this.ring.length);
  }

  /** Entries after `after` up to sentSeq from memory, or null when the ring no longer holds them. */
  recent(after: number): number[] | null {
    if (after >= this.sent) return [];
    if (after < this.ringFloor || this.sent - after > this.ring.length) return null;
    const out = new Array<number>(this.sent - after);
    for (let s = after + 1, i = 0; s <= this.sent; s++, i++) out[i] = this.ring[s % this.ring.length];
    return out;
  }

  private onRun(run: Run): void {
    if (this.initializing || this.backfilling) {
      this.held.push(run);
      return;
    }
    const end = run.firstSeq + run.entries.length - 1;
    if (end <= this.lastSeq) return; // already have it (overlap with a backfill)
    if (run.firstSeq > this.lastSeq + 1) {
      this.held.push(run);
      this.backfill();
      return;
    }
    for (let s = this.lastSeq + 1; s <= end; s++) this.pending.push(run.entries[s - run.firstSeq]);
    this.lastSeq = end;
  }

  private releaseHeld(): void {
    const held = this.held.sort((a, b) => a.firstSeq - b.firstSeq);
    this.held = [];
    for (const run of held) this.onRun(run);
  }

  /** Reads the stream from lastSeq until it is caught up, holding live runs meanwhile. */
  private backfill(): void {
    if (this.initializing) return;
    if (this.backfilling) {
      this.backfillAgain = true;
      return;
    }
    this.backfilling = true;
    void (async () => {
      let filled = 0;
      do {
        this.backfillAgain = false;
        while (!this.stopped) {
          let page: Placement[];
          try {
            const res = await this.opts.store.since(this.lastSeq, BACKFILL_PAGE);
            if (!res.ok) {
              await this.resetAll();
              break;
            }
            page = res.placements;
          } catch (err) {
            this.opts.log.warn({ err: (err as Error).message, lastSeq: this.lastSeq }, 'backfill failed; retrying');
            await new Promise((r) => setTimeout(r, 250));
            continue;
          }
          for (const p of page) {
            if (p.seq !== this.lastSeq + 1) continue;
            this.pending.push((p.y * this.opts.width + p.x) * 16 + p.color);
            this.lastSeq = p.seq;
            filled++;
          }
          if (page.length < BACKFILL_PAGE) break;
        }
      } while (this.backfillAgain);
      if (filled > 0) {
        this.opts.metrics.backfills.inc();
        this.opts.log.info({ filled, lastSeq: this.lastSeq }, 'fanout backfilled from the stream');
      }
      this.backfilling = false;
      this.releaseHeld();
    })();
  }

  /** The stream no longer holds what we missed: every client must refetch the board. */
  private async resetAll(): Promise<void> {
    this.opts.log.warn({ lastSeq: this.lastSeq }, 'fanout fell behind the stream; telling clients to reset');
    this.flush();
    this.opts.publisher.publish(UPDATES_TOPIC, RESET_MESSAGE, false);
    try {
      const head = await this.opts.store.headSeq();
      this.lastSeq = this.sent = this.ringFloor = head;
      // Live runs already held up to head are covered by the board the clients refetch.
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'reset: cannot read the head seq');
    }
  }

  /** Publishes everything pending as one frame (or a few, past 65,535 entries). */
  flush(): void {
    if (this.pending.length === 0) return;
    const entries = this.pending;
    const first = this.sent + 1;
    this.pending = [];
    for (let i = 0; i < entries.length; i++) this.ring[(first + i) % this.ring.length] = entries[i];
    this.sent = first + entries.length - 1;
    for (const frame of encodeFrames(first, entries)) {
      this.opts.publisher.publish(UPDATES_TOPIC, frame, true);
      this.opts.metrics.frames.inc();
      this.opts.metrics.frameBytes.inc(frame.length);
    }
    for (const l of this.listeners) l(first, entries);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.flush();
  }
}
