// The time-travel wire formats (docs/api.md, "Time travel"), byte for byte. Pure: no Node imports, so the
// browser client imports this module as it is. Compression (deflate-raw) wraps these bytes outside.
//
// Range: the placements with seq in (from, to], in seq order.
//   0  u32 count          4  u32 from (exclusive)     8  f64 baseTime (epoch ms, the smallest placedAt)
//   16 count × { u32 seq, u32 pixelIndex*16 + colour, u32 placedAt − baseTime }
// Users (who placed each record of the range with the same count, same order; fetched only to answer "who"):
//   0  u32 count          4  u32 nUsers    then nUsers × { u8 length, UTF-8 bytes }   then count × u32 user index

export const RANGE_HEADER = 16;
export const RANGE_RECORD = 12;

/** One placement as time travel needs it; `entry` = pixelIndex * 16 + colour, as in the live frames. */
export interface TimedPlacement {
  seq: number;
  entry: number;
  placedAt: number;
}

/** A decoded range, columnar: record i is seqs[i], entries[i], times[i]. */
export interface Range {
  from: number;
  seqs: Uint32Array;
  entries: Uint32Array;
  /** epoch ms */
  times: Float64Array;
}

export class RangeFormatError extends Error {
  override readonly name = 'RangeFormatError';
}

export function encodeRange(from: number, records: readonly TimedPlacement[]): Uint8Array {
  const out = new Uint8Array(RANGE_HEADER + records.length * RANGE_RECORD);
  const v = new DataView(out.buffer);
  let base = Infinity;
  for (const r of records) if (r.placedAt < base) base = r.placedAt;
  if (!Number.isFinite(base)) base = 0;
  v.setUint32(0, records.length, true);
  v.setUint32(4, from, true);
  v.setFloat64(8, base, true);
  let o = RANGE_HEADER;
  for (const r of records) {
    v.setUint32(o, r.seq, true);
    v.setUint32(o + 4, r.entry, true);
    // Clock skew can put a later seq earlier in time; the base is the minimum, so the offset is never negative.
    v.setUint32(o + 8, Math.min(0xffffffff, r.placedAt - base), true);
    o += RANGE_RECORD;
  }
  return out;
}

export function decodeRange(bytes: Uint8Array): Range {
  if (bytes.length < RANGE_HEADER) throw new RangeFormatError(`range is ${bytes.length} bytes, shorter than its header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = v.getUint32(0, true);
  if (bytes.length !== RANGE_HEADER + count * RANGE_RECORD) throw new RangeFormatError(`range of ${count} records is ${bytes.length} bytes`);
  const from = v.getUint32(4, true);
  const base = v.getFloat64(8, true);
  const seqs = new Uint32Array(count);
  const entries = new Uint32Array(count);
  const times = new Float64Array(count);
  let prev = from;
  for (let i = 0, o = RANGE_HEADER; i < count; i++, o += RANGE_RECORD) {
    const s = v.getUint32(o, true);
    if (s <= prev) throw new RangeFormatError(`range seqs must rise after ${from}: ${s} follows ${prev}`);
    seqs[i] = prev = s;
    entries[i] = v.getUint32(o + 4, true);
    times[i] = base + v.getUint32(o + 8, true);
  }
  return { from, seqs, entries, times };
}

export function encodeUsers(userIds: readonly string[]): Uint8Array {
  const enc = new TextEncoder();
  const index = new Map<string, number>();
  const names: Uint8Array[] = [];
  const refs = new Uint32Array(userIds.length);
  userIds.forEach((u, i) => {
    let k = index.get(u);
    if (k === undefined) {
      k = names.length;
      index.set(u, k);
      names.push(enc.encode(u).subarray(0, 255));
    }
    refs[i] = k;
  });
  let size = 8 + refs.length * 4;
  for (const n of names) size += 1 + n.length;
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, refs.length, true);
  v.setUint32(4, names.length, true);
  let o = 8;
  for (const n of names) {
    out[o++] = n.length;
    out.set(n, o);
    o += n.length;
  }
  for (let i = 0; i < refs.length; i++, o += 4) v.setUint32(o, refs[i], true);
  return out;
}

/** The user of each record, in record order. */
export function decodeUsers(bytes: Uint8Array): string[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 8) throw new RangeFormatError('users blob shorter than its header');
  const count = v.getUint32(0, true);
  const n = v.getUint32(4, true);
  const dec = new TextDecoder();
  const names: string[] = [];
  let o = 8;
  for (let i = 0; i < n; i++) {
    const len = bytes[o++];
    if (o + len > bytes.length) throw new RangeFormatError('users blob truncated');
    names.push(dec.decode(bytes.subarray(o, o + len)));
    o += len;
  }
  if (o + count * 4 !== bytes.length) throw new RangeFormatError(`users blob of ${count} records is ${bytes.length} bytes`);
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++, o += 4) {
    const k = v.getUint32(o, true);
    if (k >= n) throw new RangeFormatError(`user index ${k} beyond ${n} users`);
    out[i] = names[k];
  }
  return out;
}

/** One keyframe as GET /api/history lists it: the board at `seq`, and the range (from, seq] that leads to it. */
export interface KeyframeEntry {
  seq: number;
  /** The previous keyframe's seq (0: the empty board at the canvas's start). from === seq: a base keyframe, no range. */
  from: number;
  /** placedAt of the placement `seq` (the last of the range); for a base keyframe, when it was written. */
  at: number;
  /** Smallest placedAt in the range (= at for a base keyframe). */
  firstAt: number;
  /** Placements in the range. */
  count: number;
}

/** Board layout helpers (GET /api/board's u4 packing, high nibble first). */
export function applyEntry(packed: Uint8Array, entry: number): void {
  const i = entry >>> 4;
  const b = i >> 1;
  packed[b] = i % 2 === 0 ? (packed[b] & 0x0f) | ((entry & 15) << 4) : (packed[b] & 0xf0) | (entry & 15);
}
