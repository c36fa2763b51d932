// The pixel history against a real redis-server and a real DynamoDB Local: exactly-once writes with two
// writers, GET /api/pixel (Redis + DynamoDB and embedded), the backlog bound, and the ops commands.
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { historyExtension } from '../src/history/extension.js';
import { canvasKeys } from '../src/store/redis.js';
import { freePort, startRedis } from './support/redis-server.js';
import { metric, mintUsers, placeMany, scanHistory, startDynamo, waitFor, type Placed } from './support/dynamo.js';
import { startInProcess, testEnv, TEST_SECRET } from './support/service.js';

const TABLE = 'tessera-history-test';
const redisServer = await startRedis();
t.teardown(() => redisServer.stop());
const dynamo = await startDynamo();
t.teardown(() => dynamo.stop());
const redis = new Redis(redisServer.url);
t.teardown(() => redis.disconnect());

function env(extra: Record<string, string> = {}) {
  return testEnv({
    REDIS_URL: redisServer.url,
    DYNAMODB_TABLE: TABLE,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    COOLDOWN_MS: '0',
    RATE_LIMIT_REQUESTS_PER_MIN: '0',
    STREAM_TRIM_INTERVAL_MS: '300',
    ...extra,
  });
}

/** In-process service with the history extension, as main.ts wires it. */
async function service(e: Record<string, string | undefined>) {
  return startInProcess(e, [historyExtension(loadConfig(e))]);
}

const users = mintUsers(TEST_SECRET, 50);

type PixelBody = { x: number; y: number; color: number; userId: string; placedAt: number; seq: number; history: { seq: number; color: number; userId: string; placedAt: number }[] };
const json = async <T = { error: string }>(r: Response) => (await r.json()) as T;

async function historyBySeq(table = TABLE): Promise<Map<number, Placed & { placedAt: number }>> {
  const items = await scanHistory(dynamo.client, table);
  const bySeq = new Map<number, Placed & { placedAt: number }>();
  for (const it of items) {
    if (bySeq.has(it.seq)) throw new Error(`seq ${it.seq} is in the history twice`);
    bySeq.set(it.seq, it);
  }
  return bySeq;
}

