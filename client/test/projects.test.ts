// Community projects in Chromium: one page creates a project (the panel's form, a real PNG), another — a phone,
// driven by touch — opens its public link with the overlay on. Pixels placed from the first page and over HTTP
// move both pages' completion within a second; a third user's damage shows on both (counts and a red ring);
// "next pixel that helps" takes the phone to the damaged pixel with the right colour picked, and a tap repairs it;
// "alert me" registers the page's push subscription, and the local push service receives the encrypted,
// VAPID-signed alert naming the project once damage passes the threshold.
import t from 'tap';
import type { Page } from 'playwright-core';
import { startFakePush } from '../../service/test/support/fake-push.js';
import { alertEnv, templatePng } from '../../service/test/support/projects.js';
import { startInProcess, testEnv } from '../../service/test/support/service.js';
import type { ProjectsDebug } from '../src/projects/mount.js';
import { launch, openPage, screenOf } from './support/browser.js';
import { ensureClientBuilt } from './support/build.js';
import { mintToken, putPixel, serviceEnv } from './support/load.js';

declare global {
  interface Window {
    __tesseraProjects: ProjectsDebug;
  }
}

const staticDir = await ensureClientBuilt();
const push = await startFakePush();
t.teardown(() => push.close());
const server = await startInProcess(testEnv(serviceEnv({ STATIC_DIR: staticDir, CANVAS_WIDTH: '100', CANVAS_HEIGHT: '80', COOLDOWN_MS: '0', ...alertEnv(push.origin) })));
t.teardown(() => server.stop());
const browser = await launch();
t.teardown(() => browser.close());
const base = server.base;
const RED = 5;
const BLACK = 3;
// 3×2 at (30, 30): a red row over black, (transparent), black — 5 pixels.
const AT = { x: 30, y: 30 };
const png = templatePng(3, 2, (x, y) => (y === 0 ? RED : x === 1 ? null : BLACK));

const current = (page: Page) => page.evaluate(() => window.__tesseraProjects.current());

type Counts = NonNullable<ReturnType<ProjectsDebug['current']>>;

