// What a ?since= resume may cost: older than RESUME_WINDOW_S a reset decided in memory (no store call), inside
// it the fanout's memory, and from the store only a bounded number of pages (ws/resume.ts).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import type { Redis } from 'ioredis';
import { canvasKeys } from '../src/store/redis.js';
import { MAX_STORE_PAGES } from '../src/ws/resume.js';
import { BulkPlacer } from './faults/support/load.js';
import { bothModes } from './support/modes.js';
import { Prng } from './support/prng.js';
import { startInProcess } from './support/service.js';
import { listen, type Listener } from './support/ws-client.js';

const PLACEMENTS = 100_000;
const WIDTH = 1000;
const HEIGHT = 1000;
const SINCE_SHA = createHash('sha1').update(readFileSync(new URL('../src/store/since.lua', import.meta.url), 'utf8')).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wsUrl = (base: string, q: string) => `${base.replace(/^http/, 'ws')}/ws${q}`;

/**
 * Counts, through MONITOR, the calls a resume makes: its only Redis call is the since script (store.since).
 * The history's own stream reads (XRANGE outside Lua) are background work, not the resume's.
 */
async function sinceScriptCalls(port: number): Promise<{ count: () => number; stop: () => void }> {
  const sock = connect(port, '127.0.0.1');
  let n = 0;
  let buffered = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    const lines = (buffered + d).split('\r\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.includes(`"evalsha" "${SINCE_SHA}"`) || (line.includes('"eval"') && line.includes('too_old'))) n++;
  });
  sock.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    sock.once('data', () => resolve());
    sock.write('MONITOR\r\n');
  });
  return { count: () => n, stop: () => sock.destroy() };
}

/** The store.since calls the service made (both modes): its own latency histogram's count. */
async function sinceCalls(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^tessera_redis_latency_seconds_count\{op="since"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

async function resumes(base: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(new RegExp(`^tessera_ws_resumes_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

/** 100,000 placements as fast as the store takes them: place.lua straight on Redis, or the embedded store in-process. */
async function placeFast(s: Awaited<ReturnType<typeof startInProcess>>, redisUrl: string | undefined): Promise<number> {
  if (redisUrl) {
    const { Redis } = await import('ioredis');
    const redis: Redis = new Redis(redisUrl);
    const bulk = new BulkPlacer({ redis, keys: canvasKeys('main'), width: WIDTH, height: HEIGHT, perSecond: 200_000, batch: 1000, concurrency: 3 }).start();
    while (bulk.placed < PLACEMENTS) await sleep(20);
    await bulk.stop();
    redis.disconnect();
    return bulk.lastSeq;
  }
  const prng = new Prng(3);
  let last = 0;
  for (let i = 0; i < PLACEMENTS; i += 1000) {
    const batch = Array.from({ length: 1000 }, (_, j) => s.ctx.store.place({ x: prng.int(WIDTH), y: prng.int(HEIGHT), color: prng.int(16), userId: `bulk-${i + j}` }, 0));
    for (const r of await Promise.all(batch)) if (r.ok) last = Math.max(last, r.seq);
  }
  return last;
}

async function expectReset(t: Test, l: Listener): Promise<void> {
  t.same(await l.waitForText((m) => m.t === 'reset', 10_000), { t: 'reset' }, 'reset');
  t.equal(l.seqs.length, 0, 'and no replayed frame before it');
}

bothModes(t, 'a resume from seq 1 after 100,000 placements gets a reset and costs Redis at most one call', async (t, mode) => {
  const s = await startInProcess({ ...mode.env, CANVAS_WIDTH: String(WIDTH), CANVAS_HEIGHT: String(HEIGHT), COOLDOWN_MS: '0', RESUME_WINDOW_S: '2' });
  t.teardown(() => s.stop());
  const live = await listen(wsUrl(s.base, ''));
  t.teardown(() => live.close());
  const head = await placeFast(s, mode.redis?.url);
  t.ok(head >= PLACEMENTS, `${head} placements`);
  await live.waitForSeq(head, 30_000);
  const reads = mode.redis ? await sinceScriptCalls(mode.redis.port) : undefined;
  t.teardown(() => reads?.stop());

  // Inside the window and in memory: served without a store call, no gap, no duplicate.
  const before = await sinceCalls(s.base);
  const recent = await listen(wsUrl(s.base, `?since=${head - 1000}`), { after: head - 1000 });
  t.teardown(() => recent.close());
  await recent.waitForSeq(head, 5000);
  t.equal(recent.seqs.length, 1000, 'the last 1,000 placements replayed');
  t.equal(recent.gaps + recent.duplicates, 0, 'no gap, no duplicate');
  t.equal(await sinceCalls(s.base), before, 'from memory: no store call');
  t.equal(await resumes(s.base, 'memory'), 1);

  // Past the window: a reset, decided without the store.
  await sleep(2300);
  const old = await listen(wsUrl(s.base, '?since=1'), { after: 1 });
  t.teardown(() => old.close());
  await expectReset(t, old);
  const calls = (await sinceCalls(s.base)) - before;
  t.ok(calls <= 1, `store.since calls during the resumes: ${calls}`);
  if (reads) t.ok(reads.count() <= 1, `since-script calls MONITOR saw during the resumes: ${reads.count()}`);
  t.equal(await resumes(s.base, 'reset_window'), 1, 'counted as a window reset');
});

t.test('a container younger than the window: the store serves at most a few pages, else a reset [redis]', async (t) => {
  const { startRedis } = await import('./support/redis-server.js');
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const env = { REDIS_URL: redis.url, CANVAS_WIDTH: String(WIDTH), CANVAS_HEIGHT: String(HEIGHT), COOLDOWN_MS: '0', RESUME_WINDOW_S: '60' };
  const first = await startInProcess(env);
  const head = await placeFast(first, redis.url);
  await first.stop();
  // Its memory starts at the head: everything older is the store's, and whether it is older than the window unknown.
  const s = await startInProcess(env);
  t.teardown(() => s.stop());
  const reads = await sinceScriptCalls(redis.port);
  t.teardown(() => reads.stop());

  const whole = await listen(wsUrl(s.base, '?since=1'), { after: 1 });
  t.teardown(() => whole.close());
  await expectReset(t, whole);
  t.equal(reads.count(), 0, 'more than the page budget: a reset without a Redis call');
  t.equal(await resumes(s.base, 'reset_budget'), 1);

  const pages = 2;
  const since = head - pages * 10_000 + 5;
  const part = await listen(wsUrl(s.base, `?since=${since}`), { after: since });
  t.teardown(() => part.close());
  await part.waitForSeq(head, 10_000);
  t.equal(part.seqs.length, head - since, 'every missed placement, from the store');
  t.equal(part.gaps + part.duplicates, 0, 'no gap, no duplicate');
  t.ok(reads.count() <= pages && pages <= MAX_STORE_PAGES, `${reads.count()} Redis calls for ${head - since} placements`);
  t.equal(await resumes(s.base, 'store'), 1);
});
