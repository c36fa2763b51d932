// The view transform without a browser: zoom keeps the point under the pointer, pan moves by screen px,
// limits hold, and the hash round-trips.
import t from 'tap';
import { MAX_ZOOM, View, formatHash, parseHash } from '../src/view.js';

const view = (w = 1000, h = 800) => {
  const v = new View(w, h);
  v.resize(1280, 800);
  return v;
};

t.test('screen ↔ board', async (t) => {
  const v = view();
  v.set({ x: 500, y: 400, zoom: 4 });
  t.same(v.screenToBoard(640, 400), { x: 500, y: 400 }, 'the centre of the window is the view point');
  t.same(v.pixelAt(641, 401), { x: 500, y: 400 });
  t.same(v.pixelAt(639, 399), { x: 499, y: 399 });
  t.same(v.boardToScreen(500.5, 400.5), { x: 642, y: 402 });
  v.set({ x: 0, y: 0, zoom: 4 });
  t.equal(v.pixelAt(639, 399), null, 'off the board');
  t.same(v.visibleRect(), { x: 0, y: 0, w: 160, h: 100 });
});

t.test('zoom around a point, pan by screen px, limits', async (t) => {
  const v = view();
  v.set({ x: 500, y: 400, zoom: 2 });
  const before = v.screenToBoard(300, 200);
  v.zoomAt(300, 200, 3.7);
  const after = v.screenToBoard(300, 200);
  t.ok(Math.abs(before.x - after.x) < 1e-9 && Math.abs(before.y - after.y) < 1e-9, 'the board point under the pointer stays');
  t.equal(v.zoom, 7.4);
  v.panBy(74, -37);
  t.ok(Math.abs(v.screenToBoard(374, 163).x - before.x) < 1e-9, 'panning moves the board with the pointer');
  v.zoomAt(0, 0, 1000);
  t.equal(v.zoom, MAX_ZOOM);
  v.zoomAt(0, 0, 1e-6);
  t.equal(v.zoom, v.minZoom);
  t.ok(v.minZoom <= v.fitZoom, 'zooming out reaches the whole board');
  v.set({ x: -50, y: 1e6, zoom: 3 });
  t.same([v.x, v.y], [0, 800], 'the centre stays on the board');
  v.set({ x: NaN, y: 10, zoom: NaN });
  t.same([v.x, v.zoom], [500, v.fitZoom], 'nonsense falls back to sensible');
  let changes = 0;
  v.onChange(() => changes++);
  v.fit();
  v.fit();
  t.equal(changes, 1, 'listeners hear real changes only');
});

t.test('fit: the whole board between the toolbars', async (t) => {
  const v = view(1000, 1000);
  v.setInsets(60, 100);
  v.fit();
  const top = v.boardToScreen(0, 0).y;
  const bottom = v.boardToScreen(0, 1000).y;
  t.ok(top >= 60 && bottom <= 700, `board spans ${top}–${bottom} px, inside 60–700`);
  t.ok(Math.abs(top - 60 - (700 - bottom)) <= 1, 'centred in the free space');
  t.equal(v.minZoom, v.fitZoom, 'and that is as far out as zoom goes');
  v.setInsets(5000, 5000);
  t.ok(v.fitZoom > 0, 'absurd insets still leave room');
});

t.test('the board is snapped to device pixels', async (t) => {
  const v = new View(100, 100);
  v.resize(1001, 801, 2);
  v.set({ x: 50.3, y: 50.3, zoom: 8 });
  const tr = v.transform();
  t.equal((tr.tx * 2) % 1, 0);
  t.equal((tr.ty * 2) % 1, 0);
});

t.test('hash', async (t) => {
  t.same(parseHash('#12.5,7,3.25'), { x: 12.5, y: 7, zoom: 3.25 });
  t.same(parseHash('12,7,3'), { x: 12, y: 7, zoom: 3 });
  for (const bad of ['', '#', '#1,2', '#a,b,c', '#1,2,0', '#1,2,-3', '#1,2,3,4']) t.equal(parseHash(bad), null, `rejects "${bad}"`);
  t.equal(formatHash({ x: 500, y: 499.999, zoom: 4 }), '#500,500,4');
  t.equal(formatHash({ x: 1.234567, y: 2.5, zoom: 12.34567 }), '#1.23,2.5,12.346');
  const s = { x: 321.12, y: 45.67, zoom: 17.5 };
  t.same(parseHash(formatHash(s)), s, 'round trip');
});
