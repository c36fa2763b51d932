import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every Prometheus metric of a container, registered once. */
export class Metrics {
  readonly registry = new Registry();
  readonly placements = new Counter({ name: 'tessera_placements_total', help: 'Placements accepted', registers: [this.registry] });
  readonly rejections = new Counter({
    name: 'tessera_rejections_total',
    help: 'Placements and requests refused, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly wsClients = new Gauge({ name: 'tessera_ws_clients', help: 'Connected WebSocket clients', registers: [this.registry] });
  readonly wsClosed = new Counter({
    name: 'tessera_ws_closed_total',
    help: 'WebSockets closed, by reason (hidden: a client whose tab is hidden hung up with 4000)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly wsDropped = new Counter({ name: 'tessera_ws_dropped_total', help: 'WebSockets closed for backpressure or abuse', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly wsResumes = new Counter({
    name: 'tessera_ws_resumes_total',
    help: 'WebSocket ?since= resumes by outcome: memory, store, reset_window (older than RESUME_WINDOW_S), reset_store, reset_budget',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly frameInterval = new Gauge({ name: 'tessera_frame_interval_ms', help: 'Current interval between update frames (adapts to the watcher count)', registers: [this.registry] });
  readonly frames = new Counter({ name: 'tessera_frames_published_total', help: 'Binary update frames published to all clients', registers: [this.registry] });
  readonly frameBytes = new Counter({ name: 'tessera_frame_bytes_total', help: 'Bytes of update frames published (once per frame, before fan-out)', registers: [this.registry] });
  readonly backfills = new Counter({ name: 'tessera_fanout_backfills_total', help: 'Gaps in the subscription filled from the stream', registers: [this.registry] });
  readonly redisLatency = new Histogram({
    name: 'tessera_redis_command_seconds',
    help: 'Latency of Redis calls made by the store',
    labelNames: ['op'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  // Fine below 100 ms, where placements answer (batch interval + one Redis call): the EMF p50/p99 interpolate within these.
  readonly placementLatency = new Histogram({
    name: 'tessera_placement_seconds',
    help: 'Accepted placements: from entering the placement path to the store’s answer (batch wait + store call)',
    buckets: [0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.06, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly redisErrors = new Counter({
    name: 'tessera_redis_errors_total',
    help: 'Placements refused because a Redis call failed or timed out (one per placement answered 503 "store unreachable")',
    labelNames: ['op'] as const,
    registers: [this.registry],
  });
  readonly limitFailOpen = new Counter({
    name: 'tessera_limit_fail_open_total',
    help: 'Actions let through unlimited because the per-network budgets (Redis) could not be asked, by budget',
    labelNames: ['budget'] as const,
    registers: [this.registry],
  });
  readonly placeBatch = new Histogram({
    name: 'tessera_place_batch_size',
    help: 'Placements grouped into one store call',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers: [this.registry],
  });
  readonly seqFenced = new Gauge({ name: 'tessera_seq_fenced', help: '1 while the seq fence stops placements: Redis went back in time and the canvas is not restored yet', registers: [this.registry] });
  readonly seqFenceTrips = new Counter({
    name: 'tessera_seq_fence_trips_total',
    help: 'Times this container stopped placing because Redis lost acknowledged writes (behind, epoch_missing, epoch_changed, history_conflict)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly seqFenceLifted = new Counter({ name: 'tessera_seq_fence_lifted_total', help: 'Times this container resumed placing under a restored canvas (new epoch)', registers: [this.registry] });
  readonly projects = new Gauge({ name: 'tessera_projects', help: 'Community projects this container tracks (visible ones)', registers: [this.registry] });
  readonly projectAlerts = new Counter({
    name: 'tessera_project_alerts_total',
    help: 'Project damage alerts by outcome: sent, gone (subscription withdrawn), failed, claimed_elsewhere (another container sends it)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly uwsNative = new Gauge({ name: 'tessera_uws_native', help: '1 when uWebSockets.js runs its native addon (the only build it ships)', registers: [this.registry] });
  readonly runtime = new Gauge({ name: 'tessera_runtime_info', help: 'The Node and uWebSockets.js versions this container runs (value 1)', labelNames: ['node', 'uws', 'native'] as const, registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
