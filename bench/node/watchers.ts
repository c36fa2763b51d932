// The watchers phase (issue 15, part 1): how many WebSocket watchers one server holds on ONE core while
// 1,000 placements/s arrive. The server under test is pinned to core 0; Redis, the placement driver (this
// process) and the C listeners share core 1. Each step runs Tessera, then the bare uWS fan-out server
// (BARE_MODE=lua,fanout: it takes the same PUTs), with the same listeners and the same driver.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../cluster/ports.js';
import { affinity, cannotPin, pin, setAffinity } from './affinity.js';
import { addressesFor, CListenerPool, PER_PROCESS } from './load/c-listener.js';
import { PlacementDriver } from './load/placement-driver.js';
import { wallNow } from './load/requests.js';
import { cpuMeter, rssKiB } from './stats.js';
import { BENCH_SECRET, type Bench, type Target } from './targets.js';
import { frameIntervalFrom, frameLatency, watchersRow, type WatchersPoint } from './watchers-report.js';

export const DEFAULT_WATCHERS = [1000, 5000, 10_000, 18_000];
const RATE = 1000;
const SAMPLE = 10;
const SERVER_CORE = '0';
const LOAD_CORE = '1';

export interface WatchersOptions {
  steps: number[];
  settleS: number;
  measureS: number;
  /** Called before the listeners open (the bench's wait for a quiet box). */
  quiet: () => Promise<void>;
  log: (line: string) => void;
}

/** Tessera as the benchmark runs it: no per-address limits (every listener is on 127.0.0.x); the frame budget and interval cap passed on. */
function tesseraEnv(): Record<string, string> {
  const env: Record<string, string> = { RATE_LIMIT_REQUESTS_PER_MIN: '0', RATE_LIMIT_SESSIONS_PER_MIN: '0', WS_MAX_PER_NETWORK: '0' };
  for (const k of ['FANOUT_FRAME_BUDGET', 'FRAME_INTERVAL_MAX_MS']) if (process.env[k]) env[k] = process.env[k]!;
  return env;
}

