// Fault: Redis goes away under load.
//   1. A clean stop (SIGTERM: AOF flushed) for 10 s: PUTs answer 503 fast — never a hang past
//      REDIS_COMMAND_TIMEOUT_MS, never a 500 — and once Redis is back the containers reconnect, resubscribe
//      and backfill by themselves; nothing acknowledged is lost, no listener misses a seq.
//   2. A SIGKILL with appendfsync everysec: the process dies, the page cache keeps the AOF: nothing is lost.
//   3. The host lost (the un-fsynced AOF tail cut): what is lost; the seq fence stops every container rather
//      than hand out acknowledged seqs again; ops:rebuild, with the service running, restores the board from
//      DynamoDB and moves the seq past every acknowledged one; the containers resume by themselves and listeners reset.
import { readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { httpStatus } from '../../../bench/cluster/ports.js';
import { alive, sleep, startBox, until, boxCheck } from './support/box.js';
import { runOps, summaryOf } from '../support/ops.js';
import { allFenced, opsEnv } from './support/fence.js';
import { checkInvariants, colorAt, foldBoard, historyCaughtUp, metricValue, readBoard, scrape } from './support/invariants.js';
import { ListenerFleet } from './support/listeners.js';
import { PlacementLoad, slackFrom, summarize, type Attempt } from './support/load.js';

const RATE = 300;
const COMMAND_TIMEOUT_MS = 1000;
// A 503 is answered at once while the connection is down; the timeout is for a connection that hangs.
// The slack (slackFrom) covers HAProxy and a busy test host.
const OUTAGE_MS = 10_000;
/** appendfsync everysec: the kernel holds up to about a second of AOF writes that are not on disk yet. */
const FSYNC_WINDOW_MS = 1000;

// AUTO_RESTORE_DELAY_MS=0: part 3 measures the operator's path (the automatic one is in service/test/fence.test.ts).
const box = await startBox(t, { containers: 2, env: { REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS), AUTO_RESTORE_DELAY_MS: '0' } });
const allAttempts: Attempt[] = [];

t.test('Redis stopped for 10 s and started again', async (t) => {
  const since = (await readBoard(box.url)).seq;
  const fleet = new ListenerFleet({ wsUrl: box.wsUrl, httpUrl: box.url, count: 200, since });
  t.teardown(() => fleet.stop());
  await fleet.start();
  const load = new PlacementLoad({ url: box.url, secret: box.secret, width: box.width, height: box.height, rate: RATE, prefix: 'rs-', seed: 33 }).start();
  t.teardown(() => load.stop());
  await sleep(3000);

  const redis = box.cluster.redis.process;
  box.expectExit('redis');
  const stopAt = Date.now();
  const slack = slackFrom(load.attempts.slice());
  await redis.kill('SIGTERM');
  // Requests sent while Redis was shutting down may still have been served; from here on it is gone.
  const goneAt = Date.now();
  // What the containers say meanwhile.
  await sleep(2500);
  const during = await Promise.all(box.live().map((c) => httpStatus(`${c.url}/readyz`, 5000)));
  t.same(during, during.map(() => 503), 'every container says not ready while Redis is away');
  await sleep(Math.max(0, stopAt + OUTAGE_MS - Date.now()));
  const backAt = Date.now();
  await redis.start();
  const redisUpMs = Date.now() - backAt;
  const readyMs = await box.waitAllReady(30_000);
  const readyAt = Date.now();
  const firstOk = await until('a PUT to succeed again', async () => load.attempts.find((a) => a.status === 200 && a.sentAt > backAt), 20_000, 50);
  await sleep(4000);
  await load.stop();
  allAttempts.push(...load.attempts);

  const s = summarize(load.attempts, load.skipped);
  const during503 = load.attempts.filter((a) => a.sentAt > goneAt && a.sentAt < backAt);
  t.ok(during503.length > OUTAGE_MS / 1000 * RATE * 0.8, `the load went on during the outage (${during503.length} PUTs)`);
  t.same(during503.filter((a) => a.status !== 503).map((a) => a.status), [], 'every PUT during the outage was answered 503');
  t.ok(s.maxFailureLatencyMs <= COMMAND_TIMEOUT_MS + slack, `no failed PUT waited longer than REDIS_COMMAND_TIMEOUT_MS + ${slack} ms (max ${s.maxFailureLatencyMs} ms; slowest answer of all ${s.latencyMs.max} ms)`);
  t.equal(load.attempts.filter((a) => a.error === 'client timeout').length, 0, 'no PUT hung until the client gave up (20 s)');
  t.same(load.attempts.filter((a) => a.status !== 200 && a.sentAt > readyAt).length, 0, 'once every container is ready again, every PUT succeeds');
  const result = await checkInvariants(t, boxCheck(box, load.attempts, fleet, since));
  const st = fleet.stats();
  t.equal(st.connected, 200, 'every listener connected');
  const backfills = (await Promise.all(box.live().map(async (c) => metricValue(await scrape(c.url), 'tessera_fanout_backfills_total') ?? 0))).reduce((a, b) => a + b, 0);
  t.equal(box.exits.length, 0, 'no unexpected exit', { exits: box.exits });
  t.comment(
    `MEASURED redis-restart ${JSON.stringify({
      load: s,
      outageMs: backAt - stopAt,
      redisShutdownMs: goneAt - stopAt,
      failed: result.failed,
      ambiguousApplied: result.ambiguousApplied.length,
      keepAliveRaces: result.keepAliveRaces,
      redisRestartMs: redisUpMs,
      firstPut200AfterRedisBackMs: firstOk.value.doneAt - backAt,
      allReadyInHaproxyAfterRedisBackMs: readyMs + redisUpMs,
      lastFailureAfterRedisBackMs: s.lastFailure - backAt,
      fanoutBackfills: backfills,
      listeners: st,
      historyCaughtUpMs: result.historyCaughtUpMs,
      head: result.head,
    })}`,
  );
  fleet.stop();
});

