import t from 'tap';
import { decodeFrame, encodeFrame, encodeFrames, FRAME_MAX_ENTRIES, packEntry, unpackEntry } from '../src/wire/frames.js';
import { parseClientMessage, parsePixelBody } from '../src/wire/messages.js';

/** Seeded, so a failure names a reproducible case. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

/** What a frame must hold: its entries stably sorted by pixel index. */
const bySet = (entries: number[]) => entries.map((e, i) => [Math.floor(e / 16), i, e]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[2]);

/** The board after applying entries in order (a map pixel → colour is enough). */
function fold(entries: ArrayLike<number>): Map<number, number> {
  const board = new Map<number, number>();
  for (let i = 0; i < entries.length; i++) board.set(Math.floor(entries[i] / 16), entries[i] % 16);
  return board;
}

t.test('frames: the layout of docs/api.md, bit for bit', async (t) => {
  // In seq order: pixel 3 colour 1, pixel 4 colour 15, pixel 3 colour 2. Sorted: 3/1, 3/2, 4/15; gaps 3, 0, 1.
  const f = encodeFrame(0x01020304, [packEntry(3, 1), packEntry(4, 15), packEntry(3, 2)]);
  // k = 0: gap 3 → 000 1 0001 | gap 0 → 1 0010 | gap 1 → 0 1 1111 | zero padding to the byte
  t.same([...f], [2, 4, 3, 2, 1, 3, 0, 0, 0b0001_0001, 0b1001_0011, 0b1110_0000]);
  const d = decodeFrame(f)!;
  t.equal(d.firstSeq, 0x01020304);
  t.equal(d.count, 3);
  t.same([...d.entries].map(unpackEntry), [
    { pixelIndex: 3, color: 1 },
    { pixelIndex: 3, color: 2 },
    { pixelIndex: 4, color: 15 },
  ], 'sorted by pixel; one pixel keeps its seq order');
  t.same(decodeFrame(f.buffer as ArrayBuffer), d, 'an ArrayBuffer decodes the same');
  const inside = new Uint8Array(f.length + 6);
  inside.set(f, 3);
  t.same(decodeFrame(inside.subarray(3, 3 + f.length)), d, 'so does a view into a larger buffer');
  t.same([...encodeFrame(9, [])], [2, 9, 0, 0, 0, 0, 0, 0], 'an empty frame: header and k');
  t.same(decodeFrame(encodeFrame(9, [])), { firstSeq: 9, count: 0, entries: new Uint32Array(0) });
});

t.test('frames: random frames round-trip as sets, and fold to the same board', async (t) => {
  const r = rng(15);
  const boards = [1, 2, 16, 101 * 79, 1000 * 1000, 2 ** 20, 2 ** 28];
  for (let trial = 0; trial < 400; trial++) {
    const pixels = boards[trial % boards.length];
    const n = Math.floor(r() ** 3 * 5000);
    // A third of the frames hammer a few pixels (duplicates); the others spread or cluster.
    const hot = trial % 3 === 0 ? Math.min(pixels, 1 + Math.floor(r() * 5)) : pixels;
    const entries = Array.from({ length: n }, () => Math.floor(r() * hot) * 16 + Math.floor(r() * 16));
    const f = encodeFrame(trial * 1000, entries);
    const d = decodeFrame(f);
    if (!d) {
      t.fail(`trial ${trial}: ${n} entries on ${pixels} pixels do not decode`);
      continue;
    }
    const want = bySet(entries);
    if (d.count !== n || d.firstSeq !== trial * 1000 || d.entries.some((e, i) => e !== want[i])) t.fail(`trial ${trial}: ${n} entries on ${pixels} pixels`);
    if (!sameMap(fold(d.entries), fold(entries))) t.fail(`trial ${trial}: the frame folds to another board`);
    if (Buffer.compare(Buffer.from(encodeFrame(trial * 1000, [...d.entries])), Buffer.from(f)) !== 0) t.fail(`trial ${trial}: re-encoding the decoded set changes the bytes`);
  }
  // Long zero runs (one huge gap among tiny ones) and the largest index with the largest colour.
  for (const entries of [[...Array(100).fill(packEntry(0, 1)), packEntry(999_999, 2)], [packEntry(2 ** 28 - 1, 15)], [packEntry(0, 0), packEntry(2 ** 28 - 1, 15)], [packEntry(2 ** 28 - 1, 3), packEntry(5, 4), packEntry(2 ** 28 - 1, 5)]]) {
    t.same([...decodeFrame(encodeFrame(1, entries))!.entries], bySet(entries), `${entries.length} entries up to index ${Math.floor(Math.max(...entries) / 16)}`);
  }
  t.pass('400 random frames');
});

