// The canvas's past as segments: each listed keyframe is the board at its seq plus the range (from, seq] that
// led to it; after the newest one comes the live tail. The board at moment T is the board after every
// placement, in seq order, up to the last one placed at or before T (clock skew between containers aside, seq
// order is time order). Seeking = the keyframe at the segment's start + the segment's placements up to T.
// Decoded keyframes and ranges are kept (they never change), so dragging back and forth refetches nothing.
import { applyEntry, type KeyframeEntry, type Range } from '../../../service/src/timetravel/codec.js';
import { fetchHistoryList, fetchKeyframe, fetchRange, fetchTail, fetchTailUsers, fetchUsers } from './api.js';
import { Lru } from './lru.js';

export interface Segment {
  /** Keyframe seq that ends it; for the tail, the last seq it holds. */
  seq: number;
  from: number;
  firstAt: number;
  at: number;
  count: number;
  tail: boolean;
}

/** Where a moment falls: segment index and the index of the last placement of it that is shown (-1: none). */
export interface Position {
  segment: number;
  index: number;
  seq: number;
}

export interface Found {
  seq: number;
  color: number;
  placedAt: number;
  userId: string;
}

export class Timeline {
  segments: Segment[] = [];
  head = 0;
  private tail: Range | null = null;
  private readonly boards = new Lru<number, Uint8Array>(12);
  private readonly ranges = new Lru<string, Range>(32);
  private readonly users = new Lru<string, string[]>(8);

  constructor(
    readonly width: number,
    readonly height: number,
  ) {}

  get start(): number {
    const s = this.segments[0];
    return s ? Math.min(s.firstAt, s.at) : Date.now();
  }

  get end(): number {
    let end = 0;
    for (const s of this.segments) end = Math.max(end, s.at);
    return end || Date.now();
  }

  /** The list and the live tail, again. Keeps every cached keyframe and range. */
  async refresh(): Promise<void> {
    let list = await fetchHistoryList();
    let after = list.keyframes[list.keyframes.length - 1]?.seq ?? 0;
    let tail = await fetchTail(after);
    // A keyframe was cut between the two reads: the tail starts at it. Read the list again.
    for (let tries = 0; tail.from !== after; tries++) {
      if (tries >= 3) throw new Error(`the tail starts after ${tail.from}, the list ends at ${after}`);
      list = await fetchHistoryList();
      after = list.keyframes[list.keyframes.length - 1]?.seq ?? 0;
      tail = await fetchTail(after);
    }
    const segments: Segment[] = list.keyframes.map((k: KeyframeEntry) => ({ ...k, tail: false }));
    if (tail.seqs.length) {
      let firstAt = Infinity;
      let at = 0;
      for (let i = 0; i < tail.times.length; i++) {
        firstAt = Math.min(firstAt, tail.times[i]);
        at = Math.max(at, tail.times[i]);
      }
      segments.push({ seq: tail.seqs[tail.seqs.length - 1], from: after, firstAt, at, count: tail.seqs.length, tail: true });
    }
    this.tail = tail;
    this.segments = segments;
    this.head = list.head;
  }

  /** Which placements the board at `moment` shows. */
  async locate(moment: number): Promise<Position> {
    let i = -1;
    for (let k = 0; k < this.segments.length; k++) if (this.segments[k].firstAt <= moment) i = k;
    if (i < 0) {
      const first = this.segments[0];
      return { segment: 0, index: -1, seq: first ? first.from : 0 };
    }
    const range = await this.range(i);
    let index = -1;
    for (let j = range.times.length - 1; j >= 0; j--) {
      if (range.times[j] <= moment) {
        index = j;
        break;
      }
    }
    return { segment: i, index, seq: index >= 0 ? range.seqs[index] : range.from };
  }

  async range(i: number): Promise<Range> {
    const s = this.segments[i];
    if (s.tail) return this.tail!;
    const key = `${s.from}/${s.seq}`;
    let r = this.ranges.get(key);
    if (!r) this.ranges.set(key, (r = await fetchRange(s.from, s.seq)));
    return r;
  }

  /** The board (u4-packed) at the start of segment i: its previous keyframe, or the empty canvas. Not a copy. */
  async startBoard(i: number): Promise<Uint8Array> {
    const s = this.segments[i];
    const seq = s ? (s.from === s.seq ? s.seq : s.from) : 0;
    if (seq === 0) return new Uint8Array(Math.ceil((this.width * this.height) / 2));
    let b = this.boards.get(seq);
    if (!b) this.boards.set(seq, (b = await fetchKeyframe(seq)));
    return b;
  }

  /** The board at a position, from scratch (a copy the caller owns). */
  async boardAt(p: Position): Promise<Uint8Array> {
    const board = (await this.startBoard(p.segment)).slice();
    if (p.index >= 0) {
      const r = await this.range(p.segment);
      for (let j = 0; j <= p.index; j++) applyEntry(board, r.entries[j]);
    }
    return board;
  }

  /** The last placement at pixel i shown at position p, searching back through earlier segments. */
  async whoPlaced(pixel: number, p: Position): Promise<Found | null> {
    for (let s = p.segment; s >= 0 && s < this.segments.length; s--) {
      const seg = this.segments[s];
      const r = await this.range(s);
      for (let j = s === p.segment ? p.index : r.entries.length - 1; j >= 0; j--) {
        if (r.entries[j] >>> 4 !== pixel) continue;
        const users = await this.usersOf(s);
        return { seq: r.seqs[j], color: r.entries[j] & 15, placedAt: r.times[j], userId: users[j] ?? '?' };
      }
      // A base keyframe starts a stretch whose past the history no longer links to.
      if (seg.from === seg.seq) break;
    }
    return null;
  }

  private async usersOf(i: number): Promise<string[]> {
    const s = this.segments[i];
    const key = s.tail ? `tail:${s.from}:${s.count}` : `${s.from}/${s.seq}`;
    let u = this.users.get(key);
    if (!u) this.users.set(key, (u = s.tail ? await fetchTailUsers(s.from) : await fetchUsers(s.from, s.seq)));
    return u;
  }
}
