// The history writer of one container: placements stream → consumer group → BatchWriteItem → XACK.
// An entry is acknowledged only after DynamoDB has it; until then it sits in this consumer's pending list,
// and if this container dies another one claims it (XAUTOCLAIM) after claimIdleMs and writes it again —
// harmless, since the item key is a function of the placement (a retry overwrites the same item identically).
// Where an item may already be in DynamoDB — claimed entries, and entries handed out again after Redis went back
// in time — the write is conditional (guarded-write.ts): a different placement under the same key is kept, and
// the conflict is logged, counted and reported (it stops placements: store/fence.ts).
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { parseEntry, redisOptions } from '../store/redis.js';
import { seqOf } from './stream-state.js';
import { backoffDelay, MAX_BATCH, writeBatch } from './batch-write.js';
import { ensureGroup, forgetIdleConsumers } from './consumers.js';
import { ensureTable } from './dynamo.js';
import { writeGuarded, type Conflict } from './guarded-write.js';
import { fromItem, isWellFormed, toItem, type Item } from './items.js';
import type { HistoryMetrics } from './metrics.js';
import { FailureStreak } from './streak.js';

export interface WriterOptions {
  redisUrl: string;
  commandTimeoutMs: number;
  stream: string;
  group: string;
  consumer: string;
  dynamo: DynamoDBClient;
  table: string;
  /** Create the table first (only against DynamoDB Local; in the cloud Pulumi owns it). */
  createTable: boolean;
  /** BatchWriteItem calls in flight. */
  concurrency: number;
  claimIdleMs: number;
  log: Logger;
  metrics: HistoryMetrics;
  /** After a read returned less than a full batch, wait this long so the next batches fill up. */
  lingerMs?: number;
  blockMs?: number;
  /** How long stop() lets in-flight batches finish before leaving them to other containers. */
  stopGraceMs?: number;
  /** A seq DynamoDB already holds with another placement at the same pixel: a seq was given out twice. */
  onConflict?(conflict: Conflict): void;
}

type Entry = [id: string, fields: string[]];

interface Batch {
  ids: string[];
  items: Item[];
  /** conditional writes: the items may already be in DynamoDB */
  guarded: boolean;
  startedAt: number;
  done?: Promise<void>;
}

/** Consumers idle this long with nothing pending are forgotten (their containers are gone). */
const FORGET_IDLE_MS = 3_600_000;
const FORGET_EVERY_MS = 600_000;

export class HistoryWriter {
  /** Only the blocking XREADGROUP runs here: it would hold up any other command behind it. */
  private readonly reader: Redis;
  private readonly cmd: Redis;
  private readonly inFlight = new Set<Batch>();
  private readonly inFlightIds = new Set<string>();
  private wake: (() => void)[] = [];
  /** The highest seq this writer was handed as new ('>'): one at or below it again means Redis went back in time. */
  private highestRead = 0;
  private stopping = false;
  private abandoned = false;
  private main: Promise<void> | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly dynamoStreak: FailureStreak;
  private readonly throttleStreak: FailureStreak;
  private readonly redisStreak: FailureStreak;

  constructor(private readonly opts: WriterOptions) {
    const blockMs = opts.blockMs ?? 2000;
    this.reader = new Redis(opts.redisUrl, { ...redisOptions(opts.commandTimeoutMs), commandTimeout: blockMs + opts.commandTimeoutMs });
    this.cmd = new Redis(opts.redisUrl, redisOptions(opts.commandTimeoutMs));
    // Connection errors repeat on every reconnect attempt; the streaks below log each incident once.
    for (const conn of [this.reader, this.cmd]) conn.on('error', () => {});
    this.dynamoStreak = new FailureStreak(opts.log, 'DynamoDB history write');
    this.throttleStreak = new FailureStreak(opts.log, 'DynamoDB history write (UnprocessedItems, throttled)');
    this.redisStreak = new FailureStreak(opts.log, 'history stream command (Redis)');
  }

  start(): void {
    this.main = this.run().catch((err) => this.opts.log.error({ err }, 'history writer stopped unexpectedly'));
  }

