// Time travel's server half, per mode (docs/history.md, "Time travel"):
//   embedded                  → keyframes under DATA_DIR/keyframes, cut from the store's accepted placements
//   Redis + KEYFRAME_TABLE    → keyframes in DynamoDB, written by one container at a time (Redis lock)
//   Redis, no table           → no time travel: the routes answer 503
import { hostname } from 'node:os';
import type { Config } from '../config.js';
import { createDynamoClient } from '../history/dynamo.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { EmbeddedStore } from '../store/embedded.js';
import { RedisStore } from '../store/redis.js';
import type { CanvasStore } from '../store/store.js';
import type { KeyframeStore } from './blob-store.js';
import { DynamoKeyframeStore } from './dynamo-store.js';
import { EmbeddedKeyframeWriter } from './embedded-writer.js';
import { FileKeyframeStore } from './file-store.js';
import { TimetravelMetrics } from './metrics.js';
import { keyframeKeys, RedisKeyframeWriter } from './redis-writer.js';
import type { TailSource } from './tail.js';

export interface Timetravel {
  /** Undefined in Redis mode without a keyframe table. */
  keyframes?: KeyframeStore;
  tail?: TailSource;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The stream must still hold a range when its keyframe is cut: in Redis mode the interval is at most half
 * the stream's retention (a keyframe is due at most one interval after the range's first placement).
 */
export function effectiveInterval(config: Config): number {
  return config.redisUrl ? Math.min(config.keyframeIntervalMs, Math.floor(config.streamRetentionMs / 2)) : config.keyframeIntervalMs;
}

export function createTimetravel(config: Config, store: CanvasStore, log: Logger, registry: Metrics['registry']): Timetravel {
  const metrics = new TimetravelMetrics(registry);
  const tlog = log.child({ component: 'timetravel' });
  const writing = config.keyframeEvery > 0 || config.keyframeIntervalMs > 0;
  if (store instanceof EmbeddedStore) {
    const keyframes = new FileKeyframeStore(config.dataDir);
    const writer = new EmbeddedKeyframeWriter({ store: keyframes, width: config.width, height: config.height, every: config.keyframeEvery, intervalMs: config.keyframeIntervalMs, log: tlog, metrics });
    return {
      keyframes,
      tail: writer,
      start: () => (writing ? writer.start(store) : Promise.resolve()),
      stop: () => writer.stop(),
    };
  }
  if (!(store instanceof RedisStore) || !config.keyframeTable) {
    return { start: async () => undefined, stop: async () => undefined };
  }
  const client = createDynamoClient({ endpoint: config.dynamoEndpoint, maxAttempts: 3, requestTimeoutMs: 10_000 });
  const keyframes = new DynamoKeyframeStore(client, config.keyframeTable, () => store.redis.get(keyframeKeys(config.canvasId).gen));
  const writer = new RedisKeyframeWriter(
    {
      canvas: store,
      store: keyframes,
      width: config.width,
      every: config.keyframeEvery,
      intervalMs: effectiveInterval(config),
      id: `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
      history: config.dynamoTable ? { client, table: config.dynamoTable } : undefined,
      log: tlog,
      metrics,
    },
    config.canvasId,
  );
  let stopped = false;
  // Against DynamoDB Local the table is created here; a DynamoDB that is down must not stop the container from
  // starting (placements do not need it): keep trying in the background, and write keyframes once it is there.
  const tableReady = async () => {
    for (let attempt = 0; config.dynamoEndpoint && !stopped; attempt++) {
      try {
        await keyframes.ensureTable();
        return;
      } catch (err) {
        if (attempt === 0) tlog.warn({ err: (err as Error).message, table: config.keyframeTable }, 'keyframe table not reachable yet; retrying');
        await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** attempt)).unref());
      }
    }
  };
  return {
    keyframes,
    tail: writer,
    async start() {
      void tableReady().then(() => {
        if (writing && !stopped) writer.start();
      });
    },
    async stop() {
      // A table still being waited for gives up at its next try (stopped); the client is destroyed under it.
      stopped = true;
      await writer.stop();
      client.destroy();
    },
  };
}
