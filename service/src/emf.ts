// CloudWatch Embedded Metric Format: every EMF_INTERVAL_MS a few JSON lines on stdout, which the awslogs driver
// ships and CloudWatch turns into metrics — no agent. Names and shape: docs/deploy.md ("Metrics in CloudWatch").
import { hostname } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import type { MetricValue, Registry } from 'prom-client';
import type { Logger } from './log.js';

export const EMF_NAMESPACE = 'Tessera';

/** Every metric the emitter can print, with its CloudWatch unit (the dashboard and alarms are built on these). */
export const EMF_METRICS = {
  PlacementsAccepted: 'Count',
  PlacementsRefused: 'Count',
  PlacementLatencyP50: 'Milliseconds',
  PlacementLatencyP99: 'Milliseconds',
  Watchers: 'Count',
  FrameIntervalMs: 'Milliseconds',
  FramesPerSecond: 'Count/Second',
  HistoryBacklogLength: 'Count',
  HistoryBacklogAgeSeconds: 'Seconds',
  RedisErrors: 'Count',
  EventLoopLagP99: 'Milliseconds',
} as const;
export type EmfMetricName = keyof typeof EMF_METRICS;
export const EMF_METRIC_NAMES: readonly EmfMetricName[] = Object.freeze(Object.keys(EMF_METRICS) as EmfMetricName[]);

/** Refusal reasons of tessera_rejections_total that are not placements (a socket's origin, session minting). */
const NOT_PLACEMENT = new Set(['origin', 'session_rate_limited']);

/** One le bucket of a histogram: `count` observations ≤ `le` (cumulative, like Prometheus). */
export interface Bucket {
  le: number;
  count: number;
}

/**
 * The q-quantile of the observations in cumulative buckets (le ascending, +Inf last), as Prometheus's
 * histogram_quantile computes it: linear interpolation inside the bucket holding rank q×total, from the
 * previous bound (0 for the first). Exact to within that bucket's width; a rank in +Inf gives the largest
 * finite bound. undefined when there are no observations.
 */
export function quantileFromBuckets(buckets: readonly Bucket[], q: number): number | undefined {
  const total = buckets.length ? buckets[buckets.length - 1].count : 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank && b.count > prevCount) {
      if (!Number.isFinite(b.le)) return prevLe;
      return prevLe + ((b.le - prevLe) * (rank - prevCount)) / (b.count - prevCount);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/** The cumulative values the interval metrics are deltas of, and the gauges, read at one instant. */
export interface Snapshot {
  at: number;
  accepted: number;
  refused: Map<string, number>;
  latency: Bucket[];
  frames: number;
  redisErrors: number;
  watchers: number;
  frameIntervalMs: number;
  backlog: number;
  backlogAgeS: number;
}

export interface EmfOptions {
  registry: Registry;
  intervalMs: number;
  canvasId: string;
  /** Lines go through this logger's destination, so they never interleave with its own lines. */
  log: Logger;
  taskId?: string;
}

type Line = Record<string, unknown>;

const LOOP_RESOLUTION_MS = 10;

/** Prints the EMF lines every interval; stop() prints the last, partial interval. */
export class EmfEmitter {
  private readonly loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private readonly write: (line: Line) => void;
  private timer: NodeJS.Timeout | undefined;
  private prev: Snapshot | undefined;
  // Emits run one after another: two overlapping would count the same deltas twice.
  private chain: Promise<void> = Promise.resolve();
  private taskId: string;

  constructor(private readonly opts: EmfOptions) {
    this.taskId = opts.taskId ?? hostname();
    // pino always writes a level key (an empty level formatter yields invalid JSON), so the lines skip pino's
    // formatting but share its destination: one writer keeps whole lines in order even when the pipe is full.
    const dest = (opts.log as unknown as Record<symbol, { write(s: string): unknown } | undefined>)[pino.symbols.streamSym];
    this.write = (line) => (dest ?? process.stdout).write(JSON.stringify(line) + '\n');
  }

  async start(): Promise<void> {
    if (!this.opts.taskId) this.taskId = (await ecsTaskId()) ?? this.taskId;
    this.prev = await this.snapshot();
    this.loopDelay.enable();
    this.timer = setInterval(() => void this.emit(), this.opts.intervalMs);
    this.timer.unref();
    this.opts.log.info({ intervalMs: this.opts.intervalMs, taskId: this.taskId }, 'EMF metrics on stdout');
  }

  /** Prints the lines for the time since the previous emit. */
  emit(): Promise<void> {
    this.chain = this.chain.then(() => this.emitNow());
    return this.chain;
  }

  async stop(): Promise<void> {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.emit();
    this.loopDelay.disable();
  }

  private async emitNow(): Promise<void> {
    if (!this.prev) return;
    try {
      const cur = await this.snapshot();
      // The histogram holds the time between its timer's runs, resolution included: the lag is what exceeds it.
      const lagP99Ms = this.loopDelay.count > 0 ? Math.max(0, this.loopDelay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS) : 0;
      this.loopDelay.reset();
      for (const line of emfLines(this.prev, cur, { canvas: this.opts.canvasId, taskId: this.taskId, lagP99Ms })) this.write(line);
      this.prev = cur;
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'EMF metrics not emitted');
    }
  }

  private async snapshot(): Promise<Snapshot> {
    const read = async (name: string): Promise<MetricValue<string>[]> => (await this.opts.registry.getSingleMetric(name)?.get())?.values ?? [];
    const sum = (values: MetricValue<string>[]) => values.reduce((s, v) => s + v.value, 0);
    const refused = new Map<string, number>();
    for (const v of await read('tessera_rejections_total')) {
      const reason = String(v.labels.reason);
      if (NOT_PLACEMENT.has(reason)) continue;
      // unavailable_backlog/_fenced/_store stay apart in Prometheus; the CloudWatch Reason is the API's error code.
      const key = reason.startsWith('unavailable') ? 'unavailable' : reason;
      refused.set(key, (refused.get(key) ?? 0) + v.value);
    }
    const latency = (await read('tessera_placement_seconds'))
      .filter((v) => v.labels.le !== undefined)
      .map((v) => ({ le: v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), count: v.value }))
      .sort((a, b) => a.le - b.le);
    return {
      at: Date.now(),
      accepted: sum(await read('tessera_placements_total')),
      refused,
      latency,
      frames: sum(await read('tessera_frames_published_total')),
      redisErrors: sum(await read('tessera_redis_errors_total')),
      watchers: sum(await read('tessera_ws_clients')),
      frameIntervalMs: sum(await read('tessera_frame_interval_ms')),
      // Registered only with Redis (the history extension); embedded mode has no backlog.
      backlog: sum(await read('tessera_history_backlog_entries')),
      backlogAgeS: sum(await read('tessera_history_backlog_oldest_age_seconds')),
    };
  }
}

