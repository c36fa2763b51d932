// Fleet-wide per-network budgets (service/src/limits/): shared by every container through Redis, counted
// per fine prefix (IPv4 address, IPv6 /64) and per coarse prefix (/24, /48), failing open when Redis is down.
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { BUCKET_MS, windowWait } from '../src/limits/budget.js';
import { MemoryBudget } from '../src/limits/memory-budget.js';
import { putFrom } from './support/admin.js';
import { mintUsers, waitFor } from './support/dynamo.js';
import { startRedis } from './support/redis-server.js';
import { startChild, startInProcess, TEST_SECRET } from './support/service.js';

const BUDGETS = {
  TRUSTED_PROXY_HOPS: '1',
  COOLDOWN_MS: '0',
  RATE_LIMIT_COARSE_FACTOR: '2',
  RATE_LIMIT_PLACEMENTS_PER_MIN: '3',
  RATE_LIMIT_SESSIONS_PER_MIN: '2',
  RATE_LIMIT_REQUESTS_PER_MIN: '5',
  RATE_LIMIT_SOCKETS_PER_MIN: '2',
  RATE_LIMIT_RESUMES_PER_MIN: '1',
};

const users = mintUsers(TEST_SECRET, 100, 'lim');
let nextUser = 0;
/** A placement by a new user each time (so the per-user cooldown never answers), from `from`. */
const place = (base: string, from: string) => putFrom(base, users[nextUser++].token, from, { x: nextUser % 100, y: 1, color: 3 });

async function newSession(base: string, from: string) {
  const r = await fetch(`${base}/api/session`, { method: 'POST', headers: { 'x-forwarded-for': from } });
  return { status: r.status, body: (await r.json()) as any, retryAfter: r.headers.get('retry-after') };
}

async function getConfig(base: string, from: string) {
  const r = await fetch(`${base}/api/config`, { headers: { 'x-forwarded-for': from } });
  return { status: r.status, body: (await r.json()) as any };
}

