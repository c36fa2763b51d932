// The seq fence (store/fence.ts) on a real redis-server and DynamoDB Local, without the whole cluster:
//   - a Redis restart that keeps its data never trips it;
//   - a Redis that goes back in time stops every container (503, /readyz 503, no seq given out twice), a container
//     started meanwhile too, until ops:rebuild or the automatic tail restore moves the seq past every acknowledged
//     one and writes a new epoch; the containers resume by themselves and their listeners get a reset;
//   - the history never overwrites a seq with another placement.
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { loadConfig } from '../src/config.js';
import { ensureGroup } from '../src/history/consumers.js';
import { ensureTable } from '../src/history/dynamo.js';
import { historyExtension } from '../src/history/extension.js';
import { fromItem, toItem } from '../src/history/items.js';
import { HistoryMetrics } from '../src/history/metrics.js';
import { HistoryWriter } from '../src/history/writer.js';
import type { Conflict } from '../src/history/guarded-write.js';
import { createLogger } from '../src/log.js';
import { canvasKeys } from '../src/store/redis.js';
import { colorAt, foldBoard, readBoard } from './faults/support/invariants.js';
import { metric, mintUsers, placeMany, putPixel, scanHistory, startDynamo, waitFor, type Placed } from './support/dynamo.js';
import { runOps, summaryOf } from './support/ops.js';
import { rollBack, snapshot } from './support/redis-snapshot.js';
import { startRedis } from './support/redis-server.js';
import { startInProcess, testEnv, TEST_SECRET } from './support/service.js';
import { listen } from './support/ws-client.js';

const WIDTH = 100;
const HEIGHT = 80;
const BACKLOG_MAX = 50_000;
/** What a recovery adds on top of the highest known seq (tail-restore.ts provableSkip). */
const SKIP = BACKLOG_MAX + 1000;

const redisServer = await startRedis({ aof: true });
t.teardown(() => redisServer.stop());
const dynamo = await startDynamo();
t.teardown(() => dynamo.stop());
const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
redis.on('error', () => {});
t.teardown(() => redis.disconnect());
const users = mintUsers(TEST_SECRET, 400, 'f');
const pixel = (i: number) => ({ x: (i * 7) % WIDTH, y: (i * 13) % HEIGHT, color: i % 16 });

/** One canvas per test, each with its own history table (items are keyed by pixel and seq, not canvas). */
function env(canvas: string, extra: Record<string, string> = {}) {
  return testEnv({
    REDIS_URL: redisServer.url,
    CANVAS_ID: canvas,
    DYNAMODB_TABLE: `fence-${canvas}`,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    COOLDOWN_MS: '0',
    RATE_LIMIT_REQUESTS_PER_MIN: '0',
    STREAM_TRIM_INTERVAL_MS: '300',
    HISTORY_BACKLOG_MAX: String(BACKLOG_MAX),
    AUTO_RESTORE_DELAY_MS: '0',
    ...extra,
  });
}

async function service(e: Record<string, string | undefined>) {
  return startInProcess(e, [historyExtension(loadConfig(e))]);
}

async function readyz(base: string): Promise<{ status: number; body: { ready: boolean; fenced?: { reason: string; highWater: number } } }> {
  const r = await fetch(`${base}/readyz`);
  return { status: r.status, body: (await r.json()) as never };
}

const allReady = (bases: string[]) => async () => (await Promise.all(bases.map(readyz))).every((r) => r.status === 200);
const allFenced = (bases: string[], reason: string) => async () => (await Promise.all(bases.map(readyz))).every((r) => r.status === 503 && r.body.fenced?.reason === reason);

async function place(bases: string[], count: number, offset: number) {
  return placeMany({ bases, users: users.slice(offset % 200), count, concurrency: 4, pixel: (i) => pixel(i + offset) });
}

/** Waits until the history holds every one of these seqs. */
async function historyHas(table: string, placed: Placed[]) {
  await waitFor(`the history to hold ${placed.length} placements`, async () => {
    const seqs = new Set((await scanHistory(dynamo.client, table)).map((p) => p.seq));
    return placed.every((p) => seqs.has(p.seq));
  });
}

/** Asserts that the board served equals the fold of the history up to its seq, pixel by pixel. */
async function boardIsHistory(t: Test, base: string, table: string) {
  const board = await readBoard(base);
  const expected = foldBoard(await scanHistory(dynamo.client, table), WIDTH, HEIGHT, board.seq);
  let diff = 0;
  for (let i = 0; i < WIDTH * HEIGHT; i++) if (colorAt(expected, i) !== colorAt(board.bytes, i)) diff++;
  t.equal(diff, 0, `the board (seq ${board.seq}) is the fold of the history, lost placements included`);
}

