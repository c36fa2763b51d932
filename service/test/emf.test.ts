// CloudWatch EMF lines on stdout (issue 20): shape per docs/deploy.md, values checked against what the clients saw.
import t, { type Test } from 'tap';
import { loadConfig } from '../src/config.js';
import { EMF_METRIC_NAMES, EMF_METRICS, quantileFromBuckets } from '../src/emf.js';
import { startRedis } from './support/redis-server.js';
import { put, session, startChild, testEnv } from './support/service.js';
import { listen } from './support/ws-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Emf {
  _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [field: string]: any;
}

/** Splits a child's stdout into EMF lines and pino lines, failing on anything that is neither. */
function parseStdout(t: Test, stdout: string): { emf: Emf[]; pino: any[] } {
  const emf: Emf[] = [];
  const logs: any[] = [];
  for (const text of stdout.split('\n')) {
    if (text === '' || text.startsWith('Tessera is running')) continue;
    let obj: any;
    try {
      obj = JSON.parse(text);
    } catch {
      t.fail(`stdout line is not JSON: ${text.slice(0, 200)}`);
      continue;
    }
    if (obj._aws) emf.push(obj);
    else logs.push(obj);
  }
  return { emf, pino: logs };
}

/** Every declared metric is a finite number with the contract's unit; dimensions are Canvas (+ Reason). */
function checkShape(t: Test, line: Emf): void {
  const d = line._aws.CloudWatchMetrics[0];
  const dims = JSON.stringify(d.Dimensions);
  const ok =
    line._aws.CloudWatchMetrics.length === 1 &&
    d.Namespace === 'Tessera' &&
    typeof line._aws.Timestamp === 'number' &&
    (dims === '[["Canvas"]]' || (dims === '[["Canvas","Reason"]]' && typeof line.Reason === 'string' && d.Metrics.length === 1)) &&
    line.Canvas === 'main' &&
    typeof line.TaskId === 'string' &&
    line.TaskId.length > 0 &&
    d.Metrics.length > 0 &&
    d.Metrics.every((m) => (EMF_METRIC_NAMES as readonly string[]).includes(m.Name) && EMF_METRICS[m.Name as keyof typeof EMF_METRICS] === m.Unit && Number.isFinite(line[m.Name]));
  if (!ok) t.fail(`malformed EMF line: ${JSON.stringify(line)}`);
}

const isMain = (l: Emf) => l._aws.CloudWatchMetrics[0].Dimensions[0].length === 1;
const sum = (lines: Emf[], name: string) => lines.reduce((s, l) => s + (l[name] ?? 0), 0);

t.test('quantileFromBuckets: Prometheus-style interpolation inside the bucket', async (t) => {
  const b = (pairs: [number, number][]) => pairs.map(([le, count]) => ({ le, count }));
  t.equal(quantileFromBuckets([], 0.5), undefined, 'no buckets');
  t.equal(quantileFromBuckets(b([[1, 0], [Infinity, 0]]), 0.5), undefined, 'no observations');
  t.equal(quantileFromBuckets(b([[1, 0], [2, 10], [5, 10], [Infinity, 10]]), 0.5), 1.5, 'middle of (1, 2]');
  t.equal(quantileFromBuckets(b([[1, 0], [2, 10], [5, 10], [Infinity, 10]]), 0.99), 1.99);
  t.equal(quantileFromBuckets(b([[0.01, 4], [Infinity, 4]]), 0.5), 0.005, 'the first bucket starts at 0');
  t.equal(quantileFromBuckets(b([[1, 0], [Infinity, 4]]), 0.99), 1, 'a rank in +Inf is the largest finite bound');
  t.equal(quantileFromBuckets(b([[1, 5], [2, 5], [3, 10], [Infinity, 10]]), 0.5), 1, 'a rank on a bound is that bound, empty buckets skipped');

  // Precision: within the width of the bucket the true quantile falls in.
  const bounds = [1, 2, 5, 10, 15, 20, 30, 40, 50, 60, 75, 100, Infinity];
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const values = Array.from({ length: 5000 }, () => 3 + rand() * rand() * 90).sort((x, y) => x - y);
  const cum = bounds.map((le) => ({ le, count: values.filter((v) => v <= le).length }));
  for (const q of [0.5, 0.9, 0.99]) {
    const exact = values[Math.ceil(q * values.length) - 1];
    const est = quantileFromBuckets(cum, q)!;
    const i = bounds.findIndex((le) => exact <= le);
    const width = bounds[i] - (bounds[i - 1] ?? 0);
    t.ok(Math.abs(est - exact) <= width, `p${q * 100}: ${est.toFixed(2)} vs exact ${exact.toFixed(2)} (bucket width ${width})`);
  }
});