/** Opens /ws from `from`: 101 (then closes it), or the refusal's status and body. */
function openSocket(base: string, from: string, query = ''): Promise<{ status: number; body?: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws${query}`, { headers: { 'x-forwarded-for': from } });
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101 });
    });
    ws.once('unexpected-response', (req, res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        // With this listener ws leaves the connection to us: left open, it holds the test process ~30 s.
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
      });
    });
    ws.once('error', (err) => reject(err));
  });
}

async function rejections(base: string, reason: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^tessera_rejections_total\\{reason="${reason}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * The budgets, spent on `a` and checked on `b` (two containers on one Redis, or the same embedded one).
 * `requestSlack`: requests a container may let through before it learns the network's budget is spent.
 */
async function budgets(t: Test, a: string, b: string, requestSlack: number): Promise<void> {
  // Placements: one IPv6 /64 is one network, whatever its addresses.
  for (let i = 1; i <= 3; i++) t.equal((await place(a, `2001:db8:1:1::${i}`)).status, 200, `placement ${i} of the /64`);
  const refused = await place(b, '2001:db8:1:1:ffff:ffff:ffff:ffff');
  t.equal(refused.status, 429, 'the /64 spent its budget: refused, also by the other container');
  t.match(refused.body, { error: 'rate_limited', budget: 'placements', scope: 'fine', limit: 3 });
  t.ok(refused.body.retryAfterMs > 0 && refused.body.retryAfterMs <= 120_000, `retryAfterMs ${refused.body.retryAfterMs}`);
  // The /48 holds coarse × fine = 6: three more from a second /64, then a third /64 is refused.
  for (let i = 1; i <= 3; i++) t.equal((await place(b, `2001:db8:1:2::${i}`)).status, 200, `another /64 of the /48: placement ${i}`);
  t.match((await place(a, '2001:db8:1:3::1')).body, { error: 'rate_limited', budget: 'placements', scope: 'coarse', limit: 6 }, 'the /48 spent its budget');
  t.equal((await place(a, '2001:db8:2::1')).status, 200, 'another /48 is not affected');
  // IPv4: the address, then its /24; an IPv4-mapped IPv6 address is the same IPv4 client.
  for (let i = 1; i <= 3; i++) t.equal((await place(a, '198.51.100.1')).status, 200);
  t.match((await place(b, '::ffff:198.51.100.1')).body, { budget: 'placements', scope: 'fine' }, 'the IPv4 address (also written IPv4-mapped)');
  for (let i = 1; i <= 3; i++) t.equal((await place(b, '198.51.100.2')).status, 200);
  t.match((await place(a, '198.51.100.3')).body, { budget: 'placements', scope: 'coarse' }, 'the /24');
  t.equal((await place(b, '198.51.101.1')).status, 200, 'another /24 is not affected');

  // New sessions.
  for (let i = 1; i <= 2; i++) t.equal((await newSession(a, `2001:db8:5:5::${i}`)).status, 200);
  const s = await newSession(b, '2001:db8:5:5::9');
  t.match(s, { status: 429, body: { error: 'rate_limited', budget: 'sessions', scope: 'fine' } }, 'sessions of the /64');
  t.ok(Number(s.retryAfter) >= 1, `Retry-After ${s.retryAfter}`);

  // Socket opens, and resumes (?since=) from their own budget.
  for (let i = 1; i <= 2; i++) t.equal((await openSocket(a, '203.0.113.1')).status, 101);
  t.match(await openSocket(b, '203.0.113.1'), { status: 429, body: { error: 'rate_limited', budget: 'sockets' } }, 'socket opens');
  t.equal((await openSocket(a, '203.0.114.1', '?since=0')).status, 101);
  t.match(await openSocket(b, '203.0.114.1', '?since=0'), { status: 429, body: { budget: 'resumes' } }, 'resumes');

  // Requests: 5 on a, then b refuses within its slack.
  for (let i = 1; i <= 5; i++) t.equal((await getConfig(a, '192.0.2.1')).status, 200);
  const statuses: number[] = [];
  while (statuses.length <= requestSlack && statuses.at(-1) !== 429) statuses.push((await getConfig(b, '192.0.2.1')).status);
  t.equal(statuses.at(-1), 429, `requests refused on the other container after at most ${requestSlack} more (${statuses})`);
  t.match(await getConfig(b, '192.0.2.1'), { status: 429, body: { budget: 'requests', scope: 'fine' } });
  t.equal((await getConfig(b, '192.0.3.1')).status, 200, 'another network is not affected');

  for (const [base, budget] of [[b, 'placements'], [b, 'sessions'], [b, 'sockets'], [b, 'resumes'], [b, 'requests']] as const) {
    t.ok((await rejections(base, `rate_limited_${budget}`)) >= 1, `tessera_rejections_total{reason="rate_limited_${budget}"}`);
  }
}

t.test('the strict window: never more than the limit in any 60 s', async (t) => {
  const at = 1_000 * BUCKET_MS; // a bucket boundary
  t.equal(windowWait([[1000, 2]], 3, at + 100), 0, 'room');
  t.equal(windowWait([[1000, 3]], 3, at + 100), 13 * BUCKET_MS - 100, 'full: until its bucket leaves the window (60–65 s later)');
  t.equal(windowWait([[988, 3]], 3, at + 100), BUCKET_MS - 100, 'a bucket 12 back still counts whole');
  t.equal(windowWait([[987, 3]], 3, at + 100), 0, '13 back is out');
  t.equal(windowWait([[990, 2], [995, 1]], 3, at), 3 * BUCKET_MS, 'the oldest bucket that frees room decides');

  // Bursts at any offset: no 60-s span ever holds more than the limit (a sliding estimate allows up to 2×).
  const budget = new MemoryBudget();
  const key = [{ key: 'n', limit: 10 }];
  const granted: number[] = [];
  for (let now = 7_300; now < 400_000; now += 250) if (budget.spendNow('placements', key, now).ok) granted.push(now);
  const worst = Math.max(...granted.map((g) => granted.filter((h) => h >= g && h < g + 60_000).length));
  t.equal(worst, 10, `at most 10 in any minute over ${granted.length} granted`);
  t.ok(granted.length >= 60, 'and the budget refills: about 10 a minute');
});

t.test('embedded: budgets per network', async (t) => {
  const s = await startInProcess(BUDGETS);
  t.teardown(() => s.stop());
  await budgets(t, s.base, s.base, 0);
});

t.test('redis: two containers share the budgets; Redis down → served unlimited, counted', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const env = { ...BUDGETS, REDIS_URL: redis.url };
  const a = await startInProcess(env);
  t.teardown(() => a.stop());
  const b = await startChild(env);
  t.teardown(() => b.stop());
  // Requests are answered before their count reaches Redis: the other container learns from a reply that
  // the budget is spent, so a few more (those whose count was still on its way) get through.
  await budgets(t, a.base, b.base, 3);

  await redis.kill('SIGKILL');
  for (let i = 0; i < 10; i++) t.equal((await getConfig(a.base, '192.0.2.200')).status, 200, `request ${i} with Redis down`);
  t.equal((await newSession(a.base, '192.0.2.200')).status, 200, 'a new session with Redis down');
  const failOpen = await waitFor('fail-open metric', async () => {
    const text = await (await fetch(`${a.base}/metrics`)).text();
    const m = /^tessera_limit_fail_open_total\{budget="requests"\} (\S+)$/m.exec(text);
    return m && Number(m[1]) >= 10 ? text : null;
  }, 10_000, 50);
  t.match(failOpen, /tessera_limit_fail_open_total\{budget="sessions"\} 1/, 'sessions failed open, counted');
});
