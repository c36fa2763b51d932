// The automatic way out of the seq fence (store/fence.ts), for the common loss: Redis came back with the same
// canvas but without its latest placements (the un-fsynced AOF tail of a lost host, a replica promoted before it
// had them). The history has those placements, all but the ones it had not written yet when Redis lost them.
// After AUTO_RESTORE_DELAY_MS, one container (a lock in Redis) reads them from the byTime index — only seqs above
// Redis's — writes them onto the board Redis kept, moves the seq past every seq that may have been acknowledged,
// and writes a new epoch: every container resumes by itself and every listener resets.
// Anything else is left to ops:rebuild: the canvas wiped (epoch gone: no board to build on), the stream gone (no
// time to search from), no HISTORY_BACKLOG_MAX (no bound on what was acknowledged but never written).
import { randomBytes } from 'node:crypto';
import { QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { newEpoch } from '../store/fence.js';
import { recoverCanvas, releaseLock } from '../store/recover.js';
import { parseEntry, type CanvasKeys } from '../store/redis.js';
import type { Placement } from '../store/store.js';
import { fromItem, INDEX_BY_TIME, minuteOf, TIME_SHARDS, timeKey, type Item } from './items.js';
import type { HistoryMetrics } from './metrics.js';
import { readStreamState } from './stream-state.js';

/**
 * How far past the highest known seq a recovery moves: what may have been acknowledged without reaching the history.
 * place.lua refuses placements once the stream holds HISTORY_BACKLOG_MAX entries (checked per batch of ≤ 500),
 * and every unwritten placement is in the stream, so at most that many seqs above the history's highest were
 * ever handed out. 0 when there is no bound.
 */
export function provableSkip(historyBacklogMax: number): number {
  return historyBacklogMax > 0 ? historyBacklogMax + 1000 : 0;
}

/** Placements clocks may stamp before the last one Redis kept: containers' clocks differ by this much at most. */
const CLOCK_SKEW_MS = 60_000;
/** Beyond this, Redis came back from an old backup rather than losing a tail: too much to search by minute. */
const MAX_GAP_MS = 3_600_000;
const RETRY_MS = 2000;
const LOCK_MS = 120_000;

export interface TailRestoreOptions {
  redis: Redis;
  keys: CanvasKeys;
  group: string;
  dynamo: DynamoDBClient;
  table: string;
  width: number;
  /** provableSkip(HISTORY_BACKLOG_MAX); 0 = declined */
  skip: number;
  delayMs: number;
  /** names this container in the lock */
  id: string;
  log: Logger;
  metrics: HistoryMetrics;
}

export type Outcome =
  | { kind: 'done'; restored: number; from: number; seq: number }
  | { kind: 'retry'; why: string }
  | { kind: 'declined'; why: string }
  | { kind: 'idle' };

export class TailRestorer {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: TailRestoreOptions) {}

  /** The fence tripped: try after the delay, then every 2 s while the history is still draining or the lock is held. */
  arm(): void {
    if (this.timer || this.stopped) return;
    const run = async () => {
      const out = await this.attempt().catch((err): Outcome => ({ kind: 'retry', why: (err as Error).message }));
      this.timer = undefined;
      if (out.kind === 'retry') {
        this.opts.log.info({ why: out.why }, 'tail restore: not yet');
        if (!this.stopped) this.timer = setTimeout(run, RETRY_MS).unref();
      } else if (out.kind === 'declined') {
        this.opts.metrics.tailRestores.inc({ outcome: 'declined' });
        this.opts.log.warn({ why: out.why }, 'tail restore declined: run ops:rebuild (docs/history.md)');
      }
    };
    this.timer = setTimeout(run, this.opts.delayMs).unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One try, under the recovery lock. */
  async attempt(): Promise<Outcome> {
    const { redis, keys } = this.opts;
    const token = `${this.opts.id}:${randomBytes(6).toString('hex')}`;
    if (!(await redis.set(keys.recovering, token, 'PX', LOCK_MS, 'NX'))) return { kind: 'retry', why: `${await redis.get(keys.recovering)} holds the recovery lock` };
    try {
      return await this.restore(token);
    } finally {
      // recover.lua deletes the lock when it succeeds; otherwise let go of it, if it is still ours.
      await releaseLock(redis, keys, token).catch(() => undefined);
    }
  }

  private async restore(token: string): Promise<Outcome> {
    const { redis, keys, group } = this.opts;
    const started = Date.now();
    const [epoch, seqText, fence] = await Promise.all([redis.get(keys.epoch), redis.get(keys.seq), redis.hgetall(keys.fence)]);
    const seq = Number(seqText ?? 0);
    if (!fence.reason) return { kind: 'idle' };
    if (fence.reason !== 'behind') return { kind: 'declined', why: `the fence's reason is ${fence.reason}, not a lost tail` };
    if (!epoch || epoch !== fence.epoch) return { kind: 'declined', why: 'the canvas epoch changed since the fence went up' };
    if (this.opts.skip <= 0) return { kind: 'declined', why: 'HISTORY_BACKLOG_MAX is 0: nothing bounds what was acknowledged but never written' };
    // The board Redis kept is the base: what the history has not written of the stream yet is on it already.
    const stream = await readStreamState(redis, keys.stream, group);
    if (stream.length === 0) return { kind: 'declined', why: 'the placements stream is gone' };
    const [last] = (await redis.xrevrange(keys.stream, '+', '-', 'COUNT', 1)) as [string, string[]][];
    const lastPlacedAt = parseEntry(last[0], last[1]).placedAt;
    if (Date.now() - lastPlacedAt > MAX_GAP_MS) return { kind: 'declined', why: 'the last placement Redis kept is over an hour old (an old backup?)' };
    const lost = await placementsAbove(this.opts.dynamo, this.opts.table, seq, lastPlacedAt - CLOCK_SKEW_MS, Date.now() + CLOCK_SKEW_MS);
    const floor = Math.max(seq, Number(fence.highWater ?? 0), lost.length ? lost[lost.length - 1].seq : 0);
    const newSeq = floor + this.opts.skip;
    const packed = Buffer.alloc(lost.length * 4);
    lost.forEach((p, i) => packed.writeUInt32LE((p.y * this.opts.width + p.x) * 16 + p.color, i * 4));
    const done = await recoverCanvas(redis, keys, { epoch, seq, newSeq, newEpoch: newEpoch(), lockToken: token, group, pixels: packed });
    if (!done) return { kind: 'retry', why: 'the canvas changed while reading the history' };
    this.opts.metrics.tailRestores.inc({ outcome: 'done' });
    this.opts.log.warn(
      { restored: lost.length, redisSeq: seq, highWater: Number(fence.highWater ?? 0), newSeq, ms: Date.now() - started },
      'tail restore: the placements Redis lost are back on the board from the history; placements resume past every acknowledged seq',
    );
    return { kind: 'done', restored: lost.length, from: seq, seq: newSeq };
  }
}

/** Placements with seq > after stamped in [fromMs, toMs], in seq order: the byTime index, per minute and shard. */
export async function placementsAbove(client: DynamoDBClient, table: string, after: number, fromMs: number, toMs: number): Promise<Placement[]> {
  const queries: Promise<Placement[]>[] = [];
  for (let m = Math.floor(fromMs / 60_000) * 60_000; m <= toMs; m += 60_000) {
    for (let shard = 0; shard < TIME_SHARDS; shard++) queries.push(queryAbove(client, table, timeKey(minuteOf(m), shard), after));
  }
  return (await Promise.all(queries)).flat().sort((a, b) => a.seq - b.seq);
}

async function queryAbove(client: DynamoDBClient, table: string, key: string, after: number): Promise<Placement[]> {
  const out: Placement[] = [];
  let start: Record<string, never> | undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: table,
        IndexName: INDEX_BY_TIME,
        KeyConditionExpression: 'gsi2pk = :k AND sk > :s',
        ExpressionAttributeValues: { ':k': { S: key }, ':s': { N: String(after) } },
        ExclusiveStartKey: start,
      }),
    );
    for (const it of page.Items ?? []) out.push(fromItem(it as Item));
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return out;
}
