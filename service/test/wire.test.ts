import t from 'tap';
import { decodeFrame, encodeFrame, encodeFrames, FRAME_MAX_ENTRIES, packEntry, unpackEntry } from '../src/wire/frames.js';
import { parseClientMessage, parsePixelBody } from '../src/wire/messages.js';

t.test('frames round-trip byte for byte', async (t) => {
  const f = encodeFrame(0x01020304, [packEntry(5, 3), packEntry(999_999, 15)]);
  t.same([...f.slice(0, 7)], [1, 4, 3, 2, 1, 2, 0]);
  t.same([...f.slice(7, 11)], [0x53, 0, 0, 0]);
  const d = decodeFrame(f)!;
  t.equal(d.firstSeq, 0x01020304);
  t.same([...d.entries].map(unpackEntry), [{ pixelIndex: 5, color: 3 }, { pixelIndex: 999_999, color: 15 }]);
  t.equal(decodeFrame(new Uint8Array([2, 0, 0, 0, 0, 0, 0])), null, 'unknown kind');
  t.equal(decodeFrame(f.slice(0, 10)), null, 'truncated');
});

t.test('long runs split into several frames at the u16 count', async (t) => {
  const entries = Array.from({ length: FRAME_MAX_ENTRIES + 10 }, (_, i) => i * 16);
  const frames = encodeFrames(100, entries);
  t.equal(frames.length, 2);
  t.equal(decodeFrame(frames[1])!.firstSeq, 100 + FRAME_MAX_ENTRIES);
  t.equal(decodeFrame(frames[1])!.entries.length, 10);
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
