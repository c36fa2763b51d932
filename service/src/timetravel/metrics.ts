// Time travel's Prometheus metrics, added to the container's registry.
import { Counter, Histogram, type Registry } from 'prom-client';

export class TimetravelMetrics {
  readonly written: Counter;
  readonly writeSeconds: Histogram;
  readonly skipped: Counter<'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.written = new Counter({ name: 'tessera_keyframes_written_total', help: 'Keyframes this container wrote', registers });
    this.writeSeconds = new Histogram({
      name: 'tessera_keyframe_write_seconds',
      help: 'Time to write one keyframe (board read, range read, compression, storage)',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.skipped = new Counter({
      name: 'tessera_keyframes_skipped_total',
      help: 'Keyframe ticks that wrote nothing though one was due, by reason (lock held elsewhere, history behind, error)',
      labelNames: ['reason'] as const,
      registers,
    });
  }
}
