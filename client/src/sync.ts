// Keeps the board equal to the server's: a snapshot, then every seq after it exactly once and in order.
// A frame that skips ahead means we missed something: resume from the last seq we applied.
// A reset means the server cannot resume us: take a fresh snapshot and resume from its seq.
import type { Frame } from '../../service/src/wire/frames.js';
import type { BoardSnapshot } from './api.js';
import type { Board } from './board.js';

export interface SyncLink {
  /** Drop the socket and resume from lastSeq right away. */
  reconnectNow(): void;
  stop(): void;
  start(): void;
}

export interface SyncStats {
  frames: number;
  entries: number;
  duplicates: number;
  gaps: number;
  resets: number;
  loads: number;
}

export type FrameResult = 'applied' | 'duplicate' | 'gap';

export class Sync {
  lastSeq = 0;
  readonly stats: SyncStats = { frames: 0, entries: 0, duplicates: 0, gaps: 0, resets: 0, loads: 0 };
  private link: SyncLink | null = null;
  private resetting = false;
  private lastResetAt = -Infinity;
  private readonly appliedListeners: ((lastSeq: number) => void)[] = [];
  /** Told about each failed board fetch (the load keeps retrying), so the page can say so. */
  onLoadFailed: (err: unknown, attempt: number) => void = () => {};

  constructor(
    private readonly board: Board,
    private readonly fetchBoard: (fresh: boolean) => Promise<BoardSnapshot>,
    private readonly retryDelayMs = (attempt: number) => Math.min(10_000, 500 * 2 ** attempt),
  ) {}

  attach(link: SyncLink): void {
    this.link = link;
  }

  onApplied(fn: (lastSeq: number) => void): void {
    this.appliedListeners.push(fn);
  }

  /** Loads a snapshot (retrying until it succeeds) and makes its seq the resume point. */
  async load(fresh: boolean): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const snap = await this.fetchBoard(fresh);
        this.board.loadPacked(snap.bytes);
        this.lastSeq = snap.seq;
        this.stats.loads++;
        this.notify();
        return;
      } catch (err) {
        this.onLoadFailed(err, attempt);
        await new Promise((r) => setTimeout(r, this.retryDelayMs(attempt)));
      }
    }
  }

  onFrame(frame: Frame): FrameResult {
    if (this.resetting) return 'duplicate';
    this.stats.frames++;
    const { firstSeq, entries } = frame;
    if (firstSeq > this.lastSeq + 1) {
      this.stats.gaps++;
      console.warn(`tessera: missed seqs ${this.lastSeq + 1}–${firstSeq - 1}; resuming`);
      this.link?.reconnectNow();
      return 'gap';
    }
    const last = firstSeq + frame.count - 1;
    if (last <= this.lastSeq) {
      this.stats.duplicates++;
      return 'duplicate';
    }
    // A frame is a set (sorted by pixel, one pixel's entries in seq order), so one that overlaps what we have
    // (a resumed socket may repeat some seqs) is applied whole: each pixel it touches ends at its colour of
    // seq `last`, and a pixel it does not touch has the same colour at lastSeq as at `last`.
    const board = this.board;
    const pixels = board.width * board.height;
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k];
      const i = e >>> 4;
      if (i < pixels) board.set(i, e & 15);
    }
    this.stats.entries += last - this.lastSeq;
    this.lastSeq = last;
    this.notify();
    return 'applied';
  }

  /** {"t":"reset"}: the socket is dropped while we reload, then resumes from the new snapshot's seq. */
  async onReset(): Promise<void> {
    if (this.resetting) return;
    this.resetting = true;
    this.stats.resets++;
    this.link?.stop();
    try {
      // Resets back to back would mean a server that keeps refusing our seq: do not hammer it.
      const wait = this.lastResetAt + 1000 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      this.lastResetAt = Date.now();
      await this.load(true);
    } finally {
      this.resetting = false;
    }
    this.link?.start();
  }

  private notify(): void {
    for (const fn of this.appliedListeners) fn(this.lastSeq);
  }
}
