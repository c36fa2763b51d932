// Keyframes rebuilt from the history (ops:keyframes): the placements in seq order, cut every `every`
// placements or `intervalMs` of placement time, and a last keyframe at the end so all of it is covered.
// The new keyframes are written first; then every old one that is not among them is removed, so readers
// always find a whole chain (blobs of a seq that is rewritten are the same bytes whoever wrote them).
import type { Placement } from '../store/store.js';
import { boardBytes } from '../store/store.js';
import type { KeyframeStore } from './blob-store.js';
import type { KeyframeEntry } from './codec.js';
import { Accumulator, segmentBlobs } from './segment.js';

export interface RebuildOptions {
  width: number;
  height: number;
  every: number;
  intervalMs: number;
  /** Called after each keyframe is written (the progress line). */
  onKeyframe?: (entry: KeyframeEntry, done: number) => void;
}

export async function rebuildKeyframes(placements: AsyncIterable<Placement[]> | Iterable<Placement[]>, store: KeyframeStore, o: RebuildOptions): Promise<KeyframeEntry[]> {
  const old = await store.list();
  const acc = new Accumulator(o.width, Buffer.alloc(boardBytes(o.width, o.height)), 0);
  const written: KeyframeEntry[] = [];
  let done = 0;
  const cut = async () => {
    const { entry, blobs } = await segmentBlobs(acc.cut(), o.width);
    await store.put(entry, blobs);
    written.push(entry);
    o.onKeyframe?.(entry, done);
  };
  for await (const batch of placements) {
    for (const p of batch) {
      if (acc.placements.length && acc.due(o.every, o.intervalMs, p.placedAt)) await cut();
      acc.add(p);
      done++;
    }
  }
  if (acc.placements.length) await cut();
  const keep = new Set(written.map((e) => e.seq));
  for (const e of old) if (!keep.has(e.seq)) await store.remove(e.seq);
  return written;
}
