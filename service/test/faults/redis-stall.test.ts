// Fault: Redis stalls without closing its connections (`CLIENT PAUSE 3000 ALL`, as a blocked or overloaded
// primary would). A placement either waits for Redis and succeeds, or fails with 503 once
// REDIS_COMMAND_TIMEOUT_MS has passed — never later, never twice. A 503 after a timeout is *ambiguous*: the
// script was already queued in Redis and runs when the pause ends, so the pixel may be placed after all.
// Those are counted (every user places once, so they are found by user id), and each is applied at most once.
import { Redis } from 'ioredis';
import t from 'tap';
import { alive, sleep, startBox, boxCheck } from './support/box.js';
import { checkInvariants, readBoard } from './support/invariants.js';
import { ListenerFleet } from './support/listeners.js';
import { PlacementLoad, slackFrom, summarize } from './support/load.js';

const RATE = 300;
const RAW_RATE = 50;
const COMMAND_TIMEOUT_MS = 2000; // the default
const PAUSE_MS = 3000;

t.test('Redis paused for 3 s under load', async (t) => {
  const box = await startBox(t, { containers: 2, env: { REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS) } });
  const since = (await readBoard(box.url)).seq;
  const fleet = new ListenerFleet({ wsUrl: box.wsUrl, httpUrl: box.url, count: 200, since });
  t.teardown(() => fleet.stop());
  await fleet.start();
  const load = new PlacementLoad({ url: box.url, secret: box.secret, width: box.width, height: box.height, rate: RATE, prefix: 'stall-', seed: 66 }).start();
  t.teardown(() => load.stop());
  // Straight to one container, one connection per request, held 4 s after its answer: a second answer shows.
  const raw = new PlacementLoad({ url: box.cluster.containers[0].url, secret: box.secret, width: box.width, height: box.height, rate: RAW_RATE, prefix: 'stallraw-', seed: 67, raw: { holdMs: 4000 } }).start();
  t.teardown(() => raw.stop());
  await sleep(3000);

  const pauser = new Redis(box.cluster.redis.url, { lazyConnect: true });
  t.teardown(() => pauser.disconnect());
  await pauser.connect();
  const slack = slackFrom([...load.attempts, ...raw.attempts]);
  const pauseAt = Date.now();
  t.equal(await pauser.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL'), 'OK', 'Redis paused');
  pauser.disconnect();
  await sleep(PAUSE_MS + 4000);
  await Promise.all([load.stop(), raw.stop()]);
  const endAt = pauseAt + PAUSE_MS;

  const attempts = [...load.attempts, ...raw.attempts];
  const s = summarize(attempts);
  // Affected: every request still unanswered when the pause began and sent before it ended (on a busy host a
  // request sent a little earlier may still be queued when Redis stops answering).
  const inPause = attempts.filter((a) => a.doneAt >= pauseAt && a.sentAt < endAt);
  const waited = inPause.filter((a) => a.status === 200);
  const timedOut = inPause.filter((a) => a.status === 503);
  t.ok(inPause.length > (PAUSE_MS / 1000) * (RATE + RAW_RATE) * 0.8, `${inPause.length} placements were outstanding during the pause`);
  t.ok(timedOut.length > 0, `some waited past the timeout and got 503 (${timedOut.length})`);
  t.ok(waited.length > 0, `the ones sent late in the pause waited and succeeded (${waited.length})`);
  // A 503 comes when the timeout fires, not later; a slow 200 was answered by Redis within the timeout and only
  // queued on a busy host. No request may be left without an answer (the client gives up after 20 s).
  t.ok(s.maxFailureLatencyMs <= COMMAND_TIMEOUT_MS + slack, `no 503 later than REDIS_COMMAND_TIMEOUT_MS + ${slack} ms (max ${s.maxFailureLatencyMs} ms; slowest answer of all ${s.latencyMs.max} ms)`);
  t.equal(attempts.filter((a) => a.error === 'client timeout').length, 0, 'no request hung until the client gave up (20 s)');
  t.ok(Math.min(...timedOut.map((a) => a.doneAt - a.sentAt)) >= COMMAND_TIMEOUT_MS - 100, 'a 503 comes only after the timeout (no give-up before it)');
  t.equal(raw.attempts.filter((a) => a.responses !== 1).length, 0, `each of ${raw.attempts.length} direct requests got exactly one response`, {
    odd: raw.attempts.filter((a) => a.responses !== 1).slice(0, 5),
  });

  const result = await checkInvariants(t, { ...boxCheck(box, attempts, fleet, since), historyWrittenBy: box.cluster.containers.map((c) => c.url) });
  // A timed-out placement is not lost and not doubled; whether it was applied is what the 503 cannot say.
  const ambiguous = result.ambiguousApplied;
  t.ok(ambiguous.every((a) => a.status === 503 && inPause.includes(a)), 'only placements answered 503 because of the pause were applied anyway');
  t.equal(box.exits.length, 0, 'no unexpected exit', { exits: box.exits });
  const lat = (xs: typeof attempts) => xs.map((a) => a.doneAt - a.sentAt).sort((a, b) => a - b);
  t.comment(
    `MEASURED redis-stall ${JSON.stringify({
      load: s,
      outstandingDuringPause: inPause.length,
      waitedAndSucceeded: waited.length,
      waitedMaxMs: Math.max(0, ...lat(waited)),
      timedOut503: timedOut.length,
      timedOutLatencyMs: [Math.min(...lat(timedOut)), Math.max(...lat(timedOut))],
      all503: attempts.filter((a) => a.status === 503).length,
      ambiguousApplied: ambiguous.length,
      keepAliveRaces: result.keepAliveRaces,
      answered503NotApplied: attempts.filter((a) => a.status === 503).length - ambiguous.length,
      directRequests: raw.attempts.length,
      listeners: fleet.stats(),
      historyCaughtUpMs: result.historyCaughtUpMs,
      head: result.head,
    })}`,
  );

  const pids = [box.cluster.redis.process.pid, box.cluster.dynamo?.process.pid, ...box.live().map((c) => c.pid), box.cluster.haproxy.process.pid];
  await box.stop();
  t.same(pids.filter(alive), [], 'no process left behind');
});
