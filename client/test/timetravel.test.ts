// Time travel in Chromium: a canvas with 100,000 placements of history, shown at 10 random moments, each byte for
// byte the board rebuilt from the history (placements.log embedded; the Redis stream the DynamoDB history is
// written from, in Redis mode with DynamoDB Local); who placed a pixel at that moment; a URL with the moment
// reopening the same view; and back to the live board with nothing missed meanwhile.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import t from 'tap';
import { readPlacements } from '../../service/src/store/placement-log.js';
import { canvasKeys, parseEntry } from '../../service/src/store/redis.js';
import type { Placement } from '../../service/src/store/store.js';
import { startDynamo } from '../../service/test/support/dynamo.js';
import { startRedis } from '../../service/test/support/redis-server.js';
import { launch, openPage, settle, type Test } from './support/browser.js';
import { ensureClientBuilt } from './support/build.js';
import { freePort, startServiceOn } from './support/child.js';
import { boardAt, loadRedis, seqAt, syntheticHistory, writeLog } from '../../bench/node/timetravel/history-data.js';
import { readHistory, scrubTo, waitHistory } from './support/history-page.js';
import { mintToken, putPixel } from './support/load.js';

const W = 400;
const H = 300;
const N = 100_000;
const staticDir = await ensureClientBuilt();
const browser = await launch();
t.teardown(() => browser.close());

