// Watchers that are not watching cost nothing: a page hidden past HIDDEN_GRACE_MS closes its socket (4000)
// and gets no frames while others keep placing; shown again it catches up (?since=, or a reset and a fresh
// board) and draws GET /api/board byte for byte within 2 s, every paint on the way a board the server really
// had at some seq (no gap, no flash). Shown again within the grace, nothing happens at all. And the status
// line shows the frame interval the server announces with {"t":"pace"}.
import t from 'tap';
import WebSocket from 'ws';
import type { Page, WebSocketRoute } from 'playwright-core';
import { startInProcess } from '../../service/test/support/service.js';
import { launch, openPage, painted, readDrawn, serverBoard, settle, type OpenedPage, type Test } from './support/browser.js';
import { ensureClientBuilt } from './support/build.js';
import { Flow, firstInconsistent, startRecording, stopRecording } from './support/flow.js';
import { serviceEnv } from './support/load.js';

const W = 64;
const H = 48;
const GRACE_MS = 1000;
const CATCH_UP_MS = 2000;
const HASH = '#32,24,12'; // the whole board on screen
const staticDir = await ensureClientBuilt();
const common = { STATIC_DIR: staticDir, CANVAS_WIDTH: String(W), CANVAS_HEIGHT: String(H), COOLDOWN_MS: '0', BATCH_INTERVAL_MS: '50', HIDDEN_GRACE_MS: String(GRACE_MS) };
const service = await startInProcess(serviceEnv(common));
t.teardown(() => service.stop());
// Resumes only the last second of placements (RESUME_WINDOW_S) and its store forgets after a second (at its next
// maintenance pass): a page hidden a while gets {"t":"reset"}.
const forgetful = await startInProcess(serviceEnv({ ...common, STREAM_RETENTION_MS: '1000', RESUME_WINDOW_S: '1' }));
t.teardown(() => forgetful.stop());
const browser = await launch();
t.teardown(() => browser.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stats = (page: Page) => page.evaluate(() => window.__tessera.stats());
const lastSeq = (page: Page) => page.evaluate(() => window.__tessera.lastSeq());
const statusText = async (page: Page) => ((await page.locator('#status').textContent()) ?? '').trim();

/**
 * Headless Chromium keeps every page visible (minimising or covering it changes nothing), so the page is told
 * the way a browser tells it: document.visibilityState / hidden change, then a visibilitychange event.
 */
async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

/** One sample from the service's /metrics, e.g. `tessera_ws_closed_total{reason="hidden"}` (0 when absent). */
async function metric(base: string, sample: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^${sample.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}
const HIDDEN_CLOSES = 'tessera_ws_closed_total{reason="hidden"}';
const CLIENTS = 'tessera_ws_clients';

/** Hides the page until its grace ends: it closes its socket and then gets no frame while others place. */
async function hideUntilPaused(t: Test, p: OpenedPage, base: string): Promise<void> {
  const clients = await metric(base, CLIENTS);
  const hiddenCloses = await metric(base, HIDDEN_CLOSES);
  const opens = (await stats(p.page)).socketOpens;
  const hiddenAt = Date.now();
  await setHidden(p.page, true);
  await p.page.waitForFunction(() => window.__tessera.connection() === 'paused', undefined, { timeout: GRACE_MS + 3000, polling: 20 });
  const pausedAfter = Date.now() - hiddenAt;
  t.ok(pausedAfter >= GRACE_MS - 50, `paused ${pausedAfter} ms after hiding, not before the grace (${GRACE_MS} ms)`);
  t.equal(await statusText(p.page), 'Paused (tab hidden)', 'the status line says so');

  const before = await stats(p.page);
  const seqBefore = await lastSeq(p.page);
  const serverBefore = (await serverBoard(base)).seq;
  await sleep(1500);
  const after = await stats(p.page);
  const placedMeanwhile = (await serverBoard(base)).seq - serverBefore;
  t.ok(placedMeanwhile >= 50, `others placed ${placedMeanwhile} pixels meanwhile`);
  t.equal(after.frames, before.frames, 'the hidden page received no frame');
  t.equal(await lastSeq(p.page), seqBefore, 'and applied nothing');
  t.equal(after.socketOpens, opens, 'and opened no socket');
  t.ok((await metric(base, HIDDEN_CLOSES)) >= hiddenCloses + 1, `${HIDDEN_CLOSES} went from ${hiddenCloses} to ${await metric(base, HIDDEN_CLOSES)}`);
  t.equal(await metric(base, CLIENTS), clients - 1, `${CLIENTS} dropped from ${clients} to ${clients - 1}`);
}

/** Shows the page while the flow goes on: within 2 s it draws exactly GET /api/board, every paint a real board. */
async function showAndCatchUp(t: Test, p: OpenedPage, base: string, flow: Flow, start: { bytes: Buffer; seq: number }): Promise<void> {
  const head = (await serverBoard(base)).seq;
  await startRecording(p.page);
  const shownAt = Date.now();
  await setHidden(p.page, false);
  await p.page.waitForFunction((seq) => window.__tessera.lastSeq() >= seq, head, { timeout: CATCH_UP_MS, polling: 20 });
  const caughtUp = Date.now() - shownAt;
  await flow.stop(t);
  const final = await serverBoard(base);
  await p.page.waitForFunction((seq) => window.__tessera.lastSeq() >= seq, final.seq, { timeout: Math.max(100, CATCH_UP_MS - (Date.now() - shownAt)), polling: 20 });
  await painted(p.page);
  const exact = Date.now() - shownAt;
  const drawn = await readDrawn(p.page, final.bytes);
  const frames = await stopRecording(p.page);
  t.comment(`caught up with seq ${head} (shown) in ${caughtUp} ms while others placed; at ${final.seq} (flow stopped) and painted in ${exact} ms`);
  t.ok(exact <= CATCH_UP_MS, `the exact board was on screen ${exact} ms after the page was shown`);
  t.equal(drawn.lastSeq, final.seq, `at the server's seq ${final.seq}`);
  t.ok(drawn.truth.equals(final.bytes), 'its board equals GET /api/board byte for byte');
  t.ok(drawn.offscreen.equals(final.bytes), 'the drawn 1:1 canvas equals GET /api/board byte for byte');
  t.ok(drawn.visibleChecked > W * H * 50, `${drawn.visibleChecked} device pixels of the visible canvas checked`);
  t.same(drawn.visibleMismatches, [], 'the visible canvas shows the same colours');
  t.ok(frames.length >= 2, `${frames.length} distinct canvases painted while catching up`);
  t.equal(firstInconsistent(frames, start, flow), -1, 'each of them a board the server had at some seq, in order: no gap, no flash');
}

/** A page at the server's seq, with the flow of other people's placements started just after. */
async function openAndFlow(t: Test, base: string, prefix: string, seed: number): Promise<{ p: OpenedPage; flow: Flow; start: { bytes: Buffer; seq: number } }> {
  const p = await openPage(browser, base, { hash: HASH });
  t.teardown(() => p.context.close());
  const { server: start, drawn } = await settle(p.page, base);
  t.equal(drawn.lastSeq, start.seq, `the page starts at the server's seq ${start.seq}`);
  const flow = new Flow(base, prefix, seed, { width: W, height: H });
  t.teardown(() => flow.stop());
  await p.page.waitForFunction((seq) => window.__tessera.lastSeq() >= seq + 20, start.seq, { timeout: 5000, polling: 20 });
  return { p, flow, start };
}

t.test('GET /api/config tells the grace', async (t) => {
  const config = (await (await fetch(`${service.base}/api/config`)).json()) as { hiddenGraceMs: number };
  t.equal(config.hiddenGraceMs, GRACE_MS);
});

t.test('hidden past the grace: no frames, the socket closed with 4000; shown again it resumes with ?since=', async (t) => {
  const base = service.base;
  const { p, flow, start } = await openAndFlow(t, base, 'since', 11);
  await hideUntilPaused(t, p, base);
  const before = await stats(p.page);
  await showAndCatchUp(t, p, base, flow, start);
  const after = await stats(p.page);
  t.equal(after.socketOpens, before.socketOpens + 1, 'one new socket');
  t.equal(after.resets, before.resets, 'resumed with ?since=, no reset');
  t.equal(after.loads, before.loads, 'and no board refetch');
  t.equal(await p.page.locator('#status').getAttribute('data-state'), 'live', 'live again');
  t.same(p.problems, [], 'no console errors');
});

t.test('hidden so long the server cannot resume it: reset, fresh board, same guarantees', async (t) => {
  const base = forgetful.base;
  const { p, flow, start } = await openAndFlow(t, base, 'reset', 23);
  await hideUntilPaused(t, p, base);
  // Wait until the server really answers this page's seq with a reset (its store forgets after 1 s, every 5 s).
  const seq = await lastSeq(p.page);
  const deadline = Date.now() + 15_000;
  while (!(await answersReset(base, seq))) {
    if (Date.now() > deadline) throw new Error(`the server still resumes seq ${seq}`);
    await sleep(250);
  }
  t.pass(`the server now answers ?since=${seq} with a reset`);
  const before = await stats(p.page);
  await showAndCatchUp(t, p, base, flow, start);
  const after = await stats(p.page);
  t.equal(after.resets, before.resets + 1, 'the page reset once');
  t.equal(after.loads, before.loads + 1, 'and refetched the board once');
  t.same(p.problems, [], 'no console errors');
});

t.test('shown again before the grace ends: the socket is never closed', async (t) => {
  const base = service.base;
  const { p, flow } = await openAndFlow(t, base, 'blink', 37);
  await p.page.evaluate(() => {
    const w = window as unknown as { __states: string[] };
    w.__states = [];
    new MutationObserver(() => w.__states.push(document.querySelector('#status')!.getAttribute('data-state')!)).observe(document.querySelector('#status')!, { attributes: true });
  });
  const hiddenCloses = await metric(base, HIDDEN_CLOSES);
  const clients = await metric(base, CLIENTS);
  const before = await stats(p.page);
  for (let i = 0; i < 3; i++) {
    await setHidden(p.page, true);
    await sleep(GRACE_MS * 0.6);
    await setHidden(p.page, false);
    await sleep(100);
  }
  await sleep(GRACE_MS); // past the time any of those graces would have ended
  await flow.stop(t);
  const after = await stats(p.page);
  t.equal(after.socketOpens, before.socketOpens, 'the same socket throughout');
  t.ok(after.frames > before.frames + 20, `frames kept coming: ${after.frames - before.frames}`);
  t.same(await p.page.evaluate(() => (window as unknown as { __states: string[] }).__states.filter((s) => s !== 'live')), [], 'the status never left live');
  t.equal(await metric(base, HIDDEN_CLOSES), hiddenCloses, 'no hidden close counted');
  t.equal(await metric(base, CLIENTS), clients, 'still connected');
  const { server: s, drawn } = await settle(p.page, base);
  t.ok(drawn.truth.equals(s.bytes) && drawn.offscreen.equals(s.bytes), 'and the board is exact');
});

t.test('the status line shows the frame interval the server announces ({"t":"pace"})', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  let socket: WebSocketRoute | undefined;
  await context.routeWebSocket(/\/ws/, (ws) => {
    socket = ws;
    const server = ws.connectToServer();
    server.onMessage((m) => ws.send(m));
  });
  const p = await openPage(browser, service.base, { hash: HASH, context });
  t.teardown(() => context.close());
  const announce = async (msg: object, text: string) => {
    socket!.send(JSON.stringify(msg));
    await p.page.waitForFunction((want) => document.querySelector('#status')!.textContent!.trim() === want, text, { timeout: 2000, polling: 20 });
    t.pass(`${JSON.stringify(msg)} → "${text}"`);
  };
  // The server's own announcement on open: one watcher, so the interval is BATCH_INTERVAL_MS.
  await p.page.waitForFunction(() => document.querySelector('#status')!.textContent!.trim() === 'Live · updates every 50 ms', undefined, { timeout: 2000, polling: 20 });
  t.pass('the server announced its 50 ms interval on open');
  await announce({ t: 'pace', intervalMs: 250 }, 'Live · updates every 250 ms');
  await announce({ t: 'pace', intervalMs: 40 }, 'Live · updates every 40 ms');
  t.match(await p.page.locator('#status').getAttribute('title'), /updates every 40 ms/, 'the tooltip says it too');
  // Messages arrive in order: once the last one shows, the two before it were handled, and changed nothing.
  await p.page.evaluate(() => {
    const w = window as unknown as { __shown: string[] };
    w.__shown = [];
    const status = document.querySelector('#status')!;
    new MutationObserver(() => w.__shown.push(status.textContent!.trim())).observe(status, { subtree: true, childList: true, characterData: true });
  });
  socket!.send(JSON.stringify({ t: 'some-future-message', intervalMs: 5 }));
  socket!.send(JSON.stringify({ t: 'pace', intervalMs: 'soon' }));
  await announce({ t: 'pace', intervalMs: 100 }, 'Live · updates every 100 ms');
  const shown = await p.page.evaluate(() => (window as unknown as { __shown: string[] }).__shown);
  t.same([...new Set(shown)], ['Live · updates every 100 ms'], 'an unknown message type and a malformed pace changed nothing');
  t.equal(await p.page.evaluate(() => window.__tessera.connection()), 'live', 'and the socket stayed up');
  t.same(p.problems, [], 'no console errors');
});

/** Does the server answer /ws?since=<seq> with {"t":"reset"} (rather than frames)? */
function answersReset(base: string, since: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws?since=${since}`);
    const done = (v: boolean) => {
      clearTimeout(timer);
      ws.close();
      resolve(v);
    };
    const timer = setTimeout(() => done(false), 1000);
    ws.on('message', (data, binary) => {
      if (binary) done(false);
      else if (String(data) === '{"t":"reset"}') done(true);
    });
    ws.on('error', reject);
  });
}
