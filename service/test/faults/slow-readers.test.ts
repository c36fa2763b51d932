// Fault: 200 WebSocket clients that never read. Once the kernel buffers between them and the server are full,
// uWS queues their frames in the container's memory up to WS_MAX_BACKPRESSURE each, then closes them
// (closeOnBackpressureLimit: skipping frames would leave a gap). The container's RSS stays within
// baseline + slow clients × WS_MAX_BACKPRESSURE, and the clients that do read see no extra delay.
//
// Volume: each placement is 4 bytes of frame, and loopback TCP absorbs ~4-5 MB per unread socket (measured:
// the server's send buffer autotunes to tcp_wmem's 4 MiB), so the frames come from the service's own
// placement script called straight on Redis (tens of thousands a second) besides the PUT load that measures
// placement → frame latency. The slow clients connect to the containers directly: through HAProxy its
// buffers and its two kernel sockets would absorb tens of MB more per client before the server saw anything.
import t from 'tap';
import { alive, sleep, startBox, until } from './support/box.js';
import { checkAgainstListeners, metricValue, readBoard, scrape } from './support/invariants.js';
import { ListenerFleet } from './support/listeners.js';
import { BulkPlacer, pct, PlacementLoad, summarize } from './support/load.js';

const SLOW = 200;
const NORMAL = 30;
const PUT_RATE = 100;
const BULK_RATE = 70_000;
const MAX_BACKPRESSURE = 256 * 1024; // the default
const PHASE_MS = 6000;

