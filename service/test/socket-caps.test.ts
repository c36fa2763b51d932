// What sockets may cost one container: WS_MAX_PER_NETWORK per network (closed right after the upgrade with
// code 4429 too_many_sockets), and WS_TOTAL_BUFFERED_MAX bytes queued for all of them together (ws/socket-caps.ts).
// X-Forwarded-For with TRUSTED_PROXY_HOPS=1 lets this one process pose as many networks.
import { Redis } from 'ioredis';
import t from 'tap';
import WebSocket from 'ws';
import { canvasKeys } from '../src/store/redis.js';
import { BulkPlacer } from './faults/support/load.js';
import { startRedis } from './support/redis-server.js';
import { startChild, startInProcess } from './support/service.js';
import { listen } from './support/ws-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wsUrl = (base: string, q = '') => `${base.replace(/^http/, 'ws')}/ws${q}`;

type Opened = { ws: WebSocket; status: 101 } | { status: number; body: any } | { status: 'closed'; code: number; reason: string };

/** How long an opened socket is watched for the server's refusal (it comes right after the upgrade). */
const REFUSAL_WAIT_MS = 300;

/** One upgrade from `address` (as the trusted proxy reports it); paused sockets never read. */
function open(url: string, address: string, paused = false): Promise<Opened> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: { 'x-forwarded-for': address } });
    ws.once('close', (code, reason) => resolve({ status: 'closed', code, reason: reason.toString() }));
    ws.once('open', () => {
      setTimeout(() => {
        if (ws.readyState !== WebSocket.OPEN) return;
        if (paused) ws.pause();
        resolve({ ws, status: 101 });
      }, REFUSAL_WAIT_MS);
    });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') }));
    });
    ws.once('error', (err) => resolve({ status: 0, body: { error: err.message } }));
  });
}

