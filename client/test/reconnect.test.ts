// A dropped connection recovers with no missing pixel: the service killed with SIGKILL and restarted on
// the same port and DATA_DIR; a graceful restart (close 1001); and the browser going offline and back.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launch, openPage, settle, type OpenedPage, type Test } from './support/browser.js';
import { ensureClientBuilt } from './support/build.js';
import { freePort, startServiceOn, type ServiceChild } from './support/child.js';
import { placeMany } from './support/load.js';

const W = 64;
const H = 48;
const staticDir = await ensureClientBuilt();
const port = await freePort();
const dataDir = mkdtempSync(join(tmpdir(), 'tessera-client-reconnect-'));
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
const env = { STATIC_DIR: staticDir, PORT: String(port), DATA_DIR: dataDir, CANVAS_WIDTH: String(W), CANVAS_HEIGHT: String(H), COOLDOWN_MS: '0', RATE_LIMIT_REQUESTS_PER_MIN: '0', BATCH_INTERVAL_MS: '50' };
let service: ServiceChild = await startServiceOn(env);
t.teardown(() => service.stop('SIGKILL'));
const browser = await launch();
t.teardown(() => browser.close());
const base = service.base;

let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const some = (n: number) => Array.from({ length: n }, () => ({ x: Math.floor(rnd() * W), y: Math.floor(rnd() * H), color: Math.floor(rnd() * 16) }));
const connection = (page: Page) => page.evaluate(() => window.__tessera.connection());
const stats = (page: Page) => page.evaluate(() => window.__tessera.stats());
const waitConnection = (page: Page, states: string[], timeout = 10_000) =>
  page.waitForFunction((s) => s.includes(window.__tessera.connection()), states, { timeout, polling: 50 });

async function expectEqual(t: Test, p: OpenedPage, what: string): Promise<void> {
  const { server: s, drawn } = await settle(p.page, base, 25_000);
  t.ok(drawn.truth.equals(s.bytes), `${what}: the board equals GET /api/board (seq ${s.seq})`);
  t.ok(drawn.offscreen.equals(s.bytes), `${what}: the drawn canvas equals GET /api/board`);
  t.same(drawn.visibleMismatches, [], `${what}: the visible canvas matches`);
}

t.test('the service is killed (SIGKILL) and restarted on the same port and DATA_DIR', async (t) => {
  const p = await openPage(browser, base, { hash: '#32,24,12' });
  t.teardown(() => p.context.close());
  await placeMany(base, some(300), { userPrefix: 'k1' });
  await expectEqual(t, p, 'before');

  await service.stop('SIGKILL');
  await waitConnection(p.page, ['reconnecting', 'offline'], 5000);
  t.pass(`the page noticed: ${await connection(p.page)}`);
  // Placing while disconnected is refused on the spot, with a message.
  await p.page.getByRole('radio', { name: 'Red' }).click();
  await p.page.mouse.click(640, 400);
  await p.page.waitForFunction(() => /offline/i.test(document.querySelector('#toast')!.textContent ?? ''), undefined, { timeout: 2000 });
  t.pass('placing while disconnected says so');
  const pending = await p.page.evaluate(() => window.__tessera.boardBytes().length);
  t.ok(pending > 0);
  await p.page.waitForFunction(() => /connection lost/i.test(document.querySelector('#toast')!.textContent ?? ''), undefined, { timeout: 5000 });
  t.pass('a lasting outage is reported');

  service = await startServiceOn(env);
  t.equal(service.base, base, 'same port');
  await placeMany(base, some(300), { userPrefix: 'k2' });
  await waitConnection(p.page, ['live'], 15_000);
  await expectEqual(t, p, 'after the restart');
  const s = await stats(p.page);
  t.comment(`socket opens ${s.socketOpens}, resets ${s.resets}, board loads ${s.loads}`);
  t.ok(s.socketOpens >= 2, 'the page reconnected by itself');
  await p.page.waitForFunction(() => /back online/i.test(document.querySelector('#toast')!.textContent ?? ''), undefined, { timeout: 3000 });
  t.pass('and said it is back');
  t.same(p.problems.filter((m) => !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m)), [], 'no errors beyond the refused reconnects');
});

t.test('a graceful restart: sockets closed with 1001, placements continue after', async (t) => {
  const p = await openPage(browser, base, { hash: '#32,24,12' });
  t.teardown(() => p.context.close());
  await placeMany(base, some(100), { userPrefix: 'g1' });
  await service.stop('SIGTERM');
  service = await startServiceOn(env);
  await placeMany(base, some(100), { userPrefix: 'g2' });
  await waitConnection(p.page, ['live'], 15_000);
  await expectEqual(t, p, 'after SIGTERM and restart');
});

t.test('the browser goes offline while others keep placing, then comes back', async (t) => {
  const p = await openPage(browser, base, { hash: '#32,24,12' });
  t.teardown(() => p.context.close());
  await placeMany(base, some(50), { userPrefix: 'o1' });
  await settle(p.page, base);
  const before = await stats(p.page);

  await p.context.setOffline(true);
  await waitConnection(p.page, ['offline'], 5000);
  await p.page.waitForFunction(() => /offline/i.test(document.querySelector('#toast')!.textContent ?? ''), undefined, { timeout: 2000 });
  t.equal(await p.page.locator('#status').getAttribute('data-state'), 'offline', 'the status chip says offline');
  await placeMany(base, some(400), { userPrefix: 'o2' });
  await p.page.waitForTimeout(300);
  const missed = await p.page.evaluate(() => window.__tessera.lastSeq());

  await p.context.setOffline(false);
  await waitConnection(p.page, ['live'], 5000);
  await expectEqual(t, p, 'back online');
  const after = await stats(p.page);
  t.equal(after.resets, before.resets, 'caught up with ?since=, without a reset');
  t.equal(after.loads, before.loads, 'and without refetching the board');
  t.ok(after.entries - before.entries >= 400, `resumed from seq ${missed} and applied the ${after.entries - before.entries} placements missed`);
});
