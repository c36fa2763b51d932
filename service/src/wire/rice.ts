// Rice coding of a sorted list of pixel indices with a 4-bit colour each: the body of an update frame.
// Each entry is the gap d to the previous index (the first: to 0) and its colour, written MSB-first as
//   q = d >> k zero bits, a one bit, then k + 4 bits = (d mod 2^k) << 4 | colour,
// and the last byte is padded with zero bits. With k picked per frame, n uniform pixels of N cost about
// log2(N/n) + 1.5 bits + 4 colour bits each, near the information bound for a set (frames are sets).
// No imports: the browser client and the k6 scripts load this file as it is.

/** Indices are below 2^28 (the largest board), so index * 16 + colour fits a u32. */
export const MAX_PIXEL_INDEX = 2 ** 28;
export const MAX_RICE_K = 27;

/** The k that minimises the coded size of these gaps, and that size in bits (convex in k: walk downhill). */
export function chooseRiceK(gaps: Uint32Array, n: number, sum: number): { k: number; bits: number } {
  if (n === 0) return { k: 0, bits: 0 };
  const mean = sum / n;
  // For geometric gaps the best k is near log2(mean · ln 2); start there.
  let k = mean < 2 ? 0 : Math.min(MAX_RICE_K, Math.floor(Math.log2(mean * Math.LN2)));
  let bits = riceBits(gaps, n, k);
  while (k > 0) {
    const b = riceBits(gaps, n, k - 1);
    if (b > bits) break;
    k--;
    bits = b;
  }
  while (k < MAX_RICE_K) {
    const b = riceBits(gaps, n, k + 1);
    if (b >= bits) break;
    k++;
    bits = b;
  }
  return { k, bits };
}

/** Bits for n entries with parameter k, colours included. */
export function riceBits(gaps: Uint32Array, n: number, k: number): number {
  let q = 0;
  for (let i = 0; i < n; i++) q += gaps[i] >>> k;
  return q + n * (k + 5);
}

/**
 * Writes n entries (gaps[i], colors[i]) with parameter k into out[at…]; out must be zero-filled and hold
 * exactly ceil(riceBits / 8) bytes from `at`. Returns the end offset.
 */
export function writeRice(out: Uint8Array, at: number, gaps: Uint32Array, colors: Uint8Array, n: number, k: number): number {
  let p = at;
  let acc = 0; // the low nacc bits are pending; fewer than 8 between entries, so shifts stay within 31 bits
  let nacc = 0;
  const fieldBits = k + 4;
  const lowMask = (1 << k) - 1;
  const stop = 1 << fieldBits;
  const fastQ = 23 - fieldBits;
  for (let i = 0; i < n; i++) {
    const d = gaps[i];
    const q = d >>> k;
    if (q <= fastQ) {
      // Nearly every entry: q zeros, the stop bit and the field in one go.
      const bits = q + 1 + fieldBits;
      acc = (acc << bits) | stop | ((d & lowMask) << 4) | colors[i];
      nacc += bits;
    } else {
      // A long zero run is whole zero bytes of the zero-filled output: skip them.
      const run = nacc + q;
      if (run >= 8) {
        out[p] = acc << (8 - nacc);
        p += run >>> 3;
        acc = 0;
        nacc = run & 7;
      } else {
        acc <<= q;
        nacc = run;
      }
      acc = (acc << 1) | 1;
      nacc++;
      const field = ((d & lowMask) << 4) | colors[i];
      if (fieldBits > 16) {
        acc = (acc << (fieldBits - 16)) | (field >>> 16);
        nacc += fieldBits - 16;
        while (nacc >= 8) out[p++] = acc >>> (nacc -= 8);
        acc &= (1 << nacc) - 1;
        acc = (acc << 16) | (field & 0xffff);
        nacc += 16;
      } else {
        acc = (acc << fieldBits) | field;
        nacc += fieldBits;
      }
    }
    while (nacc >= 8) out[p++] = acc >>> (nacc -= 8);
    acc &= (1 << nacc) - 1;
  }
  if (nacc > 0) out[p++] = acc << (8 - nacc);
  return p;
}

/**
 * Reads n entries with parameter k from bytes[at…end) into out as index * 16 + colour, indices ascending.
 * Returns false unless the bytes are exactly such a body: every bit used, zero padding, indices < 2^28.
 */
export function readRice(bytes: Uint8Array, at: number, end: number, n: number, k: number, out: Uint32Array): boolean {
  if (k > MAX_RICE_K) return false;
  let p = at;
  let acc = 0; // the low nacc bits are unread
  let nacc = 0;
  let index = 0;
  const scale = 2 ** k;
  const maxQ = Math.floor(MAX_PIXEL_INDEX / scale);
  const split = k + 4 > 24;
  const first = split ? k + 4 - 16 : k + 4;
  const firstMask = 2 ** first - 1;
  for (let i = 0; i < n; i++) {
    let q = 0;
    for (;;) {
      if (nacc === 0) {
        if (p >= end) return false;
        acc = bytes[p++];
        nacc = 8;
      }
      const m = acc & ((1 << nacc) - 1);
      if (m === 0) {
        q += nacc;
        nacc = 0;
        if (q > maxQ) return false;
        continue;
      }
      const zeros = Math.clz32(m) - (32 - nacc);
      q += zeros;
      nacc -= zeros + 1;
      break;
    }
    if (q > maxQ) return false;
    while (nacc < first) {
      if (p >= end) return false;
      acc = ((acc & ((1 << nacc) - 1)) << 8) | bytes[p++];
      nacc += 8;
    }
    nacc -= first;
    let field = (acc >>> nacc) & firstMask;
    if (split) {
      while (nacc < 16) {
        if (p >= end) return false;
        acc = ((acc & ((1 << nacc) - 1)) << 8) | bytes[p++];
        nacc += 8;
      }
      nacc -= 16;
      field = (field << 16) | ((acc >>> nacc) & 0xffff);
    }
    index += q * scale + (field >>> 4);
    if (index >= MAX_PIXEL_INDEX) return false;
    out[i] = index * 16 + (field & 15);
  }
  return p === end && (acc & ((1 << nacc) - 1)) === 0;
}