/** Waits (≤ 3 s) until the page's project counts satisfy `pred`; returns the ms it took from `since`. */
async function shows(page: Page, pred: (c: Counts) => boolean, since: number): Promise<number> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const c = await current(page);
    if (c && c.total > 0 && pred(c)) return Date.now() - since;
    if (Date.now() > deadline) throw new Error(`the page's project counts never matched; last ${JSON.stringify(c)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The overlay canvas's RGBA at the screen point (CSS px). */
async function overlayAt(page: Page, sx: number, sy: number): Promise<number[]> {
  return page.evaluate(([x, y]) => {
    const c = document.querySelector('#project-overlay') as HTMLCanvasElement;
    const dpr = c.width / c.getBoundingClientRect().width;
    return [...c.getContext('2d')!.getImageData(Math.floor(x * dpr), Math.floor(y * dpr), 1, 1).data];
  }, [sx, sy] as const);
}

t.test('create on one page, overlay on a phone, live completion, damage, repair and an alert', async (t) => {
  const a = await openPage(browser, base, { hash: `#${AT.x},${AT.y},8` });
  t.teardown(() => a.context.close());
  const { page } = a;

  // Create through the panel: name, a PNG file, where.
  await page.locator('#tool-projects').click();
  await page.locator('#project-new-name').fill('Flag');
  await page.locator('#project-new-file').setInputFiles({ name: 'flag.png', mimeType: 'image/png', buffer: png });
  await page.locator('#project-new-x').fill(String(AT.x));
  await page.locator('#project-new-y').fill(String(AT.y));
  await page.locator('#project-create-submit').click();
  await shows(page, (c) => c.total === 5, Date.now());
  const id = (await current(page))!.id;
  t.match(await current(page), { total: 5, correct: 0, damaged: 0 }, 'the creator sees it at once: 0 of 5');
  t.equal(new URL(page.url()).searchParams.get('project'), id, 'the page URL is now the public link');
  t.equal(await page.locator('#project-link').textContent(), `${base}/?project=${id}`);
  await page.screenshot({ path: '/tmp/tessera-projects-panel.png' });
  await page.locator('#projects-close').click();

  // The phone opens the public link.
  const b = await openPage(browser, base, { hash: `?project=${id}#${AT.x + 1},${AT.y + 1},8`, touch: true, viewport: { width: 390, height: 844 } });
  t.teardown(() => b.context.close());
  const phone = b.page;
  await shows(phone, (c) => c.correct === 0, Date.now());
  t.match(await phone.locator('#project-completion').textContent(), /0\.0 %/, 'completion in the panel: 0 of 5');
  // Full style at 60 %: the red row is tinted red over the white board.
  const over = await screenOf(phone, AT.x + 2, AT.y);
  const tint = await overlayAt(phone, over.x, over.y);
  t.ok(tint[3] > 100 && tint[0] > 200 && tint[1] < 40, `the overlay shows the template's red (got rgba ${tint})`);

  // Placing: one pixel from page A's palette, one over HTTP; both pages follow within a second.
  await page.getByRole('radio', { name: 'Red' }).click();
  const p0 = await screenOf(page, AT.x, AT.y);
  let since = Date.now();
  await page.mouse.click(p0.x, p0.y);
  for (const [name, pg] of [['page A', page], ['the phone', phone]] as const) {
    const ms = await shows(pg, (c) => c.correct === 1, since);
    t.ok(ms < 1000, `a click on page A: completion 1/5 on ${name} after ${ms} ms`);
  }
  since = Date.now();
  t.equal((await putPixel(base, mintToken('painter'), { x: AT.x + 1, y: AT.y, color: RED })).status, 200);
  for (const [name, pg] of [['page A', page], ['the phone', phone]] as const) {
    const ms = await shows(pg, (c) => c.correct === 2, since);
    t.ok(ms < 1000, `a placement over HTTP: completion 2/5 on ${name} after ${ms} ms`);
  }
  t.match(await phone.locator('#project-completion').textContent(), /40\.0 %/);

  // A third user paints over a right pixel: damage on both pages, ringed in red.
  since = Date.now();
  t.equal((await putPixel(base, mintToken('vandal'), { x: AT.x, y: AT.y, color: BLACK })).status, 200);
  for (const [name, pg] of [['page A', page], ['the phone', phone]] as const) {
    const ms = await shows(pg, (c) => c.damaged === 1 && c.correct === 1, since);
    t.ok(ms < 1000, `damage on ${name} after ${ms} ms`);
    t.same((await current(pg))!.damagedPixels, [{ x: AT.x, y: AT.y }], `${name} marks the damaged pixel`);
  }
  await phone.waitForTimeout(50);
  const edge = await screenOf(phone, AT.x, AT.y);
  const ring = await overlayAt(phone, edge.x - 4 + 1, edge.y);
  t.ok(ring[3] === 255 && ring[0] > 200 && ring[1] < 60, `a red ring on the damaged pixel (got rgba ${ring})`);
  t.match(await phone.locator('#project-damage').textContent(), /1 damaged/);
  await phone.screenshot({ path: '/tmp/tessera-projects-damage.png' });

  // Next pixel that helps, by touch: the view goes there and Red is picked; the person taps to place it.
  await phone.locator('#tool-projects').tap();
  await phone.locator('#project-next').tap();
  t.same(await phone.evaluate(() => window.__tesseraProjects.target()), { x: AT.x, y: AT.y, color: RED }, 'the damaged pixel, in its colour');
  t.equal(await phone.getByRole('radio', { name: 'Red' }).getAttribute('aria-checked'), 'true', 'Red is picked');
  const view = await phone.evaluate(() => window.__tessera.view.state());
  t.ok(Math.abs(view.x - (AT.x + 0.5)) < 0.01 && Math.abs(view.y - (AT.y + 0.5)) < 0.01, 'the view is centred on it');
  t.ok(await phone.locator('#projects').isHidden(), 'on a phone the panel steps aside');
  t.equal((await current(phone))!.damaged, 1, 'nothing placed by itself');
  await phone.screenshot({ path: '/tmp/tessera-projects-next.png' });
  const target = await screenOf(phone, AT.x, AT.y);
  since = Date.now();
  await phone.touchscreen.tap(target.x, target.y);
  for (const [name, pg] of [['page A', page], ['the phone', phone]] as const) {
    const ms = await shows(pg, (c) => c.damaged === 0 && c.correct === 2, since);
    t.ok(ms < 1000, `the repair shows on ${name} after ${ms} ms`);
  }

  // Alert me at 30 %: the page's push subscription (the push service's, as a browser would hold) goes to the server.
  const sub = push.subscribe('phone');
  await phone.evaluate((s) => {
    const fake = { toJSON: () => s };
    PushManager.prototype.getSubscription = async () => null;
    PushManager.prototype.subscribe = async () => fake as unknown as PushSubscription;
  }, sub);
  await phone.locator('#tool-projects').tap();
  await phone.locator('#project-threshold').fill('30');
  await phone.locator('#project-alert').tap();
  await phone.waitForFunction(() => /alerted when damage passes 30 %/.test(document.querySelector('#toast')!.textContent ?? ''), undefined, { timeout: 5000 });
  t.pass('the page says the alert is set');
  // Both right pixels painted over: two of five damaged, 40 %.
  for (const x of [AT.x, AT.x + 1]) t.equal((await putPixel(base, mintToken('vandal2'), { x, y: AT.y, color: BLACK })).status, 200);
  await shows(phone, (c) => c.damaged === 2, Date.now());
  const deadline = Date.now() + 5000;
  while (push.received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(push.received.length, 1, 'the push service got the alert');
  t.same(push.refused, [], 'its VAPID signature verified and its payload decrypted');
  t.match(JSON.parse(push.received[0]?.payload ?? '{}'), { project: id, name: 'Flag', damagePercent: 40 }, 'the payload names the project');
  t.same(a.problems, [], 'no errors on page A');
  t.same(b.problems, [], 'no errors on the phone');
});

t.test('dots style and opacity', async (t) => {
  const pg = await openPage(browser, base, { hash: `#${AT.x},${AT.y},8` });
  t.teardown(() => pg.context.close());
  const { page } = pg;
  const list = await (await fetch(`${base}/api/projects`)).json();
  await page.locator('#tool-projects').click();
  await page.locator(`[data-project="${list.projects[0].id}"]`).click();
  await shows(page, (c) => c.total === 5, Date.now());
  const p = await screenOf(page, AT.x + 2, AT.y); // red, never placed: no damage ring
  const full = await overlayAt(page, p.x - 3, p.y - 3);
  t.ok(full[3] > 0, 'full style covers the whole pixel');
  await page.locator('#project-style').selectOption('dots');
  await page.waitForTimeout(50);
  t.equal((await overlayAt(page, p.x - 3, p.y - 3))[3], 0, 'dots leave the pixel’s edge clear');
  t.ok((await overlayAt(page, p.x, p.y))[3] > 0, 'and mark its middle');
  await page.locator('#project-opacity').fill('100');
  await page.waitForTimeout(50);
  t.equal((await overlayAt(page, p.x, p.y))[3], 255, 'opacity 100 %: opaque');
  t.same(pg.problems, []);
});