function sameMap(a: Map<number, number>, b: Map<number, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

t.test('frames: 1,000 placements/s on 1000×1000 in 100 ms frames cost ≤ 2.5 bytes each on the wire', async (t) => {
  const r = rng(4);
  let bytes = 0;
  for (let i = 0; i < 50; i++) {
    const f = encodeFrame(1 + i * 100, Array.from({ length: 100 }, () => Math.floor(r() * 1_000_000) * 16 + Math.floor(r() * 16)));
    bytes += f.length + (f.length <= 125 ? 2 : 4); // + the WebSocket frame header
  }
  t.ok(bytes / 5000 <= 2.5, `${(bytes / 5000).toFixed(3)} bytes per placement`);
});

t.test('frames: anything malformed decodes to null', async (t) => {
  const good = encodeFrame(7, [packEntry(3, 1), packEntry(4, 15), packEntry(3, 2), packEntry(999_999, 9)]);
  t.ok(decodeFrame(good), 'the frame the cases below break');
  t.equal(decodeFrame(new Uint8Array(0)), null, 'empty');
  for (let len = 1; len < good.length; len++) if (decodeFrame(good.slice(0, len)) !== null) t.fail(`truncated to ${len} bytes`);
  t.pass('every truncation');
  const with_ = (i: number, v: number) => {
    const b = good.slice();
    b[i] = v;
    return b;
  };
  t.equal(decodeFrame(with_(0, 1)), null, 'kind 1 (retired)');
  t.equal(decodeFrame(with_(0, 3)), null, 'unknown kind');
  t.equal(decodeFrame(Uint8Array.from([...good, 0])), null, 'a trailing byte');
  const padded = encodeFrame(1, [packEntry(3, 1), packEntry(4, 15), packEntry(3, 2)]); // ends 111 00000 (above)
  padded[padded.length - 1] |= 1;
  t.equal(decodeFrame(padded), null, 'non-zero padding bits');
  t.equal(decodeFrame(with_(5, 5)), null, 'count larger than the entries');
  t.equal(decodeFrame(with_(5, 3)), null, 'count smaller than the entries (bits left over)');
  t.equal(decodeFrame(with_(7, 28)), null, 'k above 27');
  t.equal(decodeFrame(with_(7, 200)), null, 'k byte out of range');
  t.equal(decodeFrame(Uint8Array.from([2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])), null, 'a zero run that never stops');
  t.equal(decodeFrame(riceK27([2 ** 28])), null, 'pixel index 2^28');
  t.same([...decodeFrame(riceK27([2 ** 28 - 1]))!.entries], [(2 ** 28 - 1) * 16], 'while 2^28 − 1 decodes');
  t.equal(decodeFrame(riceK27([2 ** 28 - 1, 1])), null, 'gaps that add up to 2^28');
});

/** A k = 27 frame with gaps written bit by bit (colour 0), for indices the encoder never writes. */
function riceK27(gaps: number[]): Uint8Array {
  const bits: number[] = [];
  for (const d of gaps) {
    for (let i = 0; i < Math.floor(d / 2 ** 27); i++) bits.push(0);
    bits.push(1);
    const field = (d % 2 ** 27) * 16;
    for (let i = 30; i >= 0; i--) bits.push(Math.floor(field / 2 ** i) % 2);
  }
  while (bits.length % 8) bits.push(0);
  const body = Array.from({ length: bits.length / 8 }, (_, i) => bits.slice(i * 8, i * 8 + 8).reduce((v, bit) => v * 2 + bit, 0));
  return Uint8Array.from([2, 0, 0, 0, 0, gaps.length, 0, 27, ...body]);
}

t.test('frames: what the encoder refuses', async (t) => {
  t.throws(() => encodeFrame(1, new Array(FRAME_MAX_ENTRIES + 1).fill(0)), RangeError, 'more than 65,535 entries');
  for (const bad of [-1, 1.5, 2 ** 32, NaN]) t.throws(() => encodeFrame(1, [bad]), RangeError, `entry ${bad}`);
  t.throws(() => encodeFrame(2 ** 32 - 1, [0, 0]), RangeError, 'seqs past u32');
});

t.test('long runs split into several frames at the u16 count', async (t) => {
  const r = rng(7);
  const entries = Array.from({ length: FRAME_MAX_ENTRIES + 10 }, () => Math.floor(r() * 1_000_000) * 16 + Math.floor(r() * 16));
  const frames = encodeFrames(100, entries).map((f) => decodeFrame(f)!);
  t.same(frames.map((f) => [f.firstSeq, f.count]), [[100, FRAME_MAX_ENTRIES], [100 + FRAME_MAX_ENTRIES, 10]]);
  t.same([...frames[0].entries], bySet(entries.slice(0, FRAME_MAX_ENTRIES)), 'each frame is the set of its own seqs');
  t.same([...frames[1].entries], bySet(entries.slice(FRAME_MAX_ENTRIES)));
  t.same(encodeFrames(1, []), []);
});

t.test('pixel bodies: every malformed input is refused with a reason', async (t) => {
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['   ', /empty/],
    ['{', /JSON/],
    ['null', /object/],
    ['[1,2,3]', /object/],
    ['"x"', /object/],
    ['{}', /"x" is missing/],
    ['{"x":1,"y":1}', /"color" is missing/],
    ['{"x":"1","y":1,"color":1}', /integer/],
    ['{"x":1.5,"y":1,"color":1}', /integer/],
    ['{"x":-1,"y":1,"color":1}', /between/],
    ['{"x":10,"y":1,"color":1}', /between 0 and 9/],
    ['{"x":1,"y":8,"color":1}', /between 0 and 7/],
    ['{"x":1,"y":1,"color":16}', /between 0 and 15/],
    ['{"x":1,"y":1,"color":true}', /integer/],
    ['{"x":1e400,"y":1,"color":1}', /integer/],
    ['{"__proto__":{"x":1},"y":1,"color":1}', /"x" is missing/],
  ];
  for (const [body, re] of bad) {
    const r = parsePixelBody(Buffer.from(body), 10, 8);
    t.notOk(r.ok, body);
    if (!r.ok) t.match(r.message, re, body);
  }
  t.same(parsePixelBody(Buffer.from('{"x":9,"y":7,"color":15,"extra":1}'), 10, 8), { ok: true, value: { x: 9, y: 7, color: 15 } });
});

t.test('socket messages', async (t) => {
  t.same(parseClientMessage('{"t":"place","id":7,"x":1,"y":2,"color":3}', 10, 10), { ok: true, value: { t: 'place', id: 7, x: 1, y: 2, color: 3 } });
  const r = parseClientMessage('{"t":"place","id":"abc","x":11,"y":2,"color":3}', 10, 10);
  t.notOk(r.ok);
  if (!r.ok) t.equal(r.id, 'abc');
  t.notOk(parseClientMessage('{"t":"other"}', 10, 10).ok);
  const big = parseClientMessage(JSON.stringify({ t: 'place', id: 'x'.repeat(100), x: 1, y: 1, color: 1 }), 10, 10);
  t.ok(big.ok && big.value.id === null, 'long ids are not echoed');
});