t.test('EMF_INTERVAL_MS: default 60000, 0 = off, at least 1000 otherwise', async (t) => {
  t.equal(loadConfig(testEnv({ EMF_INTERVAL_MS: undefined })).emfIntervalMs, 60_000);
  t.equal(loadConfig(testEnv({ EMF_INTERVAL_MS: '0' })).emfIntervalMs, 0);
  t.equal(loadConfig(testEnv({ EMF_INTERVAL_MS: '1000' })).emfIntervalMs, 1000);
  t.throws(() => loadConfig(testEnv({ EMF_INTERVAL_MS: '500' })), { code: 'config_invalid', message: /EMF_INTERVAL_MS must be 0 \(off\) or between 1000/ });
  t.throws(() => loadConfig(testEnv({ EMF_INTERVAL_MS: 'soon' })), { code: 'config_invalid', message: /EMF_INTERVAL_MS must be an integer/ });
});

t.test('embedded: one EMF line a second with placements, refusals, watchers and latency', async (t) => {
  const svc = await startChild({
    EMF_INTERVAL_MS: '1000',
    LOG_LEVEL: 'info',
    BATCH_INTERVAL_MS: '50',
    COOLDOWN_MS: '60000',
    RATE_LIMIT_REQUESTS_PER_MIN: '0',
    RATE_LIMIT_SESSIONS_PER_MIN: '0',
  });
  t.teardown(() => svc.stop('SIGKILL'));
  const url = svc.base.replace('http', 'ws') + '/ws';
  const watchers = [await listen(url), await listen(url)];
  const watchedFrom = Date.now();

  const accepted: { sent: number; got: number }[] = [];
  let cooldowns = 0;
  const until = Date.now() + 3500;
  let n = 0;
  const worker = async () => {
    while (Date.now() < until) {
      const i = n++;
      const { token } = await session(svc.base);
      const pixel = { x: i % 100, y: Math.floor(i / 100) % 80, color: i % 16 };
      const sent = Date.now();
      const r = await put(svc.base, token, pixel);
      if (r.status !== 200) t.fail(`placement ${i}: ${r.status} ${JSON.stringify(r.body)}`);
      accepted.push({ sent, got: Date.now() });
      const again = await put(svc.base, token, pixel);
      if (again.status === 429 && again.body.error === 'cooldown') cooldowns++;
      else t.fail(`second placement ${i}: ${again.status} ${JSON.stringify(again.body)}`);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  // A quiet interval: no placements, so no latency metrics.
  await sleep(2200);
  const watchedUntil = Date.now();
  t.equal(await svc.stop(), 0, 'clean exit');
  t.same(await Promise.all(watchers.map((w) => w.closed.then((c) => c.code))), [1001, 1001], 'watchers stayed until the drain');

  const { emf, pino } = parseStdout(t, svc.stdout());
  t.ok(pino.some((l) => l.msg === 'tessera listening' && l.level === 30 && typeof l.time === 'number'), 'pino log lines still parse');
  t.ok(pino.some((l) => l.msg === 'EMF metrics on stdout' && l.intervalMs === 1000));
  for (const line of emf) checkShape(t, line);
  const main = emf.filter(isMain);
  const reasons = emf.filter((l) => !isMain(l));
  t.ok(main.length >= 5, `${main.length} canvas lines (≈1/s for ~6 s, plus the last one at the drain)`);
  t.same(
    main.map((l) => l._aws.Timestamp),
    [...main.map((l) => l._aws.Timestamp)].sort((a, b) => a - b),
    'in time order',
  );

  t.ok(accepted.length >= 20, `${accepted.length} placements accepted`);
  t.equal(sum(main, 'PlacementsAccepted'), accepted.length, 'PlacementsAccepted sums to the 200s the clients got');
  // Per line: what was answered before the line ≤ the running total ≤ what was sent before it.
  let running = 0;
  for (const l of main) {
    running += l.PlacementsAccepted;
    const ts = l._aws.Timestamp;
    const answered = accepted.filter((a) => a.got < ts - 20).length;
    const sent = accepted.filter((a) => a.sent <= ts + 20).length;
    if (running < answered || running > sent) t.fail(`line at ${ts}: running total ${running} outside [${answered}, ${sent}]`);
  }

  t.equal(cooldowns, accepted.length);
  t.equal(sum(reasons.filter((l) => l.Reason === 'cooldown'), 'PlacementsRefused'), cooldowns, 'Reason=cooldown lines sum to the 429s');
  t.same([...new Set(reasons.map((l) => l.Reason))], ['cooldown'], 'no other refusals');
  for (const l of main) {
    const ts = l._aws.Timestamp;
    const byReason = sum(reasons.filter((r) => r._aws.Timestamp === ts), 'PlacementsRefused');
    if (l.PlacementsRefused !== byReason) t.fail(`line at ${ts}: PlacementsRefused ${l.PlacementsRefused} ≠ ${byReason} by reason`);
  }

  const watched = main.filter((l) => l._aws.Timestamp > watchedFrom + 20 && l._aws.Timestamp < watchedUntil);
  t.ok(watched.length >= 4, `${watched.length} lines while watched`);
  t.same([...new Set(watched.map((l) => l.Watchers))], [2], 'Watchers = the open sockets');
  t.same([...new Set(main.map((l) => l.FrameIntervalMs))], [50], 'FrameIntervalMs = BATCH_INTERVAL_MS');
  // At most one frame per 50 ms interval per socket (2 sockets → 40/s), with slack for timer drift.
  t.ok(main.every((l) => l.FramesPerSecond >= 0 && l.FramesPerSecond <= 2 * 20 * 1.5), 'FramesPerSecond within the frame rate');
  t.ok(watched.some((l) => l.FramesPerSecond > 0 && l.PlacementsAccepted > 0), 'frames were counted while placing');

  const busy = main.filter((l) => l.PlacementsAccepted > 0);
  const quiet = main.filter((l) => l.PlacementsAccepted === 0);
  t.ok(busy.length >= 3 && quiet.length >= 1, `${busy.length} busy and ${quiet.length} quiet lines`);
  t.ok(busy.every((l) => l.PlacementLatencyP50 > 0 && l.PlacementLatencyP99 >= l.PlacementLatencyP50 && l.PlacementLatencyP99 < 5000), 'p99 ≥ p50 > 0 (ms)');
  t.ok(quiet.every((l) => l.PlacementLatencyP50 === undefined && l.PlacementLatencyP99 === undefined), 'no latency without placements');
  t.ok(main.every((l) => l.EventLoopLagP99 >= 0 && l.EventLoopLagP99 < 1000), 'EventLoopLagP99 in ms');
  t.ok(main.every((l) => l.HistoryBacklogLength === 0 && l.HistoryBacklogAgeSeconds === 0 && l.RedisErrors === 0), 'no backlog, no Redis in embedded mode');
  t.comment(`sample line: ${JSON.stringify(busy[0])}`);
});

t.test('redis: RedisErrors counts the placements a dead Redis failed, refusals as Reason=unavailable', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const svc = await startChild({
    REDIS_URL: redis.url,
    REDIS_COMMAND_TIMEOUT_MS: '200',
    EMF_INTERVAL_MS: '1000',
    COOLDOWN_MS: '0',
    RATE_LIMIT_REQUESTS_PER_MIN: '0',
  });
  t.teardown(() => svc.stop('SIGKILL'));
  const { token } = await session(svc.base);
  let ok = 0;
  for (let i = 0; i < 5; i++) if ((await put(svc.base, token, { x: i, y: 0, color: 1 })).status === 200) ok++;
  t.equal(ok, 5);
  await redis.kill('SIGKILL');
  let unreachable = 0;
  let unavailable = 0;
  const until = Date.now() + 2000;
  for (let i = 0; Date.now() < until; i++) {
    const r = await put(svc.base, token, { x: i % 100, y: 1, color: 2 });
    if (r.status !== 503) t.fail(`placement without Redis: ${r.status}`);
    unavailable++;
    if (r.body.message === 'the canvas store is unreachable; try again') unreachable++;
  }
  await sleep(1200);
  await svc.stop('SIGTERM');
  const { emf } = parseStdout(t, svc.stdout());
  for (const line of emf) checkShape(t, line);
  const main = emf.filter(isMain);
  t.ok(unreachable > 0, `${unreachable} of ${unavailable} placements failed at Redis`);
  t.equal(sum(main, 'RedisErrors'), unreachable, 'RedisErrors = placements answered "store unreachable"');
  t.equal(sum(main, 'PlacementsAccepted'), ok);
  t.equal(sum(emf.filter((l) => l.Reason === 'unavailable'), 'PlacementsRefused'), unavailable, 'Reason=unavailable');
  t.ok(main.every((l) => typeof l.HistoryBacklogLength === 'number' && typeof l.HistoryBacklogAgeSeconds === 'number'));
});
