// The live tail: placements after the last listed keyframe. They change every moment, so they are served
// short-lived (not cached), from what each mode still holds: the writer's memory (embedded) or the stream (Redis).
import type { Placement } from '../store/store.js';

export interface TailSource {
  /** Placements with seq > after, oldest first, at most limit. */
  tail(after: number, limit: number): Promise<Placement[]>;
}
