// Fault: a rolling deploy under load. Each old container in turn is replaced the way ECS does it with
// minimumHealthyPercent 100: the new task starts and becomes healthy in HAProxy first, then the old one gets
// SIGTERM and drains (readyz 503 → SHUTDOWN_DELAY_MS → stop listening → finish in-flight → close sockets
// 1001). Not one PUT may fail at the load balancer; every listener resumes with ?since= without a gap.
import t from 'tap';
import { alive, sleep, startBox, boxCheck } from './support/box.js';
import { checkInvariants, readBoard } from './support/invariants.js';
import { ListenerFleet } from './support/listeners.js';
import { PlacementLoad, summarize } from './support/load.js';

const RATE = 300;
const LISTENERS = 200;
// HAProxy checks /readyz every 1 s and needs 2 failures: it stops routing to a draining container at most
// ~2 s after SIGTERM (plus a check's own time). The drain delay must outlast that, with a margin for a busy host.
const SHUTDOWN_DELAY_MS = 3000;

t.test('rolling deploy: every container replaced in turn under load', async (t) => {
  const box = await startBox(t, { containers: 2, env: { SHUTDOWN_DELAY_MS: String(SHUTDOWN_DELAY_MS) } });
  const since = (await readBoard(box.url)).seq;
  const fleet = new ListenerFleet({ wsUrl: box.wsUrl, httpUrl: box.url, count: LISTENERS, since });
  t.teardown(() => fleet.stop());
  await fleet.start();
  const load = new PlacementLoad({ url: box.url, secret: box.secret, width: box.width, height: box.height, rate: RATE, prefix: 'roll-', seed: 22 }).start();
  const load0 = Date.now();
  t.teardown(() => load.stop());
  await sleep(3000);

  const steps: Record<string, number | string>[] = [];
  for (const old of box.cluster.containers) {
    const name = `c${old.index}`;
    const startAt = Date.now();
    const added = await box.addContainer();
    const upMs = Date.now() - startAt;
    // Sample HAProxy's view of the old server while it drains.
    let downAt = 0;
    const watch = setInterval(() => {
      void box.servers().then((m) => {
        if (!downAt && m.get(name)?.startsWith('DOWN')) downAt = Date.now();
      }, () => undefined);
    }, 50);
    box.expectExit(`container-${old.index}`);
    const termAt = Date.now();
    await old.kill('SIGTERM');
    const exitMs = Date.now() - termAt;
    clearInterval(watch);
    await box.cluster.haproxy.command(`disable server tessera/${name}`);
    const step = { replaced: name, by: added.name, newUpInHaproxyMs: upMs, haproxyDownAfterSigtermMs: downAt ? downAt - termAt : 'never', exitAfterSigtermMs: exitMs };
    steps.push(step);
    t.ok(downAt > 0 && downAt - termAt < SHUTDOWN_DELAY_MS, `HAProxy stopped routing to ${name} before it stopped listening`, { ...step });
    Object.assign(step, { t0: startAt - load0, term: termAt - load0 });
  }
  await box.waitAllReady(10_000);
  await sleep(3000);
  await load.stop();

  const s = summarize(load.attempts, load.skipped);
  t.equal(s.acked, s.attempts, `every one of ${s.attempts} PUTs answered 200`, { byStatus: s.byStatus });
  const result = await checkInvariants(t, boxCheck(box, load.attempts, fleet, since));
  const st = fleet.stats();
  t.ok(st.reconnected >= LISTENERS * 0.9, `${st.reconnected} listeners were moved off an old container`);
  t.same(Object.keys(st.closeCodes), ['1001'], 'they were told "going away"', { closeCodes: st.closeCodes });
  t.equal(box.exits.length, 0, 'no unexpected exit', { exits: box.exits });
  // [ms since the load started, latency] of the slowest PUTs, to set against the steps' times.
  const slowest = [...load.attempts].sort((a, b) => b.doneAt - b.sentAt - (a.doneAt - a.sentAt)).slice(0, 10);
  t.comment(`slowest PUTs: ${JSON.stringify(slowest.map((a) => [a.sentAt - load0, a.doneAt - a.sentAt]))}`);
  t.comment(`MEASURED rolling-deploy ${JSON.stringify({ load: s, steps, listeners: st, historyCaughtUpMs: result.historyCaughtUpMs, listenersCaughtUpMs: result.listenersCaughtUpMs, head: result.head })}`);

  const pids = [box.cluster.redis.process.pid, box.cluster.dynamo?.process.pid, ...box.live().map((c) => c.pid), box.cluster.haproxy.process.pid];
  await box.stop();
  t.same(pids.filter(alive), [], 'no process left behind');
});
