// The HTTP API, rule by rule, against the embedded store and a real redis-server.
import { request } from 'node:http';
import t from 'tap';
import { Tokens } from '../src/auth/token.js';
import { PALETTE } from '../src/wire/palette.js';
import { bothModes } from './support/modes.js';
import { put, session, startInProcess, TEST_SECRET } from './support/service.js';

/** Raw request for what fetch refuses to send (oversized bodies with lying lengths, odd methods). */
function raw(base: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: b }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

bothModes(t, 'config, session, board', async (t, mode) => {
  const s = await startInProcess({ ...mode.env, COOLDOWN_MS: '1000' });
  t.teardown(() => s.stop());
  const cfg = await (await fetch(`${s.base}/api/config`)).json();
  t.same(cfg, { width: 100, height: 80, palette: [...PALETTE], cooldownMs: 1000, frozen: false, onlyColor: null, hiddenGraceMs: 60_000 });
  t.equal(PALETTE.length, 16);

  const r = await fetch(`${s.base}/api/session`, { method: 'POST' });
  t.equal(r.status, 200);
  const body = (await r.json()) as { userId: string; token: string };
  const cookie = r.headers.get('set-cookie')!;
  t.match(cookie, new RegExp(`^tessera_session=${body.token.replace(/[.]/g, '\\.')};`));
  t.match(cookie, /HttpOnly/);
  t.match(cookie, /SameSite=Lax/);
  t.match(cookie, /Path=\//);
  const again = (await (await fetch(`${s.base}/api/session`, { method: 'POST', headers: { cookie: `tessera_session=${body.token}` } })).json()) as { userId: string };
  t.equal(again.userId, body.userId, 'a valid cookie keeps its session');

  const empty = await fetch(`${s.base}/api/board`);
  t.equal(empty.status, 200);
  t.equal(empty.headers.get('content-type'), 'application/octet-stream');
  t.equal(empty.headers.get('x-canvas-seq'), '0');
  t.match(empty.headers.get('cache-control'), /public/);
  t.match(empty.headers.get('cache-control'), /max-age=3\b/);
  t.equal((await empty.arrayBuffer()).byteLength, 4000);

  // Cookie auth works as well as Bearer.
  const viaCookie = await fetch(`${s.base}/api/pixel`, { method: 'PUT', headers: { cookie: cookie.split(';')[0] }, body: '{"x":0,"y":0,"color":5}' });
  t.equal(viaCookie.status, 200);
  const first = (await viaCookie.json()) as { seq: number; nextPlacementAt: number };
  t.same(Object.keys(first).sort(), ['nextPlacementAt', 'seq']);
  t.equal(first.seq, 1, 'the first placement of a fresh canvas has seq 1');
  const u2 = await session(s.base);
  t.equal((await put(s.base, u2.token, { x: 1, y: 0, color: 12 })).body.seq, 2);
  const u3 = await session(s.base);
  t.equal((await put(s.base, u3.token, { x: 99, y: 79, color: 15 })).body.seq, 3);

  const b = await fetch(`${s.base}/api/board`);
  t.equal(b.headers.get('x-canvas-seq'), '3');
  const bytes = new Uint8Array(await b.arrayBuffer());
  t.equal(bytes[0], 0x5c, 'pixel 0 high nibble, pixel 1 low nibble');
  t.equal(bytes[3999], 0x0f, 'the last pixel (odd index 7999) in the low nibble');
  t.equal(bytes.filter((x) => x !== 0).length, 2);
});

bothModes(t, 'PUT /api/pixel: every malformed input gets its error', async (t, mode) => {
  const s = await startInProcess({ ...mode.env, COOLDOWN_MS: '0' });
  t.teardown(() => s.stop());
  const { token } = await session(s.base);
  const bad = ['', '{', 'null', '[]', '{}', '{"x":1}', '{"x":1,"y":1}', '{"x":"1","y":1,"color":1}', '{"x":1,"y":1.5,"color":1}',
    '{"x":-1,"y":1,"color":1}', '{"x":100,"y":1,"color":1}', '{"x":1,"y":80,"color":1}', '{"x":1,"y":1,"color":16}', '{"x":1,"y":1,"color":-1}',
    '{"x":null,"y":1,"color":1}', '\xff\xfe', '{"x":1,"y":1,"color":"red"}'];
  for (const body of bad) {
    const r = await put(s.base, token, body);
    t.equal(r.status, 400, `400 for ${JSON.stringify(body)}`);
    t.equal(r.body.error, 'invalid_pixel');
    t.type(r.body.message, 'string');
  }
  t.equal((await put(s.base, undefined, { x: 1, y: 1, color: 1 })).body.error, 'no_session');
  t.equal((await put(s.base, undefined, { x: 1, y: 1, color: 1 })).status, 401);
  const forged = token.split('.').slice(0, 2).join('.') + '.' + 'A'.repeat(43);
  t.equal((await put(s.base, forged, { x: 1, y: 1, color: 1 })).status, 401, 'forged');
  const expired = new Tokens([Buffer.from(TEST_SECRET)], 60).mint('old', Date.now() - 3600_000).token;
  t.equal((await put(s.base, expired, { x: 1, y: 1, color: 1 })).status, 401, 'expired');
  const otherSecret = new Tokens([Buffer.from('z'.repeat(40))], 60).mint('mallory').token;
  t.equal((await put(s.base, otherSecret, { x: 1, y: 1, color: 1 })).status, 401, 'another secret');

  const big = JSON.stringify({ x: 1, y: 1, color: 1, pad: 'x'.repeat(2000) });
  const r413 = await raw(s.base, 'PUT', '/api/pixel', big, { authorization: `Bearer ${token}`, 'content-length': String(big.length) });
  t.equal(r413.status, 413);
  t.equal(JSON.parse(r413.body).error, 'payload_too_large');
  const chunked = await raw(s.base, 'PUT', '/api/pixel', big, { authorization: `Bearer ${token}`, 'transfer-encoding': 'chunked' });
  t.equal(chunked.status, 413, 'chunked bodies are counted too');
  const wrongMethod = await raw(s.base, 'DELETE', '/api/pixel');
  t.equal(wrongMethod.status, 405);
  t.equal(JSON.parse(wrongMethod.body).error, 'method_not_allowed');
  t.equal((await fetch(`${s.base}/api/nope`)).status, 404);
  t.equal((await put(s.base, token, { x: 1, y: 1, color: 1 })).status, 200, 'a valid request still works after all that');
});

bothModes(t, 'cooldown: 429 with Retry-After; 50 concurrent placements by one user → exactly one', async (t, mode) => {
  const s = await startInProcess({ ...mode.env, COOLDOWN_MS: '60000' });
  t.teardown(() => s.stop());
  const { token } = await session(s.base);
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => put(s.base, token, { x: i, y: 0, color: 3 })));
  const ok = results.filter((r) => r.status === 200);
  t.equal(ok.length, 1, 'exactly one accepted');
  const refused = results.filter((r) => r.status === 429);
  t.equal(refused.length, 49);
  for (const r of refused) {
    t.equal(r.body.error, 'cooldown');
    t.ok(r.body.retryAfterMs > 0 && r.body.retryAfterMs <= 60000);
    t.equal(r.headers.get('retry-after'), String(Math.ceil(r.body.retryAfterMs / 1000)));
  }
  t.ok(Math.abs(ok[0].body.nextPlacementAt - (Date.now() + 60000)) < 5000, 'nextPlacementAt is epoch ms one cooldown ahead');
  // Many users at once: consecutive seqs, none shared.
  const users = await Promise.all(Array.from({ length: 40 }, () => session(s.base)));
  const placed = await Promise.all(users.map((u, i) => put(s.base, u.token, { x: i, y: 1, color: 2 })));
  const seqs = placed.map((r) => r.body.seq).sort((a, b) => a - b);
  t.same(seqs, Array.from({ length: 40 }, (_, i) => i + 2), 'seqs 2..41, consecutive and unique');
});

