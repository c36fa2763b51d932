// The history as a server extension (ctx.history: GET /api/pixel, moderation). Which parts run depends on the store:
//   embedded                 → the history is placements.log (GET /api/pixel from an in-memory index of it)
//   Redis + DYNAMODB_TABLE   → writer (stream → DynamoDB), trimmer (never past the unwritten), GET /api/pixel from DynamoDB
//   Redis, no table          → trimmer by retention only; GET /api/pixel answers 503 (no history kept)
import type { Config } from '../config.js';
import type { Context, PixelHistory } from '../context.js';
import { registerPixelHistory } from '../http/history.js';
import type { Extension } from '../server.js';
import { EmbeddedStore } from '../store/embedded.js';
import { RedisStore } from '../store/redis.js';
import type { Placement } from '../store/store.js';
import { StreamTrimmer } from '../store/trim.js';
import { consumerName, HISTORY_GROUP } from './consumers.js';
import { createDynamoClient } from './dynamo.js';
import { DynamoPixelHistory } from './dynamo-pixels.js';
import { LocalPixelIndex } from './local-index.js';
import { HistoryMetrics } from './metrics.js';
import type { HistoryPage, HistoryQuery } from './pages.js';
import { provableSkip, TailRestorer } from './tail-restore.js';
import { HistoryWriter } from './writer.js';

/**
 * ctx.history is fixed when the server is built, before start() knows the store: this forwards to the real
 * one. Bound properties, not methods: callers may take a method off the object (moderation.ts does).
 */
class PixelHistoryHandle implements PixelHistory {
  target: Required<PixelHistory> | undefined;
  private started(): Required<PixelHistory> {
    if (!this.target) throw new Error('pixel history is not started');
    return this.target;
  }
  readonly pixel = async (x: number, y: number, limit: number): Promise<Placement[]> => this.started().pixel(x, y, limit);
  readonly byUser = async (userId: string, fromMs: number, toMs: number): Promise<Placement[]> => this.started().byUser(userId, fromMs, toMs);
  readonly inRange = async (fromMs: number, toMs: number): Promise<Placement[]> => this.started().inRange(fromMs, toMs);
  readonly pages = (q: HistoryQuery, cursor: string | undefined, pageSize: number): AsyncIterable<HistoryPage> => this.started().pages(q, cursor, pageSize);
}

export function historyExtension(config: Config): Extension {
  const enabled = !config.redisUrl || Boolean(config.dynamoTable);
  const handle = new PixelHistoryHandle();
  const stops: (() => Promise<void> | void)[] = [];

  return {
    history: enabled ? handle : undefined,
    routes: (app, ctx) => registerPixelHistory(app, ctx),

    start(ctx: Context) {
      const log = ctx.log.child({ component: 'history' });
      const store = ctx.store;
      if (store instanceof EmbeddedStore) {
        if (config.dynamoTable) log.warn({ table: config.dynamoTable }, 'DYNAMODB_TABLE is ignored without REDIS_URL: the embedded history is placements.log');
        const index = new LocalPixelIndex(store.logPath, config.width, config.height);
        index.load(log);
        store.onAccepted((placements) => {
          for (const p of placements) index.add(p);
        });
        handle.target = index;
        return;
      }
      if (!(store instanceof RedisStore)) return;

      const metrics = new HistoryMetrics(ctx.metrics.registry);
      const stream = store.keys.stream;
      if (config.dynamoTable) {
        const table = config.dynamoTable;
        const writes = createDynamoClient({ endpoint: config.dynamoEndpoint, maxAttempts: 1, maxSockets: config.historyWriteConcurrency + 4 });
        const reads = createDynamoClient({ endpoint: config.dynamoEndpoint, maxAttempts: 2, requestTimeoutMs: 3000 });
        const writer = new HistoryWriter({
          redisUrl: config.redisUrl!,
          commandTimeoutMs: config.redisCommandTimeoutMs,
          stream,
          group: HISTORY_GROUP,
          consumer: consumerName(),
          dynamo: writes,
          table,
          createTable: Boolean(config.dynamoEndpoint),
          concurrency: config.historyWriteConcurrency,
          claimIdleMs: config.historyClaimIdleMs,
          log,
          metrics,
          // A seq DynamoDB holds with another placement was given out twice: stop every container placing.
          onConflict: (c) => void store.fence.trip('history_conflict', { seq: Number(c.item.seq?.N) }).catch(() => undefined),
        });
        writer.start();
        if (config.autoRestoreDelayMs > 0) {
          const restorer = new TailRestorer({
            redis: store.redis,
            keys: store.keys,
            group: HISTORY_GROUP,
            dynamo: reads,
            table,
            width: config.width,
            skip: provableSkip(config.historyBacklogMax),
            delayMs: config.autoRestoreDelayMs,
            id: consumerName(),
            log,
            metrics,
          });
          store.fence.onTripped(() => restorer.arm());
          // Tripped before this extension started (a container that starts into a fence).
          if (store.fence.status) restorer.arm();
          stops.unshift(() => restorer.stop());
        }
        handle.target = new DynamoPixelHistory(reads, table);
        stops.push(async () => {
          await writer.stop();
          writes.destroy();
          reads.destroy();
        });
      } else {
        log.info('DYNAMODB_TABLE is unset: no pixel history; the stream is trimmed by retention only');
      }

      const trimmer = new StreamTrimmer({
        // The store's command connection: trimming is a few quick commands every few seconds.
        redis: store.redis,
        stream,
        retentionMs: config.streamRetentionMs,
        intervalMs: config.streamTrimIntervalMs,
        historyGroup: config.dynamoTable ? HISTORY_GROUP : undefined,
        log,
        onSample: (s) => {
          metrics.streamEntries.set(s.length);
          metrics.backlog.set(s.unwritten);
          metrics.oldestAge.set(s.oldestUnwrittenAgeMs / 1000);
          metrics.trimmed.inc(s.trimmed);
        },
      });
      trimmer.start();
      // First in the list: the trimmer must stop before the store's connection closes.
      stops.unshift(() => trimmer.stop());
    },

    async stop() {
      for (const stop of stops) await stop();
    },
  };
}