/** The EMF lines for the interval prev → cur: the canvas line, then one per refusal reason seen. */
export function emfLines(prev: Snapshot, cur: Snapshot, ids: { canvas: string; taskId: string; lagP99Ms: number }): Line[] {
  const seconds = Math.max(0.001, (cur.at - prev.at) / 1000);
  const refusedBy = [...cur.refused].map(([reason, n]) => [reason, n - (prev.refused.get(reason) ?? 0)] as const).filter(([, n]) => n > 0);
  const frames = cur.frames - prev.frames;
  const values: Partial<Record<EmfMetricName, number>> = {
    PlacementsAccepted: cur.accepted - prev.accepted,
    PlacementsRefused: refusedBy.reduce((s, [, n]) => s + n, 0),
    Watchers: cur.watchers,
    FrameIntervalMs: cur.frameIntervalMs,
    FramesPerSecond: round((frames * cur.watchers) / seconds),
    HistoryBacklogLength: cur.backlog,
    HistoryBacklogAgeSeconds: round(cur.backlogAgeS),
    RedisErrors: cur.redisErrors - prev.redisErrors,
    EventLoopLagP99: round(ids.lagP99Ms),
  };
  // No accepted placement, no latency: left out rather than a 0 that would drag the dashboard's percentiles down.
  const delta = cur.latency.map((b, i) => ({ le: b.le, count: b.count - (prev.latency[i]?.count ?? 0) }));
  const p50 = quantileFromBuckets(delta, 0.5);
  const p99 = quantileFromBuckets(delta, 0.99);
  if (p50 !== undefined && p99 !== undefined) {
    values.PlacementLatencyP50 = round(p50 * 1000);
    values.PlacementLatencyP99 = round(p99 * 1000);
  }
  const names = EMF_METRIC_NAMES.filter((n) => values[n] !== undefined);
  const lines = [line(cur.at, [['Canvas']], names, { Canvas: ids.canvas, TaskId: ids.taskId, ...pick(values, names) })];
  for (const [reason, n] of refusedBy) {
    lines.push(line(cur.at, [['Canvas', 'Reason']], ['PlacementsRefused'], { Canvas: ids.canvas, Reason: reason, TaskId: ids.taskId, PlacementsRefused: n }));
  }
  return lines;
}

function line(at: number, dimensions: string[][], names: readonly EmfMetricName[], fields: Record<string, unknown>): Line {
  return {
    _aws: {
      Timestamp: at,
      CloudWatchMetrics: [{ Namespace: EMF_NAMESPACE, Dimensions: dimensions, Metrics: names.map((n) => ({ Name: n, Unit: EMF_METRICS[n] })) }],
    },
    ...fields,
  };
}

function pick(values: Partial<Record<EmfMetricName, number>>, names: readonly EmfMetricName[]): Record<string, number> {
  return Object.fromEntries(names.map((n) => [n, values[n]!]));
}

const round = (v: number) => Math.round(v * 1000) / 1000;

/**
 * The ECS task id (last part of the task ARN) from the task metadata endpoint; undefined outside ECS.
 * ECS_CONTAINER_METADATA_URI_V4 is set by the ECS agent, not by an operator, so it is not in config.ts.
 */
async function ecsTaskId(): Promise<string | undefined> {
  const uri = process.env.ECS_CONTAINER_METADATA_URI_V4;
  if (!uri) return undefined;
  try {
    const r = await fetch(`${uri}/task`, { signal: AbortSignal.timeout(1000) });
    const arn = ((await r.json()) as { TaskARN?: unknown }).TaskARN;
    return typeof arn === 'string' ? arn.split('/').pop() : undefined;
  } catch {
    return undefined;
  }
}
