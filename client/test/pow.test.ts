// A new visitor's session costs a proof-of-work, solved for real in the page's Web Worker: the page says
// "Preparing your session… N %" while it hashes, then places. Also measures the default difficulty's solve time.
import t from 'tap';
import type { Browser, BrowserContext } from 'playwright-core';
import { startInProcess, testEnv } from '../../service/test/support/service.js';
import { launch, openPage, screenOf, serverBoard, type Test } from './support/browser.js';
import { ensureClientBuilt } from './support/build.js';
import { serviceEnv } from './support/load.js';

const staticDir = await ensureClientBuilt();
const browser = await launch();
t.teardown(() => browser.close());

async function powServer(t: Test, difficulty: number, env: Record<string, string> = {}): Promise<string> {
  const server = await startInProcess(testEnv(serviceEnv({ STATIC_DIR: staticDir, POW_DIFFICULTY: String(difficulty), COOLDOWN_MS: '0', ...env })));
  t.teardown(() => server.stop());
  return server.base;
}

/** A fresh browser context (no session cookie) that records the loading text and the solver's log lines. */
async function recordingContext(browser: Browser): Promise<{ context: BrowserContext; texts: () => Promise<string[]>; solved: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const solved: string[] = [];
  context.on('console', (m) => {
    if (/session challenge .* solved in/.test(m.text())) solved.push(m.text());
  });
  await context.addInitScript(() => {
    const seen: string[] = ((window as unknown as { __loadingTexts: string[] }).__loadingTexts = []);
    new MutationObserver(() => {
      const text = document.querySelector('#loading-text')?.textContent ?? '';
      if (text && seen.at(-1) !== text) seen.push(text);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  return { context, solved, texts: async () => (await context.pages()[0].evaluate(() => (window as unknown as { __loadingTexts: string[] }).__loadingTexts)) ?? [] };
}

t.test('the page solves the challenge in a worker, shows progress, then places', async (t) => {
  const base = await powServer(t, 14);
  const r = await fetch(`${base}/api/session`, { method: 'POST' });
  t.equal(r.status, 401, 'the server really requires the work');
  const rec = await recordingContext(browser);
  t.teardown(() => rec.context.close());
  const p = await openPage(browser, base, { hash: '#50,40,8', context: rec.context });

  const texts = await rec.texts();
  t.comment(`loading texts: ${texts.join(' | ')}`);
  t.ok(texts.includes('Preparing your session… 0 %'), 'progress shown from 0 %');
  t.ok(texts.includes('Preparing your session… 100 %'), 'up to 100 %');
  t.ok(texts.every((s) => !/Preparing/.test(s) || /^Preparing your session… \d{1,3} %$/.test(s)), 'as a percentage');
  t.equal(rec.solved.length, 1, `solved once: ${rec.solved[0]}`);

  await p.page.getByRole('radio', { name: 'Red' }).click();
  const at = await screenOf(p.page, 12, 13);
  await p.page.mouse.click(at.x, at.y);
  const deadline = Date.now() + 5000;
  let color = -1;
  while (Date.now() < deadline) {
    const { bytes } = await serverBoard(base);
    const i = 13 * 100 + 12;
    color = (bytes[i >> 1] >> (i & 1 ? 0 : 4)) & 15;
    if (color === 5) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(color, 5, 'the placement reached the server');

  await p.page.reload();
  await p.page.waitForFunction(() => window.__tessera?.ready === true && window.__tessera.connection() === 'live');
  t.equal(rec.solved.length, 1, 'a reload keeps the session: no second challenge');
  t.same(p.problems, [], 'no console errors or CSP violations (the worker runs under the page CSP)');
});

t.test('a warming-up session is told when it may place, as a countdown', async (t) => {
  const base = await powServer(t, 10, { SESSION_WARMUP_MS: '120000' });
  const p = await openPage(browser, base, { hash: '#50,40,8' });
  t.teardown(() => p.context.close());
  await p.page.getByRole('radio', { name: 'Red' }).click();
  const at = await screenOf(p.page, 30, 30);
  await p.page.mouse.click(at.x, at.y);
  await p.page.waitForFunction(() => /New sessions wait a little/.test(document.querySelector('#toast')!.textContent ?? ''), undefined, { timeout: 3000 });
  await p.page.waitForFunction(() => document.querySelector('#countdown')!.getAttribute('data-state') === 'cooldown', undefined, { timeout: 2000 });
  t.match(await p.page.locator('#countdown').textContent(), /Next pixel in (2:00|1:5\d)/, 'the countdown shows the warm-up left');
  t.equal(await p.page.evaluate(() => window.__tessera.shown(30, 30)), 0, 'the refused pixel was rolled back');
});

t.test('solve time at the default difficulty (16) in headless Chromium', async (t) => {
  const base = await powServer(t, 16);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const rec = await recordingContext(browser);
    await openPage(browser, base, { context: rec.context, viewport: { width: 400, height: 300 } });
    const ms = Number(/solved in (\d+) ms/.exec(rec.solved[0] ?? '')?.[1]);
    t.ok(ms >= 0, rec.solved[0]);
    times.push(ms);
    await rec.context.close();
  }
  times.sort((a, b) => a - b);
  t.comment(`difficulty 16 solve times (ms): ${times.join(', ')}; median ${times[2]}`);
});
