// The binary update frame, shared byte for byte by the service, the browser client and the benchmarks.
// byte 0 = 1 (kind); bytes 1-4 first seq (u32 LE); bytes 5-6 count (u16 LE);
// then count entries, each u32 LE = pixelIndex * 16 + colour, for seqs first … first+count-1.

export const FRAME_KIND_UPDATES = 1;
export const FRAME_HEADER_BYTES = 7;
export const FRAME_MAX_ENTRIES = 0xffff;

export interface Frame {
  firstSeq: number;
  /** pixelIndex * 16 + colour, one per consecutive seq. */
  entries: Uint32Array;
}

/** Encodes consecutive placements starting at firstSeq; entries.length must be ≤ FRAME_MAX_ENTRIES. */
export function encodeFrame(firstSeq: number, entries: ArrayLike<number>, count = entries.length): Uint8Array {
  if (count > FRAME_MAX_ENTRIES) throw new RangeError(`a frame holds at most ${FRAME_MAX_ENTRIES} entries`);
  const buf = new Uint8Array(FRAME_HEADER_BYTES + count * 4);
  const view = new DataView(buf.buffer);
  view.setUint8(0, FRAME_KIND_UPDATES);
  view.setUint32(1, firstSeq, true);
  view.setUint16(5, count, true);
  for (let i = 0; i < count; i++) view.setUint32(FRAME_HEADER_BYTES + i * 4, entries[i], true);
  return buf;
}

/** Splits a long run of placements into as many frames as the u16 count needs. */
export function encodeFrames(firstSeq: number, entries: ArrayLike<number>): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < entries.length; off += FRAME_MAX_ENTRIES) {
    const n = Math.min(FRAME_MAX_ENTRIES, entries.length - off);
    const slice = Array.prototype.slice.call(entries, off, off + n) as number[];
    out.push(encodeFrame(firstSeq + off, slice, n));
  }
  return out;
}

/** Decodes a frame; returns null for anything that is not a well-formed update frame. */
export function decodeFrame(data: ArrayBuffer | Uint8Array): Frame | null {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length < FRAME_HEADER_BYTES || bytes[0] !== FRAME_KIND_UPDATES) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const firstSeq = view.getUint32(1, true);
  const count = view.getUint16(5, true);
  if (bytes.length !== FRAME_HEADER_BYTES + count * 4) return null;
  const entries = new Uint32Array(count);
  for (let i = 0; i < count; i++) entries[i] = view.getUint32(FRAME_HEADER_BYTES + i * 4, true);
  return { firstSeq, entries };
}

export function packEntry(pixelIndex: number, color: number): number {
  return pixelIndex * 16 + color;
}

export function unpackEntry(entry: number): { pixelIndex: number; color: number } {
  return { pixelIndex: Math.floor(entry / 16), color: entry % 16 };
}
