// Redis-mode keyframes. Every tick each container asks whether a keyframe is due (a few placements since the
// last one and KEYFRAME_INTERVAL_MS passed, or KEYFRAME_EVERY placements); if so, whoever takes the lock writes
// it: the board and its seq in one script (the store's atomic read), the range (last keyframe, seq] from the
// stream, which keeps at least STREAM_RETENTION_MS (the interval is held below half of it). If the stream no
// longer holds the start of the range (this container was down long), the range comes from the DynamoDB
// history's byTime index, once the history has every seq of it. `{tessera:<canvas>}:kf:last` names the newest
// keyframe, so a container never needs to query the manifest to decide.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { placementsInRange } from '../history/time-range.js';
import type { Logger } from '../log.js';
import { parseEntry, type RedisStore } from '../store/redis.js';
import type { BoardSnapshot, Placement } from '../store/store.js';
import type { KeyframeEntry } from './codec.js';
import type { DynamoKeyframeStore } from './dynamo-store.js';
import { RedisLock } from './lock.js';
import type { TimetravelMetrics } from './metrics.js';
import { Accumulator, inflateBlob, segmentBlobs, type Segment } from './segment.js';
import type { TailSource } from './tail.js';

export interface RedisWriterOptions {
  canvas: RedisStore;
  store: DynamoKeyframeStore;
  width: number;
  every: number;
  intervalMs: number;
  /** Redis lock id: this container. */
  id: string;
  /** The history table, for ranges the stream no longer holds (undefined: a base keyframe instead). */
  history?: { client: DynamoDBClient; table: string };
  log: Logger;
  metrics: TimetravelMetrics;
  tickMs?: number;
}

const PAGE = 10_000;
/** Reads of the DynamoDB history (one every HISTORY_RETRY_MS) for a whole range before giving up and leaving a gap. */
const HISTORY_PATIENCE = 6;
const HISTORY_RETRY_MS = 10_000;
/**
 * The longest stretch read back from the byTime index inside a tick (4 queries a minute: 240 for an hour). A longer
 * gap (no container ran for hours), or no keyframe at all to start from, is left to ops:keyframes.
 */
const HISTORY_SPAN_MS = 3_600_000;
/** Clock skew the byTime read allows for (as ops:export does). */
const SKEW_MS = 60_000;

export function keyframeKeys(canvasId: string) {
  const tag = `{tessera:${canvasId}}`;
  // gen: bumped whenever ops:keyframes rewrites the manifest (containers then reread it whole).
  return { lock: `${tag}:kf:lock`, last: `${tag}:kf:last`, gen: `${tag}:kf:gen` };
}

export class RedisKeyframeWriter implements TailSource {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly lock: RedisLock;
  private readonly keys: ReturnType<typeof keyframeKeys>;
  private historyWaits = 0;
  private historyTriedAt = 0;
  private warnedAt = 0;
  private stopped = false;

