// Bytes per placement on the wire for candidate update-frame bodies, at 1,000 placements/s and the frame
// intervals the fan-out may use, with uniform and clustered pixels. Counts everything a watcher receives per
// frame except TCP/IP: the 7-byte frame header, the body and the 2–10 byte WebSocket header. Also encode and
// decode µs per frame. CPU only, seeded: `npm run build && node dist/bench/node/frame-density.js`.
//   fixed3  3 bytes per entry (index * 16 + colour, u24 LE) in seq order; boards ≤ 2^20 pixels only
//   varint  sorted indices, gaps as LEB128 varints, then the colours packed two per byte
//   rice    the shipped kind-2 frame (service/src/wire/frames.ts): sorted, Rice-coded gaps with 4-bit colours
//   golomb  rice with the best Golomb modulus instead of a power of two (size only, parameter in one byte)
//   bound   log2 C(N, n) + 4 bits per entry: no coding of n uniformly random pixels of N with uniformly random
//           colours does better on average (clustered pixels can, with a model of where the clusters are)
import { decodeFrame, encodeFrame, FRAME_HEADER_BYTES, sortByPixel } from '../../service/src/wire/frames.js';
import { fmt, table } from './table.js';

const RATE = 1000;
const INTERVALS_MS = [50, 100, 250, 500, 1000];
/** Entries per measured row: enough frames that the average is steady. */
const ENTRIES_PER_ROW = 200_000;

type Candidate = { name: string; encode(first: number, entries: number[]): Uint8Array; decode(frame: Uint8Array): Uint32Array | null };

const wsHeader = (payload: number) => (payload <= 125 ? 2 : payload <= 0xffff ? 4 : 10);

function header(kind: number, first: number, n: number, bodyBytes: number): { buf: Uint8Array; view: DataView } {
  const buf = new Uint8Array(FRAME_HEADER_BYTES + bodyBytes);
  const view = new DataView(buf.buffer);
  buf[0] = kind;
  view.setUint32(1, first, true);
  view.setUint16(5, n, true);
  return { buf, view };
}

const fixed3: Candidate = {
  name: 'fixed3',
  encode(first, entries) {
    const { buf } = header(3, first, entries.length, entries.length * 3);
    for (let i = 0, p = FRAME_HEADER_BYTES; i < entries.length; i++, p += 3) {
      const e = entries[i];
      buf[p] = e & 0xff;
      buf[p + 1] = (e >>> 8) & 0xff;
      buf[p + 2] = e >>> 16;
    }
    return buf;
  },
  decode(frame) {
    const n = frame[5] | (frame[6] << 8);
    if (frame.length !== FRAME_HEADER_BYTES + n * 3) return null;
    const out = new Uint32Array(n);
    for (let i = 0, p = FRAME_HEADER_BYTES; i < n; i++, p += 3) out[i] = frame[p] | (frame[p + 1] << 8) | (frame[p + 2] << 16);
    return out;
  },
};