const fenceTrips = (base: string, reason: string) => metric(base, `tessera_seq_fence_trips_total\\{reason="${reason}"\\}`);

t.test('a Redis restart that keeps its data (AOF) does not trip the fence', async (t) => {
  const e = env('keep');
  const a = await service(e);
  const b = await service(e);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  const first = await place([a.base, b.base], 60, 0);
  t.equal(first.accepted.length, 60);
  // SIGKILL: the process dies, the page cache keeps the AOF tail; nothing acknowledged is lost.
  await redisServer.kill('SIGKILL');
  await redisServer.restart();
  await waitFor('both containers ready again', allReady([a.base, b.base]), 15_000, 100);
  const second = await place([a.base, b.base], 40, 60);
  const seqs = [...first.accepted, ...second.accepted].map((p) => p.seq).sort((x, y) => x - y);
  t.same(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), `seqs 1…${seqs.length}, each once, carried on after the restart`);
  t.ok(second.accepted.length >= 38, `placements go on (${second.accepted.length} of 40; a reconnect may refuse a few)`);
  for (const s of [a, b]) {
    t.equal(await metric(s.base, 'tessera_seq_fenced'), 0, 'not fenced');
    t.equal(await metric(s.base, 'tessera_seq_fence_trips_total'), undefined, 'never tripped');
  }
  t.equal(await redis.exists(canvasKeys('keep').fence), 0, 'no fence in Redis');
});

t.test('Redis going back in time stops every container until ops:rebuild moves the seq past every acknowledged one', async (t) => {
  const e = env('ops');
  const keys = canvasKeys('ops');
  const table = e.DYNAMODB_TABLE!;
  const a = await service(e);
  const b = await service(e);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  const bases = [a.base, b.base];
  const acked: Placed[] = [];
  acked.push(...(await place(bases, 100, 0)).accepted);
  // What Redis will come back with: everything up to seq 100.
  const older = await snapshot(redis, '{tessera:ops}:*');
  const listener = await listen(`${a.base.replace('http', 'ws')}/ws?since=100`, { after: 100 });
  t.teardown(() => listener.close());
  acked.push(...(await place(bases, 60, 100)).accepted);
  t.equal(acked.length, 160);
  const maxAcked = Math.max(...acked.map((p) => p.seq));
  await listener.waitForSeq(maxAcked);
  await historyHas(table, acked);

  const lostAt = Date.now();
  await rollBack(redis, older);
  t.equal(Number(await redis.get(keys.seq)), 100, 'Redis is back at seq 100: 60 acknowledged placements are gone from it');
  const refused = await putPixel(a.base, users[300].token, { x: 1, y: 1, color: 3 });
  t.equal(refused.status, 503, 'the next placement is refused');
  t.match((refused.body as { message?: string }).message, /stopped/, 'with a message saying why');
  const fenced = await waitFor('every container fenced', allFenced(bases, 'behind'), 5000, 50);
  t.ok(fenced);
  const detectMs = Date.now() - lostAt;
  const fence = await redis.hgetall(keys.fence);
  t.match(fence, { reason: 'behind', redisSeq: '100' }, 'the fence is up in Redis for every container');
  t.equal(Number(fence.highWater), maxAcked, "the fence holds the containers' high-water mark");
  const during = await place(bases, 20, 200);
  t.same([during.accepted.length, [...new Set(during.refused.map((r) => r.status))]], [0, [503]], 'nothing placed while fenced: 503');
  for (const s of bases) {
    t.equal(await fenceTrips(s, 'behind'), 1, 'the trip is counted once per container');
    t.equal(await metric(s, 'tessera_seq_fenced'), 1);
  }

  // The runbook: one command, with the service running.
  const rebuilt = await runOps('rebuild', [], e);
  t.equal(rebuilt.code, 0, 'ops:rebuild exits 0', { stderr: rebuilt.stderr });
  const summary = summaryOf<{ seq: number; historySeq: number; fenceHighWater: number; redisSeq: number }>(rebuilt);
  t.match(summary, { historySeq: maxAcked, fenceHighWater: maxAcked, redisSeq: 100, seq: maxAcked + SKIP }, 'the seq moves past everything acknowledged, by the margin');
  const resumed = await waitFor('every container resumes by itself', allReady(bases), 5000, 50);
  t.ok(resumed);
  const resumeMs = Date.now() - lostAt;
  await listener.waitForText((m) => m.t === 'reset', 3000);
  const after = await place(bases, 20, 300);
  t.equal(after.accepted.length, 20, 'placements succeed again');
  t.equal(Math.min(...after.accepted.map((p) => p.seq)), summary.seq + 1, 'the first new seq is past the margin');
  acked.push(...after.accepted);
  const seqs = acked.map((p) => p.seq);
  t.equal(new Set(seqs).size, seqs.length, `no seq acknowledged twice (${seqs.length} placements)`);
  await listener.waitForSeq(Math.max(...seqs));
  t.equal(listener.gaps, 1, 'the listener jumped once, after its reset, to the new seqs');
  await historyHas(table, after.accepted);
  await boardIsHistory(t, a.base, table);
  for (const s of bases) t.equal(await metric(s, 'tessera_seq_fence_lifted_total'), 1, 'the container adopted the new epoch once');
  t.comment(`MEASURED fence-ops ${JSON.stringify({ detectMs, lostAcked: 60, fencedUntilServingMs: resumeMs, rebuildMs: rebuilt.ms, newSeq: summary.seq })}`);
});

