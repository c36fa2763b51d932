// The embedded store: the same behaviour as Redis, in this process, persisted under DATA_DIR.
// placements.log (NDJSON, append-only) is the durable record; snapshot.bin lets a restart skip most of it.
import { appendFileSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { PlaceBatcher, type Pending } from './batcher.js';
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
}

const SNAPSHOT_MAGIC = 0x31525354; // "TSR1"
const HEADER = 32;
/** Upper bound on the resume window, whatever the retention says, to bound memory. */
const MAX_RECENT = 2_000_000;

export class EmbeddedStore implements CanvasStore {
  readonly logPath: string;
  private readonly snapshotPath: string;
  private readonly bans: Set<string>;
  private readonly bansPath: string;
  private pixels = Buffer.alloc(0);
  private seq = 0;
  private snapshotSeq = 0;
  private logFd: number;
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
    this.load();
    this.logFd = openSync(this.logPath, 'a');
    this.batcher = new PlaceBatcher(async (batch) => this.placeBatch(batch), 1000);
    this.timer = setInterval(() => this.maintain(), opts.snapshotIntervalMs ?? 5000);
    this.timer.unref();
  }

  /** Restores the board and seq: the snapshot, then every logged placement after it. */
  private load(): void {
    const size = boardBytes(this.opts.width, this.opts.height);
    this.pixels = Buffer.alloc(size);
    let offset = 0;
    if (existsSync(this.snapshotPath)) {
      const snap = readFileSync(this.snapshotPath);
      const w = snap.readUInt32LE(4);
      const h = snap.readUInt32LE(8);
      if (snap.readUInt32LE(0) !== SNAPSHOT_MAGIC || snap.length !== HEADER + size || w !== this.opts.width || h !== this.opts.height) {
        throw new Error(`${this.snapshotPath} is for a ${w}×${h} canvas, not ${this.opts.width}×${this.opts.height}; move DATA_DIR aside or fix CANVAS_WIDTH/HEIGHT`);
      }
      this.seq = Number(snap.readBigUInt64LE(12));
      offset = Number(snap.readBigUInt64LE(20));
      snap.copy(this.pixels, 0, HEADER);
    }
    this.snapshotSeq = this.seq;
    if (!existsSync(this.logPath)) return;
    const fd = openSync(this.logPath, 'r');
    try {
      const length = fstatSync(fd).size;
      if (offset > length) offset = 0;
      const tail = Buffer.alloc(length - offset);
      readSync(fd, tail, 0, tail.length, offset);
      const cutoff = Date.now() - this.opts.retentionMs;
      for (const line of tail.toString('utf8').split('\n')) {
        if (!line) continue;
        let p: Placement;
        try {
          p = JSON.parse(line) as Placement;
        } catch {
          // A torn last line from a crash mid-write: that placement was never acknowledged.
          this.opts.log.warn({ line: line.slice(0, 80) }, 'skipping unreadable line in placements.log');
          continue;
        }
        if (p.seq <= this.seq) continue;
        this.apply(p);
        if (p.placedAt >= cutoff) this.remember(p);
      }
    } finally {
      closeSync(fd);
    }
    this.opts.log.info({ seq: this.seq, dataDir: this.opts.dataDir }, 'embedded canvas loaded');
  }

  private apply(p: Placement): void {
    const i = pixelIndex(p.x, p.y, this.opts.width);
    const byte = i >> 1;
    this.pixels[byte] = i % 2 === 0 ? (this.pixels[byte] & 0x0f) | (p.color << 4) : (this.pixels[byte] & 0xf0) | p.color;
    this.seq = p.seq;
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
    const now = Date.now();
    const accepted: Placement[] = [];
    const results = batch.map(({ req, cooldownMs }): PlaceResult => {
      if (this.bans.has(req.userId)) return { ok: false, error: 'banned' };
      const until = this.cooldowns.get(req.userId) ?? 0;
      if (cooldownMs > 0 && until > now) return { ok: false, error: 'cooldown', retryAfterMs: until - now };
      if (cooldownMs > 0) this.cooldowns.set(req.userId, now + cooldownMs);
      const p: Placement = { seq: this.seq + accepted.length + 1, x: req.x, y: req.y, color: req.color, userId: req.userId, placedAt: now };
      accepted.push(p);
      return { ok: true, seq: p.seq, nextPlacementAt: now + cooldownMs };
    });
    if (accepted.length === 0) return results;
    try {
      // Durable before anyone is told: one write per group.
      writeSync(this.logFd, accepted.map((p) => JSON.stringify(p)).join('\n') + '\n');
    } catch (err) {
      for (const { req } of batch) this.cooldowns.delete(req.userId);
      this.opts.log.error({ err: (err as Error).message }, 'cannot append to placements.log');
      return batch.map(() => ({ ok: false, error: 'unavailable', reason: 'disk' }));
    }
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
    writeAtomic(this.bansPath, Buffer.from(JSON.stringify([...this.bans])));
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
    return !this.closed;
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
    if (this.seq !== this.snapshotSeq) this.snapshot();
  }

  private snapshot(): void {
    const header = Buffer.alloc(HEADER);
    header.writeUInt32LE(SNAPSHOT_MAGIC, 0);
    header.writeUInt32LE(this.opts.width, 4);
    header.writeUInt32LE(this.opts.height, 8);
    header.writeBigUInt64LE(BigInt(this.seq), 12);
    header.writeBigUInt64LE(BigInt(fstatSync(this.logFd).size), 20);
    writeAtomic(this.snapshotPath, Buffer.concat([header, this.pixels]));
    this.snapshotSeq = this.seq;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.batcher.drain();
    this.closed = true;
    clearInterval(this.timer);
    this.snapshot();
    closeSync(this.logFd);
  }
}

function writeAtomic(path: string, data: Buffer): void {
  writeFileSync(path + '.tmp', data);
  renameSync(path + '.tmp', path);
}
