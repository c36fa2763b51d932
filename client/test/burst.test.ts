// After a burst of 2,000 placements from other clients (HTTP and WebSocket), every page's board, its 1:1
// canvas and the visible canvas equal GET /api/board byte for byte — including a page that started from a
// stale (CDN) board, one whose server had to reset it, one that lost a frame, and one that opened mid-burst.
import t from 'tap';
import WebSocket from 'ws';
import type { Page } from 'playwright-core';
import { startInProcess } from '../../service/test/support/service.js';
import { launch, openPage, serverBoard, settle, type OpenedPage, type Test } from './support/browser.js';
import { ensureClientBuilt } from './support/build.js';
import { mintToken, placeMany, serviceEnv } from './support/load.js';

const W = 101; // odd width and odd pixel count: the last byte of the board holds one pixel
const H = 79;
const staticDir = await ensureClientBuilt();
const server = await startInProcess(
  serviceEnv({ STATIC_DIR: staticDir, CANVAS_WIDTH: String(W), CANVAS_HEIGHT: String(H), COOLDOWN_MS: '0', WS_MESSAGES_PER_SECOND: '2000', BATCH_INTERVAL_MS: '50' }),
);
t.teardown(() => server.stop());
const browser = await launch();
t.teardown(() => browser.close());
const base = server.base;
const HASH = '#50.5,39.5,8'; // the whole board on screen, 8 px per pixel

/** Deterministic pseudo-random placements; a third land in a small hot area so order matters. */
function placements(n: number, seed: number): { x: number; y: number; color: number }[] {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  return Array.from({ length: n }, () => {
    const hot = rnd() < 0.33;
    return {
      x: hot ? 40 + Math.floor(rnd() * 6) : Math.floor(rnd() * W),
      y: hot ? 30 + Math.floor(rnd() * 5) : Math.floor(rnd() * H),
      color: Math.floor(rnd() * 16),
    };
  });
}

/** Places over WebSocket messages from several connections, as other browsers would; resolves when all are acked. */
async function placeOverSockets(pixels: { x: number; y: number; color: number }[], connections: number): Promise<void> {
  const per = Math.ceil(pixels.length / connections);
  await Promise.all(
    Array.from({ length: connections }, (_, c) => {
      const mine = pixels.slice(c * per, (c + 1) * per);
      return new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`, { headers: { authorization: `Bearer ${mintToken(`ws-${c}`)}` } });
        let acked = 0;
        ws.on('open', async () => {
          for (let i = 0; i < mine.length; i++) {
            ws.send(JSON.stringify({ t: 'place', id: i, ...mine[i] }));
            if (i % 20 === 19) await new Promise((r) => setTimeout(r, 5));
          }
        });
        ws.on('message', (data, binary) => {
          if (binary) return;
          const m = JSON.parse(String(data));
          if (m.t === 'pace' || m.t === 'controls') return; // the frame interval and the live controls, sent on open
          if (m.t !== 'ack') return reject(new Error(`socket placement refused: ${String(data)}`));
          if (++acked === mine.length) {
            ws.close();
            resolve();
          }
        });
        ws.on('error', reject);
      });
    }),
  );
}

async function expectEqual(t: Test, name: string, p: OpenedPage): Promise<void> {
  const { server: s, drawn } = await settle(p.page, base, 20_000);
  t.equal(drawn.lastSeq, s.seq, `${name}: at the server’s seq ${s.seq}`);
  t.ok(drawn.truth.equals(s.bytes), `${name}: its board equals GET /api/board byte for byte`);
  t.equal(drawn.offscreenUnknown, 0, `${name}: every drawn pixel is a palette colour`);
  t.ok(drawn.offscreen.equals(s.bytes), `${name}: the drawn 1:1 canvas equals GET /api/board byte for byte`);
  t.ok(drawn.visibleChecked > W * H * 30, `${name}: ${drawn.visibleChecked} device pixels of the visible canvas checked`);
  t.same(drawn.visibleMismatches, [], `${name}: the visible canvas shows the same colours`);
}

const stats = (page: Page) => page.evaluate(() => window.__tessera.stats());

t.test('after a burst of 2,000 placements from other clients the canvas equals GET /api/board', async (t) => {
  await placeMany(base, placements(300, 1), { userPrefix: 'before' });
  const stale = await serverBoard(base);
  await placeMany(base, placements(200, 2), { userPrefix: 'between' });

  const plain = await openPage(browser, base, { hash: HASH });

  // As if the CDN served a board from before the last 200 placements: the socket's ?since= catches up.
  const cdnContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await cdnContext.route('**/api/board', (route) =>
    route.fulfill({ status: 200, body: stale.bytes, headers: { 'content-type': 'application/octet-stream', 'x-canvas-seq': String(stale.seq) } }),
  );
  const cdn = await openPage(browser, base, { hash: HASH, context: cdnContext });
  await cdnContext.unroute('**/api/board');

  // A board claiming a seq the canvas never reached: the server answers {"t":"reset"}, the page refetches.
  const resetContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  let lied = false;
  await resetContext.route('**/api/board', async (route) => {
    if (lied) return route.continue();
    lied = true;
    const real = await route.fetch();
    await route.fulfill({ response: real, headers: { ...real.headers(), 'x-canvas-seq': String(Number(real.headers()['x-canvas-seq']) + 10_000) } });
  });
  const reset = await openPage(browser, base, { hash: HASH, context: resetContext });

  // A socket that loses one frame: the page notices the gap and resumes from its last seq.
  const gapContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  let sockets = 0;
  await gapContext.routeWebSocket(/\/ws/, (ws) => {
    const first = ++sockets === 1;
    const server = ws.connectToServer();
    let binary = 0;
    server.onMessage((m) => {
      if (first && typeof m !== 'string' && ++binary === 3) return; // dropped
      ws.send(m);
    });
  });
  const gap = await openPage(browser, base, { hash: HASH, context: gapContext });

  const burst = placements(2000, 3);
  const started = Date.now();
  let late: OpenedPage | undefined;
  await Promise.all([
    placeMany(base, burst.slice(0, 1000), { userPrefix: 'burst', concurrency: 16 }),
    placeOverSockets(burst.slice(1000), 10),
    (async () => {
      await new Promise((r) => setTimeout(r, 300));
      late = await openPage(browser, base, { hash: HASH }); // opens while the burst streams in
    })(),
  ]);
  t.comment(`2,000 placements in ${Date.now() - started} ms`);
  const head = await serverBoard(base);
  t.equal(head.seq, 2500, 'the server took every placement');

  for (const [name, p] of [['plain', plain], ['stale CDN board', cdn], ['reset', reset], ['lost frame', gap], ['opened mid-burst', late!]] as const) {
    await expectEqual(t, name, p);
  }
  t.equal((await stats(cdn.page)).resets, 0, 'the stale board was caught up by ?since=, no reset needed');
  t.ok((await stats(reset.page)).resets >= 1, 'the reset page did reset');
  t.ok((await stats(gap.page)).gaps >= 1, 'the lost frame was noticed as a gap');
  t.ok(sockets >= 2, 'and the page reconnected with ?since=');
  t.comment(`stats: ${JSON.stringify({ plain: await stats(plain.page), gap: await stats(gap.page) })}`);
  for (const p of [plain, cdn, reset, gap, late!]) {
    t.same(p.problems, [], 'no console errors or CSP violations');
    await p.context.close();
  }
});