/** node [tap's TypeScript loader] ops/<name>.ts args… */
function runOps(name: string, args: string[], extraEnv: Record<string, string | undefined>) {
  const script = new URL(`../../ops/${name}.ts`, import.meta.url).pathname;
  const proc = spawn(process.execPath, [...process.execArgv.filter((a) => !a.startsWith('--inspect')), script, ...args], {
    env: { ...process.env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  // 'close', not 'exit': exit can come before the last stdout chunks were read.
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => proc.on('close', (code) => resolve({ code, stdout, stderr })));
}

const mainEnv = env();
const startedAt = Date.now();
let accepted: Placed[] = [];

t.test('every accepted placement lands in DynamoDB exactly once (two writers)', async (t) => {
  const a = await service(mainEnv);
  const b = await service(mainEnv);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  const res = await placeMany({ bases: [a.base, b.base], users, count: 2000, concurrency: 16, pixel: (i) => ({ x: (i * 7) % 100, y: (i * 13) % 40, color: i % 16 }) });
  accepted = res.accepted;
  t.equal(res.refused.length, 0, 'no placement refused');
  t.equal(accepted.length, 2000);

  const bySeq = await waitFor('the history to hold every placement', async () => {
    const m = await historyBySeq();
    return m.size >= accepted.length ? m : false;
  });
  t.equal(bySeq.size, accepted.length, 'as many items as accepted placements: none missing, none extra');
  const mismatched = accepted.filter((p) => {
    const it = bySeq.get(p.seq);
    return !it || it.x !== p.x || it.y !== p.y || it.color !== p.color || it.userId !== p.userId;
  });
  t.same(mismatched, [], 'each item is its placement');

  const [count] = (await redis.xpending(canvasKeys('main').stream, 'history')) as [number];
  t.equal(count, 0, 'nothing left pending in the group');
  const writtenA = (await metric(a.base, 'tessera_history_written_total')) ?? 0;
  const writtenB = (await metric(b.base, 'tessera_history_written_total')) ?? 0;
  t.equal(writtenA + writtenB, accepted.length, `each written once (A ${writtenA}, B ${writtenB})`);
  await waitFor('the backlog gauge to read 0', async () => (await metric(a.base, 'tessera_history_backlog_entries')) === 0);
  t.equal(await metric(a.base, 'tessera_history_backlog_oldest_age_seconds'), 0);
  t.ok((await metric(a.base, 'tessera_stream_entries'))! >= accepted.length, 'the retention window is kept in the stream');
});

t.test('GET /api/pixel with Redis + DynamoDB', async (t) => {
  const a = await service(mainEnv);
  t.teardown(() => a.stop());
  const three = users.slice(0, 3);
  const placed: Placed[] = [];
  for (const [i, u] of three.entries()) {
    const r = await placeMany({ bases: [a.base], users: [u], count: 1, concurrency: 1, pixel: () => ({ x: 42, y: 60, color: i + 1 }) });
    placed.push(...r.accepted);
  }
  accepted.push(...placed);
  await waitFor('the three placements in DynamoDB', async () => (await historyBySeq()).has(placed[2].seq));
  const r = await fetch(`${a.base}/api/pixel?x=42&y=60`);
  t.equal(r.status, 200);
  const body = await json<PixelBody>(r);
  t.match(body, { x: 42, y: 60, color: 3, userId: three[2].userId, seq: placed[2].seq });
  t.ok(Math.abs(body.placedAt - Date.now()) < 60_000, 'placedAt is epoch ms');
  t.same(body.history.map((h) => h.seq), [placed[2].seq, placed[1].seq, placed[0].seq], 'newest first');
  t.same(Object.keys(body.history[0]).sort(), ['color', 'placedAt', 'seq', 'userId']);
  const limited = await json<PixelBody>(await fetch(`${a.base}/api/pixel?x=42&y=60&limit=2`));
  t.equal(limited.history.length, 2);

  // The questions moderation asks (called detached, as moderation.ts does).
  const { byUser, inRange } = a.ctx.history!;
  const mine = accepted.filter((p) => p.userId === three[0].userId).map((p) => p.seq);
  t.same((await byUser!(three[0].userId, startedAt, Date.now())).map((p) => p.seq), mine, 'byUser: a user’s placements, oldest first');
  t.same(await byUser!(three[0].userId, 0, startedAt - 1), [], 'byUser: nothing outside the range');
  const range = await inRange!(startedAt, Date.now());
  t.same(range.map((p) => p.seq), accepted.map((p) => p.seq).sort((x, y) => x - y), 'inRange: every placement, in seq order');
  const whole = range.find((p) => p.seq === placed[2].seq);
  t.same(whole, { ...placed[2], placedAt: body.placedAt, net: whole?.net }, 'inRange: whole placements');
  t.match(whole?.net, /^[A-Za-z0-9_-]{22}$/, 'with the network prefix hash moderation bans and rolls back by');

  const never = await fetch(`${a.base}/api/pixel?x=99&y=79`);
  t.equal(never.status, 404);
  t.equal((await json(never)).error, 'never_placed');
  for (const q of ['', 'x=1', 'y=1', 'x=-1&y=0', 'x=100&y=0', 'x=0&y=80', 'x=abc&y=1', 'x=1.5&y=1', 'x=1e1&y=1', 'x=1&y=1&limit=0', 'x=1&y=1&limit=51', 'x=1&y=1&limit=ten']) {
    const bad = await fetch(`${a.base}/api/pixel?${q}`);
    t.equal(bad.status, 400, q);
    t.equal((await json(bad)).error, 'invalid_pixel', q);
  }
});

t.test('the backlog bound turns placements into 503 and nothing is lost', async (t) => {
  // A DynamoDB nobody listens on: the writer cannot write, the backlog grows until the bound.
  const dead = `http://127.0.0.1:${await freePort()}`;
  // One table per canvas (the key has no canvas id): this canvas gets its own.
  const boundTable = 'tessera-history-bound';
  const boundEnv = env({ CANVAS_ID: 'bound', DYNAMODB_TABLE: boundTable, HISTORY_BACKLOG_MAX: '30', DYNAMODB_ENDPOINT: dead, HISTORY_CLAIM_IDLE_MS: '1000' });
  const c = await service(boundEnv);
  const res = await placeMany({ bases: [c.base], users, count: 45, concurrency: 1, pixel: (i) => ({ x: i, y: 70, color: 5 }) });
  t.equal(res.accepted.length, 30, 'accepted up to the bound');
  t.same(new Set(res.refused.map((r) => `${r.status} ${r.error}`)), new Set(['503 unavailable']), 'then 503 unavailable');
  await waitFor('the backlog gauges', async () => (await metric(c.base, 'tessera_history_backlog_entries')) === 30);
  t.equal(await metric(c.base, 'tessera_stream_entries'), 30);
  t.ok((await metric(c.base, 'tessera_history_backlog_oldest_age_seconds'))! > 0, 'the oldest entry has an age');
  t.equal(await redis.get(canvasKeys('bound').seq), '30', 'refused placements took no seq');
  await c.stop();

  // DynamoDB is back (a container with a working endpoint): every accepted placement is written.
  const d = await service({ ...boundEnv, DYNAMODB_ENDPOINT: dynamo.endpoint, DATA_DIR: boundEnv.DATA_DIR });
  t.teardown(() => d.stop());
  const seqs = new Set(res.accepted.map((p) => p.seq));
  await waitFor('the 30 accepted placements in DynamoDB', async () => {
    return (await historyBySeq(boundTable)).size >= 30;
  });
  const rows = [...(await historyBySeq(boundTable)).values()];
  t.same(new Set(rows.map((p) => p.seq)), seqs, 'exactly the accepted ones');
  await waitFor('the backlog to drain', async () => (await metric(d.base, 'tessera_history_backlog_entries')) === 0);
  t.equal(await metric(d.base, 'tessera_stream_entries'), 30, 'written entries stay for the retention window (they still count toward the bound)');
});

t.test('ops:export writes a time range as NDJSON in seq order', async (t) => {
  // Three independent runs, in parallel (each is a cold Node process).
  const [r, none, bad] = await Promise.all([
    runOps('export', ['--from', new Date(startedAt).toISOString(), '--to', String(Date.now() + 1000)], mainEnv),
    runOps('export', ['--from', '2001-01-01T00:00Z', '--to', '2001-01-01T00:03Z'], mainEnv),
    runOps('export', ['--from', 'yesterday', '--to', 'now'], mainEnv),
  ]);
  t.equal(r.code, 0, 'exit 0', { stderr: r.stderr });
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const all = [...(await historyBySeq()).values()].filter((p) => p.placedAt >= startedAt).sort((a, b) => a.seq - b.seq);
  t.equal(lines.length, all.length, 'every placement in the range', { stderr: r.stderr });
  t.same(lines, all.map(({ seq, x, y, color, userId, placedAt }) => ({ seq, x, y, color, userId, placedAt })), 'in seq order, whole placements');
  t.equal(none.code, 0);
  t.equal(none.stdout, '', 'an empty range exports nothing');
  t.equal(bad.code, 2, 'a bad time is a usage error');
});

t.test('ops:rebuild reproduces the exact board bytes and seq after Redis loses its data', async (t) => {
  const keys = canvasKeys('main');
  await waitFor('the history to be caught up', async () => {
    const [pending] = (await redis.xpending(keys.stream, 'history')) as [number];
    const info = (await redis.xinfo('GROUPS', keys.stream)) as unknown[][];
    const g = info.map((f) => Object.fromEntries(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i], f[2 * i + 1]])))[0];
    return pending === 0 && g['last-delivered-id'] === `${await redis.get(keys.seq)}-0`;
  });
  const board = await redis.getBuffer(keys.board);
  const seq = await redis.get(keys.seq);
  t.equal(Number(seq), accepted.length, 'seq before');
  await redis.flushall();

  // --skip 0: nothing was lost here (the history had caught up), so the seq may stay exactly where it was.
  const rebuilt = await runOps('rebuild', ['--skip', '0'], mainEnv);
  t.equal(rebuilt.code, 0, 'exit 0', { stderr: rebuilt.stderr });
  t.match(JSON.parse(rebuilt.stdout), { seq: Number(seq), items: accepted.length });
  t.same(await redis.getBuffer(keys.board), board, 'the exact board bytes');
  t.equal(await redis.get(keys.seq), seq, 'the same seq');

  const again = await runOps('rebuild', [], mainEnv);
  t.equal(again.code, 1, 'refuses to overwrite a live canvas without --force');
  t.match(again.stderr, /--force/);

  // The canvas carries on from there, and its history too (the writer recreates its group).
  const a = await service(mainEnv);
  t.teardown(() => a.stop());
  const next = await placeMany({ bases: [a.base], users, count: 1, concurrency: 1, pixel: () => ({ x: 1, y: 1, color: 9 }) });
  t.equal(next.accepted[0]?.seq, Number(seq) + 1, 'the next placement takes the next seq');
  await waitFor('it in DynamoDB', async () => (await historyBySeq()).has(Number(seq) + 1));
});

