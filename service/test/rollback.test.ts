// Rollback jobs: progress to completion with the exact board, by user / network / rectangle, the area lock,
// paging through a large range, and resuming a job its container stopped.
import t, { type Test } from 'tap';
import type { Server } from '../src/server.js';
import { admin, ADMIN, netOf, putFrom, waitForJob } from './support/admin.js';
import { put, session, startInProcess } from './support/service.js';
import { listen } from './support/ws-client.js';

const OPEN = { COOLDOWN_MS: '0', RATE_LIMIT_PLACEMENTS_PER_MIN: '0', RATE_LIMIT_SESSIONS_PER_MIN: '0', RATE_LIMIT_REQUESTS_PER_MIN: '0', TRUSTED_PROXY_HOPS: '1', ADMIN_TOKEN: ADMIN };

async function boardBytes(base: string): Promise<Uint8Array> {
  return new Uint8Array(await (await fetch(`${base}/api/board`)).arrayBuffer());
}
const colorAt = (b: Uint8Array, i: number) => (i % 2 === 0 ? b[i >> 1] >> 4 : b[i >> 1] & 0x0f);

/** Rollback reads the history: wait until it has seq `last` (Redis + DynamoDB writes it a little later). */
async function historyHas(base: string, x: number, y: number, last: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const h = await fetch(`${base}/api/pixel?x=${x}&y=${y}`);
    if (h.status === 200 && ((await h.json()) as { seq: number }).seq === last) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`history never showed seq ${last}`);
}

async function rollback(t: Test, base: string, body: unknown) {
  const r = await admin(base, 'POST', 'rollback', body);
  t.equal(r.status, 202, JSON.stringify(r.body));
  return waitForJob(base, r.body.jobId);
}

async function scenario(t: Test, env: Record<string, string>) {
  const s = await startInProcess({ ...env, ...OPEN });
  t.teardown(() => s.stop());
  const testStart = Date.now();
  const good = await session(s.base);
  const vandal = await session(s.base);
  const other = await session(s.base);
  // A picture first, then the vandal paints over part of it, then someone else fixes one pixel by hand.
  for (let x = 0; x < 6; x++) t.equal((await put(s.base, good.token, { x, y: 0, color: 5 })).status, 200);
  const from = Date.now();
  for (let x = 2; x < 8; x++) await put(s.base, vandal.token, { x, y: 0, color: 3 });
  const last = (await put(s.base, other.token, { x: 3, y: 0, color: 9 })).body.seq as number;
  await historyHas(s.base, 3, 0, last);
  // From the last placement on: the listener must see exactly the rollback's placements.
  const listener = await listen(s.base.replace('http', 'ws') + `/ws?since=${last}`, { after: last });
  t.teardown(() => listener.close());
  const job = await rollback(t, s.base, { userId: vandal.userId, from, to: Date.now() });
  t.match(job, { state: 'done', selected: 6, restored: 5, by: 'admin' }, 'six selected; the one painted over since is left alone');
  t.ok(job.pages >= 1);
  const b = await boardBytes(s.base);
  t.same([0, 1, 2, 3, 4, 5, 6, 7].map((x) => colorAt(b, x)), [5, 5, 5, 9, 5, 5, 0, 0], 'each pixel back to what it was before');
  await listener.waitForSeq(Number((await fetch(`${s.base}/api/board`)).headers.get('x-canvas-seq')));
  t.equal(listener.seqs.length, 5, 'the restorations reached every screen as ordinary placements');
  const log = (await admin(s.base, 'GET', 'log')).body.actions;
  t.same(log.slice(0, 2).map((a: any) => [a.action, a.jobId]), [['rollback_done', job.jobId], ['rollback_start', job.jobId]]);
  t.equal(log[1].userId, vandal.userId);
  const rect = await rollback(t, s.base, { rect: { x0: 0, y0: 0, x1: 1, y1: 0 }, from: testStart, to: Date.now() });
  t.match(rect, { state: 'done', selected: 2, restored: 2 }, 'a rectangle rollback');
  const b2 = await boardBytes(s.base);
  t.same([colorAt(b2, 0), colorAt(b2, 1)], [0, 0]);
  // By network: two sessions behind one address, and one elsewhere that stays.
  const netFrom = Date.now();
  const s1 = await session(s.base);
  const s2 = await session(s.base);
  await putFrom(s.base, s1.token, '203.0.113.7', { x: 10, y: 5, color: 7 });
  await putFrom(s.base, s2.token, '203.0.113.7', { x: 11, y: 5, color: 7 });
  const kept = (await putFrom(s.base, other.token, '198.51.100.1', { x: 12, y: 5, color: 7 })).body.seq as number;
  await historyHas(s.base, 12, 5, kept);
  const byNet = await rollback(t, s.base, { net: netOf('203.0.113.7'), from: netFrom });
  t.match(byNet, { state: 'done', selected: 2, restored: 2 }, 'a network rollback');
  const b3 = await boardBytes(s.base);
  t.same([10, 11, 12].map((x) => colorAt(b3, 5 * 100 + x)), [0, 0, 7]);
  t.equal((await admin(s.base, 'POST', 'rollback', { rect: { x0: 0, y0: 0, x1: 1, y1: 0 }, from: 0 })).status, 400, 'unbounded ranges without a user are refused');
  t.equal((await admin(s.base, 'POST', 'rollback', { from: 0 })).status, 400, 'something to select');
  t.equal((await admin(s.base, 'POST', 'rollback', { rect: { x0: 5, y0: 0, x1: 1, y1: 0 } })).status, 400);
  t.equal((await admin(s.base, 'GET', 'rollback/00000000-0000-0000-0000-000000000000')).status, 404);
}

