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
  readonly wsDropped = new Counter({ name: 'tessera_ws_dropped_total', help: 'WebSockets closed for backpressure or abuse', labelNames: ['reason'] as const, registers: [this.registry] });
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
  readonly placeBatch = new Histogram({
    name: 'tessera_place_batch_size',
    help: 'Placements grouped into one store call',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers: [this.registry],
  });
  readonly uwsNative = new Gauge({ name: 'tessera_uws_native', help: '1 when uWebSockets.js runs its native addon (the only build it ships)', registers: [this.registry] });
  readonly runtime = new Gauge({ name: 'tessera_runtime_info', help: 'The Node and uWebSockets.js versions this container runs (value 1)', labelNames: ['node', 'uws', 'native'] as const, registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
