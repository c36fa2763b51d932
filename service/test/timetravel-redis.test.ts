// Time travel in Redis mode, against a real redis-server and DynamoDB Local: the writers' lock, blobs split under
// DynamoDB's 400 KB item limit, two containers writing one unbroken chain of keyframes, a backlog cut into
// several keyframes, and ops:keyframes rebuilding the chain from the DynamoDB history.
import { randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import t from 'tap';
import type { KeyframeEntry } from '../src/timetravel/codec.js';
import { decodeRange } from '../src/timetravel/codec.js';
import { DynamoKeyframeStore, PART_BYTES } from '../src/timetravel/dynamo-store.js';
import { RedisLock } from '../src/timetravel/lock.js';
import { boardAt, loadRedis, syntheticHistory } from '../../bench/node/timetravel/history-data.js';
import { metric, scanHistory, startDynamo, waitFor } from './support/dynamo.js';
import { runOps, summaryOf } from './support/ops.js';
import { startRedis } from './support/redis-server.js';
import { startInProcess, testEnv } from './support/service.js';

const W = 100;
const H = 80;
const redisServer = await startRedis();
t.teardown(() => redisServer.stop());
const dynamo = await startDynamo();
t.teardown(() => dynamo.stop());
const redis = new Redis(redisServer.url);
t.teardown(() => redis.disconnect());

t.test('one lock holder at a time; only the holder renews or releases it', async (t) => {
  const a = new RedisLock(redis, 'tt-lock-test', 'a', 2000);
  const b = new RedisLock(redis, 'tt-lock-test', 'b', 2000);
  t.ok(await a.acquire(), 'a takes it');
  t.notOk(await b.acquire(), 'b cannot');
  t.notOk(await b.renew(), 'b cannot renew what a holds');
  await b.release();
  t.equal(await redis.get('tt-lock-test'), 'a', 'b cannot release it either');
  t.ok(await a.renew());
  await a.release();
  t.equal(await b.with(async () => 'ran'), 'ran', 'b runs once a released it');
  t.equal(await redis.get('tt-lock-test'), null, 'and releases it after');
});

t.test('blobs over 400 KB are split into items under the limit', async (t) => {
  const store = new DynamoKeyframeStore(dynamo.client, 'tt-split');
  await store.ensureTable();
  const big = randomBytes(1_000_000);
  await t.rejects(
    dynamo.client.send(new PutItemCommand({ TableName: 'tt-split', Item: { pk: { S: 'whole' }, sk: { N: '0' }, d: { B: big } } })),
    'DynamoDB refuses the blob as one item',
  );
  const entry: KeyframeEntry = { seq: 42, from: 0, at: 1, firstAt: 1, count: 0 };
  await store.put(entry, { k: big, r: Buffer.from('r'), u: Buffer.from('u') });
  const parts = await dynamo.client.send(new QueryCommand({ TableName: 'tt-split', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'B#42#k' } } }));
  t.equal(parts.Items?.length, 3, '3 parts');
  t.ok(parts.Items!.every((it) => it.d.B!.length <= PART_BYTES), `each at most ${PART_BYTES} bytes`);
  const fresh = new DynamoKeyframeStore(dynamo.client, 'tt-split');
  t.same(await fresh.list(), [entry], 'listed');
  t.ok((await fresh.blob(42, 'k'))!.equals(big), 'read back whole');
  t.equal(await fresh.blob(43, 'k'), undefined, 'an unknown seq has none');
});