  private async run(): Promise<void> {
    const { opts } = this;
    await Promise.allSettled([this.reader.connect(), this.cmd.connect()]);
    if (opts.createTable) await this.retry('DynamoDB table creation', () => ensureTable(opts.dynamo, opts.table));
    await this.retry('history group creation', () => ensureGroup(this.cmd, opts.stream, opts.group));
    if (this.stopping) return;
    opts.log.info({ consumer: opts.consumer, group: opts.group, table: opts.table, concurrency: opts.concurrency }, 'history writer started');
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), Math.max(250, opts.claimIdleMs / 3));
    await Promise.all([this.readLoop(), this.claimLoop()]);
  }

  /** New entries ('>') for this consumer, as many as there are free batch slots. */
  private async readLoop(): Promise<void> {
    const { opts } = this;
    for (let attempt = 0; !this.stopping; ) {
      await this.freeSlot();
      if (this.stopping) break;
      // The other loop may have filled the slots meanwhile; COUNT 0 would mean "no limit" to XREADGROUP.
      const count = Math.max(1, opts.concurrency - this.inFlight.size) * MAX_BATCH;
      let entries: Entry[];
      try {
        const reply = (await this.reader.xreadgroup('GROUP', opts.group, opts.consumer, 'COUNT', count, 'BLOCK', opts.blockMs ?? 2000, 'STREAMS', opts.stream, '>')) as [string, Entry[]][] | null;
        entries = reply?.[0]?.[1] ?? [];
        this.redisStreak.ok();
        attempt = 0;
      } catch (err) {
        if (this.stopping) break;
        if (/NOGROUP/.test((err as Error).message)) {
          // Redis lost its data (or the group was deleted): recreate it; entries from "0" are written again.
          opts.log.warn({ stream: opts.stream, group: opts.group }, 'history group vanished; recreating it');
          await this.retry('history group creation', () => ensureGroup(this.cmd, opts.stream, opts.group));
          continue;
        }
        this.redisStreak.fail(err, { stream: opts.stream });
        await sleep(backoffDelay(attempt++));
        continue;
      }
      const seen = this.highestRead;
      for (const [id] of entries) this.highestRead = Math.max(this.highestRead, seqOf(id));
      this.dispatch(entries, ([id]) => seqOf(id) <= seen);
      if (entries.length < MAX_BATCH) await sleep(opts.lingerMs ?? 50);
    }
  }

  /** Entries pending longer than claimIdleMs — their consumer died, or our own ack was lost — become ours. */
  private async claimLoop(): Promise<void> {
    const { opts } = this;
    const every = Math.min(opts.claimIdleMs / 2, 5000);
    let lastForget = 0;
    while (!this.stopping) {
      await sleep(every);
      try {
        let cursor = '0-0';
        let claimed = 0;
        do {
          await this.freeSlot();
          if (this.stopping) return;
          // The other loop may have filled the slots meanwhile; COUNT 0 would mean "no limit" to XREADGROUP.
          const count = Math.max(1, opts.concurrency - this.inFlight.size) * MAX_BATCH;
          const [next, entries] = (await this.cmd.xautoclaim(opts.stream, opts.group, opts.consumer, opts.claimIdleMs, cursor, 'COUNT', count)) as [string, (Entry | null)[]];
          cursor = next;
          // Entries deleted meanwhile come back empty; Redis drops them from the pending list itself.
          const live = entries.filter((e): e is Entry => Array.isArray(e) && Array.isArray(e[1]));
          claimed += this.dispatch(live, () => true);
        } while (cursor !== '0-0');
        if (claimed > 0) {
          opts.metrics.claimed.inc(claimed);
          opts.log.info({ claimed, idleMs: opts.claimIdleMs }, 'claimed history entries another consumer left unacknowledged');
        }
        if (Date.now() - lastForget > FORGET_EVERY_MS) {
          lastForget = Date.now();
          await forgetIdleConsumers(this.cmd, opts.stream, opts.group, Math.max(FORGET_IDLE_MS, 10 * opts.claimIdleMs));
        }
      } catch (err) {
        if (this.stopping) return;
        if (!/NOGROUP/.test((err as Error).message)) this.redisStreak.fail(err, { op: 'xautoclaim' });
      }
    }
  }

  /** Splits entries into batches of ≤ 25 and starts writing them; returns how many entries were taken. */
  private dispatch(entries: Entry[], mayExist: (e: Entry) => boolean): number {
    const fresh = entries.filter(([id]) => !this.inFlightIds.has(id));
    this.startBatches(fresh.filter((e) => !mayExist(e)), false);
    this.startBatches(fresh.filter(mayExist), true);
    return fresh.length;
  }

  private startBatches(entries: Entry[], guarded: boolean): void {
    for (let i = 0; i < entries.length; i += MAX_BATCH) {
      const batch: Batch = { ids: [], items: [], guarded, startedAt: Date.now() };
      for (const [id, fields] of entries.slice(i, i + MAX_BATCH)) {
        const p = parseEntry(id, fields);
        batch.ids.push(id);
        this.inFlightIds.add(id);
        // Only place.lua writes the stream; anything else would be retried forever and block trimming.
        if (isWellFormed(p)) batch.items.push(toItem(p));
        else this.opts.log.error({ id, fields }, 'malformed placements stream entry: acknowledged without writing');
      }
      this.inFlight.add(batch);
      batch.done = this.process(batch).finally(() => {
        this.inFlight.delete(batch);
        for (const id of batch.ids) this.inFlightIds.delete(id);
        const w = this.wake;
        this.wake = [];
        for (const f of w) f();
      });
    }
  }

  private async process(batch: Batch): Promise<void> {
    const { opts } = this;
    const writeOpts = {
      abandoned: () => this.abandoned,
      onRetry: (reason: 'unprocessed' | 'error', d: { items: number; attempt: number; err?: unknown }) => {
        opts.metrics.retries.inc({ reason });
        if (reason === 'error') this.dynamoStreak.fail(d.err, { table: opts.table, items: d.items, attempt: d.attempt });
        else this.throttleStreak.fail(`${d.items} items unprocessed`, { table: opts.table, attempt: d.attempt });
      },
      onSuccess: () => this.dynamoStreak.ok({ table: opts.table }),
    };
    let written = batch.items.length === 0;
    let fresh = batch.items.length;
    if (!written && batch.guarded) {
      const out = await writeGuarded(opts.dynamo, opts.table, batch.items, writeOpts);
      for (const c of out.conflicts) this.conflict(c);
      written = out.written;
      fresh -= out.rewritten + out.conflicts.length;
      opts.metrics.rewritten.inc(out.rewritten);
    } else if (!written) {
      written = await writeBatch(opts.dynamo, opts.table, batch.items, writeOpts);
    }
    // Abandoned at shutdown: the entries stay pending and another container claims them.
    if (!written) return;
    this.throttleStreak.ok({ table: opts.table });
    opts.metrics.written.inc(fresh);
    try {
      await this.cmd.xack(opts.stream, opts.group, ...batch.ids);
    } catch (err) {
      // Still pending: claimed again after claimIdleMs and rewritten identically. Nothing is lost.
      if (!this.abandoned) this.redisStreak.fail(err, { op: 'xack', entries: batch.ids.length });
    }
  }

  /** Kept, not overwritten: the entry is acknowledged (retrying could never succeed) and the seq fence told. */
  private conflict(c: Conflict): void {
    const incoming = fromItem(c.item);
    this.opts.metrics.conflicts.inc();
    this.opts.log.error(
      { seq: incoming.seq, incoming, existing: c.existing ? fromItem(c.existing) : undefined },
      'history conflict: DynamoDB already holds another placement under this pixel and seq (a seq was given out twice); kept the first',
    );
    this.opts.onConflict?.(c);
  }

  /** Resets the idle time of batches still being retried, so other containers do not claim live work. */
  private async heartbeat(): Promise<void> {
    const { opts } = this;
    const old = Date.now() - opts.claimIdleMs / 3;
    const ids = [...this.inFlight].filter((b) => b.startedAt < old).flatMap((b) => b.ids);
    if (ids.length === 0 || this.stopping) return;
    try {
      // JUSTID: no delivery-count bump; XCLAIM takes only entries still pending, so an acked one is never revived.
      await this.cmd.xclaim(opts.stream, opts.group, opts.consumer, 0, ...ids, 'JUSTID');
    } catch {
      /* a missed heartbeat at worst lets another container write the same items again, identically */
    }
  }

  private freeSlot(): Promise<void> {
    if (this.inFlight.size < this.opts.concurrency || this.stopping) return Promise.resolve();
    return new Promise((resolve) => this.wake.push(resolve));
  }

  private async retry<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    const streak = new FailureStreak(this.opts.log, what);
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        const out = await fn();
        streak.ok();
        return out;
      } catch (err) {
        streak.fail(err);
        await sleep(backoffDelay(attempt));
      }
    }
    return undefined;
  }

  /** Not draining placements: stops taking entries, lets in-flight batches finish briefly, leaves the rest pending. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.heartbeatTimer);
    for (const f of this.wake) f();
    this.reader.disconnect();
    const pending = [...this.inFlight].map((b) => b.done);
    await Promise.race([Promise.allSettled(pending), sleep(this.opts.stopGraceMs ?? 2000)]);
    this.abandoned = true;
    if (this.inFlight.size === 0 && this.cmd.status === 'ready') {
      await forgetIdleConsumers(this.cmd, this.opts.stream, this.opts.group, Number.MAX_SAFE_INTEGER, this.opts.consumer).catch(() => 0);
    }
    this.cmd.disconnect();
    await Promise.race([this.main, sleep(100)]);
  }
}

/** Unref'd: a pending backoff never keeps a stopped process alive; loops re-check their flags after it. */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
