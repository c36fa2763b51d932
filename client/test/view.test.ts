// The view in the browser: the hash restores it; wheel zoom and drag keep the grabbed pixel under the
// pointer; the keyboard and touch work; and a screenshot of the page with a drawn scene.
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CDPSession, Page } from 'playwright-core';
import { loadConfig } from '../../service/src/config.js';
import { historyExtension } from '../../service/src/history/extension.js';
import { put, session, startInProcess, testEnv } from '../../service/test/support/service.js';
import { launch, openPage, screenOf, serverBoard, settle } from './support/browser.js';
import { ROOT, ensureClientBuilt } from './support/build.js';
import { placeMany, serviceEnv } from './support/load.js';
import { scene } from './support/pattern.js';

const W = 120;
const H = 72;
const staticDir = await ensureClientBuilt();
const env = testEnv(serviceEnv({ STATIC_DIR: staticDir, CANVAS_WIDTH: String(W), CANVAS_HEIGHT: String(H), COOLDOWN_MS: '300000' }));
const server = await startInProcess(env, [historyExtension(loadConfig(env))]);
t.teardown(() => server.stop());
const browser = await launch();
t.teardown(() => browser.close());
const base = server.base;

const pixelAt = (page: Page, x: number, y: number) => page.evaluate(([sx, sy]) => window.__tessera.view.pixelAt(sx, sy), [x, y] as const);
const viewState = (page: Page) => page.evaluate(() => window.__tessera.view.state());
/** The colour index the visible canvas shows at a screen point (by its RGB), or -1. */
const drawnAt = (page: Page, x: number, y: number) =>
  page.evaluate(
    ([sx, sy]) => {
      const t = window.__tessera;
      const dpr = t.canvas.width / t.canvas.getBoundingClientRect().width;
      const d = t.canvas.getContext('2d')!.getImageData(Math.floor(sx * dpr), Math.floor(sy * dpr), 1, 1).data;
      return t.config.palette.findIndex((hex) => parseInt(hex.slice(1), 16) === ((d[0] << 16) | (d[1] << 8) | d[2]));
    },
    [x, y] as const,
  );
const coordsText = (page: Page) => page.locator('#coords strong').textContent();
/** The hash is written shortly after the view settles. */
const hashSettled = (page: Page) =>
  page.waitForFunction(() => {
    const s = window.__tessera.view.state();
    const m = /^#([\d.]+),([\d.]+),([\d.]+)$/.exec(location.hash);
    return !!m && Math.abs(+m[1] - s.x) < 0.01 && Math.abs(+m[2] - s.y) < 0.01 && Math.abs(+m[3] - s.zoom) < 0.002;
  }, undefined, { timeout: 2000 });
const colorOnServer = async (x: number, y: number) => {
  const { bytes } = await serverBoard(base);
  const i = y * W + x;
  return i % 2 === 0 ? bytes[i >> 1] >> 4 : bytes[i >> 1] & 15;
};

