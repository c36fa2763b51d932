// Placing in the browser against the real service: two pages see each other's pixels within 1 s; the
// countdown follows a placement; a refused placement is shown at once and rolled back; inspecting a pixel.
import t from 'tap';
import type { Page } from 'playwright-core';
import { loadConfig } from '../../service/src/config.js';
import { historyExtension } from '../../service/src/history/extension.js';
import { put, session, startInProcess, testEnv } from '../../service/test/support/service.js';
import { launch, openPage, screenOf, settle } from './support/browser.js';
import { ensureClientBuilt } from './support/build.js';
import { serviceEnv } from './support/load.js';

const staticDir = await ensureClientBuilt();
const env = testEnv(serviceEnv({ STATIC_DIR: staticDir, CANVAS_WIDTH: '100', CANVAS_HEIGHT: '80', COOLDOWN_MS: '60000' }));
const server = await startInProcess(env, [historyExtension(loadConfig(env))]); // with GET /api/pixel, as main.ts runs it
t.teardown(() => server.stop());
const browser = await launch();
t.teardown(() => browser.close());
const base = server.base;
const HASH = '#50,40,8';

/** Resolves once the page shows colour `c` at (x, y) on its board, its offscreen canvas and the visible canvas. */
function seen(page: Page, x: number, y: number, c: number, timeout: number): Promise<unknown> {
  return page.waitForFunction(
    ([x, y, c]) => {
      const t = window.__tessera;
      if (t.shown(x, y) !== c) return false;
      const want = parseInt(t.config.palette[c].slice(1), 16);
      const rgb = (d: Uint8ClampedArray) => (d[0] << 16) | (d[1] << 8) | d[2];
      if (rgb(t.offscreen.getContext('2d')!.getImageData(x, y, 1, 1).data) !== want) return false;
      const s = t.view.boardToScreen(x + 0.5, y + 0.5);
      const dpr = t.canvas.width / t.canvas.getBoundingClientRect().width;
      return rgb(t.canvas.getContext('2d')!.getImageData(Math.floor(s.x * dpr), Math.floor(s.y * dpr), 1, 1).data) === want;
    },
    [x, y, c] as const,
    { timeout, polling: 'raf' },
  );
}

async function clickPixel(page: Page, x: number, y: number): Promise<void> {
  const p = await screenOf(page, x, y);
  await page.mouse.click(p.x, p.y);
}

t.test('two pages see each other’s pixels within 1 s', async (t) => {
  const a = await openPage(browser, base, { hash: HASH });
  const b = await openPage(browser, base, { hash: HASH });
  t.teardown(() => Promise.all([a.context.close(), b.context.close()]));

  await a.page.getByRole('radio', { name: 'Red' }).click();
  t.equal(await a.page.getByRole('radio', { name: 'Red' }).getAttribute('aria-checked'), 'true', 'the swatch is selected');
  let start = Date.now();
  await clickPixel(a.page, 10, 12);
  await seen(a.page, 10, 12, 5, 200); // shown at once on the placing page
  await seen(b.page, 10, 12, 5, 1000);
  const ab = Date.now() - start;

  await b.page.getByRole('radio', { name: 'Blue' }).click();
  start = Date.now();
  await clickPixel(b.page, 11, 12);
  await seen(a.page, 11, 12, 12, 1000);
  const ba = Date.now() - start;
  t.comment(`A → B ${ab} ms, B → A ${ba} ms`);
  t.ok(ab < 1000 && ba < 1000, 'each page saw the other’s pixel within 1 s');

  for (const p of [a, b]) {
    const { server: s, drawn } = await settle(p.page, base);
    t.same(drawn.truth, s.bytes, 'page board equals GET /api/board');
    t.same(drawn.offscreen, s.bytes, 'drawn pixels equal GET /api/board');
    t.same(drawn.visibleMismatches, [], `visible canvas matches (${drawn.visibleChecked} device px checked)`);
    t.same(p.problems, [], 'no console errors or CSP violations');
  }
});

t.test('the cooldown countdown appears after a placement, and a second try is refused locally', async (t) => {
  const a = await openPage(browser, base, { hash: HASH });
  t.teardown(() => a.context.close());
  const countdown = a.page.locator('#countdown');
  t.equal(await countdown.getAttribute('data-state'), 'idle');
  await a.page.getByRole('radio', { name: 'Green' }).click();
  t.match(await countdown.textContent(), /Ready/);

  await clickPixel(a.page, 20, 20);
  await a.page.waitForFunction(() => document.querySelector('#countdown')!.getAttribute('data-state') === 'cooldown', undefined, { timeout: 2000 });
  t.match(await countdown.textContent(), /Next pixel in (1:00|0:5\d)/, 'counts down from the 60 s cooldown');
  t.ok(await countdown.isVisible(), 'the countdown is visible');
  await a.page.waitForTimeout(1200);
  t.match(await countdown.textContent(), /Next pixel in 0:5\d/, 'and it ticks');

  await clickPixel(a.page, 21, 20);
  await a.page.waitForFunction(() => /next pixel in/i.test(document.querySelector('#toast')!.textContent ?? ''), undefined, { timeout: 2000 });
  t.equal(await a.page.evaluate(() => window.__tessera.shown(21, 20)), 0, 'nothing placed during the cooldown');

  // The countdown survives a reload (the server would refuse anyway).
  await a.page.reload();
  await a.page.waitForFunction(() => window.__tessera?.ready === true);
  t.equal(await countdown.getAttribute('data-state'), 'cooldown', 'countdown restored after reload');
});