t.test('the automatic tail restore puts the lost placements back from the history and resumes', async (t) => {
  const e = env('auto', { AUTO_RESTORE_DELAY_MS: '300' });
  const keys = canvasKeys('auto');
  const table = e.DYNAMODB_TABLE!;
  const a = await service(e);
  const b = await service(e);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  const bases = [a.base, b.base];
  const acked: Placed[] = [];
  acked.push(...(await place(bases, 100, 0)).accepted);
  const older = await snapshot(redis, '{tessera:auto}:*');
  const listener = await listen(`${b.base.replace('http', 'ws')}/ws?since=100`, { after: 100 });
  t.teardown(() => listener.close());
  acked.push(...(await place(bases, 60, 100)).accepted);
  const maxAcked = Math.max(...acked.map((p) => p.seq));
  await historyHas(table, acked);

  const epoch = await redis.get(keys.epoch);
  const lostAt = Date.now();
  await rollBack(redis, older);
  // A container may see the restored canvas before it ever saw the loss: it then goes straight to the new epoch.
  await waitFor('a container fenced', async () => (await Promise.all(bases.map(readyz))).some((r) => r.body.fenced?.reason === 'behind'), 5000, 20);
  const fencedMs = Date.now() - lostAt;
  await waitFor('every container resumes with no operator', allReady(bases), 15_000, 50);
  const resumeMs = Date.now() - lostAt;
  t.not(await redis.get(keys.epoch), epoch, 'under a new epoch');
  const trips = (await Promise.all(bases.map((s) => fenceTrips(s, 'behind')))).map((v) => v ?? 0);
  t.ok(trips[0] + trips[1] >= 1, `the loss was detected (${trips.join(' + ')} trips)`);
  t.equal(await redis.exists(keys.fence), 0, 'the fence is down');
  t.equal(Number(await redis.get(keys.seq)), maxAcked + SKIP, 'the seq moved past every acknowledged one, by the margin');
  const restores = (await Promise.all(bases.map((s) => metric(s, 'tessera_history_tail_restores_total\\{outcome="done"\\}')))).map((v) => v ?? 0);
  t.equal(restores[0] + restores[1], 1, 'one container restored the tail (the lock)');
  await listener.waitForText((m) => m.t === 'reset', 3000);
  await boardIsHistory(t, a.base, table);
  const after = await place(bases, 10, 300);
  t.equal(after.accepted.length, 10);
  t.ok(after.accepted.every((p) => p.seq > maxAcked + SKIP), 'new seqs are past the margin');
  const seqs = [...acked, ...after.accepted].map((p) => p.seq);
  t.equal(new Set(seqs).size, seqs.length, 'no seq acknowledged twice');
  t.comment(`MEASURED fence-auto ${JSON.stringify({ fencedAfterMs: fencedMs, fencedUntilServingMs: resumeMs, delayMs: 300 })}`);
});

