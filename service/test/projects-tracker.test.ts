// The completion tracker without a server: the spatial index, each pixel's state (to do → right → damaged →
// right), incremental counts that always equal a full recount, placements skipped or buffered around a board
// (re)load, and the alerts' hysteresis. The board is read once; placements never rescan a template.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createLogger } from '../src/log.js';
import { Metrics } from '../src/metrics.js';
import { DamageAlerts, type PushSender } from '../src/projects/alerts.js';
import { TRANSPARENT, type AlertSubscription, type Project } from '../src/projects/model.js';
import { SpatialIndex } from '../src/projects/spatial-index.js';
import { FileProjectStore } from '../src/projects/store.js';
import { CompletionTracker, CORRECT, DAMAGED, UNPAINTED } from '../src/projects/tracker.js';
import { Prng } from './support/prng.js';

const W = 300;
const H = 200;
const log = createLogger('silent');
const entry = (x: number, y: number, c: number) => (y * W + x) * 16 + c;

function project(id: string, x: number, y: number, width: number, height: number, colorAt: (i: number) => number): Project {
  return { id, name: id, x, y, width, height, pixels: Uint8Array.from({ length: width * height }, (_, i) => colorAt(i)), createdBy: 'u', createdAt: 0, hidden: false };
}

/** A board as the store would give it; `seq` and `bytes` can be moved on between loads. */
function emptyBoard(seq = 0) {
  let loads = 0;
  const b = { bytes: Buffer.alloc(Math.ceil((W * H) / 2)), seq, loads: () => loads, load: async () => (loads++, { bytes: Buffer.from(b.bytes), seq: b.seq }) };
  return b;
}

t.test('spatial index: a pixel finds the projects whose tiles cover it, and only those', async (t) => {
  const idx = new SpatialIndex<{ x: number; y: number; width: number; height: number; n: string }>(W, H);
  const a = { x: 60, y: 0, width: 10, height: 70, n: 'a' }; // tiles (0,0), (1,0), (0,1), (1,1)
  const b = { x: 200, y: 150, width: 1, height: 1, n: 'b' };
  idx.add(a);
  idx.add(b);
  t.same(idx.at(0, 0)?.map((i) => i.n), ['a']);
  t.same(idx.at(127, 127)?.map((i) => i.n), ['a']);
  t.equal(idx.at(128, 0), undefined, 'a tile no project touches: nothing');
  t.same(idx.at(200, 150)?.map((i) => i.n), ['b']);
  idx.remove(a);
  t.equal(idx.at(0, 0), undefined, 'removed from every tile');
});

t.test('pixel states and counts', async (t) => {
  const board = emptyBoard();
  const tr = new CompletionTracker({ width: W, height: H, loadBoard: board.load, log });
  await tr.load();
  // 2×2: red, transparent / white (already right on the white board), red.
  const p = tr.add(project('p', 10, 10, 2, 2, (i) => [5, TRANSPARENT, 0, 5][i]));
  t.match(p, { total: 3, correct: 1, damaged: 0 }, 'seeded from the board once: the white pixel is right');
  t.same([...p.state], [UNPAINTED, TRANSPARENT, CORRECT, UNPAINTED]);
  let seq = 0;
  const place = (x: number, y: number, c: number) => tr.onPublished(++seq, [entry(x, y, c)]);
  place(10, 10, 3);
  t.equal(p.state[0], UNPAINTED, 'wrong on a pixel never right: still to do, not damage');
  place(10, 10, 5);
  t.match(p, { correct: 2, damaged: 0 });
  place(10, 10, 3);
  t.match(p, { correct: 1, damaged: 1 }, 'right, then painted over: damage');
  t.equal(p.state[0], DAMAGED);
  place(10, 10, 4);
  t.equal(p.state[0], DAMAGED, 'another wrong colour: still damage');
  place(11, 10, 7);
  t.same([...p.state], [DAMAGED, TRANSPARENT, CORRECT, UNPAINTED], 'a transparent pixel never counts');
  place(10, 11, 9);
  t.match(p, { correct: 0, damaged: 2 });
  place(50, 50, 1);
  t.equal(p.damagePercent, (100 * 2) / 3);
  t.same([...new Set(p.changed)].sort(), [0, 2], 'the changed pixels, for the next update');
  t.equal(tr.seq, seq);
  t.equal(board.loads(), 1, 'the board was read once');
});

