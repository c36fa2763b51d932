// DynamoDB Local stopped for 30 s while placements go on: every placement succeeds, the backlog shows in
// /metrics, and once DynamoDB is back every placement is written, none twice.
import { Redis } from 'ioredis';
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { historyExtension } from '../src/history/extension.js';
import { canvasKeys } from '../src/store/redis.js';
import { startRedis } from './support/redis-server.js';
import { metric, mintUsers, placeMany, scanHistory, startDynamo, waitFor } from './support/dynamo.js';
import { startInProcess, testEnv, TEST_SECRET } from './support/service.js';

const TABLE = 'tessera-history-outage';
const OUTAGE_MS = 30_000;

t.test('a 30 s DynamoDB outage: placements keep succeeding, and every one is written after it, once', async (t) => {
  const redisServer = await startRedis();
  t.teardown(() => redisServer.stop());
  // On disk, so what was written before the outage survives the restart.
  const dynamo = await startDynamo({ persist: true });
  t.teardown(() => dynamo.stop());
  const redis = new Redis(redisServer.url);
  t.teardown(() => redis.disconnect());
  const env = testEnv({
    REDIS_URL: redisServer.url,
    DYNAMODB_TABLE: TABLE,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    COOLDOWN_MS: '0',
    RATE_LIMIT_REQUESTS_PER_MIN: '0',
    STREAM_TRIM_INTERVAL_MS: '500',
  });
  const s = await startInProcess(env, [historyExtension(loadConfig(env))]);
  t.teardown(() => s.stop());
  const users = mintUsers(TEST_SECRET, 200);

  // ~40 placements/s from before the outage until a few seconds after it (bounded: at most 4,000).
  let stopLoad = false;
  const load = placeMany({ bases: [s.base], users, count: 4000, concurrency: 4, paceMs: 100, until: () => stopLoad, pixel: (i) => ({ x: i % 100, y: (i * 3) % 80, color: i % 16 }) });
  const before = await waitFor('the writer to be writing', async () => (await scanHistory(dynamo.client, TABLE)).length, 30_000, 500);
  t.ok(before > 0, `written before the outage: ${before}`);

  await dynamo.kill('SIGTERM');
  const outageStart = Date.now();
  await new Promise((r) => setTimeout(r, OUTAGE_MS - 8000));
  const backlog = await metric(s.base, 'tessera_history_backlog_entries');
  const age = await metric(s.base, 'tessera_history_backlog_oldest_age_seconds');
  t.ok(backlog! > 100, `the backlog grows in Redis and shows in /metrics: ${backlog}`);
  t.ok(age! > 15, `so does the age of its oldest entry: ${age} s`);
  t.ok((await metric(s.base, 'tessera_history_retries_total'))! > 0, 'the writer keeps retrying');
  await new Promise((r) => setTimeout(r, OUTAGE_MS - (Date.now() - outageStart)));
  await dynamo.restart();
  await new Promise((r) => setTimeout(r, 3000));
  stopLoad = true;

  const { accepted, refused } = await load;
  t.same(refused, [], 'no placement refused, during the outage or around it');
  t.ok(accepted.length >= 1000, `placed ${accepted.length}`);

  const items = await waitFor(
    'every placement in DynamoDB',
    async () => {
      const rows = await scanHistory(dynamo.client, TABLE);
      return rows.length >= accepted.length ? rows : false;
    },
    60_000,
    1000,
  );
  t.equal(items.length, accepted.length, 'none missing, none twice');
  t.same(new Set(items.map((i) => i.seq)), new Set(accepted.map((p) => p.seq)), 'exactly the accepted seqs');
  await waitFor('the backlog to drain', async () => (await metric(s.base, 'tessera_history_backlog_entries')) === 0, 15_000);
  const [pending] = (await redis.xpending(canvasKeys('main').stream, 'history')) as [number];
  t.equal(pending, 0, 'nothing left pending');
});