t.test('a wiped Redis (no epoch) stops placements, also on a container started into it, until ops:rebuild', async (t) => {
  const e = env('wipe', { AUTO_RESTORE_DELAY_MS: '200' });
  const keys = canvasKeys('wipe');
  const table = e.DYNAMODB_TABLE!;
  const a = await service(e);
  t.teardown(() => a.stop());
  const acked = (await place([a.base], 50, 0)).accepted;
  await historyHas(table, acked);
  const all = await redis.keys('{tessera:wipe}:*');
  await redis.del(...all);
  await waitFor('the container fenced', allFenced([a.base], 'epoch_missing'), 5000, 50);
  t.equal((await redis.hgetall(keys.fence)).reason, 'epoch_missing');
  // A new task started now must not take the empty canvas for a new one.
  const c = await service(e);
  t.teardown(() => c.stop());
  t.equal((await readyz(c.base)).status, 503, 'a container started into the fence is not ready');
  t.equal((await putPixel(c.base, users[5].token, { x: 2, y: 2, color: 2 })).status, 503, 'and places nothing');
  t.equal(await redis.exists(keys.epoch), 0, 'it created no epoch');
  await waitFor('the tail restore to decline (nothing to build on)', async () => (await metric(a.base, 'tessera_history_tail_restores_total\\{outcome="declined"\\}')) === 1, 5000);

  const rebuilt = await runOps('rebuild', [], e);
  t.equal(rebuilt.code, 0, 'ops:rebuild exits 0', { stderr: rebuilt.stderr });
  t.equal(summaryOf<{ seq: number }>(rebuilt).seq, 50 + SKIP);
  await waitFor('both containers resume', allReady([a.base, c.base]), 5000, 50);
  const after = await place([a.base, c.base], 10, 300);
  t.equal(after.accepted.length, 10);
  t.ok(after.accepted.every((p) => p.seq > 50 + SKIP), 'new seqs are past the margin');
  await historyHas(table, after.accepted);
  await boardIsHistory(t, c.base, table);
});

t.test('the history never overwrites a seq with another placement (claimed and replayed entries are conditional)', async (t) => {
  const table = 'fence-guard';
  const stream = '{tessera:guard}:placements';
  await ensureTable(dynamo.client, table);
  const put = (p: Placed & { placedAt: number }) => dynamo.client.send(new PutItemCommand({ TableName: table, Item: toItem(p) }));
  // DynamoDB has seq 7 at 3,4 and seq 8 at 1,1; the stream hands out seq 7 at 3,4 again with another player.
  await put({ seq: 7, x: 3, y: 4, color: 5, userId: 'first', placedAt: 1000 });
  await put({ seq: 8, x: 1, y: 1, color: 2, userId: 'u8', placedAt: 2000 });
  await ensureGroup(redis, stream);
  await redis.xadd(stream, '7-0', 'p', '3,4,9,second,2000');
  await redis.xadd(stream, '8-0', 'p', '1,1,2,u8,2000');
  // A consumer that dies holding both: the writer claims them, and claimed entries may already be written.
  await redis.xreadgroup('GROUP', 'history', 'ghost', 'COUNT', 10, 'STREAMS', stream, '>');
  const conflicts: Conflict[] = [];
  const metrics = new HistoryMetrics(new Registry());
  const writer = new HistoryWriter({
    redisUrl: redisServer.url,
    commandTimeoutMs: 2000,
    stream,
    group: 'history',
    consumer: 'live',
    dynamo: dynamo.client,
    table,
    createTable: false,
    concurrency: 2,
    claimIdleMs: 1000,
    blockMs: 200,
    log: createLogger('silent'),
    metrics,
    onConflict: (c) => conflicts.push(c),
  });
  writer.start();
  t.teardown(() => writer.stop());
  const pending = async () => ((await redis.xpending(stream, 'history')) as [number])[0];
  await waitFor('the claimed entries written and acknowledged', async () => (await pending()) === 0, 15_000);
  t.same(conflicts.map((c) => fromItem(c.item).userId), ['second'], 'seq 7 at 3,4 with another player is a conflict; seq 8, the same placement, is not');
  t.equal(fromItem(conflicts[0].existing!).userId, 'first', 'the conflict names what DynamoDB holds');

  // Entries handed out again as new after Redis went back in time (the group moved back) are conditional too.
  await redis.xadd(stream, '9-0', 'p', '6,6,1,u9,3000');
  await waitFor('seq 9 written', async () => (await scanHistory(dynamo.client, table)).some((p) => p.seq === 9 && p.userId === 'u9'), 10_000);
  await put({ seq: 9, x: 6, y: 6, color: 4, userId: 'other', placedAt: 3500 });
  await redis.xgroup('SETID', stream, 'history', '8-0');
  await waitFor('seq 9 handed out again and refused', async () => conflicts.length === 2, 10_000);
  const items = await scanHistory(dynamo.client, table);
  t.same(
    items.map((p) => [p.seq, p.userId]).sort(),
    [[7, 'first'], [8, 'u8'], [9, 'other']].sort(),
    'every existing item kept: nothing overwritten with another placement',
  );
  t.equal((await metrics.conflicts.get()).values[0]?.value, 2, 'tessera_history_conflicts_total counts them');
});