t.test('200 WebSocket clients that never read', async (t) => {
  const box = await startBox(t, {
    containers: 2,
    // The history is not what this fault is about; DynamoDB Local's JVM would only take CPU from the latency measurement.
    dynamo: false,
    env: { CANVAS_WIDTH: '1000', CANVAS_HEIGHT: '1000', WS_MAX_BACKPRESSURE: String(MAX_BACKPRESSURE) },
  });
  const initial = await readBoard(box.url);
  const fleet = new ListenerFleet({ wsUrl: box.wsUrl, httpUrl: box.url, count: NORMAL, since: initial.seq, probes: 10 });
  t.teardown(() => fleet.stop());
  await fleet.start();

  const perContainer = async () =>
    Promise.all(
      box.live().map(async (c) => {
        const text = await scrape(c.url);
        return {
          rssMb: (metricValue(text, 'process_resident_memory_bytes') ?? 0) / 2 ** 20,
          clients: metricValue(text, 'tessera_ws_clients') ?? 0,
          dropped: metricValue(text, 'tessera_ws_dropped_total') ?? 0,
        };
      }),
    );
  const rssSamples: { at: number; rssMb: number[]; clients: number[] }[] = [];
  let t0 = Date.now();
  const sampler = setInterval(() => void perContainer().then((m) => rssSamples.push({ at: Date.now() - t0, rssMb: m.map((x) => Math.round(x.rssMb)), clients: m.map((x) => x.clients) }), () => undefined), 500);
  t.teardown(() => clearInterval(sampler));

  const bulk = new BulkPlacer({ redis: box.redis, keys: box.keys, width: box.width, height: box.height, perSecond: BULK_RATE, batch: 1000, concurrency: 3 }).start();
  t.teardown(() => bulk.stop());
  const load = new PlacementLoad({ url: box.url, secret: box.secret, width: box.width, height: box.height, rate: PUT_RATE, prefix: 'slow-', seed: 55 }).start();
  t.teardown(() => load.stop());

  // Phase 1: the same load without slow readers.
  await sleep(1500);
  const baseStart = Date.now();
  await sleep(PHASE_MS);
  const baseEnd = Date.now();
  const baseRss = Math.max(...(await perContainer()).map((m) => m.rssMb));

  // Phase 2: 200 clients that never read, half on each container.
  // They join at the head (no ?since= catch-up burst): everything they hold up is live traffic.
  const joinSeq = (await readBoard(box.url)).seq;
  const slowFleets = box.live().map((c) => new ListenerFleet({ wsUrl: c.url.replace(/^http/, 'ws'), httpUrl: box.url, count: SLOW / box.live().length, since: joinSeq, paused: true, reconnect: false }));
  t.teardown(() => slowFleets.forEach((f) => f.stop()));
  await Promise.all(slowFleets.map((f) => f.start()));
  const slowAt = Date.now();
  const seqAtJoin = bulk.lastSeq;
  t0 = slowAt;
  const slowMeasureEnd = slowAt + PHASE_MS;
  const dropped = await until(
    'every slow reader to be dropped',
    async () => {
      const m = await perContainer();
      return m.reduce((n, x) => n + x.clients, 0) <= NORMAL && m.reduce((n, x) => n + x.dropped, 0) >= SLOW ? m : false;
    },
    // Frames are Rice-coded (~1.5 B per placement at this rate, was 4 B): a reader that never reads now takes
    // ~2.6× longer to fill the ~10 MB of loopback kernel buffers before uWS's own backpressure limit is reached.
    150_000,
    250,
  );
  const droppedMs = Date.now() - slowAt;
  const seqAtDrop = bulk.lastSeq;
  await sleep(Math.max(0, slowMeasureEnd - Date.now()));
  const slowEnd = Date.now();
  await sleep(1000);
  await bulk.stop();
  await load.stop();
  clearInterval(sampler);

  // Latency, placement (PUT sent) → frame at the probes, for PUTs in each phase.
  const sentIn = (from: number, to: number) => new Map(load.acked().filter((a) => a.sentAt >= from && a.sentAt < to).map((a) => [a.seq!, a.sentAt]));
  const base = fleet.latencies(sentIn(baseStart, baseEnd));
  const withSlow = fleet.latencies(sentIn(slowAt, Math.min(slowEnd, slowAt + droppedMs)));
  const lat = (xs: number[]) => ({ n: xs.length, p50: pct(xs, 0.5), p99: pct(xs, 0.99), max: xs[xs.length - 1] ?? 0 });
  const baseLat = lat(base);
  const slowLat = lat(withSlow);
  t.ok(baseLat.n > 100 && slowLat.n > 100, `latency samples: ${baseLat.n} without, ${slowLat.n} with slow readers`);
  // Tolerant (a shared 2-core host), but a reader that blocked the others would add seconds, not tens of ms.
  t.ok(slowLat.p50 <= baseLat.p50 * 2 + 50, `p50 placement → frame with slow readers ${slowLat.p50} ms vs ${baseLat.p50} ms without`);
  t.ok(slowLat.p99 <= baseLat.p99 * 2 + 150, `p99 ${slowLat.p99} ms vs ${baseLat.p99} ms`);

  const peakRss = Math.max(...rssSamples.filter((s) => s.at >= 0).flatMap((s) => s.rssMb));
  const boundMb = baseRss + ((SLOW / box.live().length) * (MAX_BACKPRESSURE + 300_000)) / 2 ** 20 + 64;
  t.ok(peakRss <= boundMb, `RSS peaked at ${peakRss} MB per container (baseline ${Math.round(baseRss)} MB; bound baseline + 100 × (WS_MAX_BACKPRESSURE + a frame) + 64 MB = ${Math.round(boundMb)} MB)`);
  const after = await perContainer();
  t.equal(after.reduce((n, x) => n + x.clients, 0), NORMAL, 'only the readers are still connected');
  t.ok(after.reduce((n, x) => n + x.dropped, 0) >= SLOW, `every slow reader was closed by the server (${JSON.stringify(dropped.value.map((x) => x.dropped))})`);

  const st = fleet.stats();
  t.equal(st.reconnects, 0, 'no reader was disconnected');
  const s = summarize(load.attempts, load.skipped);
  t.equal(s.acked, s.attempts, 'every PUT answered 200');
  const result = await checkAgainstListeners(t, { url: box.url, width: box.width, height: box.height, initial, fleet, attempts: load.attempts });
  t.equal(box.exits.length, 0, 'no unexpected exit', { exits: box.exits });
  t.comment(
    `MEASURED slow-readers ${JSON.stringify({
      bulkPlaced: bulk.placed,
      bulkErrors: bulk.errors,
      bulkRatePerS: Math.round(bulk.placed / ((slowEnd - baseStart + 2500) / 1000)),
      // what the server sent (or queued for) each slow reader until the last was dropped: ≈ kernel buffers + WS_MAX_BACKPRESSURE
      frameMbPerSlowReaderUntilAllDropped: Math.round((((seqAtDrop - seqAtJoin) * 4) / 2 ** 20) * 10) / 10,
      droppedAfterMs: droppedMs,
      baseRssMb: Math.round(baseRss),
      peakRssMb: peakRss,
      boundMb: Math.round(boundMb),
      rssSamples: rssSamples.filter((_, i) => i % 4 === 0).map((x) => [x.at, ...x.rssMb, ...x.clients]),
      latencyWithout: baseLat,
      latencyWith: slowLat,
      put: s,
      head: result.head,
      readerBytes: st.bytes,
    })}`,
  );
  const pids = [box.cluster.redis.process.pid, ...box.live().map((c) => c.pid), box.cluster.haproxy.process.pid];
  await box.stop();
  t.same(pids.filter(alive), [], 'no process left behind');
});