t.test('a reload restores the view from the hash, and a link opens the same spot', async (t) => {
  const p = await openPage(browser, base);
  t.teardown(() => p.context.close());
  t.equal(await p.page.evaluate(() => location.hash), '', 'no hash: the whole board');
  await p.page.mouse.move(500, 300);
  await p.page.mouse.wheel(0, -300);
  await p.page.mouse.move(700, 500);
  await p.page.mouse.down();
  await p.page.mouse.move(640, 460, { steps: 4 });
  await p.page.mouse.up();
  await hashSettled(p.page);
  const before = await viewState(p.page);
  const hash = await p.page.evaluate(() => location.hash);
  const under = await pixelAt(p.page, 321, 207);
  t.match(hash, /^#\d+(\.\d+)?,\d+(\.\d+)?,\d+(\.\d+)?$/, `the hash holds the view: ${hash}`);

  await p.page.reload();
  await p.page.waitForFunction(() => window.__tessera?.ready === true);
  const after = await viewState(p.page);
  t.ok(Math.abs(after.x - before.x) < 0.01 && Math.abs(after.y - before.y) < 0.01 && Math.abs(after.zoom - before.zoom) < 0.002, `restored ${JSON.stringify(after)}`);
  t.same(await pixelAt(p.page, 321, 207), under, 'the same pixel under the same point');

  const q = await openPage(browser, base, { hash });
  t.teardown(() => q.context.close());
  t.same(await pixelAt(q.page, 321, 207), under, 'a new visitor with the link sees the same spot');
  t.same([...p.problems, ...q.problems], []);
});

t.test('zoom and pan move the right pixel under the pointer; a click places exactly that pixel', async (t) => {
  const marker = { x: 37, y: 29 };
  const s = await session(base);
  t.equal((await put(base, s.token, { ...marker, color: 5 })).status, 200);
  const p = await openPage(browser, base, { hash: '#60,36,4' });
  t.teardown(() => p.context.close());
  await settle(p.page, base);
  await p.page.getByRole('radio', { name: 'Blue' }).click();

  const at = await screenOf(p.page, marker.x, marker.y);
  await p.page.mouse.move(at.x, at.y);
  t.equal(await coordsText(p.page), '37, 29', 'the coordinates under the pointer');
  const z0 = (await viewState(p.page)).zoom;
  for (const dy of [-240, -240, -240, 120]) {
    await p.page.mouse.wheel(0, dy);
    await p.page.waitForTimeout(30);
    t.same(await pixelAt(p.page, at.x, at.y), marker, `after wheel ${dy}: the marker is still under the pointer`);
  }
  const z1 = (await viewState(p.page)).zoom;
  t.ok(z1 > z0 * 2, `zoomed in (${z0.toFixed(2)} → ${z1.toFixed(2)} px per pixel)`);
  await p.page.evaluate(() => new Promise((r) => requestAnimationFrame(r)));
  t.equal(await drawnAt(p.page, at.x, at.y), 5, 'and it is drawn there');
  t.equal(await coordsText(p.page), '37, 29');

  // Drag: the grabbed pixel follows the pointer exactly.
  const to = { x: at.x + 173, y: at.y - 91 };
  await p.page.mouse.down();
  await p.page.mouse.move(to.x, to.y, { steps: 8 });
  await p.page.mouse.up();
  t.same(await pixelAt(p.page, to.x, to.y), marker, 'after the drag the marker is under the pointer');
  await p.page.evaluate(() => new Promise((r) => requestAnimationFrame(r)));
  t.equal(await drawnAt(p.page, to.x, to.y), 5, 'drawn where the pointer is now');
  t.not(await drawnAt(p.page, at.x, at.y), 5, 'and no longer where the drag started');
  t.equal(await colorOnServer(marker.x, marker.y), 5, 'a drag does not place');

  // Zoom all the way out stops at the whole board; all the way in stops at 40 px per pixel.
  for (let i = 0; i < 12; i++) await p.page.mouse.wheel(0, 300);
  const out = await p.page.evaluate(() => [window.__tessera.view.state().zoom, window.__tessera.view.minZoom]);
  t.equal(out[0], out[1], 'zoom out stops where the whole board fits');
  for (let i = 0; i < 20; i++) await p.page.mouse.wheel(0, -300);
  t.equal((await viewState(p.page)).zoom, 40, 'zoom in stops at 40 px per pixel');

  // Too far out to aim, a click zooms in on the spot instead of placing.
  await p.page.evaluate(() => (location.hash = '#60,36,2'));
  await p.page.waitForFunction(() => window.__tessera.view.state().zoom === 2);
  const far = await screenOf(p.page, 70, 20);
  const seqBefore = (await serverBoard(base)).seq;
  await p.page.mouse.click(far.x, far.y);
  t.equal((await viewState(p.page)).zoom, 10, 'a click at 2 px per pixel zooms in to 10');
  t.same(await pixelAt(p.page, far.x, far.y), { x: 70, y: 20 }, 'around the pixel clicked');
  t.match(await p.page.locator('#toast').textContent(), /click again to place/);
  t.equal((await serverBoard(base)).seq, seqBefore, 'and placed nothing');

  // A click places the pixel under the pointer, wherever the view is.
  await p.page.mouse.move(10, 10);
  await p.page.evaluate(() => (location.hash = '#37.2,29.9,13.7'));
  await p.page.waitForFunction(() => Math.abs(window.__tessera.view.state().zoom - 13.7) < 1e-9);
  const c = await screenOf(p.page, marker.x, marker.y);
  await p.page.mouse.click(c.x + 3, c.y - 4);
  await p.page.waitForFunction(([x, y]) => window.__tessera.shown(x, y) === 12, [marker.x, marker.y] as const, { timeout: 1000 });
  const { drawn, server: sb } = await settle(p.page, base);
  t.equal(await colorOnServer(marker.x, marker.y), 12, 'the server has the pixel that was under the pointer');
  t.same(drawn.offscreen, sb.bytes, 'and the page equals the server');
  t.same(p.problems, []);
});

t.test('keyboard: arrows pan, +/− zoom, the palette takes arrow keys, Enter places the centre pixel', async (t) => {
  const p = await openPage(browser, base, { hash: '#80.5,20.5,10' });
  t.teardown(() => p.context.close());
  await p.page.keyboard.press('Tab');
  t.equal(await p.page.evaluate(() => document.activeElement?.id), 'board', 'the canvas takes focus first');
  await p.page.keyboard.press('ArrowRight');
  await p.page.keyboard.press('ArrowRight');
  await p.page.keyboard.press('ArrowUp');
  let v = await viewState(p.page);
  t.same([v.x, v.y], [80.5 + 8, 20.5 - 4], 'arrows pan by 4 pixels at 10 px per pixel');
  await p.page.keyboard.press('+');
  t.equal((await viewState(p.page)).zoom, 15, '+ zooms in');
  await p.page.keyboard.press('-');
  t.equal((await viewState(p.page)).zoom, 10, '− zooms out');

  // Tab to the palette; arrow keys move the selection; the labels say which colour.
  for (let i = 0; i < 5 && !(await p.page.evaluate(() => document.activeElement?.classList.contains('swatch'))); i++) await p.page.keyboard.press('Tab');
  t.equal(await p.page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'White', 'Tab reaches the palette');
  await p.page.keyboard.press('ArrowRight');
  await p.page.keyboard.press('ArrowRight');
  await p.page.keyboard.press('ArrowRight');
  t.equal(await p.page.locator('[role=radio][aria-checked=true]').getAttribute('aria-label'), 'Black', 'arrow keys select');
  t.equal(await p.page.locator('[role=radio]').count(), 16);
  t.equal(new Set(await p.page.locator('[role=radio]').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')))).size, 16, 'every swatch has its own label');
  for (const b of await p.page.locator('.tools button').all()) t.ok(await b.getAttribute('aria-label'), `tool button labelled: ${await b.getAttribute('aria-label')}`);

  await p.page.keyboard.press('Shift+Tab');
  await p.page.waitForFunction(() => document.activeElement?.id === 'board');
  v = await viewState(p.page);
  const target = { x: Math.floor(v.x), y: Math.floor(v.y) };
  await p.page.keyboard.press('Enter');
  await p.page.waitForFunction(([x, y]) => window.__tessera.shown(x, y) === 3, [target.x, target.y] as const, { timeout: 1000 });
  await settle(p.page, base);
  t.equal(await colorOnServer(target.x, target.y), 3, `Enter placed black at the centre pixel ${target.x}, ${target.y}`);
  t.same(p.problems, []);
});

/** Touch through CDP: playwright's touchscreen only taps, a pinch needs two moving points. */
async function touch(cdp: CDPSession, type: 'touchStart' | 'touchMove' | 'touchEnd', points: { x: number; y: number }[]): Promise<void> {
  await cdp.send('Input.dispatchTouchEvent', { type, touchPoints: points.map((p, id) => ({ x: p.x, y: p.y, id, radiusX: 2, radiusY: 2, force: 1 })) });
}

/** Holds the fingers still before lifting them: lifting while moving starts a fling, and the next tap would only stop it. */
async function rest(cdp: CDPSession, points: { x: number; y: number }[]): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 40));
    await touch(cdp, 'touchMove', points);
  }
}

