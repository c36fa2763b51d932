// Turning "the board at seq S, and the placements (from, S] that led to it" into a keyframe's entry and its
// three compressed blobs. Compression runs on libuv's thread pool (async zlib), off the event loop, so
// placements are not held up while a keyframe is written.
import { promisify } from 'node:util';
import { deflateRaw, inflateRaw } from 'node:zlib';
import type { Placement } from '../store/store.js';
import { applyEntry, encodeRange, encodeUsers, type KeyframeEntry } from './codec.js';
import type { KeyframeBlobs } from './blob-store.js';

const deflate = promisify(deflateRaw);
const inflate = promisify(inflateRaw);

export interface Segment {
  /** The board at `seq` (u4, GET /api/board's layout). */
  board: Buffer;
  seq: number;
  from: number;
  /** Placements with seq in (from, seq], in seq order. */
  placements: Placement[];
}

export async function segmentBlobs(s: Segment, width: number, now = Date.now()): Promise<{ entry: KeyframeEntry; blobs: KeyframeBlobs }> {
  const records = s.placements.map((p) => ({ seq: p.seq, entry: (p.y * width + p.x) * 16 + p.color, placedAt: p.placedAt }));
  let firstAt = Infinity;
  for (const p of s.placements) if (p.placedAt < firstAt) firstAt = p.placedAt;
  const last = s.placements[s.placements.length - 1];
  const at = last ? last.placedAt : now;
  const [k, r, u] = await Promise.all([
    deflate(s.board),
    deflate(encodeRange(s.from, records)),
    deflate(encodeUsers(s.placements.map((p) => p.userId))),
  ]);
  return { entry: { seq: s.seq, from: s.from, at, firstAt: Number.isFinite(firstAt) ? firstAt : at, count: s.placements.length }, blobs: { k, r, u } };
}

export const inflateBlob = (b: Buffer): Promise<Buffer> => inflate(b);

/** The placements since the last keyframe, applied to a board of our own (embedded mode, ops:keyframes). */
export class Accumulator {
  placements: Placement[] = [];
  /** The last keyframe's seq: the next segment holds the seqs after it. */
  from: number;

  constructor(
    readonly width: number,
    public board: Buffer,
    public seq: number,
  ) {
    this.from = seq;
  }

  add(p: Placement): void {
    if (p.seq <= this.seq) return;
    applyEntry(this.board, (p.y * this.width + p.x) * 16 + p.color);
    this.placements.push(p);
    this.seq = p.seq;
  }

  /** Time to cut a keyframe: `every` placements gathered, or the oldest gathered is `intervalMs` older than `now`. */
  due(every: number, intervalMs: number, now: number): boolean {
    const n = this.placements.length;
    if (n === 0) return false;
    return (every > 0 && n >= every) || (intervalMs > 0 && now - this.placements[0].placedAt >= intervalMs);
  }

  /** The segment so far, and a fresh start after it. */
  cut(): Segment {
    const s: Segment = { board: Buffer.from(this.board), seq: this.seq, from: this.from, placements: this.placements };
    this.placements = [];
    this.from = this.seq;
    return s;
  }
}