async function scenario(t: Test, base: string, history: () => Promise<Placement[]>): Promise<void> {
  const p = await openPage(browser, base, { hash: '#200,150,2' });
  t.teardown(() => p.context.close());
  await p.page.click('#tool-history');
  await waitHistory(p.page);
  const placements = await history();
  t.equal(placements.length, N, `the history holds ${N} placements`);
  await p.page.waitForFunction((n) => window.__tesseraHistory.bounds().end >= n, placements[N - 1].placedAt, { polling: 100, timeout: 20_000 });
  const { start, end } = await p.page.evaluate(() => window.__tesseraHistory.bounds());
  t.equal(start, placements[0].placedAt, 'the scrubber starts at the first placement');
  t.equal(end, placements[N - 1].placedAt, 'and ends at the last');

  let seed = 99;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const moments = Array.from({ length: 10 }, () => Math.floor(start + rnd() * (end - start)));
  for (const [k, m] of moments.entries()) {
    // Half by dragging the scrubber, half through the page's own seek.
    if (k % 2 === 0) await scrubTo(p.page, m);
    else await p.page.evaluate((x) => window.__tesseraHistory.seekTo(x), m);
    const shown = await readHistory(p.page);
    const seq = seqAt(placements, m);
    const expected = boardAt(placements, seq, W, H);
    t.equal(shown.seq, seq, `moment ${new Date(m).toISOString()}: seq ${seq}`);
    t.ok(shown.board.equals(expected), `moment ${k + 1}: the board equals the one rebuilt from the history`);
    t.ok(shown.drawn.equals(expected), `moment ${k + 1}: and so does what was drawn`);
    t.ok(shown.visibleChecked > 1000 && shown.visibleMismatches === 0, `moment ${k + 1}: the screen shows it (${shown.visibleChecked} pixels checked)`);
  }

  // Who placed this, at the moment shown: the last placement at that pixel up to the seq shown.
  const m = moments[9];
  const seq = seqAt(placements, m);
  const target = placements[seq - 1 - 5];
  await p.page.evaluate(([x, y]) => window.__tesseraHistory.inspect(x, y), [target.x, target.y] as const);
  const last = placements.slice(0, seq).filter((q) => q.x === target.x && q.y === target.y).at(-1)!;
  await p.page.waitForFunction((u) => document.querySelector('#inspector-body')!.textContent!.includes(u), last.userId, { timeout: 10_000 });
  t.pass(`who placed ${target.x},${target.y} at that moment: ${last.userId} (seq ${last.seq})`);

  // The URL names the moment; opened elsewhere it shows the same board at the same spot.
  await p.page.waitForFunction((s) => new URL(location.href).searchParams.get('at') !== null && window.__tesseraHistory.seq() === s, seq, { timeout: 5000 });
  await p.page.waitForTimeout(300);
  const url = p.page.url();
  t.match(url, /\?at=\d{4}-\d\d-\d\dT[\d:.]+Z#/, `the moment is in the URL: ${url.slice(url.indexOf('?'))}`);
  const view = await p.page.evaluate(() => window.__tessera.view.state());
  const q = await openPage(browser, base, { hash: url.slice(url.indexOf('?')) });
  t.teardown(() => q.context.close());
  await q.page.waitForFunction((s) => window.__tesseraHistory?.active() && window.__tesseraHistory.seq() === s, seq, { timeout: 20_000, polling: 50 });
  await q.page.evaluate(() => window.__tesseraHistory.seekTo(window.__tesseraHistory.moment()));
  const reopened = await readHistory(q.page);
  t.ok(reopened.board.equals(boardAt(placements, seq, W, H)), 'the reopened page shows the same board');
  t.ok(reopened.drawn.equals(reopened.board) && reopened.visibleMismatches === 0, 'and draws it');
  const view2 = await q.page.evaluate(() => window.__tessera.view.state());
  t.ok(Math.abs(view2.x - view.x) < 0.01 && Math.abs(view2.y - view.y) < 0.01 && Math.abs(view2.zoom - view.zoom) < 0.001, 'at the same view');

  // Meanwhile the live board went on; leaving history mode shows it at once, with nothing missed.
  for (let i = 0; i < 20; i++) t.equal((await putPixel(base, mintToken(`live-${i}`), { x: i, y: 0, color: 7 })).status, 200);
  await p.page.click('#history-live');
  t.notOk(await p.page.evaluate(() => window.__tesseraHistory.active()), 'back to live');
  t.notMatch(p.page.url(), /\?at=/, 'the moment left the URL');
  const { server, drawn } = await settle(p.page, base);
  t.ok(drawn.truth.equals(server.bytes) && drawn.offscreen.equals(server.bytes), `the live board is current (seq ${server.seq})`);
  t.same(p.problems, [], 'no console errors');
}

const common = (dataDir: string, port: number) => ({
  STATIC_DIR: staticDir,
  PORT: String(port),
  DATA_DIR: dataDir,
  CANVAS_WIDTH: String(W),
  CANVAS_HEIGHT: String(H),
  COOLDOWN_MS: '0',
  RATE_LIMIT_REQUESTS_PER_MIN: '0',
  KEYFRAME_EVERY: '10000',
  KEYFRAME_INTERVAL_MS: '0',
});

t.test('embedded', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-client-tt-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  writeLog(dataDir, syntheticHistory(N, W, H, { stepMs: 150 }));
  const service = await startServiceOn(common(dataDir, await freePort()));
  t.teardown(() => service.stop('SIGKILL'));
  await scenario(t, service.base, async () => {
    const out: Placement[] = [];
    readPlacements(join(dataDir, 'placements.log'), (p) => out.push(p));
    return out.slice(0, N);
  });
});

t.test('Redis with DynamoDB Local', async (t) => {
  const redisServer = await startRedis();
  t.teardown(() => redisServer.stop());
  const dynamo = await startDynamo();
  t.teardown(() => dynamo.stop());
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-client-tt-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  await loadRedis(redisServer.url, 'main', W, syntheticHistory(N, W, H, { stepMs: 150, seed: 4242 }));
  const service = await startServiceOn({
    ...common(dataDir, await freePort()),
    REDIS_URL: redisServer.url,
    DYNAMODB_TABLE: 'tt-client',
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    // The synthetic placements are minutes old: the stream keeps them for the keyframe writer.
    STREAM_RETENTION_MS: '86400000',
  });
  t.teardown(() => service.stop('SIGKILL'));
  await scenario(t, service.base, async () => {
    // The history as the stream holds it: what the history writer copies into DynamoDB, entry by entry.
    const redis = new Redis(redisServer.url);
    try {
      const entries = await redis.xrange(canvasKeys('main').stream, '-', '+');
      return entries.map(([id, fields]) => parseEntry(id, fields)).slice(0, N);
    } finally {
      redis.disconnect();
    }
  });
});
