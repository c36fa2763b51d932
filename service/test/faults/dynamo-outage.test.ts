// Fault: DynamoDB is gone for 30 s under the box's load. Placements do not depend on it: every PUT still
// answers 200. The unwritten backlog grows in the Redis stream (and in /metrics), and once DynamoDB is back
// the writers drain it: every placement ends up in the history exactly once.
//
// The outage is a proxy in front of an in-memory DynamoDB Local going down (every connection reset, then
// refused) and coming back on the same port: what the containers see of a stopped DynamoDB, while the data
// written before survives. (DynamoDB Local kept on disk survives a real restart, but writes ~300 items/s
// through SQLite on this host: it could not drain a backlog under a 300/s load.)
import t from 'tap';
import { startDynamo } from '../support/dynamo.js';
import { startTcpProxy } from './support/tcp-proxy.js';
import { alive, sleep, startBox, until, boxCheck } from './support/box.js';
import { checkInvariants, metricValue, readBoard, scrape } from './support/invariants.js';
import { ListenerFleet } from './support/listeners.js';
import { PlacementLoad, summarize } from './support/load.js';

const RATE = 300;
const OUTAGE_MS = 30_000;

t.test('DynamoDB stopped for 30 s under load', async (t) => {
  const dynamo = await startDynamo();
  t.teardown(() => dynamo.stop());
  const proxy = await startTcpProxy(dynamo.port);
  t.teardown(() => proxy.close());
  const box = await startBox(t, { containers: 2, dynamoEndpoint: proxy.endpoint, dynamoCheckEndpoint: dynamo.endpoint });
  const since = (await readBoard(box.url)).seq;
  const fleet = new ListenerFleet({ wsUrl: box.wsUrl, httpUrl: box.url, count: 200, since });
  t.teardown(() => fleet.stop());
  await fleet.start();
  const load = new PlacementLoad({ url: box.url, secret: box.secret, width: box.width, height: box.height, rate: RATE, prefix: 'dyn-', seed: 44 }).start();
  t.teardown(() => load.stop());
  await sleep(3000);

  // Each writer keeps at most HISTORY_WRITE_CONCURRENCY (8) × 25 entries read and unacknowledged
  // (docs/history.md): the rest of a backlog waits in the stream, undelivered. Watch every consumer's pending list.
  let maxPending = 0;
  let maxPendingAt = 0;
  const pendingWatch = setInterval(() => {
    void (box.redis.xpending(box.keys.stream, 'history') as Promise<[number, string, string, [string, string][] | null]>).then(([, , , consumers]) => {
      for (const [, n] of consumers ?? []) {
        if (Number(n) > maxPending) {
          maxPending = Number(n);
          maxPendingAt = Date.now();
        }
      }
    }, () => undefined);
  }, 100);
  t.teardown(() => clearInterval(pendingWatch));
  const backlog = async () => Math.max(0, ...(await Promise.all(box.live().map(async (c) => metricValue(await scrape(c.url), 'tessera_history_backlog_entries') ?? 0))));
  const samples: [number, number][] = [];
  const outageAt = Date.now();
  await proxy.down();
  const sampler = setInterval(() => void backlog().then((b) => samples.push([Date.now() - outageAt, b]), () => undefined), 1000);
  t.teardown(() => clearInterval(sampler));
  // Five seconds in, a third writer (a container that crashes right after) reads 100 entries and dies
  // holding them: after the outage the two live writers must claim and write those too.
  await sleep(5000);
  const crashed = (await box.redis.xreadgroup('GROUP', 'history', 'crashed-container', 'COUNT', 100, 'STREAMS', box.keys.stream, '>')) as [string, [string, string[]][]][] | null;
  const crashedHeld = crashed?.[0]?.[1].length ?? 0;
  t.equal(crashedHeld, 100, 'a crashed writer holds 100 unacknowledged entries');
  await sleep(OUTAGE_MS - 10_000);
  const midBacklog = await backlog();
  t.ok(midBacklog > (OUTAGE_MS / 1000 - 10) * RATE, `the backlog grows while DynamoDB is away (${midBacklog} entries after ${Date.now() - outageAt} ms)`);
  const texts = await Promise.all(box.live().map((c) => scrape(c.url)));
  const retries = texts.reduce((n, x) => n + (metricValue(x, 'tessera_history_retries_total') ?? 0), 0);
  const age = Math.max(...texts.map((x) => metricValue(x, 'tessera_history_backlog_oldest_age_seconds') ?? 0));
  t.ok(retries > 0, `the writers keep retrying (${retries} retries)`);
  t.ok(age > 15, `the oldest unwritten entry's age shows (${age} s)`);
  await sleep(Math.max(0, outageAt + OUTAGE_MS - Date.now()));

  const restartAt = Date.now();
  await proxy.up();
  // The load goes on for 10 s after DynamoDB is back (the drain competes with it), then stops so that the
  // test stays bounded on a slow host; the drain is timed either way.
  const drainedUnderLoad = await until('the backlog to drain', async () => (await backlog()) < RATE, 10_000, 250).then(
    (r) => r.ms,
    () => undefined,
  );
  await load.stop();
  const backlogAtLoadStop = await backlog();
  await until('the backlog to drain', async () => (await backlog()) < RATE, 45_000, 250);
  const drainMs = Date.now() - restartAt;
  await until('the crashed writer\'s entries to be claimed', async () => {
    const [, , , consumers] = (await box.redis.xpending(box.keys.stream, 'history')) as [number, string, string, [string, string][] | null];
    return !(consumers ?? []).some(([name]) => name === 'crashed-container');
  }, 20_000, 250);
  clearInterval(sampler);
  clearInterval(pendingWatch);
  const peak = Math.max(...samples.map(([, b]) => b));
  t.ok(maxPending <= 2 * 8 * 25, `no writer held more than 2 × 8 × 25 entries unacknowledged (max ${maxPending}, ${maxPendingAt - restartAt} ms from DynamoDB's return)`);

  const s = summarize(load.attempts, load.skipped);
  t.equal(s.acked, s.attempts, `every one of ${s.attempts} PUTs answered 200, during the outage too`, { byStatus: s.byStatus });
  const result = await checkInvariants(t, { ...boxCheck(box, load.attempts, fleet, since), historyWrittenBy: box.cluster.containers.map((c) => c.url) });
  t.equal(box.exits.length, 0, 'no unexpected exit', { exits: box.exits });
  t.comment(
    `MEASURED dynamo-outage ${JSON.stringify({
      load: s,
      outageMs: restartAt - outageAt,
      peakBacklog: peak,
      backlogSamples: samples.filter((_, i) => i % 5 === 0),
      drainedBelowOneSecondOfLoadMs: drainMs,
      drainedWhileLoadStillRan: drainedUnderLoad !== undefined,
      backlogWhenLoadStopped10sAfterRestart: backlogAtLoadStop,
      historyCaughtUpMs: result.historyCaughtUpMs,
      retries,
      maxPendingPerWriter: maxPending,
      head: result.head,
    })}`,
  );

  const pids = [box.cluster.redis.process.pid, dynamo.pid(), ...box.live().map((c) => c.pid), box.cluster.haproxy.process.pid];
  await box.stop();
  await proxy.close();
  await dynamo.stop();
  t.same(pids.filter(alive), [], 'no process left behind');
});
