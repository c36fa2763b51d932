// The history's Prometheus metrics, added to the container's registry.
import { Counter, Gauge, type Registry } from 'prom-client';

export class HistoryMetrics {
  readonly streamEntries: Gauge;
  readonly backlog: Gauge;
  readonly oldestAge: Gauge;
  readonly written: Counter;
  readonly rewritten: Counter;
  readonly retries: Counter<'reason'>;
  readonly claimed: Counter;
  readonly trimmed: Counter;
  readonly conflicts: Counter;
  readonly tailRestores: Counter<'outcome'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.streamEntries = new Gauge({
      name: 'tessera_stream_entries',
      help: 'Entries in the placements stream (what HISTORY_BACKLOG_MAX bounds: the retention window plus the unwritten backlog)',
      registers,
    });
    this.backlog = new Gauge({
      name: 'tessera_history_backlog_entries',
      help: 'Placements in the stream not yet acknowledged as written to DynamoDB (all containers)',
      registers,
    });
    this.oldestAge = new Gauge({
      name: 'tessera_history_backlog_oldest_age_seconds',
      help: 'Age of the oldest placement not yet written to DynamoDB; 0 when the history is caught up',
      registers,
    });
    this.written = new Counter({ name: 'tessera_history_written_total', help: 'Placements this container wrote to DynamoDB for the first time (rate() = write rate)', registers });
    this.rewritten = new Counter({
      name: 'tessera_history_rewritten_total',
      help: 'Placements written again, identical, because they were handed out again (claimed after a lost XACK or a dead writer): not new items',
      registers,
    });
    this.retries = new Counter({
      name: 'tessera_history_retries_total',
      help: 'BatchWriteItem retries: unprocessed = items DynamoDB handed back (throttling), error = failed calls',
      labelNames: ['reason'] as const,
      registers,
    });
    this.claimed = new Counter({ name: 'tessera_history_claimed_total', help: 'Stream entries this container claimed from a consumer that went quiet (XAUTOCLAIM)', registers });
    this.trimmed = new Counter({ name: 'tessera_stream_trimmed_total', help: 'Stream entries removed by this container’s trimmer', registers });
    this.conflicts = new Counter({
      name: 'tessera_history_conflicts_total',
      help: 'History writes refused because DynamoDB already holds another placement under the same pixel and seq (a seq given out twice): the first is kept',
      registers,
    });
    this.tailRestores = new Counter({
      name: 'tessera_history_tail_restores_total',
      help: 'Automatic restores of placements Redis lost, from the history (done, declined: left to ops:rebuild)',
      labelNames: ['outcome'] as const,
      registers,
    });
  }
}