t.test('rollback jobs [embedded]', async (t) => scenario(t, {}));

t.test('rollback jobs [redis + DynamoDB Local]', async (t) => {
  const { startRedis } = await import('./support/redis-server.js');
  const { startDynamo } = await import('./support/dynamo.js');
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const dynamo = await startDynamo();
  t.teardown(() => dynamo.stop());
  await scenario(t, { REDIS_URL: redis.url, DYNAMODB_TABLE: 'moderation', DYNAMODB_ENDPOINT: dynamo.endpoint });
});

/** `count` placements by "vandal", one per pixel from (0,0) on, straight into the store (fast); the last seq. */
async function vandalise(s: Server, count: number, color: number): Promise<number> {
  let last = 0;
  for (let i = 0; i < count; i += 500) {
    const batch = Array.from({ length: Math.min(500, count - i) }, (_, j) => ({ x: (i + j) % 200, y: Math.floor((i + j) / 200), color, userId: 'vandal', net: 'n'.repeat(22) }));
    for (const r of await Promise.all(batch.map((p) => s.ctx.store.place(p, 0)))) if (r.ok) last = Math.max(last, r.seq);
  }
  return last;
}

const LARGE = { ...OPEN, CANVAS_WIDTH: '200', CANVAS_HEIGHT: '100', ROLLBACK_PAGE_SIZE: '200' };

t.test('a large rollback pages through the history, holds its area, and resumes after its container stops [embedded]', async (t) => {
  const s = await startInProcess(LARGE);
  const good = await session(s.base);
  for (let x = 0; x < 4; x++) await put(s.base, good.token, { x, y: 99, color: 5 });
  const from = Date.now();
  await vandalise(s, 20_000, 3);
  const started = await admin(s.base, 'POST', 'rollback', { userId: 'vandal', from });
  t.equal(started.status, 202);
  const jobId = started.body.jobId as string;
  const clash = await admin(s.base, 'POST', 'rollback', { rect: { x0: 10, y0: 10, x1: 20, y1: 20 }, from });
  t.equal(clash.status, 409, 'an overlapping job is refused while the first runs');
  t.same([clash.body.error, clash.body.holder], ['rollback_conflict', jobId]);
  // The container stops mid-job: the job checkpoints at its page's end and says so.
  await s.stop();
  const s2 = await startInProcess({ ...LARGE, DATA_DIR: s.env.DATA_DIR! });
  t.teardown(() => s2.stop());
  const stopped = (await admin(s2.base, 'GET', `rollback/${jobId}`)).body;
  t.equal(stopped.state, 'interrupted');
  t.ok(stopped.restored < 20_000, `stopped part way (${stopped.restored} restored)`);
  t.equal((await admin(s2.base, 'POST', `rollback/${jobId}/resume`)).status, 202);
  const done = await waitForJob(s2.base, jobId);
  t.match(done, { state: 'done', selected: 20_000, restored: 20_000 });
  // Bounded memory: the history was read a page at a time (≈ ROLLBACK_PAGE_SIZE records each), never whole.
  t.ok(done.pages >= 20_000 / 200, `${done.pages} pages`);
  const b = await boardBytes(s2.base);
  const expected = new Uint8Array(200 * 100);
  for (let x = 0; x < 4; x++) expected[99 * 200 + x] = 5;
  t.same(Array.from({ length: 200 * 100 }, (_, i) => colorAt(b, i)), Array.from(expected), 'exactly the board before the vandal');
  t.equal((await admin(s2.base, 'POST', 'rollback', { rect: { x0: 10, y0: 10, x1: 20, y1: 20 }, from })).status, 202, 'the area is free again');
});