const sockets = (all: Opened[]) => all.flatMap((o) => ('ws' in o ? [o.ws] : []));

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} ([0-9.e+]+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

t.test('of 1,000 sockets from one network, all but WS_MAX_PER_NETWORK are closed with 4429 too_many_sockets', async (t) => {
  const CAP = 200;
  const s = await startInProcess({ TRUSTED_PROXY_HOPS: '1', WS_MAX_PER_NETWORK: String(CAP) });
  t.teardown(() => s.stop());
  const all = await Promise.all(Array.from({ length: 1000 }, () => open(wsUrl(s.base), '203.0.113.7')));
  t.teardown(() => sockets(all).forEach((ws) => ws.terminate()));
  const refused = all.filter((o) => !('ws' in o));
  t.equal(sockets(all).length, CAP, 'exactly the cap opened');
  t.equal(refused.length, 1000 - CAP);
  t.ok(
    refused.every((o) => o.status === 'closed' && o.code === 4429 && o.reason === 'too_many_sockets'),
    'every refusal: close code 4429, reason too_many_sockets',
  );
  t.equal(await metric(s.base, 'tessera_rejections_total{reason="too_many_sockets"}'), 1000 - CAP);

  const other = await open(wsUrl(s.base), '203.0.113.8');
  t.equal(other.status, 101, 'another network still connects');
  const v6 = await Promise.all(Array.from({ length: CAP + 1 }, (_, i) => open(wsUrl(s.base), `2001:db8:1:2::${(i + 1).toString(16)}`)));
  t.equal(sockets(v6).length, CAP, 'one IPv6 /64 is one network, whatever its addresses');
  t.equal((await open(wsUrl(s.base), '2001:db8:1:3::1')).status, 101, 'the next /64 is another');
  t.teardown(() => [other, ...v6].forEach((o) => 'ws' in o && o.ws.terminate()));

  // A closed socket frees its place.
  const first = sockets(all)[0];
  await new Promise<void>((r) => {
    first.once('close', () => r());
    first.close();
  });
  await sleep(50);
  t.equal((await open(wsUrl(s.base), '203.0.113.7')).status, 101, 'after one closes, the network may open one more');
  t.equal((await open(wsUrl(s.base), '203.0.113.7')).status, 'closed', 'and no more');
});

t.test('WS_MAX_PER_NETWORK=0 is off', async (t) => {
  const s = await startInProcess({ TRUSTED_PROXY_HOPS: '1', WS_MAX_PER_NETWORK: '0' });
  t.teardown(() => s.stop());
  const all = await Promise.all(Array.from({ length: 250 }, () => open(wsUrl(s.base), '203.0.113.9')));
  t.teardown(() => sockets(all).forEach((ws) => ws.terminate()));
  t.equal(sockets(all).length, 250);
});

/** place.lua straight on Redis at `perSecond` until `count` placements; resolves with the last seq. */
async function bulkPlace(redisUrl: string, width: number, perSecond: number, count: number): Promise<number> {
  const r = new Redis(redisUrl);
  const bulk = new BulkPlacer({ redis: r, keys: canvasKeys('main'), width, height: width, perSecond, batch: 1000, concurrency: 3 }).start();
  while (bulk.placed < count) await sleep(20);
  await bulk.stop();
  r.disconnect();
  return bulk.lastSeq;
}

// On loopback the kernel absorbs ~4 MB per unread socket (slow-readers.test.ts) before uWebSockets.js queues
// anything, so 500 sockets can show the container's cost per socket but not fill its queues in a minute.
t.test('500 never-reading sockets from 100 networks: RSS stays within baseline + WS_TOTAL_BUFFERED_MAX + margin', async (t) => {
  const TOTAL_MAX = 8 << 20;
  const MARGIN = 48 << 20;
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const svc = await startChild({ REDIS_URL: redis.url, TRUSTED_PROXY_HOPS: '1', CANVAS_WIDTH: '1000', CANVAS_HEIGHT: '1000', WS_TOTAL_BUFFERED_MAX: String(TOTAL_MAX), WS_MAX_PER_NETWORK: '5' });
  t.teardown(() => svc.stop('SIGKILL'));
  await bulkPlace(redis.url, 1000, 100_000, 50_000); // warm: the fanout's ring and code paths are in use
  await sleep(500);
  const baseline = await metric(svc.base, 'process_resident_memory_bytes');
  let peak = baseline;
  const sampler = setInterval(() => void metric(svc.base, 'process_resident_memory_bytes').then((v) => (peak = Math.max(peak, v)), () => undefined), 100);
  t.teardown(() => clearInterval(sampler));
  const all = await Promise.all(Array.from({ length: 500 }, (_, i) => open(wsUrl(svc.base), `10.0.${Math.floor(i / 5)}.1`, true)));
  t.teardown(() => sockets(all).forEach((ws) => ws.terminate()));
  t.equal(sockets(all).length, 500, '5 per network fit the cap');
  t.equal((await open(wsUrl(svc.base), '10.0.0.1')).status, 'closed', 'a sixth from one of them does not');
  const reader = await listen(wsUrl(svc.base), { headers: { 'x-forwarded-for': '192.0.2.1' } });
  t.teardown(() => reader.close());
  const head = await bulkPlace(redis.url, 1000, 100_000, 300_000);
  await reader.waitForSeq(head, 20_000);
  clearInterval(sampler);
  t.equal(reader.gaps + reader.duplicates, 0, 'a reading client sees every placement');
  t.ok(peak <= baseline + TOTAL_MAX + MARGIN, `RSS ${Math.round(baseline / 2 ** 20)} MiB → peak ${Math.round(peak / 2 ** 20)} MiB (+${((peak - baseline) / 2 ** 20).toFixed(1)} MiB)`);
});

t.test('past WS_TOTAL_BUFFERED_MAX the worst readers are closed, the others keep going', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const width = 4096; // sparse frames: more bytes per placement, so the kernel's buffers fill sooner
  const svc = await startChild({ REDIS_URL: redis.url, CANVAS_WIDTH: String(width), CANVAS_HEIGHT: String(width), WS_MAX_BACKPRESSURE: String(16 << 20), WS_TOTAL_BUFFERED_MAX: String(1 << 20) });
  t.teardown(() => svc.stop('SIGKILL'));
  const slow = await Promise.all(Array.from({ length: 4 }, (_, i) => open(wsUrl(svc.base), `10.1.0.${i}`, true)));
  t.teardown(() => sockets(slow).forEach((ws) => ws.terminate()));
  const reader = await listen(wsUrl(svc.base));
  t.teardown(() => reader.close());
  const r = new Redis(redis.url);
  t.teardown(() => r.disconnect());
  const bulk = new BulkPlacer({ redis: r, keys: canvasKeys('main'), width, height: width, perSecond: 150_000, batch: 1000, concurrency: 3 }).start();
  t.teardown(() => bulk.stop());
  // The kernel takes ~4–6 MB per unread loopback socket before uWebSockets.js queues a byte: on a busy box that
  // is over a minute of placements.
  const deadline = Date.now() + 90_000;
  let closed = 0;
  while (closed === 0 && Date.now() < deadline) {
    await sleep(250);
    closed = await metric(svc.base, 'tessera_ws_dropped_total{reason="total_buffered"}');
  }
  await bulk.stop();
  t.ok(closed > 0, `closed for the total: ${closed} after ${bulk.placed} placements`);
  t.equal(reader.ws.readyState, WebSocket.OPEN, 'the reading client is not among them');
  await reader.waitForSeq(bulk.lastSeq, 20_000);
  t.equal(reader.gaps + reader.duplicates, 0, 'the reading client saw every placement');
});
