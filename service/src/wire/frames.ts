// The binary update frame, shared byte for byte by the service, the browser client and the benchmarks.
// byte 0 = 2 (kind); bytes 1-4 first seq (u32 LE); bytes 5-6 count (u16 LE): the frame holds the
// placements of seqs first … first+count−1; byte 7 = k; then the Rice-coded body (rice.ts).
// A frame is a set: entries are sorted by pixel index, and entries for one pixel keep their seq order,
// so applying them in frame order leaves the board exactly as applying them in seq order would.
import { chooseRiceK, MAX_PIXEL_INDEX, readRice, writeRice } from './rice.js';

export const FRAME_KIND_UPDATES = 2;
export const FRAME_HEADER_BYTES = 7;
export const FRAME_MAX_ENTRIES = 0xffff;
export { MAX_PIXEL_INDEX };

export interface Frame {
  firstSeq: number;
  /** The number of consecutive seqs this frame covers (= entries.length). */
  count: number;
  /** pixelIndex * 16 + colour, by pixel index; one pixel's entries in seq order. */
  entries: Uint32Array;
}

/** Encodes the placements of seqs firstSeq… (entries in seq order); count must be ≤ FRAME_MAX_ENTRIES. */
export function encodeFrame(firstSeq: number, entries: ArrayLike<number>, count = entries.length): Uint8Array {
  return encodeRange(firstSeq, entries, 0, count);
}

/** Splits a long run of placements into as many frames as the u16 count needs. */
export function encodeFrames(firstSeq: number, entries: ArrayLike<number>): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < entries.length; off += FRAME_MAX_ENTRIES) {
    out.push(encodeRange(firstSeq + off, entries, off, Math.min(FRAME_MAX_ENTRIES, entries.length - off)));
  }
  return out;
}

function encodeRange(firstSeq: number, entries: ArrayLike<number>, off: number, n: number): Uint8Array {
  if (n > FRAME_MAX_ENTRIES) throw new RangeError(`a frame holds at most ${FRAME_MAX_ENTRIES} entries`);
  if (!(Number.isInteger(firstSeq) && firstSeq >= 0 && firstSeq + Math.max(n, 1) - 1 <= 0xffffffff)) throw new RangeError(`first seq ${firstSeq} does not fit a u32`);
  const sorted = sortByPixel(entries, off, n);
  const gaps = new Uint32Array(n);
  const colors = new Uint8Array(n);
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const index = sorted[i] >>> 4;
    gaps[i] = index - prev;
    colors[i] = sorted[i] & 15;
    prev = index;
  }
  const { k, bits } = chooseRiceK(gaps, n, prev);
  const buf = new Uint8Array(FRAME_HEADER_BYTES + 1 + Math.ceil(bits / 8));
  buf[0] = FRAME_KIND_UPDATES;
  const view = new DataView(buf.buffer);
  view.setUint32(1, firstSeq, true);
  view.setUint16(5, n, true);
  buf[FRAME_HEADER_BYTES] = k;
  const end = writeRice(buf, FRAME_HEADER_BYTES + 1, gaps, colors, n, k);
  if (end !== buf.length) throw new Error(`frame body is ${end - FRAME_HEADER_BYTES} bytes, sized ${buf.length - FRAME_HEADER_BYTES}`);
  return buf;
}

/** Below this many entries a comparison sort beats the radix sort's bucket passes. */
const RADIX_FROM = 256;

/** entries[off…off+n) sorted by pixel index, stable (one pixel's entries stay in seq order). */
export function sortByPixel(entries: ArrayLike<number>, off: number, n: number): Uint32Array {
  let a = new Uint32Array(n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    const e = entries[off + i];
    if (e >>> 0 !== e) throw new RangeError(`entry ${e} is not pixelIndex * 16 + colour`);
    a[i] = e;
    if (e > max) max = e;
  }
  const bits = 32 - Math.clz32(max >>> 4);
  if (n < 2 || bits === 0) return a;
  if (n < RADIX_FROM) {
    // The position breaks ties (index < 2^28, position < 2^16: the key < 2^44 is exact in a double).
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = (a[i] >>> 4) * 65536 + i;
    keys.sort();
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const index = Math.floor(keys[i] / 65536);
      out[i] = a[keys[i] - index * 65536];
    }
    return out;
  }
  // LSD radix sort on the index bits actually used: counting passes are stable by construction.
  const passes = Math.ceil(bits / 11);
  const width = Math.ceil(bits / passes);
  const mask = (1 << width) - 1;
  const counts = new Uint32Array(mask + 2);
  let b = new Uint32Array(n);
  for (let p = 0, shift = 4; p < passes; p++, shift += width) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[((a[i] >>> shift) & mask) + 1]++;
    for (let d = 1; d <= mask + 1; d++) counts[d] += counts[d - 1];
    for (let i = 0; i < n; i++) b[counts[(a[i] >>> shift) & mask]++] = a[i];
    const t = a;
    a = b;
    b = t;
  }
  return a;
}

/** Decodes a frame; returns null for anything that is not exactly a well-formed update frame. */
export function decodeFrame(data: ArrayBuffer | Uint8Array): Frame | null {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length < FRAME_HEADER_BYTES + 1 || bytes[0] !== FRAME_KIND_UPDATES) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const firstSeq = view.getUint32(1, true);
  const count = view.getUint16(5, true);
  const entries = new Uint32Array(count);
  if (!readRice(bytes, FRAME_HEADER_BYTES + 1, bytes.length, count, bytes[FRAME_HEADER_BYTES], entries)) return null;
  return { firstSeq, count, entries };
}

export function packEntry(pixelIndex: number, color: number): number {
  return pixelIndex * 16 + color;
}

export function unpackEntry(entry: number): { pixelIndex: number; color: number } {
  return { pixelIndex: Math.floor(entry / 16), color: entry % 16 };
}