t.test('on a phone: pinch zooms around the fingers, one finger pans, a tap places', async (t) => {
  const p = await openPage(browser, base, { viewport: { width: 390, height: 844 }, touch: true });
  t.teardown(() => p.context.close());
  const cdp = await p.context.newCDPSession(p.page);
  const mid = { x: 195, y: 380 };
  const before = await viewState(p.page);
  const anchor = await p.page.evaluate(([x, y]) => {
    const tr = window.__tessera.view.transform();
    return { x: (x - tr.tx) / tr.zoom, y: (y - tr.ty) / tr.zoom };
  }, [mid.x, mid.y] as const);
  await touch(cdp, 'touchStart', [{ x: mid.x - 30, y: mid.y }, { x: mid.x + 30, y: mid.y }]);
  for (let d = 40; d <= 120; d += 10) await touch(cdp, 'touchMove', [{ x: mid.x - d, y: mid.y }, { x: mid.x + d, y: mid.y }]);
  await rest(cdp, [{ x: mid.x - 120, y: mid.y }, { x: mid.x + 120, y: mid.y }]);
  await touch(cdp, 'touchEnd', []);
  const after = await viewState(p.page);
  t.ok(after.zoom > before.zoom * 3.5, `pinch zoomed ${before.zoom.toFixed(2)} → ${after.zoom.toFixed(2)}`);
  const moved = await p.page.evaluate(([x, y]) => {
    const tr = window.__tessera.view.transform();
    return { x: (x - tr.tx) / tr.zoom, y: (y - tr.ty) / tr.zoom };
  }, [mid.x, mid.y] as const);
  t.ok(Math.abs(moved.x - anchor.x) < 0.2 && Math.abs(moved.y - anchor.y) < 0.2, 'the point between the fingers stayed put');

  const grab = await pixelAt(p.page, 100, 300);
  await touch(cdp, 'touchStart', [{ x: 100, y: 300 }]);
  for (let k = 1; k <= 6; k++) await touch(cdp, 'touchMove', [{ x: 100 + k * 20, y: 300 + k * 10 }]);
  await rest(cdp, [{ x: 220, y: 360 }]);
  await touch(cdp, 'touchEnd', []);
  t.same(await pixelAt(p.page, 220, 360), grab, 'one finger drags the board along');

  await p.page.getByRole('radio', { name: 'Orange' }).tap();
  await p.page.waitForFunction(() => document.querySelector('[aria-label=Orange]')!.getAttribute('aria-checked') === 'true', undefined, { timeout: 1000 });
  const spot = await pixelAt(p.page, 200, 250);
  await p.page.touchscreen.tap(200, 250);
  await p.page.waitForFunction(([x, y]) => window.__tessera.shown(x, y) === 6, [spot!.x, spot!.y] as const, { timeout: 1000 });
  await settle(p.page, base);
  t.equal(await colorOnServer(spot!.x, spot!.y), 6, 'a tap placed the pixel under the finger');
  t.same(p.problems, []);
});