t.test('Redis SIGKILLed (appendfsync everysec): the process dies, the page cache does not', async (t) => {
  const since = (await readBoard(box.url)).seq;
  const fleet = new ListenerFleet({ wsUrl: box.wsUrl, httpUrl: box.url, count: 50, since });
  t.teardown(() => fleet.stop());
  await fleet.start();
  const load = new PlacementLoad({ url: box.url, secret: box.secret, width: box.width, height: box.height, rate: RATE, prefix: 'r9-', seed: 34 }).start();
  t.teardown(() => load.stop());
  await sleep(3000);
  const redis = box.cluster.redis.process;
  box.expectExit('redis');
  const killAt = Date.now();
  const slack = slackFrom(load.attempts.slice());
  await redis.kill('SIGKILL');
  await sleep(1000);
  const backAt = Date.now();
  await redis.start();
  await box.waitAllReady(30_000);
  const readyAt = Date.now();
  const readyMs = readyAt - backAt;
  await sleep(2000);
  await load.stop();
  allAttempts.push(...load.attempts);
  const s = summarize(load.attempts, load.skipped);
  t.same(load.attempts.filter((a) => a.status !== 200 && a.sentAt > readyAt).length, 0, 'once every container is ready again, every PUT succeeds');
  t.ok(s.maxFailureLatencyMs <= COMMAND_TIMEOUT_MS + slack, `no failed PUT waited longer than REDIS_COMMAND_TIMEOUT_MS + ${slack} ms (max ${s.maxFailureLatencyMs} ms; slowest answer of all ${s.latencyMs.max} ms)`);
  t.equal(load.attempts.filter((a) => a.error === 'client timeout').length, 0, 'no PUT hung until the client gave up (20 s)');
  // Redis write()s the AOF before it replies; everysec only delays the fsync. A killed process leaves its
  // writes in the kernel's page cache, so nothing acknowledged may be missing.
  const result = await checkInvariants(t, boxCheck(box, allAttempts, fleet, since));
  t.equal(box.exits.length, 0, 'no unexpected exit', { exits: box.exits });
  t.comment(
    `MEASURED redis-sigkill ${JSON.stringify({
      load: s,
      lostAcked: 0,
      ambiguousApplied: result.ambiguousApplied.length,
      keepAliveRaces: result.keepAliveRaces,
      inFlightAtKill: load.attempts.filter((a) => a.status !== 200 && a.sentAt <= killAt).length,
      allReadyInHaproxyAfterRedisBackMs: readyMs,
      redisDownMs: backAt - killAt,
      lastFailureAfterRedisBackMs: s.lastFailure - backAt,
      listeners: fleet.stats(),
    })}`,
  );
  fleet.stop();
});

