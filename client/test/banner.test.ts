// The moderators' banner in a real page: a freeze, a single allowed colour and a new cooldown, set through the
// admin API, reach an open page within 5 s; a frozen canvas does not place (and says why); the palette follows
// the allowed colour; the banner shows on a phone too.
import t from 'tap';
import type { Page } from 'playwright-core';
import { startInProcess, testEnv } from '../../service/test/support/service.js';
import { launch, openPage, screenOf } from './support/browser.js';
import { ensureClientBuilt } from './support/build.js';
import { serviceEnv } from './support/load.js';

const ADMIN = 'admin-token-banner-test';
const staticDir = await ensureClientBuilt();
const server = await startInProcess(testEnv(serviceEnv({ STATIC_DIR: staticDir, CANVAS_WIDTH: '100', CANVAS_HEIGHT: '80', COOLDOWN_MS: '0', ADMIN_TOKEN: ADMIN })));
t.teardown(() => server.stop());
const browser = await launch();
t.teardown(() => browser.close());
const base = server.base;
const HASH = '#50,40,8';

async function setControls(body: unknown): Promise<void> {
  const r = await fetch(`${base}/api/admin/controls`, { method: 'POST', headers: { 'x-admin-token': ADMIN }, body: JSON.stringify(body) });
  if (r.status !== 200) throw new Error(`controls: ${r.status} ${await r.text()}`);
}

const bannerText = (page: Page) => page.evaluate(() => document.querySelector('#banner')!.textContent ?? '');

/** Waits (≤ 5 s) until the banner's text matches; returns how long it took. */
async function bannerShows(page: Page, re: RegExp): Promise<number> {
  const start = Date.now();
  await page.waitForFunction((src) => new RegExp(src).test(document.querySelector('#banner')!.textContent ?? ''), re.source, { timeout: 5000, polling: 50 });
  return Date.now() - start;
}

async function clickPixel(page: Page, x: number, y: number): Promise<void> {
  const p = await screenOf(page, x, y);
  await page.mouse.click(p.x, p.y);
}

const seq = async () => Number((await fetch(`${base}/api/board`)).headers.get('x-canvas-seq'));

