// SIGTERM drain, abuse limits, client addresses through trusted proxies, page security headers.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { put, session, startChild, startInProcess } from './support/service.js';
import { listen } from './support/ws-client.js';

t.test('SIGTERM: readyz 503 first, in-flight work finishes, sockets close "going away", exit within 10 s', async (t) => {
  const svc = await startChild({ SHUTDOWN_DELAY_MS: '1000', COOLDOWN_MS: '0' });
  const ws = await listen(svc.base.replace('http', 'ws') + '/ws');
  const { token } = await session(svc.base);
  const started = Date.now();
  const exited = svc.stop('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  t.equal((await fetch(`${svc.base}/readyz`)).status, 503, 'not ready while draining');
  const during = await put(svc.base, token, { x: 1, y: 1, color: 1 });
  t.equal(during.status, 200, 'placements are still served during the drain delay');
  const closed = await ws.closed;
  t.equal(closed.code, 1001, 'going away');
  t.equal(await exited, 0, 'clean exit');
  t.ok(Date.now() - started < 10_000, `exited in ${Date.now() - started} ms`);
});

t.test('per-address limits, with the address from X-Forwarded-For only through trusted hops', async (t) => {
  const s = await startInProcess({ RATE_LIMIT_SESSIONS_PER_MIN: '3', RATE_LIMIT_REQUESTS_PER_MIN: '20', TRUSTED_PROXY_HOPS: '1' });
  t.teardown(() => s.stop());
  const from = (ip: string) => ({ 'x-forwarded-for': `6.6.6.6, ${ip}` });
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await fetch(`${s.base}/api/session`, { method: 'POST', headers: from('10.0.0.1') })).status);
  t.same(statuses, [200, 200, 200, 429, 429], 'sessions per address');
  const limited = await fetch(`${s.base}/api/session`, { method: 'POST', headers: from('10.0.0.1') });
  t.equal((await limited.json()).error, 'rate_limited');
  t.ok(Number(limited.headers.get('retry-after')) > 0);
  t.equal((await fetch(`${s.base}/api/session`, { method: 'POST', headers: from('10.0.0.2') })).status, 200, 'another address is not affected');
  t.equal((await fetch(`${s.base}/api/session`, { method: 'POST', headers: { 'x-forwarded-for': '10.0.0.1, 10.0.0.9' } })).status, 200, 'the client-written left part of XFF is not trusted');
  let last = 0;
  for (let i = 0; i < 25; i++) last = (await fetch(`${s.base}/api/config`, { headers: from('10.0.0.3') })).status;
  t.equal(last, 429, 'requests per address');
  const s0 = await startInProcess({ RATE_LIMIT_SESSIONS_PER_MIN: '2', TRUSTED_PROXY_HOPS: '0' });
  t.teardown(() => s0.stop());
  for (let i = 0; i < 2; i++) await fetch(`${s0.base}/api/session`, { method: 'POST', headers: from(`10.1.0.${i}`) });
  t.equal((await fetch(`${s0.base}/api/session`, { method: 'POST', headers: from('10.1.0.9') })).status, 429, 'with 0 hops XFF is ignored: the peer is the client');
});

t.test('defaults let a school behind one NAT play', async (t) => {
  // The default budgets (README "Per-network budgets"), testEnv's exceptions undone; only the proof-of-work stays off.
  const s = await startInProcess({ RATE_LIMIT_PLACEMENTS_PER_MIN: undefined, RATE_LIMIT_SOCKETS_PER_MIN: undefined, RATE_LIMIT_RESUMES_PER_MIN: undefined });
  t.teardown(() => s.stop());
  const results = await Promise.all(Array.from({ length: 60 }, () => fetch(`${s.base}/api/session`, { method: 'POST' }).then((r) => r.status)));
  t.same([...new Set(results)], [200], 'two classes of 30 arriving in the same minute: 60 sessions from one address');
  let ok = 0;
  for (let i = 0; i < 20; i++) {
    const batch = await Promise.all(Array.from({ length: 100 }, () => fetch(`${s.base}/api/config`).then((r) => r.status)));
    ok += batch.filter((x) => x === 200).length;
  }
  t.equal(ok, 2000, '2,000 requests a minute from one address');
});

t.test('the page: CSP with frame-ancestors none, nosniff, hashed assets cached, index revalidated', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-static-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
  const s = await startInProcess({ STATIC_DIR: dir });
  t.teardown(() => s.stop());
  const page = await fetch(`${s.base}/`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-security-policy'), /frame-ancestors 'none'/);
  t.match(page.headers.get('content-security-policy'), /default-src 'self'/);
  t.equal(page.headers.get('x-content-type-options'), 'nosniff');
  t.equal(page.headers.get('x-frame-options'), 'DENY');
  t.equal(page.headers.get('cache-control'), 'no-cache');
  t.equal((await fetch(`${s.base}/some/view`)).status, 200, 'unknown paths without extension serve the page');
  t.equal((await fetch(`${s.base}/missing.js`)).status, 404);
  t.equal((await fetch(`${s.base}/api/config`)).headers.get('x-content-type-options'), 'nosniff', 'API responses too');
});