t.test('screenshot of the page with a drawn scene', async (t) => {
  const pixels = scene(W, H);
  const started = Date.now();
  await placeMany(base, pixels, { userPrefix: 'artist' });
  t.comment(`drew ${pixels.length} pixels over HTTP in ${Date.now() - started} ms`);
  const dir = join(ROOT, 'dist/screenshots');
  mkdirSync(dir, { recursive: true });

  const p = await openPage(browser, base, { hash: `#${W / 2},38.8,8.5` });
  t.teardown(() => p.context.close());
  const { drawn, server: sb } = await settle(p.page, base);
  t.same(drawn.offscreen, sb.bytes, 'the scene is drawn exactly');
  t.same(drawn.visibleMismatches, [], `and on screen (${drawn.visibleChecked} device px checked)`);
  await p.page.getByRole('radio', { name: 'Yellow' }).click();
  const spot = await screenOf(p.page, 24, 3);
  await p.page.mouse.click(spot.x, spot.y);
  await p.page.waitForFunction(() => document.querySelector('#countdown')!.getAttribute('data-state') === 'cooldown');
  const hover = await screenOf(p.page, 27, 2);
  await p.page.mouse.move(hover.x, hover.y);
  await p.page.waitForTimeout(300);
  await p.page.screenshot({ path: join(dir, 'canvas.png') });
  const tree = await screenOf(p.page, 53, 55);
  await p.page.mouse.click(tree.x, tree.y, { button: 'right' });
  await p.page.waitForFunction(() => !/Loading/.test(document.querySelector('#inspector-body')?.textContent ?? 'Loading'));
  await p.page.screenshot({ path: join(dir, 'canvas-inspect.png') });

  const phone = await openPage(browser, base, { viewport: { width: 390, height: 844 }, touch: true, hash: `#${W / 2 - 20},${H / 2},5.5` });
  t.teardown(() => phone.context.close());
  await settle(phone.page, base);
  await phone.page.getByRole('radio', { name: 'Red' }).tap();
  await phone.page.screenshot({ path: join(dir, 'canvas-phone.png') });
  t.pass(`screenshots in ${dir}`);
  t.same([...p.problems, ...phone.problems], []);
});
