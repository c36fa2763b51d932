// The frames of a timelapse: frame k is the board at moment t_k = from + (to − from) · k / (frames − 1), i.e.
// after every placement (in seq order) up to the first one placed after t_k — the same moment → board rule as
// the page's scrubber (docs/api.md, "Time travel"). Placements come in seq order, once.
import { applyEntry } from '../../service/src/timetravel/codec.js';
import type { Placement } from '../../service/src/store/store.js';

export interface FramePlan {
  from: number;
  to: number;
  frames: number;
}

export function momentOf(plan: FramePlan, k: number): number {
  return plan.frames === 1 ? plan.to : plan.from + ((plan.to - plan.from) * k) / (plan.frames - 1);
}

/** Feeds placements in seq order, calls emit(board, k) for each frame in turn; `board` is u4-packed and reused. */
export class FrameScheduler {
  private k = 0;

  constructor(
    private readonly plan: FramePlan,
    private readonly width: number,
    readonly board: Buffer,
    private readonly emit: (board: Buffer, k: number) => Promise<void>,
  ) {}

  get emitted(): number {
    return this.k;
  }

  async add(p: Placement): Promise<void> {
    while (this.k < this.plan.frames && p.placedAt > momentOf(this.plan, this.k)) await this.emit(this.board, this.k++);
    if (this.k >= this.plan.frames) return;
    applyEntry(this.board, (p.y * this.width + p.x) * 16 + p.color);
  }

  /** No more placements: the remaining frames show the board as it is. */
  async finish(): Promise<void> {
    while (this.k < this.plan.frames) await this.emit(this.board, this.k++);
  }
}
