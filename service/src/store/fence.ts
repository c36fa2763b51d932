// The seq fence: a seq is never handed out twice, even when Redis loses acknowledged writes (host loss with
// `appendfsync everysec`, a failover to a lagging replica, a node that comes back empty). Each container knows
//   - the canvas epoch, a random id in {tessera:<canvas>}:epoch, written when the canvas is created or restored;
//   - its high-water mark, the highest seq it has seen: its own placements' replies and every published run
//     (every container subscribes to all placements, so each one knows nearly every acknowledged seq).
// A Redis without that epoch, with another one, or with a seq below the high-water mark went back in time. The
// container then raises the fence, a hash in Redis that place.lua checks, so every container, a new one too,
// answers placements 503 and /readyz 503 rather than hand out seqs already acknowledged to other players.
// A recovery (ops:rebuild, or history/tail-restore.ts) moves the seq past every seq that may have been
// acknowledged and writes a new epoch; containers adopt it by themselves and tell their listeners to reset.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

const CHECK_LUA = readFileSync(new URL('./fence-check.lua', import.meta.url), 'utf8');
const TRIP_LUA = readFileSync(new URL('./fence-trip.lua', import.meta.url), 'utf8');

/** Why placements stopped: the seq went back, the epoch vanished or changed, or the history found a seq reused. */
export type FenceReason = 'behind' | 'epoch_missing' | 'epoch_changed' | 'history_conflict';

export interface FenceKeys {
  epoch: string;
  seq: string;
  fence: string;
}

/** What Redis holds, as fence-check.lua reads it. */
export interface CanvasMarks {
  epoch: string;
  seq: number;
  /** the fence's reason, '' when it is down */
  fence: string;
}

export type Verdict =
  | { kind: 'ok'; adopt?: string }
  | { kind: 'trip'; reason: FenceReason | string }
  /** Already stopped; `reraise` when the fence hash is gone while the canvas is still the one that went back. */
  | { kind: 'stopped'; reraise: boolean }
  /** A new epoch at or past everything this container has seen and no fence: the canvas was restored. */
  | { kind: 'restored'; epoch: string };

/**
 * The decision, apart from Redis. `highWater` must be the mark as it was when the read was sent: a run published
 * after the read executed may arrive before its reply. Only a new epoch, at or past the high-water mark and with
 * the fence down, lifts a stop: that is what a recovery writes.
 */
export function judge(known: string | undefined, stopped: boolean, highWater: number, r: CanvasMarks): Verdict {
  if (r.fence) return stopped ? { kind: 'stopped', reraise: false } : { kind: 'trip', reason: r.fence };
  if (!r.epoch) return stopped ? { kind: 'stopped', reraise: true } : { kind: 'trip', reason: 'epoch_missing' };
  if (r.epoch === known) {
    if (stopped) return { kind: 'stopped', reraise: true };
    return r.seq < highWater ? { kind: 'trip', reason: 'behind' } : { kind: 'ok' };
  }
  // An epoch this container has not placed under: the first one it sees, or a restored canvas.
  if (r.seq < highWater) return stopped ? { kind: 'stopped', reraise: true } : { kind: 'trip', reason: known === undefined ? 'behind' : 'epoch_changed' };
  if (known === undefined && !stopped) return { kind: 'ok', adopt: r.epoch };
  return { kind: 'restored', epoch: r.epoch };
}

export interface FenceStatus {
  reason: string;
  /** epoch ms this container stopped placing */
  since: number;
  /** the seq Redis had then, and the highest this container had seen */
  redisSeq: number;
  highWater: number;
}

export interface SeqFenceOptions {
  redis: Redis;
  keys: FenceKeys;
  /** names this container in the fence hash and logs */
  id: string;
  log: Logger;
  metrics: Metrics;
  /** how often Redis is looked at besides every reconnect and every refusal (also how soon a recovery is seen) */
  checkIntervalMs?: number;
}

type FenceCommands = {
  tesseraFenceCheck(epoch: string, seq: string, fence: string, known: string, fresh: string): Promise<[string, string, string, string, number]>;
  tesseraFenceTrip(fence: string, reason: string, highWater: number, by: string, at: number, epoch: string, redisSeq: number): Promise<number>;
};

const WHY: Record<string, string> = {
  behind: 'Redis came back with a seq below one this container saw: it lost acknowledged placements',
  epoch_missing: 'the canvas epoch is gone: Redis lost its data',
  epoch_changed: 'another canvas epoch, below this container\'s high-water mark',
  history_conflict: 'DynamoDB holds another placement under a seq being written: a seq was given out twice',
  rebuild: 'ops:rebuild is restoring the canvas',
};

export const newEpoch = (): string => `${Date.now().toString(36)}-${randomBytes(8).toString('hex')}`;

export class SeqFence {
  private epoch: string | undefined;
  private highWater = 0;
  private stopped: FenceStatus | undefined;
  private checking: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly redis: Redis & FenceCommands;
  private readonly restoredListeners: (() => void)[] = [];
  private readonly trippedListeners: (() => void)[] = [];