t.test('incremental counts equal a full recount, with many overlapping projects', async (t) => {
  const r = new Prng(19);
  const rnd = () => r.next();
  const board = emptyBoard();
  const tr = new CompletionTracker({ width: W, height: H, loadBoard: board.load, log });
  await tr.load();
  const ps = Array.from({ length: 60 }, (_, k) => {
    const w = 1 + Math.floor(rnd() * 40);
    const h = 1 + Math.floor(rnd() * 40);
    return tr.add(project(`p${k}`, Math.floor(rnd() * (W - w)), Math.floor(rnd() * (H - h)), w, h, () => (rnd() < 0.2 ? TRANSPARENT : Math.floor(rnd() * 4))));
  });
  const truth = new Uint8Array(W * H);
  let seq = 0;
  for (let batch = 0; batch < 200; batch++) {
    const entries: number[] = [];
    for (let i = 0; i < 50; i++) {
      // Mostly inside the first projects, so states change often.
      const p = ps[Math.floor(rnd() * 10)];
      const x = rnd() < 0.8 ? p.x + Math.floor(rnd() * p.width) : Math.floor(rnd() * W);
      const y = rnd() < 0.8 ? p.y + Math.floor(rnd() * p.height) : Math.floor(rnd() * H);
      const c = Math.floor(rnd() * 4);
      truth[y * W + x] = c;
      entries.push(entry(x, y, c));
    }
    tr.onPublished(seq + 1, entries);
    seq += entries.length;
  }
  let mismatches = 0;
  for (const p of ps) {
    let total = 0;
    let correct = 0;
    for (let i = 0; i < p.project.pixels.length; i++) {
      const target = p.project.pixels[i];
      if (target === TRANSPARENT) continue;
      total++;
      if (truth[(p.y + Math.floor(i / p.width)) * W + p.x + (i % p.width)] === target) correct++;
    }
    if (total !== p.total || correct !== p.correct || total - correct !== p.state.filter((s) => s === UNPAINTED || s === DAMAGED).length) mismatches++;
  }
  t.equal(mismatches, 0, '60 projects after 10,000 placements: every count equals a recount of the board');
  t.ok(ps.some((p) => p.damaged > 0), 'and there is damage to count');
  t.equal(board.loads(), 1, 'no rescan: the board was read once, at the start');
});

t.test('around a (re)load: batches buffered, old seqs skipped, a gap reloads and keeps damage', async (t) => {
  const board = emptyBoard(10);
  const tr = new CompletionTracker({ width: W, height: H, loadBoard: board.load, log });
  const p = tr.add(project('p', 0, 0, 3, 1, () => 5));
  const loading = tr.load();
  tr.onPublished(9, [entry(0, 0, 5), entry(1, 0, 5)]); // seqs 9 and 10: already in the board of seq 10
  tr.onPublished(11, [entry(2, 0, 5)]);
  await loading;
  t.equal(tr.seq, 11);
  t.match(p, { correct: 1 }, 'only seq 11 applied on top of the board of seq 10');
  tr.onPublished(12, [entry(0, 0, 5), entry(1, 0, 5)]);
  tr.onPublished(14, [entry(2, 0, 1)]);
  t.match(p, { correct: 2, damaged: 1 });
  tr.onPublished(12, [entry(0, 0, 9)]);
  t.match(p, { correct: 2, damaged: 1 }, 'a batch already applied is skipped');
  // Seq 16 after 14: a gap (the fan-out reset). The store's board, now at seq 20, has pixel 0 painted over
  // and pixel 2 repaired meanwhile.
  board.seq = 20;
  board.bytes[0] = 0x25;
  board.bytes[1] = 0x50;
  tr.dirty.clear();
  tr.onPublished(16, [entry(1, 0, 1)]);
  await new Promise<void>((r) => setTimeout(r, 20));
  t.equal(board.loads(), 2, 'the gap made it read the board again');
  t.equal(tr.seq, 20, 'at the new board’s seq; the held batch (seq 16) is older and skipped');
  t.same([...p.state], [DAMAGED, CORRECT, CORRECT], 'a right pixel now wrong is damage; a damaged one now right is right');
  t.ok(tr.dirty.has(p), 'and the watchers get the change');
  t.match(p, { correct: 2, damaged: 1 });
});

t.test('alerts: one per crossing, re-armed below half the threshold', async (t) => {
  const sent: string[] = [];
  const sender: PushSender = { send: async (_s, payload) => (sent.push(payload), 'sent') };
  const store = new FileProjectStore(mkdtempSync(join(tmpdir(), 'tessera-alerts-')));
  const alerts = new DamageAlerts({ store, sender, intervalMs: 1000, log, metrics: new Metrics(), link: (id) => `/?project=${id}` });
  const board = emptyBoard();
  const tr = new CompletionTracker({ width: W, height: H, loadBoard: board.load, log });
  await tr.load();
  const p = tr.add(project('alerted1234', 0, 0, 10, 1, () => 5));
  const sub: AlertSubscription = { id: 's', endpoint: 'https://push.test/x', keys: { p256dh: '', auth: '' }, thresholdPercent: 30, createdAt: 0 };
  alerts.replace(new Map([['alerted1234', [sub]]]), () => 0);
  let seq = 0;
  const paint = (xs: number[], c: number) => {
    tr.onPublished(seq + 1, xs.map((x) => entry(x, 0, c)));
    seq += xs.length;
    alerts.check(p);
  };
  const settle = () => new Promise((r) => setTimeout(r, 20));
  paint([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 5);
  paint([0, 1], 3);
  await settle();
  t.equal(sent.length, 0, '20 %: below 30');
  paint([2], 3);
  await settle();
  t.equal(sent.length, 1, '30 %: one alert');
  t.match(JSON.parse(sent[0]), { project: 'alerted1234', damagePercent: 30, completionPercent: 70 });
  paint([3, 4, 5], 3);
  paint([5], 5);
  paint([5], 3);
  await settle();
  t.equal(sent.length, 1, 'a fight at the threshold or more damage: no second alert');
  paint([1, 2, 3, 4, 5], 5);
  await settle();
  t.equal(p.damagePercent, 10, 'repaired to 10 %: re-armed');
  await new Promise((r) => setTimeout(r, 1000));
  paint([1, 2], 3);
  await settle();
  t.equal(sent.length, 2, 'past 30 % again: a second alert');
});
