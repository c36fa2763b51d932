// The client's model without a browser: the board's two forms, seq-ordered sync (dedupe, gaps, resets)
// and optimistic placement, fed with frames from the service's own encoder so the formats cannot drift.
import t from 'tap';
import { encodeFrame, decodeFrame, packEntry } from '../../service/src/wire/frames.js';
import { PALETTE } from '../../service/src/wire/palette.js';
import { Board, hexRgb, paletteWords } from '../src/board.js';
import { Placer, type PlacerEvents } from '../src/place.js';
import { Sync } from '../src/sync.js';

const frame = (first: number, entries: [number, number][]) => decodeFrame(encodeFrame(first, entries.map(([i, c]) => packEntry(i, c))))!;
const rgbaAt = (b: Board, i: number) => [...b.rgba.subarray(i * 4, i * 4 + 4)];

t.test('board: the wire layout in and out, RGBA in step', async (t) => {
  const b = new Board(3, 3, PALETTE); // 9 pixels: the last byte holds one
  const packed = Uint8Array.from([0x12, 0x34, 0x56, 0x78, 0xf0]);
  b.loadPacked(packed);
  t.same([...b.truth], [1, 2, 3, 4, 5, 6, 7, 8, 15]);
  t.same([...b.packed()], [...packed]);
  t.same(rgbaAt(b, 8), [...hexRgb(PALETTE[15]), 255], 'RGBA bytes in R, G, B, A order');
  t.same(b.takeDirty(), { x: 0, y: 0, w: 3, h: 3 }, 'a load dirties everything');
  t.equal(b.takeDirty(), null);
  b.set(4, 9);
  b.set(5, 10);
  t.same(b.takeDirty(), { x: 1, y: 1, w: 2, h: 1 }, 'updates dirty their bounding box');
  t.throws(() => b.loadPacked(new Uint8Array(4)), /expected 5/);
  t.equal(paletteWords(PALETTE).length, 16);
});

t.test('board: optimistic colours show without touching the truth', async (t) => {
  const b = new Board(4, 1, PALETTE);
  b.showOptimistic(2, 5);
  t.equal(b.shown(2), 5);
  t.equal(b.truth[2], 0);
  b.set(2, 7); // someone else's earlier placement arrives meanwhile
  t.equal(b.shown(2), 5, 'ours stays on screen until it is settled');
  b.clearOptimistic(2);
  t.equal(b.shown(2), 7, 'then the truth shows');
  t.same(rgbaAt(b, 2), [...hexRgb(PALETTE[7]), 255]);
  b.showOptimistic(1, 3);
  b.loadPacked(new Uint8Array(2));
  t.equal(b.shown(1), 3, 'a reload keeps unsettled placements visible');
  b.clearAllOptimistic();
  t.equal(b.shown(1), 0);
});

t.test('sync: frames apply once, in order; a gap resumes; a reset reloads', async (t) => {
  const b = new Board(10, 10, PALETTE);
  const calls: string[] = [];
  let snapshot = { bytes: new Uint8Array(50), seq: 5 };
  let failFirst = true;
  const sync = new Sync(
    b,
    async (fresh) => {
      calls.push(`load fresh=${fresh}`);
      if (failFirst) {
        failFirst = false;
        throw new Error('boom');
      }
      return snapshot;
    },
    () => 1,
  );
  sync.attach({ reconnectNow: () => calls.push('reconnect'), stop: () => calls.push('stop'), start: () => calls.push('start') });
  const applied: number[] = [];
  sync.onApplied((s) => applied.push(s));
  const warn = console.warn;
  console.warn = () => {};
  t.teardown(() => (console.warn = warn));

  await sync.load(false);
  t.same(calls, ['load fresh=false', 'load fresh=false'], 'a failed load is retried');
  t.equal(sync.lastSeq, 5);
  // Seqs 4 and 5 painted pixels 1 and 2 with colour 0: the all-zero snapshot at seq 5 holds them.
  t.equal(sync.onFrame(frame(4, [[1, 0], [2, 0]])), 'duplicate', 'all already included');
  t.equal(sync.onFrame(frame(5, [[2, 0], [3, 3], [2, 4]])), 'applied', 'overlap: the whole set applies');
  t.same([b.truth[2], b.truth[3], b.truth[4]], [4, 3, 0], 'pixel 2 ends at seq 7, not seq 5 (frame order keeps seq order per pixel)');
  t.equal(sync.lastSeq, 7);
  t.equal(sync.stats.entries, 2, 'only seqs 6 and 7 are new');
  t.equal(sync.onFrame(frame(8, [[3, 9]])), 'applied');
  t.equal(b.truth[3], 9, 'later seqs win');
  t.equal(sync.onFrame(frame(10, [[5, 5]])), 'gap', 'seq 9 is missing');
  t.equal(b.truth[5], 0, 'nothing applied past a gap');
  t.equal(calls.at(-1), 'reconnect');
  t.equal(sync.onFrame(frame(9, [[6, 6]])), 'applied');
  t.equal(sync.onFrame(frame(10, [[200, 1]])), 'applied', 'an out-of-range index is ignored, its seq counted');
  t.same(applied, [5, 7, 8, 9, 10]);

  snapshot = { bytes: new Uint8Array(50).fill(0x11), seq: 42 };
  calls.length = 0;
  const reset = sync.onReset();
  t.equal(sync.onFrame(frame(11, [[0, 3]])), 'duplicate', 'frames during a reset are dropped');
  await reset;
  t.same(calls, ['stop', 'load fresh=true', 'start'], 'reset: drop the socket, reload fresh, resume from the new seq');
  t.equal(sync.lastSeq, 42);
  t.equal(b.truth[0], 1);
  t.match(sync.stats, { gaps: 1, resets: 1, loads: 2, duplicates: 1 });
});

