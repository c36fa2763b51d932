// The history in embedded mode: placements.log (the store's durable log, store/placement-log.ts) is the history.
// GET /api/pixel is served from an in-memory index — the log read once at start, then every accepted
// placement — that keeps the newest MAX_DEPTH placements per pixel, since no request can ask for more
// (memory: pixels touched × MAX_DEPTH). The rarer user and time-range questions (moderation) read the log.
import type { PixelHistory } from '../context.js';
import { logPages, type HistoryPage, type HistoryQuery } from './pages.js';
import type { Logger } from '../log.js';
import { readPlacements } from '../store/placement-log.js';
import type { Placement } from '../store/store.js';

export const MAX_DEPTH = 50;

export class LocalPixelIndex implements PixelHistory {
  /** pixel index → its placements, oldest first, at most MAX_DEPTH */
  private readonly pixels = new Map<number, Placement[]>();
  /** One string per user, however many placements it made. */
  private readonly users = new Map<string, string>();
  private maxSeq = 0;

  constructor(
    private readonly logPath: string,
    private readonly width: number,
    private readonly height: number,
  ) {}

  /** Synchronous, so no accepted placement can slip between the read and the live feed. */
  load(log: Logger): void {
    const started = Date.now();
    let count = 0;
    const tornBytes = readPlacements(this.logPath, (p) => {
      count++;
      this.add(p);
    });
    log.info({ placements: count, tornBytes, pixels: this.pixels.size, ms: Date.now() - started }, 'pixel history indexed from placements.log');
  }

  add(p: Placement): void {
    if (p.seq <= this.maxSeq || p.x < 0 || p.x >= this.width || p.y < 0 || p.y >= this.height) return;
    this.maxSeq = p.seq;
    let userId = this.users.get(p.userId);
    if (userId === undefined) this.users.set(p.userId, (userId = p.userId));
    const key = p.y * this.width + p.x;
    let list = this.pixels.get(key);
    if (!list) this.pixels.set(key, (list = []));
    list.push({ seq: p.seq, x: p.x, y: p.y, color: p.color, userId, placedAt: p.placedAt, ...(p.net ? { net: p.net } : {}) });
    if (list.length > MAX_DEPTH) list.shift();
  }

  async pixel(x: number, y: number, limit: number): Promise<Placement[]> {
    const list = this.pixels.get(y * this.width + x) ?? [];
    return list.slice(Math.max(0, list.length - limit)).reverse();
  }

  async byUser(userId: string, fromMs: number, toMs: number): Promise<Placement[]> {
    return this.scan((p) => p.userId === userId && p.placedAt >= fromMs && p.placedAt <= toMs);
  }

  async inRange(fromMs: number, toMs: number): Promise<Placement[]> {
    return this.scan((p) => p.placedAt >= fromMs && p.placedAt <= toMs);
  }

  pages(q: HistoryQuery, cursor: string | undefined, pageSize: number): AsyncIterable<HistoryPage> {
    return logPages(this.logPath, q, cursor, pageSize);
  }

  /** Oldest first: the log is in seq order. */
  private scan(keep: (p: Placement) => boolean): Placement[] {
    const out: Placement[] = [];
    readPlacements(this.logPath, (p) => {
      if (keep(p)) out.push(p);
    });
    return out;
  }
}