  constructor(
    private readonly opts: RedisWriterOptions,
    canvasId: string,
  ) {
    this.keys = keyframeKeys(canvasId);
    this.lock = new RedisLock(opts.canvas.redis, this.keys.lock, opts.id);
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.running || this.stopped) return;
      this.running = this.tick()
        .then(() => undefined, () => undefined) // logged and counted in tick
        .finally(() => (this.running = undefined));
    }, this.opts.tickMs ?? Math.min(1000, this.opts.intervalMs || 1000));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** The newest keyframe: from Redis, else (a fresh Redis, an upgrade) from the manifest. */
  private async last(): Promise<Pick<KeyframeEntry, 'seq' | 'at'>> {
    const raw = await this.opts.canvas.redis.get(this.keys.last);
    if (raw) return JSON.parse(raw) as KeyframeEntry;
    const list = await this.opts.store.list();
    return list[list.length - 1] ?? { seq: 0, at: 0 };
  }

  /** One check; writes a keyframe when one is due and the lock is ours. Exposed for tests. */
  async tick(now = Date.now()): Promise<'written' | 'not_due' | 'locked' | 'waiting'> {
    const { canvas, every, intervalMs, metrics } = this.opts;
    try {
      const [last, head] = await Promise.all([this.last(), canvas.headSeq()]);
      const n = head - last.seq;
      if (n <= 0 || !((every > 0 && n >= every) || (intervalMs > 0 && now - last.at >= intervalMs))) return 'not_due';
      const outcome = await this.lock.with(async (stillOurs) => {
        const fresh = await this.last(); // another container may have written it meanwhile
        if (fresh.seq !== last.seq) return 'not_due' as const;
        return this.write(fresh, stillOurs);
      });
      if (outcome === undefined) metrics.skipped.inc({ reason: 'locked' });
      return outcome ?? 'locked';
    } catch (err) {
      metrics.skipped.inc({ reason: 'error' });
      // Once per incident and then once a minute: a tick a second would flood the log during an outage.
      if (now - this.warnedAt > 60_000) {
        this.warnedAt = now;
        this.opts.log.warn({ err: (err as Error).message }, 'keyframe tick failed (repeats are logged once a minute)');
      }
      throw err;
    }
  }

  private async write(last: Pick<KeyframeEntry, 'seq' | 'at'>, stillOurs: () => Promise<boolean>): Promise<'written' | 'waiting'> {
    const { canvas, store, width, metrics, log } = this.opts;
    const started = performance.now();
    const board = await canvas.board();
    let placements = await this.fromStream(last.seq, board.seq);
    let from = last.seq;
    if (!placements) {
      if (Date.now() - this.historyTriedAt < HISTORY_RETRY_MS) return 'waiting';
      this.historyTriedAt = Date.now();
      placements = await this.fromHistory(last, board.seq);
      if (!placements) {
        if (++this.historyWaits < HISTORY_PATIENCE) {
          metrics.skipped.inc({ reason: 'history_behind' });
          return 'waiting';
        }
        log.warn({ from: last.seq, to: board.seq }, 'the range before this keyframe is in neither the stream nor the history: a base keyframe starts a new stretch (ops:keyframes rebuilds it)');
        placements = [];
        from = board.seq;
      }
    }
    this.historyWaits = 0;
    const segments = await this.cutBacklog(from, placements, board);
    for (const seg of segments) {
      const { entry, blobs } = await segmentBlobs(seg, width);
      // Never list a keyframe after losing the lock: another writer may be listing its own.
      if (!(await stillOurs())) return 'waiting';
      await store.put(entry, blobs);
      await canvas.redis.set(this.keys.last, JSON.stringify(entry));
      metrics.written.inc();
    }
    metrics.writeSeconds.observe((performance.now() - started) / 1000);
    return 'written';
  }

  /**
   * Usually one segment: (from, board.seq] with Redis's board. A backlog of more than 2 × KEYFRAME_EVERY (this
   * container was down, an upgrade) is cut every KEYFRAME_EVERY placements, the boards in between grown from the
   * previous keyframe; the last one must come out equal to Redis's board, else Redis's board is used as is.
   */
  private async cutBacklog(from: number, placements: Placement[], board: BoardSnapshot): Promise<Segment[]> {
    const { every, store, width, log } = this.opts;
    const whole: Segment = { board: board.bytes, seq: board.seq, from, placements };
    if (every <= 0 || placements.length <= 2 * every) return [whole];
    const start = from === 0 ? Buffer.alloc(board.bytes.length) : await store.blob(from, 'k').then((b) => b && inflateBlob(b));
    if (!start || start.length !== board.bytes.length) return [whole];
    const acc = new Accumulator(width, start, from);
    const out: Segment[] = [];
    placements.forEach((p, i) => {
      acc.add(p);
      // The last segment keeps more than `every` (up to 2×), so none is left tiny.
      if (acc.placements.length >= every && placements.length - i - 1 > every) out.push(acc.cut());
    });
    const last = acc.cut();
    if (!last.board.equals(board.bytes)) log.warn({ from, seq: board.seq }, 'the board grown from the last keyframe differs from Redis: keeping Redis');
    out.push({ ...last, board: board.bytes, seq: board.seq });
    return out;
  }

  /** (after, to] from the stream, or undefined when the stream no longer starts at or before after + 1. */
  private async fromStream(after: number, to: number): Promise<Placement[] | undefined> {
    const redis = this.opts.canvas.redis;
    const stream = this.opts.canvas.keys.stream;
    if (to <= after) return [];
    const first = await redis.xrange(stream, '-', '+', 'COUNT', 1);
    // Trimmed past the range's start (or emptied): the stream cannot give the whole range.
    if (!first.length || Number(first[0][0].split('-')[0]) > after + 1) return undefined;
    const out: Placement[] = [];
    for (let start = `${after + 1}-0`; ; ) {
      const page = await redis.xrange(stream, start, `${to}-0`, 'COUNT', PAGE);
      for (const [id, fields] of page) out.push(parseEntry(id, fields));
      if (page.length < PAGE) return out;
      start = `(${page[page.length - 1][0]}`;
    }
  }

  /** (after, to] from the history's byTime index, when it holds every placement of it (else undefined). */
  private async fromHistory(last: Pick<KeyframeEntry, 'seq' | 'at'>, to: number): Promise<Placement[] | undefined> {
    const h = this.opts.history;
    if (!h) return undefined;
    const from = last.at - SKEW_MS;
    const until = Date.now() + SKEW_MS;
    if (last.seq === 0 || until - from > HISTORY_SPAN_MS) return undefined;
    const out: Placement[] = [];
    for await (const batch of placementsInRange(h.client, h.table, from, until)) {
      if (this.stopped) return undefined;
      for (const p of batch) if (p.seq > last.seq && p.seq <= to) out.push(p);
    }
    // Seqs are consecutive between restores: a missing one is a placement the history has not written yet.
    return out.length === to - last.seq ? out : undefined;
  }

  async tail(after: number, limit: number): Promise<Placement[]> {
    const page = await this.opts.canvas.redis.xrange(this.opts.canvas.keys.stream, `${after + 1}-0`, '+', 'COUNT', limit);
    return page.map(([id, fields]) => parseEntry(id, fields));
  }
}