const varint: Candidate = {
  name: 'varint',
  encode(first, entries) {
    const n = entries.length;
    const sorted = sortByPixel(entries, 0, n);
    let gapBytes = 0;
    let prev = 0;
    for (let i = 0; i < n; i++) {
      const g = (sorted[i] >>> 4) - prev;
      prev = sorted[i] >>> 4;
      gapBytes += g < 0x80 ? 1 : g < 0x4000 ? 2 : g < 0x200000 ? 3 : 4;
    }
    const { buf } = header(4, first, n, gapBytes + Math.ceil(n / 2));
    let p = FRAME_HEADER_BYTES;
    prev = 0;
    for (let i = 0; i < n; i++) {
      let g = (sorted[i] >>> 4) - prev;
      prev = sorted[i] >>> 4;
      while (g >= 0x80) {
        buf[p++] = (g & 0x7f) | 0x80;
        g >>>= 7;
      }
      buf[p++] = g;
    }
    for (let i = 0; i < n; i++) buf[p + (i >> 1)] |= (sorted[i] & 15) << (i & 1 ? 0 : 4);
    return buf;
  },
  decode(frame) {
    const n = frame[5] | (frame[6] << 8);
    const out = new Uint32Array(n);
    let p = FRAME_HEADER_BYTES;
    let index = 0;
    for (let i = 0; i < n; i++) {
      let g = 0;
      for (let shift = 0; ; shift += 7) {
        if (p >= frame.length || shift > 21) return null;
        const b = frame[p++];
        g |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
      index += g;
      out[i] = index * 16;
    }
    if (frame.length !== p + Math.ceil(n / 2)) return null;
    for (let i = 0; i < n; i++) out[i] |= (frame[p + (i >> 1)] >> (i & 1 ? 0 : 4)) & 15;
    return out;
  },
};

const rice: Candidate = {
  name: 'rice',
  encode: (first, entries) => encodeFrame(first, entries),
  decode: (frame) => decodeFrame(frame)?.entries ?? null,
};

/** Body bits of the best Golomb code of the sorted gaps (truncated binary remainders), colours included. */
function golombBits(entries: number[]): number {
  const n = entries.length;
  const sorted = sortByPixel(entries, 0, n);
  const gaps: number[] = [];
  let prev = 0;
  for (let i = 0; i < n; i++) gaps.push((sorted[i] >>> 4) - prev), (prev = sorted[i] >>> 4);
  const mean = prev / n;
  let best = Infinity;
  for (let m = Math.max(1, Math.floor(mean * 0.4)); m <= Math.max(2, Math.ceil(mean * 1.2)); m = Math.max(m + 1, Math.floor(m * 1.01))) {
    const b = Math.ceil(Math.log2(m));
    const cut = 2 ** b - m; // remainders below cut take b − 1 bits
    let bits = 4 * n;
    for (const g of gaps) bits += Math.floor(g / m) + 1 + (m === 1 ? 0 : g % m < cut ? b - 1 : b);
    best = Math.min(best, bits);
  }
  return best;
}

function log2Binomial(N: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.log2((N - i) / (i + 1));
  return s;
}

/** Seeded, so every run measures the same frames. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

type Pixels = (r: () => number) => number;

const uniform = (pixels: number): Pixels => (r) => Math.floor(r() * pixels);

/** r/place-like: 80 % of placements around 8 hotspots (Gaussian, σ = 25 px), the rest anywhere. */
function clustered(width: number, height: number): Pixels {
  const r0 = rng(99);
  const spots = Array.from({ length: 8 }, () => [Math.floor(r0() * width), Math.floor(r0() * height)]);
  return (r) => {
    if (r() < 0.2) return Math.floor(r() * width * height);
    const [cx, cy] = spots[Math.floor(r() * spots.length)];
    const radius = 25 * Math.sqrt(-2 * Math.log(1 - r()));
    const angle = 2 * Math.PI * r();
    const x = Math.min(width - 1, Math.max(0, Math.round(cx + radius * Math.cos(angle))));
    const y = Math.min(height - 1, Math.max(0, Math.round(cy + radius * Math.sin(angle))));
    return y * width + x;
  };
}

interface Row {
  label: string;
  pixels: number;
  n: number;
  pick: Pixels;
}

function measure(row: Row, candidates: Candidate[]): string[] {
  const r = rng(row.n * 7919 + row.pixels);
  const frames = Math.max(5, Math.round(ENTRIES_PER_ROW / row.n));
  const inputs = Array.from({ length: frames }, () => Array.from({ length: row.n }, () => row.pick(r) * 16 + Math.floor(r() * 16)));
  const perEntry = (bytes: number) => fmt(bytes / (frames * row.n), 3);
  const cells: string[] = [];
  const times: string[] = [];
  for (const c of candidates) {
    if (c === fixed3 && row.pixels > 2 ** 20) {
      cells.push('n/a');
      times.push('n/a');
      continue;
    }
    const encoded = inputs.map((e, i) => c.encode(1 + i * row.n, e)); // warms up, and is checked below
    encoded.forEach((f, i) => {
      const got = c.decode(f);
      const want = c === fixed3 ? Uint32Array.from(inputs[i]) : sortByPixel(inputs[i], 0, row.n);
      if (!got || got.length !== want.length || got.some((v, j) => v !== want[j])) throw new Error(`${c.name}: frame ${i} of ${row.label} does not round-trip`);
    });
    const reps = Math.max(1, Math.round(2_000_000 / (frames * row.n)));
    let t0 = performance.now();
    for (let k = 0; k < reps; k++) for (let i = 0; i < frames; i++) c.encode(1 + i * row.n, inputs[i]);
    const enc = ((performance.now() - t0) * 1000) / (reps * frames);
    t0 = performance.now();
    for (let k = 0; k < reps; k++) for (let i = 0; i < frames; i++) c.decode(encoded[i]);
    const dec = ((performance.now() - t0) * 1000) / (reps * frames);
    cells.push(perEntry(encoded.reduce((s, f) => s + f.length + wsHeader(f.length), 0)));
    times.push(`${fmt(enc, enc < 100 ? 1 : 0)} / ${fmt(dec, dec < 100 ? 1 : 0)}`);
  }
  const overhead = (body: number) => FRAME_HEADER_BYTES + 1 + body + wsHeader(FRAME_HEADER_BYTES + 1 + body);
  const golomb = inputs.reduce((s, e) => s + overhead(Math.ceil(golombBits(e) / 8)), 0);
  const boundBody = (log2Binomial(row.pixels, row.n) + 4 * row.n) / 8;
  return [row.label, fmt(row.n), ...cells, perEntry(golomb), fmt((boundBody + FRAME_HEADER_BYTES + wsHeader(FRAME_HEADER_BYTES + boundBody)) / row.n, 3), ...times];
}

function main(): void {
  const M = 1000 * 1000;
  const rows: Row[] = [
    ...INTERVALS_MS.map((ms) => ({ label: `uniform 1000×1000, ${ms} ms`, pixels: M, n: (RATE * ms) / 1000, pick: uniform(M) })),
    ...INTERVALS_MS.map((ms) => ({ label: `clustered 1000×1000, ${ms} ms`, pixels: M, n: (RATE * ms) / 1000, pick: clustered(1000, 1000) })),
    { label: 'uniform 16384×16384 (2^28), 50 ms', pixels: 2 ** 28, n: 50, pick: uniform(2 ** 28) },
    { label: 'uniform 16384×16384 (2^28), 1000 ms', pixels: 2 ** 28, n: 1000, pick: uniform(2 ** 28) },
    { label: 'resume page 1000×1000', pixels: M, n: 10_000, pick: uniform(M) },
    { label: 'largest frame 1000×1000', pixels: M, n: 65_535, pick: uniform(M) },
  ];
  const candidates = [fixed3, varint, rice];
  const head = ['frames of', 'entries', ...candidates.map((c) => `${c.name} B/entry`), 'golomb B/entry', 'uniform bound B/entry', ...candidates.map((c) => `${c.name} enc/dec µs`)];
  const out: string[][] = [];
  for (const row of rows) {
    out.push(measure(row, candidates));
    process.stderr.write('.');
  }
  process.stderr.write('\n');
  console.log(`Bytes per placement on the wire incl. the 7-byte frame header and the WebSocket header (${RATE} placements/s); µs per frame on this machine (Node ${process.version}).`);
  console.log(table(head, out));
}

main();
