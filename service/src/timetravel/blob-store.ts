// Where keyframes live: the manifest (one KeyframeEntry per keyframe, in seq order) and three immutable blobs
// per keyframe, each already compressed: `k` the board (deflate-raw of the u4 board), `r` the range that leads
// to it, `u` who placed each record of that range. A keyframe is listed only once all its blobs are stored, so
// a reader never sees a listed keyframe it cannot fetch.
import type { KeyframeEntry } from './codec.js';

export type BlobKind = 'k' | 'r' | 'u';
export const BLOB_KINDS: readonly BlobKind[] = ['k', 'r', 'u'];

export interface KeyframeBlobs {
  k: Buffer;
  r: Buffer;
  u: Buffer;
}

export interface KeyframeStore {
  /** Every listed keyframe, oldest first. */
  list(): Promise<KeyframeEntry[]>;
  /** A blob of a listed keyframe, or undefined. */
  blob(seq: number, kind: BlobKind): Promise<Buffer | undefined>;
  /** Stores the blobs, then lists the entry. */
  put(entry: KeyframeEntry, blobs: KeyframeBlobs): Promise<void>;
  /** Unlists a keyframe, then removes its blobs (ops:keyframes). */
  remove(seq: number): Promise<void>;
}

/** Keeps the newest blobs served in memory: they never change, and a seek asks for the same few many times. */
export class BlobCache {
  private readonly map = new Map<string, Buffer>();
  private bytes = 0;
  constructor(private readonly maxBytes: number) {}
  get(key: string): Buffer | undefined {
    const v = this.map.get(key);
    if (v) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, v: Buffer): void {
    if (v.length > this.maxBytes || this.map.has(key)) return;
    this.map.set(key, v);
    this.bytes += v.length;
    for (const [k, old] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= old.length;
    }
  }
  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }
  delete(key: string): void {
    const v = this.map.get(key);
    if (v) this.bytes -= v.length;
    this.map.delete(key);
  }
}