t.test('two containers, one chain; a backlog is cut every KEYFRAME_EVERY; ops:keyframes rebuilds it from DynamoDB', async (t) => {
  const placements = syntheticHistory(11_000, W, H, { stepMs: 200 });
  const env = testEnv({
    CANVAS_WIDTH: String(W),
    CANVAS_HEIGHT: String(H),
    REDIS_URL: redisServer.url,
    DYNAMODB_TABLE: 'tt-history',
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    KEYFRAME_EVERY: '1000',
    KEYFRAME_INTERVAL_MS: '0',
    // The synthetic placements are minutes old: keep them in the stream.
    STREAM_RETENTION_MS: '86400000',
    RATE_LIMIT_REQUESTS_PER_MIN: '0',
  });
  const a = await startInProcess(env);
  const b = await startInProcess(env);
  const list = async (base: string) => (await (await fetch(`${base}/api/history`)).json()) as { head: number; keyframes: KeyframeEntry[] };
  const checkChain = async (base: string, upTo: number) => {
    const l = await list(base);
    let prev = 0;
    for (const k of l.keyframes) {
      t.equal(k.from, prev, `keyframe ${k.seq} follows ${prev}`);
      prev = k.seq;
      const r = await fetch(`${base}/api/history/keyframe/${k.seq}`);
      t.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      t.ok(inflateRawSync(Buffer.from(await r.arrayBuffer())).equals(boardAt(placements, k.seq, W, H)), `keyframe ${k.seq} is the board at its seq`);
    }
    t.equal(prev, upTo, `the chain reaches ${upTo}`);
    return l.keyframes;
  };
  // Five stages while both containers run: each tick of either may find a keyframe due.
  for (let s = 0; s < 5; s++) {
    await loadRedis(redisServer.url, 'main', W, placements.slice(s * 1000, (s + 1) * 1000));
    await waitFor(`a keyframe at ${(s + 1) * 1000}`, async () => (await list(a.base)).keyframes.at(-1)?.seq === (s + 1) * 1000, 15_000, 100);
  }
  const chain = await checkChain(b.base, 5000);
  t.equal(chain.length, 5);
  const written = ((await metric(a.base, 'tessera_keyframes_written_total')) ?? 0) + ((await metric(b.base, 'tessera_keyframes_written_total')) ?? 0);
  t.equal(written, 5, 'each keyframe written once, by one of the two');
  const tail = decodeRange(inflateRawSync(Buffer.from(await (await fetch(`${a.base}/api/history/tail?after=5000`)).arrayBuffer())));
  t.equal(tail.seqs.length, 0, 'nothing after the last keyframe');

  await b.stop();
  // 6,000 placements arrive while no container runs.
  await a.stop();
  await loadRedis(redisServer.url, 'main', W, placements.slice(5000));
  const c = await startInProcess(env);
  t.teardown(() => c.stop());
  await waitFor('the backlog cut', async () => (await list(c.base)).keyframes.at(-1)?.seq === 11_000, 20_000, 100);
  const after = await checkChain(c.base, 11_000);
  t.same(after.slice(5).map((k) => k.count), [1000, 1000, 1000, 1000, 2000], 'the backlog in segments of KEYFRAME_EVERY, the last one longer');

  await waitFor('the DynamoDB history to hold every placement', async () => (await scanHistory(dynamo.client, 'tt-history')).length === 11_000, 60_000, 500);
  const r = await runOps('keyframes', [], { ...env, SESSION_SECRET: undefined });
  t.equal(r.code, 0, r.code === 0 ? 'ops:keyframes exits 0' : r.stderr);
  t.match(summaryOf(r), { mode: 'redis', placements: 11_000, keyframes: 11, lastSeq: 11_000 });
  await waitFor('the containers to read the rewritten manifest', async () => (await list(c.base)).keyframes.length === 11, 10_000, 200);
  const rebuilt = await checkChain(c.base, 11_000);
  t.same(rebuilt.map((k) => k.count), Array(11).fill(1000));
  const range = decodeRange(inflateRawSync(Buffer.from(await (await fetch(`${c.base}/api/history/range/9000/10000`)).arrayBuffer())));
  t.same([...range.seqs], placements.slice(9000, 10_000).map((p) => p.seq), 'a rebuilt range');
  t.equal((await fetch(`${c.base}/api/history/range/9000/11000`)).status, 404, 'the range the rebuild replaced is gone');
});