t.test('a paged rollback and the area lock [redis + DynamoDB Local]', async (t) => {
  const { startRedis } = await import('./support/redis-server.js');
  const { startDynamo } = await import('./support/dynamo.js');
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const dynamo = await startDynamo();
  t.teardown(() => dynamo.stop());
  const env = { ...LARGE, REDIS_URL: redis.url, DYNAMODB_TABLE: 'rollback', DYNAMODB_ENDPOINT: dynamo.endpoint, ROLLBACK_PAGE_SIZE: '100' };
  const s = await startInProcess(env);
  t.teardown(() => s.stop());
  const from = Date.now();
  const last = await vandalise(s, 2000, 3);
  await historyHas(s.base, 1999 % 200, Math.floor(1999 / 200), last);
  const started = await admin(s.base, 'POST', 'rollback', { userId: 'vandal', from });
  t.equal(started.status, 202);
  // Another container of the fleet sees the same lock.
  const other = await startInProcess({ ...env });
  t.teardown(() => other.stop());
  const clash = await admin(other.base, 'POST', 'rollback', { rect: { x0: 0, y0: 0, x1: 0, y1: 0 }, from });
  t.same([clash.status, clash.body.holder], [409, started.body.jobId], 'the lock is fleet-wide');
  const done = await waitForJob(other.base, started.body.jobId);
  t.match(done, { state: 'done', selected: 2000, restored: 2000 }, 'progress is visible from any container');
  t.ok(done.pages >= 2000 / 100, `${done.pages} pages`);
  const b = await boardBytes(s.base);
  t.equal(Array.from({ length: 200 * 100 }, (_, i) => colorAt(b, i)).filter((c) => c !== 0).length, 0, 'the board is white again');
});

t.test('area locks: overlapping tiles conflict, renewal keeps them, a dead holder lapses [redis and in-process]', async (t) => {
  const { Redis } = await import('ioredis');
  const { LocalAreaLock, RedisAreaLock } = await import('../src/moderation/area-lock.js');
  const { startRedis } = await import('./support/redis-server.js');
  const server = await startRedis();
  t.teardown(() => server.stop());
  const redis = new Redis(server.url);
  t.teardown(() => redis.quit());
  const whole = { x0: 0, y0: 0, x1: 159, y1: 159 };
  const corner = { x0: 0, y0: 0, x1: 5, y1: 5 };
  const far = { x0: 150, y0: 150, x1: 159, y1: 159 };
  for (const lock of [new RedisAreaLock(redis, '{tessera:t}:rblock:', 160, 160, 300), new LocalAreaLock(160, 160)]) {
    t.same(await lock.acquire('a', corner), { ok: true });
    t.same(await lock.acquire('b', whole), { ok: false, holder: 'a' }, 'overlap: refused, naming the holder');
    t.same(await lock.acquire('c', far), { ok: true }, 'another area runs alongside');
    t.ok(await lock.renew('a', corner));
    await lock.release('a', corner);
    await lock.release('c', far);
    t.same(await lock.acquire('b', whole), { ok: true }, 'free once released');
    await lock.release('b', whole);
  }
  const lock = new RedisAreaLock(redis, '{tessera:t}:rblock:', 160, 160, 300);
  t.same(await lock.acquire('dead', corner), { ok: true });
  await new Promise((r) => setTimeout(r, 400));
  t.same(await lock.acquire('next', whole), { ok: true }, 'a holder that stops renewing loses the area after the TTL');
  t.notOk(await lock.renew('dead', corner), 'and learns it when it renews');
});