t.test('GET /api/pixel in embedded mode (the local log is the history)', async (t) => {
  const e = testEnv({ COOLDOWN_MS: '0', RATE_LIMIT_REQUESTS_PER_MIN: '0' });
  const s = await service(e);
  const placed: Placed[] = [];
  for (const [i, u] of users.slice(0, 4).entries()) {
    placed.push(...(await placeMany({ bases: [s.base], users: [u], count: 1, concurrency: 1, pixel: () => ({ x: 3, y: 4, color: i }) })).accepted);
  }
  const check = async (base: string) => {
    const r = await fetch(`${base}/api/pixel?x=3&y=4&limit=3`);
    t.equal(r.status, 200);
    const body = await json<PixelBody>(r);
    t.match(body, { x: 3, y: 4, color: 3, userId: users[3].userId, seq: placed[3].seq });
    t.same(body.history.map((h) => h.seq), [placed[3].seq, placed[2].seq, placed[1].seq]);
    t.equal((await fetch(`${base}/api/pixel?x=4&y=3`)).status, 404);
    const { byUser, inRange } = (base === s.base ? s : again!).ctx.history!;
    t.same((await byUser!(users[2].userId, 0, Date.now())).map((p) => p.seq), [placed[2].seq], 'byUser from the log');
    t.same((await inRange!(0, Date.now())).map((p) => p.seq), placed.map((p) => p.seq), 'inRange from the log');
    const first = (await inRange!(0, Date.now()))[0];
    t.same(await inRange!(0, first.placedAt - 1), [], 'inRange: nothing before');
    t.equal((await fetch(`${base}/api/pixel?x=3&y=-4`)).status, 400);
  };
  let again: Awaited<ReturnType<typeof service>> | undefined;
  await check(s.base);
  await s.stop();
  // A restart indexes placements.log again.
  again = await service(e);
  t.teardown(() => again!.stop());
  await check(again.base);
});
