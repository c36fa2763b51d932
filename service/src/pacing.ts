// Load-adaptive frame pacing: one container can send only so many WebSocket frames per second (a core
// saturates at roughly 70–80k), so as watchers grow, frames get further apart instead of late. Every
// frame still carries every seq of its interval: fewer, larger frames, never fewer placements.

export interface PacingOptions {
  /** Frames per second this container may send in total (all watchers together). */
  budget: number;
  minMs: number;
  maxMs: number;
}

/** The intervals the pacer moves between, so clients are told of a change rarely (each message is a frame per watcher). */
const STEPS = [10, 20, 25, 50, 75, 100, 150, 200, 250, 300, 400, 500, 600, 750, 1000, 1500, 2000];
/** Shrink only when the budget would allow this much less, so a count hovering at a boundary doesn't flap. */
const SHRINK_BELOW = 0.8;

export class FramePacer {
  private current: number;

  constructor(private readonly o: PacingOptions) {
    this.current = o.minMs;
  }

  get intervalMs(): number {
    return this.current;
  }

  /** The interval for this many watchers; returns true when it changed. */
  update(watchers: number): boolean {
    const { budget, minMs, maxMs } = this.o;
    const needed = budget > 0 ? (watchers * 1000) / budget : 0;
    const clamp = (ms: number) => Math.min(maxMs, Math.max(minMs, ms));
    const stepUp = clamp(STEPS.find((s) => s >= needed) ?? maxMs);
    let next = this.current;
    if (stepUp > this.current) next = stepUp;
    else if (needed < this.current * SHRINK_BELOW) next = stepUp;
    if (next === this.current) return false;
    this.current = next;
    return true;
  }
}
