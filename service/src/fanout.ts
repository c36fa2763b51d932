// Channel → gap-free, in-order runs → one binary frame per interval → app.publish to every client.
// The interval adapts to the number of watchers (pacing.ts): the container's frame budget is spent, not exceeded.
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { FramePacer } from './pacing.js';
import type { CanvasStore, Placement, Run } from './store/store.js';
import { encodeFrames } from './wire/frames.js';

export const UPDATES_TOPIC = 'updates';
export const RESET_MESSAGE = '{"t":"reset"}';
export const paceMessage = (intervalMs: number) => `{"t":"pace","intervalMs":${intervalMs}}`;

export interface Publisher {
  publish(topic: string, message: Uint8Array | string, isBinary: boolean): boolean;
}

export interface FanoutOptions {
  store: CanvasStore;
  publisher: Publisher;
  width: number;
  /** The shortest frame interval (BATCH_INTERVAL_MS). */
  intervalMs: number;
  /** The longest one, reached when watchers × frames/s would exceed the budget (FRAME_INTERVAL_MAX_MS). */
  maxIntervalMs?: number;
  /** Frames per second the container may send to all its watchers together (FANOUT_FRAME_BUDGET; 0 = no pacing). */
  frameBudget?: number;
  /** How many sockets receive the topic now. */
  watchers?: () => number;
  log: Logger;
  metrics: Metrics;
  /** How many published entries stay in memory to serve ?since= tails without a store round trip. */
  ringSize?: number;
}

const BACKFILL_PAGE = 10_000;
/** sentSeq is noted at most this often: the index answers "what had we sent at time T" to this precision. */
const MARK_EVERY_MS = 250;
/** 4,096 marks ≥ 250 ms apart: at least 17 minutes, above RESUME_WINDOW_S's 15-minute maximum. */
const MARKS = 4096;

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
  /** Reading the head after a restore: live runs wait, as during a backfill. */
  private resetting = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly pacer: FramePacer;
  private readonly ring: Uint32Array;
  /** The ring holds valid entries only for seqs above this one. */
  private ringFloor = 0;
  private readonly listeners: ((firstSeq: number, entries: number[]) => void)[] = [];
  /** Time → sentSeq index (a ring): how old a ?since= is, decided without asking the store. */
  private readonly markAt = new Float64Array(MARKS);
  private readonly markSeq = new Float64Array(MARKS);
  private marks = 0;

  constructor(private readonly opts: FanoutOptions) {
    this.ring = new Uint32Array(opts.ringSize ?? 1 << 18);
    this.pacer = new FramePacer({ budget: opts.frameBudget ?? 0, minMs: opts.intervalMs, maxMs: Math.max(opts.intervalMs, opts.maxIntervalMs ?? opts.intervalMs) });
    opts.metrics.frameInterval.set(this.pacer.intervalMs);
  }

  /** The current frame interval, as the text message every socket gets on open and on each change. */
  get paceMessage(): string {
    return paceMessage(this.pacer.intervalMs);
  }

  get intervalMs(): number {
    return this.pacer.intervalMs;
  }

  async start(): Promise<void> {
    this.opts.store.subscribe(
      (run) => this.onRun(run),
      () => this.backfill(),
    );
    this.opts.store.onRestored?.(() => void this.restored());
    while (!this.stopped) {
      try {
        this.lastSeq = this.sent = this.ringFloor = await this.opts.store.headSeq();
        this.mark();
        break;
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, 'fanout waiting for the store');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    this.initializing = false;
    this.releaseHeld();
    this.schedule();
  }

  /** One frame per interval; after each, the interval is re-derived from the watcher count. */
  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.flush();
      if (this.pacer.update(this.opts.watchers?.() ?? 0)) {
        this.opts.metrics.frameInterval.set(this.pacer.intervalMs);
        this.opts.publisher.publish(UPDATES_TOPIC, this.paceMessage, false);
        this.opts.log.info({ intervalMs: this.pacer.intervalMs, watchers: this.opts.watchers?.() }, 'frame interval changed');
      }
      this.schedule();
    }, this.pacer.intervalMs);
  }

  /** The seq of the last placement every subscribed client has been sent. */
  get sentSeq(): number {
    return this.sent;
  }

  /** Called with each published batch (after the topic got it), e.g. for in-process consumers. */
  onPublished(fn: (firstSeq: number, entries: number[]) => void): void {
    this.listeners.push(fn);
  }

  /**
   * The seq this container had sent at time `at` (epoch ms), or -1 when it does not know (it started later):
   * every placement up to it is at least `Date.now() - at` old.
   */
  sentAt(at: number): number {
    for (let i = this.marks - 1; i >= Math.max(0, this.marks - MARKS); i--) {
      if (this.markAt[i % MARKS] <= at) return this.markSeq[i % MARKS];
    }
    return -1;
  }

  private mark(): void {
    const now = Date.now();
    const last = (this.marks - 1) % MARKS;
    // Within MARK_EVERY_MS the newest mark moves up: a seq may then look up to that much older than it is (a reset, never a gap).
    if (this.marks > 0 && now - this.markAt[last] < MARK_EVERY_MS) this.markSeq[last] = this.sent;
    else {
      this.markAt[this.marks % MARKS] = now;
      this.markSeq[this.marks % MARKS] = this.sent;
      this.marks++;
    }
  }

  /** The lowest `after` recent() answers from memory. */
  get memoryFloor(): number {
    return Math.max(this.ringFloor, this.sent - this.ring.length);
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
    if (this.initializing || this.backfilling || this.resetting) {
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
              await this.resetAll('fanout fell behind the stream; telling clients to reset');
              break;
            }
            page = res.placements;
            if (page.length > 0 && page[0].seq > this.lastSeq + 1) {
              // Seqs are consecutive except across a restore, which skips ahead: the stream cannot fill this gap.
              await this.resetAll('the stream skips ahead of the last seq (the canvas was restored); telling clients to reset');
              break;
            }
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

  /**
   * The canvas was restored after Redis lost data (store/fence.ts): the seq jumped, and what was published
   * before is no longer the board. Never a silent rewrite: every client refetches, and frames restart at the new head.
   */
  private async restored(): Promise<void> {
    if (this.initializing) return; // start() reads the head itself
    this.resetting = true;
    try {
      await this.resetAll('the canvas was restored after a data loss; telling clients to reset', 20);
    } finally {
      this.resetting = false;
      this.releaseHeld();
    }
  }

  /** The stream no longer holds what we missed (or the canvas was restored): every client must refetch the board. */
  private async resetAll(why: string, attempts = 1): Promise<void> {
    this.opts.log.warn({ lastSeq: this.lastSeq }, why);
    this.flush();
    this.opts.publisher.publish(UPDATES_TOPIC, RESET_MESSAGE, false);
    for (let i = 1; !this.stopped; i++) {
      try {
        const head = await this.opts.store.headSeq();
        this.lastSeq = this.sent = this.ringFloor = head;
        this.mark();
        // Live runs already held up to head are covered by the board the clients refetch.
        return;
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, 'reset: cannot read the head seq');
        if (i >= attempts) return;
        await new Promise((r) => setTimeout(r, 250));
      }
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
    this.mark();
    for (const frame of encodeFrames(first, entries)) {
      this.opts.publisher.publish(UPDATES_TOPIC, frame, true);
      this.opts.metrics.frames.inc();
      this.opts.metrics.frameBytes.inc(frame.length);
    }
    for (const l of this.listeners) l(first, entries);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.flush();
  }
}