  constructor(private readonly opts: SeqFenceOptions) {
    this.redis = opts.redis as Redis & FenceCommands;
    this.redis.defineCommand('tesseraFenceCheck', { lua: CHECK_LUA, numberOfKeys: 3 });
    this.redis.defineCommand('tesseraFenceTrip', { lua: TRIP_LUA, numberOfKeys: 1 });
    opts.metrics.seqFenced.set(0);
  }

  /** A seq this container saw acknowledged or published. */
  observe(seq: number): void {
    if (seq > this.highWater) this.highWater = seq;
  }

  /** What place.lua must be told, or undefined while this container may not place (no epoch yet, or stopped). */
  get placing(): { epoch: string; minSeq: number } | undefined {
    return this.epoch !== undefined && !this.stopped ? { epoch: this.epoch, minSeq: this.highWater } : undefined;
  }

  get status(): FenceStatus | undefined {
    return this.stopped;
  }

  get ok(): boolean {
    return this.placing !== undefined;
  }

  /** Called once the canvas was restored under a new epoch (the seq jumped: everything published before is void). */
  onRestored(fn: () => void): void {
    this.restoredListeners.push(fn);
  }

  /** Called each time this container stops placing. */
  onTripped(fn: () => void): void {
    this.trippedListeners.push(fn);
  }

  start(): void {
    const loop = () => {
      if (this.closed) return;
      this.timer = setTimeout(() => void this.check().finally(loop), this.opts.checkIntervalMs ?? 1000);
      this.timer.unref();
    };
    loop();
  }

  stop(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  /** One look at Redis (concurrent callers share it). Redis being unreachable is not a verdict: nothing changes. */
  check(): Promise<void> {
    return (this.checking ??= this.runCheck()
      .catch((err) => this.opts.log.debug({ err: (err as Error).message }, 'seq fence check failed; will retry'))
      .finally(() => (this.checking = undefined)));
  }

  /** Stops placing for a reason found outside Redis's marks (a history conflict): raises the fence for every container. */
  async trip(reason: FenceReason, detail: Record<string, unknown> = {}): Promise<void> {
    const seq = Number((await this.redis.get(this.opts.keys.seq).catch(() => null)) ?? -1);
    await this.halt(reason, seq, detail);
  }

  private async runCheck(): Promise<void> {
    const { keys } = this.opts;
    const highWater = this.highWater;
    const known = this.epoch;
    const [epoch, seqText, fence, , created] = await this.redis.tesseraFenceCheck(keys.epoch, keys.seq, keys.fence, known ?? '', newEpoch());
    const marks = { epoch, seq: Number(seqText), fence };
    if (created) this.opts.log.info({ epoch }, 'canvas epoch created (a new canvas, or one from before epochs)');
    const v = judge(known, this.stopped !== undefined, highWater, marks);
    switch (v.kind) {
      case 'ok':
        if (v.adopt) this.epoch = v.adopt;
        return;
      case 'trip':
        // A container that starts into a fence remembers the epoch that went back: only a new one lifts it.
        this.epoch ??= epoch || undefined;
        return this.halt(v.reason, marks.seq, { redisEpoch: epoch || null, highWaterAtCheck: highWater });
      case 'stopped':
        if (!v.reraise) return;
        // The fence hash is gone but no recovery lifted it (lost again, deleted by hand, or restored below this
        // container's high-water mark): raise it again so every container stays stopped.
        this.opts.log.warn({ redisEpoch: epoch || null, redisSeq: marks.seq, highWater }, 'seq fence: raised again (no recovery past this container\'s high-water mark)');
        await this.raise(this.stopped!.reason, marks.seq);
        return;
      case 'restored':
        return this.resume(v.epoch, marks.seq);
    }
  }

  private async halt(reason: string, redisSeq: number, detail: Record<string, unknown>): Promise<void> {
    const first = !this.stopped;
    if (first) {
      this.stopped = { reason, since: Date.now(), redisSeq, highWater: this.highWater };
      this.opts.metrics.seqFenced.set(1);
      this.opts.metrics.seqFenceTrips.inc({ reason });
      this.opts.log.error(
        { reason, why: WHY[reason] ?? 'another container raised the fence', redisSeq, highWater: this.highWater, epoch: this.epoch, container: this.opts.id, ...detail },
        'seq fence up: placements stop until the canvas is restored, so no acknowledged seq is given out again (docs/reliability.md)',
      );
    }
    try {
      await this.raise(reason, redisSeq);
    } finally {
      if (first) for (const fn of this.trippedListeners) fn();
    }
  }

  /** Writes (or joins) the fence hash: every container stops, and the recovery learns this container's high-water mark. */
  private async raise(reason: string, redisSeq: number): Promise<void> {
    await this.redis.tesseraFenceTrip(this.opts.keys.fence, reason, this.highWater, this.opts.id, Date.now(), this.epoch ?? '', redisSeq);
  }

  private resume(epoch: string, seq: number): void {
    const was = this.stopped;
    this.epoch = epoch;
    this.stopped = undefined;
    this.opts.metrics.seqFenced.set(0);
    this.opts.metrics.seqFenceLifted.inc();
    this.opts.log.warn(
      { epoch, seq, highWater: this.highWater, stoppedMs: was ? Date.now() - was.since : 0, reason: was?.reason },
      'seq fence: the canvas was restored under a new epoch; placing again, listeners reset',
    );
    for (const fn of this.restoredListeners) fn();
  }
}