/** Waits until the server's board has colour c at (x, y). */
async function serverHas(x: number, y: number, c: number): Promise<void> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const b = new Uint8Array(await (await fetch(`${base}/api/board`)).arrayBuffer());
    const i = y * 100 + x;
    if ((i % 2 === 0 ? b[i >> 1] >> 4 : b[i >> 1] & 15) === c) return;
    if (Date.now() > deadline) throw new Error(`the server never got colour ${c} at ${x},${y}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('freeze: the banner appears, a click does not place and says why; unfreeze lifts it', async (t) => {
  const a = await openPage(browser, base, { hash: HASH });
  t.teardown(() => a.context.close());
  const { page } = a;
  t.equal(await bannerText(page), '', 'no banner while nothing is restricted');
  t.equal(await page.locator('#banner').getAttribute('role'), 'status', 'the banner is a status live region');
  await page.getByRole('radio', { name: 'Red' }).click();

  await setControls({ frozen: true });
  const ms = await bannerShows(page, /The canvas is frozen/);
  t.comment(`freeze shown in the page ${ms} ms after the API call returned`);
  t.ok(await page.getByRole('status').filter({ hasText: 'The canvas is frozen' }).isVisible(), 'the banner is visible');
  t.equal(await page.locator('#countdown').getAttribute('data-state'), 'frozen');
  await page.screenshot({ path: '/tmp/tessera-banner-frozen.png' });

  const before = await seq();
  await clickPixel(page, 10, 10);
  await page.waitForFunction(() => /frozen/i.test(document.querySelector('#toast')!.textContent ?? ''), undefined, { timeout: 2000 });
  t.match(await page.locator('#toast').textContent(), /frozen, so that pixel was not placed/, 'the click says why nothing was placed');
  await page.screenshot({ path: '/tmp/tessera-banner-frozen-click.png' });
  t.equal(await page.evaluate(() => window.__tessera.shown(10, 10)), 0, 'nothing shown at the pixel');
  await page.waitForTimeout(300);
  t.equal(await seq(), before, 'nothing reached the server');

  await setControls({ frozen: false });
  t.comment(`unfreeze cleared the banner after ${await bannerShows(page, /^$/)} ms`);
  t.equal(await page.locator('#countdown').getAttribute('data-state'), 'ready');
  await clickPixel(page, 10, 10);
  await serverHas(10, 10, 5);
  t.equal(await seq(), before + 1, 'placing works again');
  t.same(a.problems, [], 'no console errors');
});

t.test('one colour: the banner names it, the other swatches are disabled', async (t) => {
  const a = await openPage(browser, base, { hash: HASH });
  t.teardown(() => a.context.close());
  const { page } = a;
  await page.getByRole('radio', { name: 'Red' }).click();
  await setControls({ onlyColor: 12 });
  t.comment(`onlyColor shown after ${await bannerShows(page, /Only Blue can be placed now/)} ms`);
  const disabled = await page.evaluate(() => [...document.querySelectorAll<HTMLButtonElement>('.swatch')].filter((b) => b.disabled).map((b) => Number(b.dataset.color)));
  t.same(disabled, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15], 'every other colour is disabled');
  t.equal(await page.getByRole('radio', { name: 'Blue' }).getAttribute('aria-checked'), 'true', 'the choice moved to the allowed colour');
  t.ok(await page.getByRole('radio', { name: 'Red' }).isDisabled());
  await page.keyboard.press(']');
  t.equal(await page.getByRole('radio', { name: 'Blue' }).getAttribute('aria-checked'), 'true', 'stepping through colours skips the disabled ones');
  await page.screenshot({ path: '/tmp/tessera-banner-color.png' });

  await clickPixel(page, 20, 20);
  await serverHas(20, 20, 12);
  t.pass('the allowed colour places');

  // On a phone the banner is in the dock, on screen.
  const phone = await openPage(browser, base, { hash: HASH, viewport: { width: 390, height: 844 }, touch: true });
  t.teardown(() => phone.context.close());
  await bannerShows(phone.page, /Only Blue can be placed now/);
  const box = (await phone.page.locator('#banner').boundingBox())!;
  t.ok(box.y >= 0 && box.y + box.height <= 844 && box.width > 300, `the banner is on a phone's screen (${Math.round(box.x)},${Math.round(box.y)} ${Math.round(box.width)}×${Math.round(box.height)})`);
  await phone.page.screenshot({ path: '/tmp/tessera-banner-phone.png' });

  await setControls({ onlyColor: null });
  await bannerShows(page, /^$/);
  t.equal(await page.evaluate(() => document.querySelectorAll('.swatch:disabled').length), 0, 'every colour again');
  t.same([...a.problems, ...phone.problems], [], 'no console errors');
});

t.test('a new cooldown is announced for a few seconds and used for the countdown', async (t) => {
  const a = await openPage(browser, base, { hash: HASH });
  t.teardown(() => a.context.close());
  const { page } = a;
  await setControls({ cooldownMs: 120_000 });
  t.comment(`cooldown change shown after ${await bannerShows(page, /Cooldown is now 2 min/)} ms`);
  await page.getByRole('radio', { name: 'Green' }).click();
  await clickPixel(page, 30, 30);
  await page.waitForFunction(() => document.querySelector('#countdown')!.getAttribute('data-state') === 'cooldown', undefined, { timeout: 3000 });
  t.match(await page.locator('#countdown').textContent(), /Next pixel in (2:00|1:5\d)/, 'the countdown runs from the new cooldown');
  await page.waitForFunction(() => (document.querySelector('#banner')!.textContent ?? '') === '', undefined, { timeout: 12_000, polling: 200 });
  t.pass('the cooldown note goes away by itself');
  await setControls({ cooldownMs: null });
  await bannerShows(page, /Cooldown is now off/);
  t.same(a.problems, [], 'no console errors');
});