async function scrapeFrameInterval(t: Target): Promise<number | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${t.port}/metrics`, { signal: AbortSignal.timeout(3000) });
    return frameIntervalFrom(await r.text());
  } catch {
    return null;
  }
}

export async function watchersPhase(bench: Bench, o: WatchersOptions): Promise<WatchersPoint[]> {
  const why = cannotPin();
  if (why) o.log(`  (watchers: cannot pin to cores — ${why}; measuring unpinned)`);
  const redisPid = bench.redis.process.pid!;
  const restore = why ? [] : [process.pid, redisPid].map((pid) => [pid, affinity(pid)] as const);
  const points: WatchersPoint[] = [];
  try {
    if (!why) for (const pid of [process.pid, redisPid]) pin(pid, LOAD_CORE);
    let srcBase = 2;
    const maxStep = Math.max(...o.steps);
    for (const n of o.steps) {
      for (const kind of ['tessera', 'bare'] as const) {
        const p = await watchersPoint(bench, kind, n, { ...o, pinned: !why, srcBase });
        // Fresh source addresses for the next point: the last one's sockets may linger in TIME_WAIT.
        srcBase += addressesFor(n);
        if (srcBase + addressesFor(maxStep) > 254) srcBase = 2;
        points.push(p);
        o.log(`  watchers ${watchersRow(p).join(' | ')}`);
      }
    }
  } finally {
    for (const [pid, mask] of restore) {
      try {
        setAffinity(pid, mask);
      } catch {
        /* redis may be gone already */
      }
    }
  }
  return points;
}

/** One server at n watchers; every wait is bounded, so a saturated server still yields a (partial) point. */
async function watchersPoint(bench: Bench, kind: 'tessera' | 'bare', n: number, o: WatchersOptions & { pinned: boolean; srcBase: number }): Promise<WatchersPoint> {
  const point: WatchersPoint = {
    server: kind, watchers: n, connected: 0, failedToOpen: 0, closed: 0, windowS: 0, placementsPerS: 0, putP99: NaN, driverBacklog: 0, p50: NaN, p99: NaN,
    latencyPairs: 0, sampleDelivered: 0, framesPerS: 0, textsPerS: 0, bytesPerSPerWatcher: 0, bytesPerEntry: NaN,
    cpu: { server: NaN, redis: NaN, driver: NaN, listeners: NaN, others: NaN }, serverRssMiB: NaN, gapFree: 0, gaps: 0, dups: 0, missing: 0, frameIntervalMs: null, pinned: o.pinned,
  };
  const files = Array.from({ length: Math.ceil(n / PER_PROCESS) }, (_, i) => join(bench.dir, `watchers-${kind}-${n}-${i}.rec`));
  await bench.flush();
  let target: Target | undefined;
  let pool: CListenerPool | undefined;
  let driver: PlacementDriver | undefined;
  try {
    target = kind === 'tessera' ? await bench.tessera(tesseraEnv()) : await bench.bare('lua,fanout');
    if (o.pinned) pin(target.pid, SERVER_CORE);
    await o.quiet();
    const opened = await CListenerPool.open({ port: target.port, count: n, srcBase: o.srcBase, sample: SAMPLE, records: (i) => files[i], cpu: o.pinned ? Number(LOAD_CORE) : undefined, openTimeoutMs: 30_000 + n * 2 });
    pool = opened.pool;
    point.failedToOpen = opened.failed;
    if (opened.failed) o.log(`  (${kind}: ${opened.failed} of ${n} watchers failed to open: ${opened.error})`);
    const sampled = pool.listeners.reduce((a, l) => a + Math.ceil(l.o.count / SAMPLE), 0);
    driver = new PlacementDriver({ port: target.port, rate: RATE, connections: 64, secret: BENCH_SECRET, userPrefix: `w${kind}${n}-` });
    await driver.start();
    await sleep(o.settleS * 1000);

    const m0 = await pool.mark();
    const w0 = wallNow();
    const pids: Record<string, number | undefined> = { server: target.pid, redis: bench.redis.process.pid, driver: process.pid };
    pool.pids.forEach((pid, i) => (pids[`listeners${i}`] = pid));
    const meter = cpuMeter(pids);
    await sleep(o.measureS * 1000);
    const w1 = wallNow();
    const cpu = meter();
    const m1 = await pool.mark();
    point.serverRssMiB = rssKiB(target.pid) / 1024;
    point.driverBacklog = driver.backlog();
    if (kind === 'tessera') point.frameIntervalMs = await scrapeFrameInterval(target);
    await driver.stop(2000);
    // The frames of the window's last placements (a server that has fallen behind gets no more than this).
    await sleep(2000);
    const sum = await pool.summary();

    const windowS = Number(m1.ns - m0.ns) / 1e9;
    const listeners = Object.entries(cpu).filter(([k]) => k.startsWith('listeners')).reduce((a, [, v]) => a + v, 0);
    const put = driver.window(w0, w1);
    const lat = frameLatency(files, driver.placedAt, w0, w1);
    Object.assign(point, {
      connected: sum.open,
      closed: sum.closed,
      windowS,
      placementsPerS: put.rate,
      putP99: put.put.p99,
      p50: lat.p50,
      p99: lat.p99,
      latencyPairs: lat.pairs,
      sampleDelivered: lat.seqs ? lat.pairs / (lat.seqs * sampled) : 0,
      framesPerS: (m1.frames - m0.frames) / windowS,
      textsPerS: (m1.texts - m0.texts) / windowS,
      bytesPerSPerWatcher: (m1.bytes - m0.bytes) / windowS / Math.max(1, sum.open),
      bytesPerEntry: (m1.bytes - m0.bytes) / Math.max(1, m1.entries - m0.entries),
      cpu: { server: cpu.server, redis: cpu.redis, driver: cpu.driver, listeners, others: cpu.machine - cpu.server - cpu.redis - cpu.driver - listeners },
      gapFree: sum.gapFree,
      gaps: sum.gaps,
      dups: sum.dups,
      missing: sum.missing,
    });
  } catch (err) {
    point.error = (err as Error).message.split('\n')[0];
  } finally {
    await driver?.stop(0);
    await pool?.stop();
    await target?.stop();
    for (const f of files) rmSync(f, { force: true });
  }
  return point;
}
