// Completion of every project, kept incrementally: the tracker holds its own copy of the board (4 bits a pixel)
// and sees every placement once, in seq order, from the fan-out. Each placement updates only the projects whose
// tiles cover it (spatial-index.ts). A project's template is compared with the board once, when it is added;
// nothing rescans it afterwards.
import type { Logger } from '../log.js';
import type { BoardSnapshot } from '../store/store.js';
import { TRANSPARENT, type Project } from './model.js';
import { SpatialIndex } from './spatial-index.js';

/** Pixel states, as the socket sends them. A pixel once right and now wrong is damage; never right yet is unpainted. */
export const UNPAINTED = 0;
export const CORRECT = 1;
export const DAMAGED = 2;

export interface Progress {
  total: number;
  correct: number;
  damaged: number;
}

export class Tracked implements Progress {
  readonly state: Uint8Array;
  total = 0;
  correct = 0;
  damaged = 0;
  /** Template indices whose state changed since the last takeChanges(), possibly repeated. */
  changed: number[] = [];

  constructor(readonly project: Project) {
    this.state = new Uint8Array(project.pixels.length).fill(TRANSPARENT);
  }

  get x(): number {
    return this.project.x;
  }
  get y(): number {
    return this.project.y;
  }
  get width(): number {
    return this.project.width;
  }
  get height(): number {
    return this.project.height;
  }

  /** Damaged pixels as a percentage of the artwork. */
  get damagePercent(): number {
    return this.total ? (100 * this.damaged) / this.total : 0;
  }

  /** Compares the template with a board; a pixel that was right before and is wrong now stays damage. */
  seed(colorAt: (x: number, y: number) => number): void {
    const { pixels, width, x, y } = this.project;
    this.total = this.correct = this.damaged = 0;
    for (let i = 0; i < pixels.length; i++) {
      if (pixels[i] === TRANSPARENT) continue;
      this.total++;
      const before = this.state[i];
      const right = colorAt(x + (i % width), y + Math.floor(i / width)) === pixels[i];
      this.state[i] = right ? CORRECT : before === CORRECT || before === DAMAGED ? DAMAGED : UNPAINTED;
      if (this.state[i] === CORRECT) this.correct++;
      else if (this.state[i] === DAMAGED) this.damaged++;
      // The first seed (before = TRANSPARENT) is what a watcher's snapshot shows: no change to send.
      if (before !== TRANSPARENT && before !== this.state[i]) this.changed.push(i);
    }
  }

  /** One placement inside the tile this project overlaps. */
  place(px: number, py: number, color: number): boolean {
    const lx = px - this.project.x;
    const ly = py - this.project.y;
    if (lx < 0 || ly < 0 || lx >= this.project.width || ly >= this.project.height) return false;
    const i = ly * this.project.width + lx;
    const target = this.project.pixels[i];
    if (target === TRANSPARENT) return false;
    const s = this.state[i];
    const n = color === target ? CORRECT : s === UNPAINTED ? UNPAINTED : DAMAGED;
    if (n === s) return false;
    if (s === CORRECT) this.correct--;
    else if (s === DAMAGED) this.damaged--;
    if (n === CORRECT) this.correct++;
    else if (n === DAMAGED) this.damaged++;
    this.state[i] = n;
    this.changed.push(i);
    return true;
  }
}

export interface TrackerOptions {
  width: number;
  height: number;
  /** The board and the seq it includes (the store's, read atomically). */
  loadBoard: () => Promise<BoardSnapshot>;
  log: Logger;
}

export class CompletionTracker {
  private board: Buffer | undefined;
  /** The seq the board copy and every project's counts include. */
  private seqAt = 0;
  /** Batches published while the board is being (re)loaded, applied after it. */
  private buffered: { first: number; entries: number[] }[] | undefined;
  private readonly index: SpatialIndex<Tracked>;
  private readonly tracked = new Map<string, Tracked>();
  /** Projects with changes not yet sent. */
  readonly dirty = new Set<Tracked>();

  constructor(private readonly opts: TrackerOptions) {
    this.index = new SpatialIndex(opts.width, opts.height);
  }

  get seq(): number {
    return this.seqAt;
  }

  get size(): number {
    return this.tracked.size;
  }

  get(id: string): Tracked | undefined {
    return this.tracked.get(id);
  }

  /** Reads the board (again) and re-seeds every project; batches published meanwhile are applied after it. */
  async load(): Promise<void> {
    this.buffered ??= [];
    try {
      const snap = await this.opts.loadBoard();
      this.board = Buffer.from(snap.bytes);
      this.seqAt = snap.seq;
      for (const t of this.tracked.values()) this.reseed(t);
    } finally {
      const held = this.buffered ?? [];
      this.buffered = undefined;
      for (const b of held) this.onPublished(b.first, b.entries);
    }
  }

  /** The fan-out's hook: every published batch, in seq order (entries are pixelIndex * 16 + colour). */
  onPublished(first: number, entries: ArrayLike<number>): void {
    if (this.buffered) {
      this.buffered.push({ first, entries: Array.from(entries) });
      return;
    }
    if (!this.board) return;
    const last = first + entries.length - 1;
    if (last <= this.seqAt) return;
    if (first > this.seqAt + 1) {
      // A gap: the fan-out reset (the stream moved on, or the canvas was restored). Our copy is stale: reload.
      this.opts.log.warn({ have: this.seqAt, first }, 'projects: placements skipped ahead; reloading the board');
      this.buffered = [{ first, entries: Array.from(entries) }];
      void this.load().catch((err) => this.opts.log.error({ err }, 'projects: cannot reload the board'));
      return;
    }
    const board = this.board;
    const w = this.opts.width;
    for (let i = this.seqAt + 1 - first; i < entries.length; i++) {
      const e = entries[i];
      const idx = e >>> 4;
      const color = e & 15;
      const b = idx >> 1;
      board[b] = idx & 1 ? (board[b] & 0xf0) | color : (board[b] & 0x0f) | (color << 4);
      const y = (idx / w) | 0;
      const x = idx - y * w;
      const list = this.index.at(x, y);
      if (!list) continue;
      for (let j = 0; j < list.length; j++) if (list[j].place(x, y, color)) this.dirty.add(list[j]);
    }
    this.seqAt = last;
  }

  /** Starts tracking a project: one pass over its template against the board copy. */
  add(project: Project): Tracked {
    const existing = this.tracked.get(project.id);
    if (existing) return existing;
    const t = new Tracked(project);
    if (this.board) this.seed(t);
    this.tracked.set(project.id, t);
    this.index.add(t);
    return t;
  }

  remove(id: string): void {
    const t = this.tracked.get(id);
    if (!t) return;
    this.tracked.delete(id);
    this.index.remove(t);
    this.dirty.delete(t);
  }

  private reseed(t: Tracked): void {
    this.seed(t);
    if (t.changed.length) this.dirty.add(t);
  }

  private seed(t: Tracked): void {
    const board = this.board!;
    const w = this.opts.width;
    t.seed((x, y) => {
      const i = y * w + x;
      return i & 1 ? board[i >> 1] & 15 : board[i >> 1] >> 4;
    });
  }
}
