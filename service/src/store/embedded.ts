// The embedded store: the same behaviour as Redis, in this process, persisted under DATA_DIR.
// placements.log (checksummed records, append-only: placement-log.ts) is the durable record and the history;
// snapshot.bin lets a restart skip most of it. When the log reaches the disk: log-sync.ts.
import { appendFileSync, closeSync, existsSync, ftruncateSync, mkdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { writeFileAtomicSync } from './atomic-file.js';
import { PlaceBatcher, type Pending } from './batcher.js';
import { recoverLog } from './log-recovery.js';
import { LogSync } from './log-sync.js';
import { encodeRecords, readBackwards } from './placement-log.js';
import { readSnapshot, writeSnapshot } from './snapshot.js';
import type { BoardSnapshot, CanvasStore, ModerationRecord, Placement, PlaceRequest, PlaceResult, Run, SinceResult } from './store.js';
import { boardBytes, pixelIndex } from './store.js';

export interface EmbeddedStoreOptions {
  dataDir: string;
  width: number;
  height: number;
  cooldownMs: number;
  retentionMs: number;
  log: Logger;
  /** How often the board snapshot is rewritten when it changed. */
  snapshotIntervalMs?: number;
  /** How often placements.log is fdatasync'ed: at most this much is lost to a power loss. */
  syncIntervalMs?: number;
}
/** Upper bound on the resume window, whatever the retention says, to bound memory. */
const MAX_RECENT = 2_000_000;
/** Wall clocks step: cooldowns are restored from a minute further back than the cooldown. */
const CLOCK_SLACK_MS = 60_000;

export class EmbeddedStore implements CanvasStore {
  readonly logPath: string;
  private readonly snapshotPath: string;
  private readonly bans: Set<string>;
  private readonly bansPath: string;
  private pixels = Buffer.alloc(0);
  private seq = 0;
  private snapshotSeq = 0;
  private snapshotting: Promise<void> | undefined;
  private readonly logFd: number;
  /** Where the next record is written: the end of the last whole one. */
  private logEnd: number;
  private readonly logSync: LogSync;
  /** Set when a failed write could not be undone: a later write could land after a partial record. */
  private broken: string | undefined;
  private readonly cooldowns = new Map<string, number>();
  private recent: Placement[] = [];
  private recentStart = 0;
  private readonly listeners: ((run: Run) => void)[] = [];
  private readonly acceptedListeners: ((placements: Placement[]) => void)[] = [];
  private readonly batcher: PlaceBatcher;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly opts: EmbeddedStoreOptions) {
    mkdirSync(opts.dataDir, { recursive: true });
    this.logPath = join(opts.dataDir, 'placements.log');
    this.snapshotPath = join(opts.dataDir, 'snapshot.bin');
    this.bansPath = join(opts.dataDir, 'bans.json');
    this.bans = new Set(existsSync(this.bansPath) ? (JSON.parse(readFileSync(this.bansPath, 'utf8')) as string[]) : []);
    const size = boardBytes(opts.width, opts.height);
    const snapshot = readSnapshot(this.snapshotPath, opts.width, opts.height, size, opts.log);
    this.pixels = snapshot ? Buffer.from(snapshot.pixels) : Buffer.alloc(size);
    this.seq = snapshot?.seq ?? 0;
    const cutoff = Date.now() - opts.retentionMs;
    const log = recoverLog({
      path: this.logPath,
      snapshot,
      apply: (p) => {
        this.apply(p);
        if (p.placedAt >= cutoff) this.remember(p);
      },
      log: opts.log,
    });
    this.logFd = log.fd;
    this.logEnd = log.end;
    this.seq = Math.max(this.seq, log.lastSeq);
    this.restoreCooldowns(log.end);
    // A snapshot that is missing or does not line up is written at the first chance, so the next start need not replay everything.
    this.snapshotSeq = log.snapshotLined ? snapshot!.seq : this.seq > 0 ? -1 : 0;
    this.logSync = new LogSync(this.logFd, this.logEnd, opts.syncIntervalMs ?? 1000, opts.log);
    opts.log.info({ seq: this.seq, logBytes: this.logEnd, dataDir: opts.dataDir }, 'embedded canvas loaded');
    this.batcher = new PlaceBatcher(async (batch) => this.placeBatch(batch), 1000);
    this.timer = setInterval(() => this.maintain(), opts.snapshotIntervalMs ?? 5000);
    this.timer.unref();
  }

  /** A restart must not let everyone place again at once: the log's recent placements still hold their users back. */
  private restoreCooldowns(end: number): void {
    const { cooldownMs } = this.opts;
    if (cooldownMs <= 0) return;
    const now = Date.now();
    readBackwards(this.logPath, this.logFd, end, (p) => {
      const until = p.placedAt + cooldownMs;
      if (until > now && !this.cooldowns.has(p.userId)) this.cooldowns.set(p.userId, until);
      return until + CLOCK_SLACK_MS > now;
    });
  }

  private apply(p: Placement): void {
    const i = pixelIndex(p.x, p.y, this.opts.width);
    const byte = i >> 1;
    this.pixels[byte] = i % 2 === 0 ? (this.pixels[byte] & 0x0f) | (p.color << 4) : (this.pixels[byte] & 0xf0) | p.color;
    // Logs converted from the old format may repeat a seq (the bug that format had); never step back.
    if (p.seq > this.seq) this.seq = p.seq;
  }

  private remember(p: Placement): void {
    if (this.recent.length === 0) this.recentStart = p.seq;
    this.recent.push(p);
  }

  place(req: PlaceRequest, cooldownMs = this.opts.cooldownMs): Promise<PlaceResult> {
    if (this.closed) return Promise.resolve({ ok: false, error: 'unavailable', reason: 'closed' });
    return this.batcher.add(req, cooldownMs);
  }

  private placeBatch(batch: Pending[]): PlaceResult[] {
    if (this.broken || this.logSync.failure) return batch.map(() => ({ ok: false, error: 'unavailable', reason: 'disk' }));
    const now = Date.now();
    const accepted: Placement[] = [];
    const previous = new Map<string, number | undefined>();
    const results = batch.map(({ req, cooldownMs }): PlaceResult => {
      if (this.bans.has(req.userId)) return { ok: false, error: 'banned' };
      const until = this.cooldowns.get(req.userId) ?? 0;
      if (cooldownMs > 0 && until > now) return { ok: false, error: 'cooldown', retryAfterMs: until - now };
      if (cooldownMs > 0) {
        if (!previous.has(req.userId)) previous.set(req.userId, this.cooldowns.get(req.userId));
        this.cooldowns.set(req.userId, now + cooldownMs);
      }
      const p: Placement = { seq: this.seq + accepted.length + 1, x: req.x, y: req.y, color: req.color, userId: req.userId, placedAt: now };
      if (req.net) p.net = req.net;
      accepted.push(p);
      return { ok: true, seq: p.seq, nextPlacementAt: now + cooldownMs };
    });
    if (accepted.length === 0) return results;
    const data = encodeRecords(accepted);
    try {
      // In the OS before anyone is told (survives a crash of this process): one write per group, at the end
      // of the last whole record, so nothing is ever written after a partial one.
      for (let done = 0; done < data.length; ) done += writeSync(this.logFd, data, done, data.length - done, this.logEnd + done);
    } catch (err) {
      for (const [user, until] of previous) {
        if (until === undefined) this.cooldowns.delete(user);
        else this.cooldowns.set(user, until);
      }
      this.opts.log.error({ err: (err as Error).message }, 'cannot append to placements.log');
      this.undoPartialWrite();
      return batch.map(() => ({ ok: false, error: 'unavailable', reason: 'disk' }));
    }
    this.logEnd += data.length;
    this.logSync.wrote(this.logEnd);
    const entries = new Uint32Array(accepted.length);
    accepted.forEach((p, i) => {
      this.apply(p);
      this.remember(p);
      entries[i] = pixelIndex(p.x, p.y, this.opts.width) * 16 + p.color;
    });
    const run: Run = { firstSeq: accepted[0].seq, entries };
    for (const l of this.listeners) l(run);
    for (const l of this.acceptedListeners) l(accepted);
    return results;
  }

  /** Cuts what a failed write left after the last whole record; if even that fails, no write is safe any more. */
  private undoPartialWrite(): void {
    try {
      ftruncateSync(this.logFd, this.logEnd);
    } catch (err) {
      this.broken = `cannot cut a partial write from placements.log: ${(err as Error).message}`;
      this.opts.log.error({ err: (err as Error).message }, 'placements.log may end in a partial record; refusing placements until a restart repairs it');
    }
  }

  /** Every accepted placement in full (after it is in placements.log), e.g. for the local history index. */
  onAccepted(fn: (placements: Placement[]) => void): void {
    this.acceptedListeners.push(fn);
  }

  async board(): Promise<BoardSnapshot> {
    return { bytes: Buffer.from(this.pixels), seq: this.seq };
  }

  async headSeq(): Promise<number> {
    return this.seq;
  }

  async since(after: number, limit: number): Promise<SinceResult> {
    if (after > this.seq) return { ok: false, reason: 'too_old' };
    if (after === this.seq) return { ok: true, placements: [] };
    if (this.recent.length === 0 || after + 1 < this.recentStart) return { ok: false, reason: 'too_old' };
    const from = after + 1 - this.recentStart;
    return { ok: true, placements: this.recent.slice(from, from + limit) };
  }

  subscribe(onRun: (run: Run) => void, onResubscribed: () => void): void {
    this.listeners.push(onRun);
    queueMicrotask(onResubscribed);
  }

  async setBanned(userId: string, banned: boolean): Promise<void> {
    if (banned) this.bans.add(userId);
    else this.bans.delete(userId);
    writeFileAtomicSync(this.bansPath, Buffer.from(JSON.stringify([...this.bans])));
  }

  async recordModeration(action: ModerationRecord): Promise<void> {
    appendFileSync(join(this.opts.dataDir, 'moderation.log'), JSON.stringify(action) + '\n');
  }

  async moderationLog(limit: number): Promise<ModerationRecord[]> {
    const file = join(this.opts.dataDir, 'moderation.log');
    if (!existsSync(file)) return [];
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    return lines.slice(-limit).reverse().map((l) => JSON.parse(l) as ModerationRecord);
  }

  ready(): boolean {
    return !this.closed && !this.broken && !this.logSync.failure;
  }

  /** Writes the snapshot when the board changed, and forgets what fell out of the resume window. */
  private maintain(): void {
    const now = Date.now();
    for (const [user, until] of this.cooldowns) if (until <= now) this.cooldowns.delete(user);
    const cutoff = now - this.opts.retentionMs;
    let drop = 0;
    while (drop < this.recent.length && (this.recent[drop].placedAt < cutoff || this.recent.length - drop > MAX_RECENT)) drop++;
    if (drop > 0) {
      this.recent = this.recent.slice(drop);
      this.recentStart += drop;
    }
    if (this.seq !== this.snapshotSeq && !this.snapshotting) {
      this.snapshotting = this.snapshot()
        .catch((err: Error) => this.opts.log.error({ err: err.message }, 'cannot write the board snapshot'))
        .finally(() => (this.snapshotting = undefined));
    }
  }

  /**
   * The board, its seq and the log's end, taken together; the log is made durable up to there before the
   * snapshot names it, so a snapshot never holds a placement the log could lose. Off the event loop.
   */
  private async snapshot(): Promise<void> {
    const snap = { seq: this.seq, logOffset: this.logEnd, pixels: Buffer.from(this.pixels) };
    await this.logSync.sync();
    await writeSnapshot(this.snapshotPath, this.opts.width, this.opts.height, snap);
    this.snapshotSeq = snap.seq;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.batcher.drain();
    this.closed = true;
    clearInterval(this.timer);
    try {
      await this.snapshotting;
      await this.logSync.stop();
      if (this.seq !== this.snapshotSeq) await this.snapshot();
    } finally {
      closeSync(this.logFd);
    }
  }
}
