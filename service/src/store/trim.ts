// The stream trimmer. Nothing else removes entries from the placements stream, and the placement script
// refuses placements once it holds HISTORY_BACKLOG_MAX entries, so this must keep up. Each tick it keeps
//   - at least STREAM_RETENTION_MS of entries, for ?since= resumes, and
//   - when history is on, every entry the history group has not acknowledged (not yet in DynamoDB).
// Every container runs one; they are idempotent (both floors only move forward), so no leader is needed.
import type { Redis } from 'ioredis';
import { FailureStreak } from '../history/streak.js';
import { entryAtOrAfter, oldestUnwritten, readStreamState, unwrittenCount, type StreamState } from '../history/stream-state.js';
import type { Logger } from '../log.js';

export interface TrimmerOptions {
  redis: Redis;
  stream: string;
  retentionMs: number;
  intervalMs: number;
  /** The history consumer group; undefined = no history, trim by retention only. */
  historyGroup?: string;
  log: Logger;
  /** After each tick: the stream length and, with history, the unwritten backlog and its oldest entry's age. */
  onSample?(sample: TrimSample): void;
}

export interface TrimSample {
  length: number;
  trimmed: number;
  unwritten: number;
  oldestUnwrittenAgeMs: number;
}

/** Per XTRIM call, so one call never holds Redis for long; a tick loops until the floor is reached. */
const TRIM_LIMIT = 100_000;
const MAX_CALLS_PER_TICK = 100;

export class StreamTrimmer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private warnedNoGroup = false;
  private readonly streak: FailureStreak;

  constructor(private readonly opts: TrimmerOptions) {
    this.streak = new FailureStreak(opts.log, 'stream trim');
  }

  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.running = this.tick()
        .then(() => this.streak.ok(), (err) => this.streak.fail(err, { stream: this.opts.stream }))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.opts.intervalMs);
        });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass: read the state, find both floors, trim below the lower one. */
  async tick(now = Date.now()): Promise<TrimSample> {
    const { redis, stream, historyGroup } = this.opts;
    const state = await readStreamState(redis, stream, historyGroup);
    let floor = await this.retentionFloor(state, now - this.opts.retentionMs);
    let unwritten = 0;
    let oldest = 0;
    if (historyGroup) {
      if (!state.group) {
        // The writer creates the group; until then nothing may go: none of it has been written anywhere.
        if (!this.warnedNoGroup && state.length > 0) this.opts.log.warn({ stream, group: historyGroup }, 'history group missing; not trimming until the writer creates it');
        this.warnedNoGroup = true;
        floor = 0;
        unwritten = state.length;
        oldest = state.firstSeq;
      } else {
        const withGroup = state as StreamState & { group: NonNullable<StreamState['group']> };
        oldest = oldestUnwritten(withGroup);
        floor = Math.min(floor, oldest);
        unwritten = unwrittenCount(withGroup);
      }
    }
    let oldestAgeMs = 0;
    if (unwritten > 0) {
      const e = await entryAtOrAfter(redis, stream, oldest);
      if (e) oldestAgeMs = Math.max(0, now - e.placedAt);
    }
    let trimmed = 0;
    if (floor > state.firstSeq && state.length > 0) {
      for (let i = 0; i < MAX_CALLS_PER_TICK; i++) {
        // "~" removes whole radix-tree nodes only: it may keep a few entries below the floor, never one above it.
        const n = Number(await redis.xtrim(stream, 'MINID', '~', `${floor}-0`, 'LIMIT', TRIM_LIMIT));
        trimmed += n;
        if (n < TRIM_LIMIT) break;
      }
    }
    const sample = { length: Math.max(0, state.length - trimmed), trimmed, unwritten, oldestUnwrittenAgeMs: oldestAgeMs };
    this.opts.onSample?.(sample);
    return sample;
  }

  /**
   * The smallest seq placed at or after `cutoff` (lastSeq + 1 when all are older): a binary search of
   * XRANGE probes over the "<seq>-0" ids, about log2(length) round trips.
   */
  private async retentionFloor(state: StreamState, cutoff: number): Promise<number> {
    if (state.length === 0) return state.lastSeq + 1;
    const { redis, stream } = this.opts;
    let lo = state.firstSeq;
    let hi = state.lastSeq + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const e = await entryAtOrAfter(redis, stream, mid);
      if (!e) hi = mid;
      else if (e.placedAt < cutoff) lo = e.seq + 1;
      else hi = mid; // nothing exists in [mid, e.seq): a floor of mid keeps e
    }
    return lo;
  }
}
