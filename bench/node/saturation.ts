// HTTP points against one target: closed-loop saturation (wrk, or the Node generator) and paced open-loop
// rates, each with the CPU the server, Redis and the generator used over the measured window.
import { runLoad, type LoadResult } from './load/http-load.js';
import { runWrk } from './load/wrk.js';
import { cpuMeter } from './stats.js';
import { BENCH_SECRET, batchSizes, type Bench, type Target } from './targets.js';

export interface HttpPoint {
  rps: number;
  p50: number;
  p99: number;
  /** Share of one core over the measured window; others = the rest of the box's busy time (other people's runs). */
  cpu: { server: number; redis: number; generator: number; others: number };
  failed: number;
  /** Mean placements per script call (Tessera's grouping), from its /metrics. */
  batchMean?: number;
  frame?: LoadResult['frame'];
  unfinished?: number;
}

function meter(bench: Bench, target: Target) {
  let read: (() => Record<string, number>) | undefined;
  let shares: Record<string, number> = { server: NaN, redis: NaN, machine: NaN };
  return {
    start: () => (read = cpuMeter({ server: target.pid, redis: bench.redis.process.pid })),
    end: () => read && (shares = read()),
    get: () => shares,
  };
}

export async function saturate(bench: Bench, target: Target, o: { generator: 'wrk' | 'node'; connections: number; durationS: number; users: number; frameLatency?: boolean }): Promise<HttpPoint> {
  const m = meter(bench, target);
  const before = target.metrics ? batchSizes(await target.metrics()) : undefined;
  let point: HttpPoint;
  if (o.generator === 'wrk' && !o.frameLatency) {
    const r = await runWrk({ port: target.port, connections: o.connections, durationS: o.durationS, secret: BENCH_SECRET, userPrefix: 'w', users: o.users }, m);
    const c = m.get();
    point = { rps: r.rps, p50: r.latency.p50, p99: r.latency.p99, cpu: { server: c.server, redis: c.redis, generator: r.generatorCpu, others: c.machine - c.server - c.redis - r.generatorCpu }, failed: r.non2xx + r.errors };
  } else {
    const r = await runLoad({ port: target.port, connections: o.connections, durationMs: o.durationS * 1000, warmupMs: 1000, secret: BENCH_SECRET, userPrefix: 'n', users: o.users, frameLatency: o.frameLatency }, m);
    point = fromLoad(r, m.get());
  }
  if (target.metrics && before) {
    const after = batchSizes(await target.metrics());
    const calls = after.calls - before.calls;
    point.batchMean = calls > 0 ? (after.mean * after.calls - before.mean * before.calls) / calls : 0;
  }
  return point;
}

export async function paced(bench: Bench, target: Target, o: { rate: number; connections: number; durationS: number; pixels?: 'random' | 'clock'; prefix?: string }): Promise<HttpPoint> {
  const m = meter(bench, target);
  const r = await runLoad({ port: target.port, connections: o.connections, durationMs: o.durationS * 1000, warmupMs: 1000, rate: o.rate, secret: BENCH_SECRET, userPrefix: o.prefix ?? 'p', pixels: o.pixels }, m);
  return fromLoad(r, m.get());
}

function fromLoad(r: LoadResult, shares: Record<string, number>): HttpPoint {
  const failed = Object.entries(r.statuses).reduce((a, [s, n]) => a + (s === '200' ? 0 : n), 0) + r.errors;
  const others = shares.machine - shares.server - shares.redis - r.generatorCpu;
  return { rps: r.rps, p50: r.latency.p50, p99: r.latency.p99, cpu: { server: shares.server, redis: shares.redis, generator: r.generatorCpu, others }, failed, frame: r.frame, unfinished: r.unfinished };
}