t.test('Redis down → 503 unavailable, nothing half-written; back up → serves again', async (t) => {
  const { startRedis } = await import('./support/redis-server.js');
  const redis = await startRedis({ aof: true });
  t.teardown(() => redis.stop());
  const s = await startInProcess({ REDIS_URL: redis.url, COOLDOWN_MS: '0', REDIS_COMMAND_TIMEOUT_MS: '500' });
  t.teardown(() => s.stop());
  const { token } = await session(s.base);
  t.equal((await put(s.base, token, { x: 1, y: 1, color: 1 })).status, 200);
  await new Promise((r) => setTimeout(r, 1100)); // let AOF everysec flush
  await redis.kill('SIGTERM');
  const started = Date.now();
  const down = await put(s.base, token, { x: 2, y: 2, color: 2 });
  t.equal(down.status, 503);
  t.equal(down.body.error, 'unavailable');
  t.ok(Date.now() - started < 2000, 'fails fast');
  t.equal((await fetch(`${s.base}/readyz`)).status, 503);
  await redis.restart();
  const deadline = Date.now() + 10_000;
  while ((await fetch(`${s.base}/readyz`)).status !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.equal((await fetch(`${s.base}/readyz`)).status, 200, 'ready again by itself');
  const up = await put(s.base, token, { x: 3, y: 3, color: 3 });
  t.equal(up.status, 200);
  t.equal(up.body.seq, 2, 'the refused placement took no seq');
});
