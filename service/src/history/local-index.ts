// GET /api/pixel in embedded mode: placements.log (the durable local log) is the history; this indexes it in
// memory — read once at start, then fed every accepted placement. Only the newest MAX_DEPTH placements per
// pixel are kept, since no request can ask for more; memory is bounded by pixels touched × MAX_DEPTH.
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import type { PixelHistory } from '../context.js';
import type { Logger } from '../log.js';
import type { Placement } from '../store/store.js';

export const MAX_DEPTH = 50;
const CHUNK = 8 << 20;

export class LocalPixelIndex implements PixelHistory {
  /** pixel index → its placements, oldest first, at most MAX_DEPTH */
  private readonly pixels = new Map<number, Placement[]>();
  /** One string per user, however many placements it made. */
  private readonly users = new Map<string, string>();
  private maxSeq = 0;

  constructor(
    private readonly width: number,
    private readonly height: number,
  ) {}

  /** Reads the log synchronously, so no accepted placement can slip between the read and the live feed. */
  load(logPath: string, log: Logger): void {
    if (!existsSync(logPath)) return;
    const started = Date.now();
    const fd = openSync(logPath, 'r');
    let skipped = 0;
    let count = 0;
    try {
      const buf = Buffer.alloc(CHUNK);
      let carry = '';
      let position = 0;
      for (;;) {
        const n = readSync(fd, buf, 0, CHUNK, position);
        if (n === 0) break;
        position += n;
        const lines = (carry + buf.toString('utf8', 0, n)).split('\n');
        // A chunk may end inside a line (or inside a UTF-8 sequence, which only user ids could hold).
        carry = lines.pop() ?? '';
        for (const line of lines) {
          if (!line) continue;
          if (this.addLine(line)) count++;
          else skipped++;
        }
      }
      // A torn last line is a placement that was never acknowledged (see EmbeddedStore.load).
      if (carry && this.addLine(carry)) count++;
    } finally {
      closeSync(fd);
    }
    log.info({ placements: count, skipped, pixels: this.pixels.size, ms: Date.now() - started }, 'pixel history indexed from placements.log');
  }

  private addLine(line: string): boolean {
    try {
      const p = JSON.parse(line) as Placement;
      if (!Number.isInteger(p.seq) || !Number.isInteger(p.x) || !Number.isInteger(p.y)) return false;
      this.add(p);
      return true;
    } catch {
      return false;
    }
  }

  add(p: Placement): void {
    if (p.seq <= this.maxSeq || p.x < 0 || p.x >= this.width || p.y < 0 || p.y >= this.height) return;
    this.maxSeq = p.seq;
    let userId = this.users.get(p.userId);
    if (userId === undefined) this.users.set(p.userId, (userId = p.userId));
    const key = p.y * this.width + p.x;
    let list = this.pixels.get(key);
    if (!list) this.pixels.set(key, (list = []));
    list.push({ seq: p.seq, x: p.x, y: p.y, color: p.color, userId, placedAt: p.placedAt });
    if (list.length > MAX_DEPTH) list.shift();
  }

  async pixel(x: number, y: number, limit: number): Promise<Placement[]> {
    const list = this.pixels.get(y * this.width + x) ?? [];
    return list.slice(Math.max(0, list.length - limit)).reverse();
  }
}