t.test('sync + place: an acked seq settles when a frame covers it, wherever its entry sits in the frame', async (t) => {
  const b = new Board(10, 10, PALETTE);
  const sync = new Sync(b, async () => ({ bytes: new Uint8Array(50), seq: 10 }));
  await sync.load(false);
  const sent: { id: number }[] = [];
  const ev: PlacerEvents = { onCooldown: () => {}, onRefused: () => {}, onAccepted: () => {} };
  const p = new Placer(b, (text) => !!sent.push(JSON.parse(text)), 0, ev);
  sync.onApplied((seq) => p.onApplied(seq));
  p.place(9, 0, 5); // pixel 9
  p.onText({ t: 'ack', id: sent[0].id, seq: 12, nextPlacementAt: 0 });
  t.equal(b.shown(9), 5, 'ours on screen until its seq arrives');
  // Seqs 11–14 in seq order: pixel 9 colour 2, ours (pixel 9 colour 5), pixel 0 colour 7, pixel 9 colour 8.
  const f = frame(11, [[9, 2], [9, 5], [0, 7], [9, 8]]);
  t.same([...f.entries].map((e) => [e >>> 4, e & 15]), [[0, 7], [9, 2], [9, 5], [9, 8]], 'sorted by pixel, seq order within a pixel');
  t.equal(sync.onFrame(f), 'applied');
  t.equal(b.truth[9], 8, 'the later placement over ours is the truth');
  t.equal(b.shown(9), 8, 'ours (seq 12, covered by 11–14) was settled: the screen shows the truth');
});

function placer(cooldownMs = 60_000) {
  const b = new Board(10, 10, PALETTE);
  const sent: Record<string, unknown>[] = [];
  let online = true;
  const events: string[] = [];
  const ev: PlacerEvents = {
    onCooldown: (at) => events.push(at > Date.now() ? `cooldown ${Math.round((at - Date.now()) / 1000)}s` : 'ready'),
    onRefused: (code) => events.push(`refused ${code}`),
    onAccepted: (x, y, c, seq) => events.push(`accepted ${x},${y} ${c} #${seq}`),
  };
  const p = new Placer(b, (text) => online && !!sent.push(JSON.parse(text)), cooldownMs, ev);
  return { b, p, sent, events, offline: () => (online = false) };
}

t.test('place: shown at once, settled by its seq, rolled back when refused', async (t) => {
  const { b, p, sent, events } = placer();
  const r = p.place(3, 4, 5);
  t.ok(r.ok);
  t.match(sent[0], { t: 'place', x: 3, y: 4, color: 5 });
  t.equal(b.shown(43), 5, 'shown at once');
  t.ok(p.coolingDown, 'the cooldown is assumed to start now');
  t.match(p.place(1, 1, 1), { ok: false, reason: 'cooldown' }, 'a second placement waits for the cooldown');

  p.onText({ t: 'ack', id: sent[0].id, seq: 12, nextPlacementAt: Date.now() + 59_000 });
  t.equal(b.shown(43), 5, 'acked but its seq not yet applied: still ours on screen');
  t.equal(b.truth[43], 0);
  b.set(43, 5); // the frame with seq 12
  p.onApplied(12);
  t.equal(b.shown(43), 5);
  t.same(events, ['cooldown 60s', 'cooldown 59s', 'accepted 3,4 5 #12'], 'the ack corrects the countdown from the server’s time');
  t.notOk(p.onText({ t: 'reset' }), 'not a placement message');

  const q = placer(0);
  q.p.place(1, 0, 7);
  q.p.place(1, 0, 8); // no cooldown: the same pixel twice
  q.p.onText({ t: 'error', id: q.sent[0].id, error: 'unavailable', message: 'x' });
  t.equal(q.b.shown(1), 8, 'refusing the older placement does not clear the newer one');
  q.p.onText({ t: 'error', id: q.sent[1].id, error: 'cooldown', retryAfterMs: 30_000 });
  t.equal(q.b.shown(1), 0, 'rolled back to the truth');
  t.ok(q.p.coolingDown, 'the server’s retryAfterMs starts a countdown');
  t.same(q.events.slice(-2), ['cooldown 30s', 'refused cooldown']);
});

t.test('place: offline, and a socket that closes before answering', async (t) => {
  const { b, p, offline } = placer();
  p.place(0, 0, 3);
  p.onClosed();
  t.equal(b.shown(0), 0, 'unanswered: rolled back (the resumed stream brings it if it landed)');
  t.notOk(p.coolingDown, 'and the assumed cooldown is lifted');
  offline();
  t.same(p.place(1, 1, 3), { ok: false, reason: 'offline' });
  t.equal(b.shown(11), 0);

  const a = placer();
  a.p.place(2, 0, 4);
  a.p.onApplied(20); // the frame with our seq already came
  a.p.onText({ t: 'ack', id: a.sent[0].id, seq: 19, nextPlacementAt: Date.now() + 60_000 });
  a.b.set(2, 4);
  t.equal(a.b.shown(2), 4);
  a.p.onClosed();
  t.equal(a.b.shown(2), 4, 'acked placements stay');
});