t.test('Redis host lost with appendfsync everysec (un-fsynced AOF tail dropped): the seq fence, then ops:rebuild with the service running', async (t) => {
  const before = (await readBoard(box.url)).seq;
  const fleet = new ListenerFleet({ wsUrl: box.wsUrl, httpUrl: box.url, count: 50, since: before });
  t.teardown(() => fleet.stop());
  await fleet.start();
  const aof = incrAof(box.cluster.redis.dir);
  const sizes: [number, number][] = [];
  const sampler = setInterval(() => sizes.push([Date.now(), statSync(aof).size]), 20);
  t.teardown(() => clearInterval(sampler));
  // The load runs on through the loss, the fence and the recovery: what players see the whole time.
  const load = new PlacementLoad({ url: box.url, secret: box.secret, width: box.width, height: box.height, rate: RATE, prefix: 'rh-', seed: 35 }).start();
  t.teardown(() => load.stop());
  await sleep(4000);

  const redis = box.cluster.redis.process;
  box.expectExit('redis');
  const killAt = Date.now();
  await redis.kill('SIGKILL');
  clearInterval(sampler);
  // A host (or ElastiCache node) that dies takes the page cache with it: with everysec, up to the last
  // second of AOF writes was never fsynced. Cut the file back to its size one second before the kill.
  const cut = [...sizes].reverse().find(([at]) => at <= killAt - FSYNC_WINDOW_MS);
  t.ok(cut, 'the AOF size a second before the kill is known');
  truncateSync(aof, cut![1]);
  // Redis is gone: nothing more can be acknowledged until the recovery.
  const ackedBefore = load.acked();
  const maxAcked = Math.max(...ackedBefore.map((a) => a.seq!));

  const backAt = Date.now();
  await redis.start();
  await until('the check connection', async () => (await box.redis.ping()) === 'PONG', 10_000);
  const restoredSeq = Number(await box.redis.get(box.keys.seq));
  const lost = ackedBefore.filter((a) => a.seq! > restoredSeq);
  const last = (await box.redis.xrevrange(box.keys.stream, '+', '-', 'COUNT', 1)) as [string, string[]][];
  const lastPlacedAt = Number(last[0]?.[1][1].split(',')[4] ?? 0);
  t.ok(lost.length > 0 && lost.length <= RATE * 2, `${lost.length} acknowledged placements lost with the last second of the AOF`);
  const loss = { lostAcked: lost.length, lostWindowMs: killAt - lastPlacedAt, restoredSeq, maxAckedSeq: maxAcked, aofBytesDropped: sizes[sizes.length - 1][1] - cut![1] };

  // The containers reconnect, see a seq below what they saw, and stop placing: every one, for every player.
  await until('every container fenced', () => allFenced(box, 'behind'), 15_000, 50);
  const fencedAt = Date.now();
  const fence = await box.redis.hgetall(box.keys.fence);
  t.match(fence, { reason: 'behind', redisSeq: String(restoredSeq) }, 'the fence is up in Redis');
  t.ok(Number(fence.highWater) >= maxAcked, `the fence holds the containers' high-water mark (${fence.highWater} ≥ ${maxAcked})`);
  await sleep(1500);

  // The runbook: one command, the service keeps running (and writing the history).
  const rebuildAt = Date.now();
  const rebuilt = await runOps('rebuild', [], opsEnv(box));
  t.equal(rebuilt.code, 0, 'ops/rebuild exits 0', { stderr: rebuilt.stderr });
  const summary = summaryOf<{ seq: number; historySeq: number; fenceHighWater: number; streamSeq: number; redisSeq: number; skip: number; items: number; streamEntries: number }>(rebuilt);
  const floor = Math.max(summary.historySeq, summary.fenceHighWater, summary.streamSeq, summary.redisSeq);
  t.equal(summary.seq, floor + summary.skip, 'the seq moves past the history, the high-water marks and the stream, by the margin');
  t.ok(summary.seq > maxAcked, `past every acknowledged seq (${summary.seq} > ${maxAcked})`);
  const readyMs = await box.waitAllReady(20_000);
  const servingAt = Date.now();
  await until('a PUT to succeed again', async () => load.attempts.some((a) => a.status === 200 && a.sentAt > rebuildAt), 20_000, 50);
  await sleep(1500);
  await load.stop();
  allAttempts.push(...load.attempts);
  const firstOkAt = Math.min(...load.attempts.filter((a) => a.status === 200 && a.sentAt > killAt).map((a) => a.doneAt));

  const seqs = allAttempts.filter((a) => a.status === 200).map((a) => a.seq!);
  const counts = new Map<number, number>();
  for (const s of seqs) counts.set(s, (counts.get(s) ?? 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1).map(([s]) => s);
  t.same(twice, [], `no seq is acknowledged twice (${seqs.length} acknowledged, in all three parts)`);
  const stopped = load.attempts.filter((a) => a.sentAt > killAt && a.doneAt < firstOkAt);
  t.same([...new Set(stopped.map((a) => a.status))], [503], `from the kill to the first placement after the rebuild, every PUT got 503 (${stopped.length})`);
  const after = load.acked().filter((a) => a.sentAt > rebuildAt);
  t.ok(after.length > 0, 'placements carry on after the rebuild');
  t.same(after.filter((a) => a.seq! <= summary.seq).map((a) => a.seq), [], 'after the rebuild no acknowledged seq is handed out again: every new seq is past the margin');

  // The history: one placement per seq, the lost ones back where it had them, the board its fold.
  const head = Math.max(...seqs);
  const { history } = await historyCaughtUp(box.dynamo!, box.table, head, 30_000, summary.seq + 1);
  t.same(history.duplicateSeqs, [], 'no seq has two placements in the history');
  const board = await readBoard(box.url);
  const expected = foldBoard(history.all, box.width, box.height, board.seq);
  let diff = 0;
  for (let i = 0; i < box.width * box.height; i++) if (colorAt(expected, i) !== colorAt(board.bytes, i)) diff++;
  t.equal(diff, 0, `the board (seq ${board.seq}) is the fold of the history`);
  const inHistory = new Set(history.all.map((p) => `${p.seq}:${p.userId}`));
  // What the history had not written yet when Redis died is gone for good: only the last moments' placements.
  const goneForGood = ackedBefore.filter((a) => !inHistory.has(`${a.seq}:${a.userId}`));
  const unwrittenWindowMs = goneForGood.length ? killAt - Math.min(...goneForGood.map((a) => a.doneAt)) : 0;
  t.same(goneForGood.filter((a) => a.doneAt < killAt - 1000).map((a) => a.seq), [], `only the history's last moments are gone for good (${goneForGood.length} placements acknowledged in the last ${unwrittenWindowMs} ms)`);
  t.ok(goneForGood.length < lost.length / 2, 'the history restores most of what Redis lost');
  const restorable = lost.filter((a) => inHistory.has(`${a.seq}:${a.userId}`));
  const onBoard = restorable.filter((a) => colorAt(board.bytes, a.y * box.width + a.x) === a.color || history.all.some((p) => p.x === a.x && p.y === a.y && p.seq > a.seq!));
  t.equal(onBoard.length, restorable.length, `the ${restorable.length} lost placements the history had are back on the board (or overwritten by a later one)`);

  await fleet.waitCaughtUp(head, 20_000);
  const st = fleet.stats();
  t.ok(st.resets > 0, `the listeners were told to reset (${st.resets} resets), never shown a rewritten seq`);
  t.equal(st.mismatches, 0, 'no listener saw two different placements under one seq');
  t.equal(box.exits.length, 0, 'no unexpected exit', { exits: box.exits });
  const window = {
    // Placements answered 503 from the kill until the first one after the rebuild.
    placements503Ms: firstOkAt - killAt,
    redisDownMs: backAt - killAt,
    allFencedAfterRedisBackMs: fencedAt - backAt,
    rebuildMs: rebuilt.ms,
    rebuildToAllReadyInHaproxyMs: servingAt - rebuildAt,
    allReadyAfterRebuildMs: readyMs,
    firstPut200AfterRebuildMs: firstOkAt - rebuildAt,
  };
  t.comment(`MEASURED redis-host-loss ${JSON.stringify({ ...loss, ...window, goneForGood: goneForGood.length, unwrittenWindowMs, seqsAckedTwice: twice.length, rebuildSummary: summary, load: summarize(load.attempts, load.skipped), listeners: st })}`);
  fleet.stop();
});

t.test('no process left behind', async (t) => {
  const pids = [box.cluster.redis.process.pid, box.cluster.dynamo?.process.pid, ...box.live().map((c) => c.pid), box.cluster.haproxy.process.pid];
  await box.stop();
  t.same(pids.filter(alive), []);
});

/** The AOF file Redis appends to now (Redis 7 multi-part AOF: the manifest's last "type i" file). */
function incrAof(dir: string): string {
  const base = join(dir, 'appendonlydir');
  const manifest = readFileSync(join(base, 'appendonly.aof.manifest'), 'utf8');
  const incr = manifest.split('\n').filter((l) => / type i$/.test(l.trim())).pop();
  const name = incr?.split(' ')[1];
  if (!name) throw new Error(`no incr AOF in the manifest:\n${manifest}`);
  return join(base, name);
}
