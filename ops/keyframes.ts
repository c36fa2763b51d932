// ops:keyframes — rebuilds time travel's keyframes from the history (docs/history.md, "Time travel").
//   Redis mode:  REDIS_URL=… DYNAMODB_TABLE=… [KEYFRAME_TABLE=…] npm run ops:keyframes [-- --segments 8]
//   embedded:    DATA_DIR=… npm run ops:keyframes          (stop the service first: it owns DATA_DIR)
// Redis mode reads the history table with a parallel Scan, sorts it by seq and writes the keyframes under the
// writers' lock (no container writes one meanwhile), then points {tessera:<canvas>}:kf:last at the newest, so the
// live writers carry on from it. Embedded mode reads DATA_DIR/placements.log. Prints a JSON summary.
import { parseArgs } from 'node:util';
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../service/src/config.js';
import { readPlacements } from '../service/src/store/placement-log.js';
import { join } from 'node:path';
import type { Placement } from '../service/src/store/store.js';
import { DynamoKeyframeStore } from '../service/src/timetravel/dynamo-store.js';
import { FileKeyframeStore } from '../service/src/timetravel/file-store.js';
import { RedisLock } from '../service/src/timetravel/lock.js';
import { keyframeKeys } from '../service/src/timetravel/redis-writer.js';
import { rebuildKeyframes } from '../service/src/timetravel/rebuild.js';
import { effectiveInterval } from '../service/src/timetravel/service.js';
import { opsDynamo, runIfMain } from './common.js';
import { ProgressBar } from './timelapse/progress.js';

/** Every placement in the history table, sorted by seq. */
export async function scanAll(client: DynamoDBClient, table: string, segments: number): Promise<Placement[]> {
  const out: Placement[] = [];
  await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      let start: Record<string, never> | undefined;
      do {
        const page = await client.send(
          new ScanCommand({
            TableName: table,
            Segment: segment,
            TotalSegments: segments,
            ProjectionExpression: '#x, #y, #c, #s, #u, #t',
            ExpressionAttributeNames: { '#x': 'x', '#y': 'y', '#c': 'color', '#s': 'seq', '#u': 'userId', '#t': 'placedAt' },
            ExclusiveStartKey: start,
          }),
        );
        for (const it of page.Items ?? []) {
          out.push({ seq: Number(it.seq?.N), x: Number(it.x?.N), y: Number(it.y?.N), color: Number(it.color?.N), userId: it.userId?.S ?? '', placedAt: Number(it.placedAt?.N) });
        }
        start = page.LastEvaluatedKey as typeof start;
      } while (start);
    }),
  );
  return out.sort((a, b) => a.seq - b.seq);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { segments: { type: 'string', default: '8' } } });
  const segments = Number(values.segments);
  if (!Number.isInteger(segments) || segments < 1 || segments > 1000) throw new ConfigError(`--segments must be 1–1000, got "${values.segments}"`);
  const env = process.env;
  const config = loadConfig({ ...env, SESSION_SECRET: env.SESSION_SECRET || 'ops-commands-mint-no-sessions-0000000' });
  const started = Date.now();
  const opts = { width: config.width, height: config.height, every: config.keyframeEvery, intervalMs: effectiveInterval(config) };
  if (opts.every === 0 && opts.intervalMs === 0) throw new ConfigError('KEYFRAME_EVERY and KEYFRAME_INTERVAL_MS are both 0: no keyframes to build');
  if (!config.redisUrl) {
    const store = new FileKeyframeStore(config.dataDir);
    const all: Placement[] = [];
    readPlacements(join(config.dataDir, 'placements.log'), (p) => all.push(p));
    const bar = new ProgressBar('keyframes', all.length);
    const written = await rebuildKeyframes([all], store, { ...opts, onKeyframe: (_e, done) => bar.update(done) });
    bar.done();
    console.log(JSON.stringify({ mode: 'embedded', placements: all.length, keyframes: written.length, lastSeq: written.at(-1)?.seq ?? 0, ms: Date.now() - started }));
    return;
  }
  if (!config.dynamoTable || !config.keyframeTable) throw new ConfigError('Redis mode needs DYNAMODB_TABLE (the history) and a keyframe table (KEYFRAME_TABLE, default <DYNAMODB_TABLE>-keyframes)');
  const dynamo = opsDynamo(config);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2 });
  try {
    const store = new DynamoKeyframeStore(dynamo, config.keyframeTable);
    if (config.dynamoEndpoint) await store.ensureTable();
    const keys = keyframeKeys(config.canvasId);
    const lock = new RedisLock(redis, keys.lock, `ops-keyframes-${process.pid}`, 30_000);
    // The live writers hold the lock for a second or two at a time: wait for it.
    let result: { placements: number; written: number; lastSeq: number } | undefined;
    for (let tries = 0; !result && tries < 120; tries++) {
      result = await lock.with(async () => {
        const all = await scanAll(dynamo, config.dynamoTable!, segments);
        const bar = new ProgressBar('keyframes', all.length);
        const written = await rebuildKeyframes([all], store, { ...opts, onKeyframe: (_e, done) => bar.update(done) });
        bar.done();
        const last = written.at(-1);
        if (last) await redis.set(keys.last, JSON.stringify(last));
        else await redis.del(keys.last);
        await redis.incr(keys.gen); // containers read the rewritten manifest again, whole
        return { placements: all.length, written: written.length, lastSeq: last?.seq ?? 0 };
      });
      if (!result) await new Promise((r) => setTimeout(r, 500));
    }
    if (!result) throw new Error(`the keyframe lock ${keys.lock} stayed taken for a minute`);
    console.log(JSON.stringify({ mode: 'redis', placements: result.placements, keyframes: result.written, lastSeq: result.lastSeq, ms: Date.now() - started }));
  } finally {
    redis.disconnect();
    dynamo.destroy();
  }
}

runIfMain(import.meta.url, main);