t.test('a placement the server refuses is shown at once, then rolled back with a message', async (t) => {
  const c = await openPage(browser, base, { hash: HASH });
  t.teardown(() => c.context.close());
  // Spend this browser's cooldown behind its back, over HTTP with its own cookie.
  const token = (await c.context.cookies()).find((k) => k.name === 'tessera_session')!.value;
  const res = await put(base, token, { x: 40, y: 40, color: 3 });
  t.equal(res.status, 200);

  // Hold the server's answers back a little so "shown at once" is observable before the refusal.
  await c.page.routeWebSocket(/\/ws/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((m) => setTimeout(() => ws.send(m), typeof m === 'string' && m.includes('"error"') ? 400 : 0));
  });
  await c.page.reload();
  await c.page.waitForFunction(() => window.__tessera?.ready === true && window.__tessera.connection() === 'live');
  await c.page.getByRole('radio', { name: 'Purple' }).click();
  t.equal(await c.page.evaluate(() => window.__tessera.shown(30, 30)), 0);
  await clickPixel(c.page, 30, 30);
  await seen(c.page, 30, 30, 15, 300);
  t.pass('shown at once');
  await seen(c.page, 30, 30, 0, 3000);
  t.pass('rolled back after the refusal');
  await c.page.waitForFunction(() => /too soon/i.test(document.querySelector('#toast')!.textContent ?? ''), undefined, { timeout: 2000 });
  t.equal(await c.page.locator('#countdown').getAttribute('data-state'), 'cooldown', 'the countdown shows the server’s retry time');
  const { server: s, drawn } = await settle(c.page, base);
  t.same(drawn.offscreen, s.bytes, 'drawn pixels equal the server board');
});

t.test('inspecting a pixel: who placed it and when, and what it was before', async (t) => {
  const first = await session(base);
  const second = await session(base);
  t.equal((await put(base, first.token, { x: 5, y: 6, color: 12 })).status, 200);
  t.equal((await put(base, second.token, { x: 5, y: 6, color: 8 })).status, 200);
  const probe = await fetch(`${base}/api/pixel?x=5&y=6`);
  const hasHistory = probe.status === 200;
  const p = await openPage(browser, base, { hash: HASH });
  t.teardown(() => p.context.close());
  const body = () => p.page.locator('#inspector-body').textContent().then((s) => s ?? '');
  const loaded = () => p.page.waitForFunction(() => !/Loading/.test(document.querySelector('#inspector-body')!.textContent ?? ''), undefined, { timeout: 3000 });

  // No colour picked: a click inspects.
  await clickPixel(p.page, 5, 6);
  const panel = p.page.locator('#inspector');
  await panel.waitFor({ state: 'visible', timeout: 2000 });
  t.equal(await p.page.locator('#inspector-title').textContent(), 'Pixel 5, 6');
  await loaded();
  t.match(await body(), /Yellow/, 'shows the colour');
  if (hasHistory) {
    t.match(await body(), new RegExp(`Placed by${second.userId}`), 'who placed it');
    t.match(await body(), /When(just now|\d+ s ago)/, 'when');
    t.match(await body(), new RegExp(`Before that.*${first.userId}`), 'and who placed it before');
  } else {
    t.match(await body(), /not available/, `GET /api/pixel answers ${probe.status}: the panel says history is unavailable`);
  }
  await p.page.keyboard.press('Escape');
  await panel.waitFor({ state: 'hidden', timeout: 1000 });

  // Right-click inspects even with a colour picked; an untouched pixel says so.
  await p.page.getByRole('radio', { name: 'Black' }).click();
  const q = await screenOf(p.page, 70, 70);
  await p.page.mouse.click(q.x, q.y, { button: 'right' });
  await panel.waitFor({ state: 'visible', timeout: 2000 });
  await loaded();
  t.match(await body(), hasHistory ? /Nobody has placed/ : /not available/);
  t.equal(await p.page.evaluate(() => window.__tessera.shown(70, 70)), 0, 'right-click did not place');

  // The pixel we place ourselves reads "you".
  await p.page.keyboard.press('Escape');
  await clickPixel(p.page, 71, 70);
  await p.page.waitForFunction(() => window.__tessera.shown(71, 70) === 3);
  await settle(p.page, base);
  const mine = await screenOf(p.page, 71, 70);
  await p.page.mouse.click(mine.x, mine.y, { button: 'right' });
  await loaded();
  if (hasHistory) t.match(await body(), /Placed byyou \(/, 'our own placement says "you"');
  t.same(p.problems, [], 'no errors (the 404s of GET /api/pixel for untouched pixels are expected)');
});
