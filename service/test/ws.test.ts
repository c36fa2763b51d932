// The WebSocket endpoint: live frames, ?since= resume, reset, placing, garbage, origins.
import t from 'tap';
import { bothModes } from './support/modes.js';
import { put, session, startChild, startInProcess } from './support/service.js';
import { listen } from './support/ws-client.js';

const wsUrl = (base: string, q = '') => base.replace('http', 'ws') + '/ws' + q;

async function placeMany(base: string, n: number, y = 0): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) {
    const { token } = await session(base);
    const r = await put(base, token, { x: i % 100, y, color: (i % 15) + 1 });
    if (r.status !== 200) throw new Error(`place ${i}: ${r.status} ${JSON.stringify(r.body)}`);
    seqs.push(r.body.seq);
  }
  return seqs;
}

bothModes(t, 'live frames and ?since= resume deliver exactly the missed placements, in order', async (t, mode) => {
  const s = await startInProcess({ ...mode.env, COOLDOWN_MS: '60000' });
  t.teardown(() => s.stop());
  const live = await listen(wsUrl(s.base));
  t.teardown(() => live.close());
  await placeMany(s.base, 10);
  await live.waitForSeq(10);
  t.same(live.seqs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'a socket without since gets every later placement once, in order');
  t.equal(live.entries[2], (0 * 100 + 2) * 16 + 3, 'entry = pixelIndex*16 + colour');

  const resumed = await listen(wsUrl(s.base, '?since=3'), { after: 3 });
  t.teardown(() => resumed.close());
  await resumed.waitForSeq(10);
  await placeMany(s.base, 5, 1);
  await resumed.waitForSeq(15);
  await live.waitForSeq(15);
  t.same(resumed.seqs, [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], 'missed ones first, then live ones');
  t.equal(resumed.gaps + resumed.duplicates + live.gaps + live.duplicates, 0);

  const atHead = await listen(wsUrl(s.base, '?since=15'), { after: 15 });
  t.teardown(() => atHead.close());
  await placeMany(s.base, 1, 2);
  await atHead.waitForSeq(16);
  t.same(atHead.seqs, [16]);

  const ahead = await listen(wsUrl(s.base, '?since=1000'));
  t.teardown(() => ahead.close());
  t.same(await ahead.waitForText((m) => m.t === 'reset'), { t: 'reset' }, 'a seq the canvas never reached → reset');
  const badSince = await listen(wsUrl(s.base, '?since=abc')).catch((e: Error) => e);
  t.match(String(badSince), /400/, 'since must be an integer');
});

// The fanout's memory would still hold seq 2: the resume window (RESUME_WINDOW_S) is what says it is too old.
// Older resumes the memory does not hold, and their store calls, are resume-bound.test.ts's.
bothModes(t, 'reset when since is older than the resume window and the stream keeps', async (t, mode) => {
  const s = await startInProcess({ ...mode.env, COOLDOWN_MS: '0', STREAM_RETENTION_MS: '1000', RESUME_WINDOW_S: '1' });
  t.teardown(() => s.stop());
  await placeMany(s.base, 5);
  if (mode.redis) {
    const { Redis } = await import('ioredis');
    const r = new Redis(mode.redis.url);
    await r.xtrim('{tessera:main}:placements', 'MINID', '4-0');
    r.disconnect();
    await new Promise((r) => setTimeout(r, 1500));
  } else {
    await new Promise((r) => setTimeout(r, 6500)); // the embedded resume window is swept every 5 s
    await placeMany(s.base, 1, 1);
  }
  const old = await listen(wsUrl(s.base, '?since=1'));
  t.teardown(() => old.close());
  t.same(await old.waitForText((m) => m.t === 'reset'), { t: 'reset' });
});

bothModes(t, 'placing over the socket: ack, errors, garbage never crashes', async (t, mode) => {
  const s = await startInProcess({ ...mode.env, COOLDOWN_MS: '60000' });
  t.teardown(() => s.stop());
  const { token } = await session(s.base);
  const c = await listen(wsUrl(s.base), { headers: { authorization: `Bearer ${token}` } });
  t.teardown(() => c.close());
  c.send({ t: 'place', id: 1, x: 5, y: 6, color: 7 });
  const ack = await c.waitForText((m) => m.id === 1);
  t.equal(ack.t, 'ack');
  t.equal(ack.seq, 1);
  t.ok(ack.nextPlacementAt > Date.now());
  await c.waitForSeq(1);
  c.send({ t: 'place', id: 2, x: 5, y: 6, color: 7 });
  const cd = await c.waitForText((m) => m.id === 2);
  t.equal(cd.error, 'cooldown');
  t.ok(cd.retryAfterMs > 0);
  c.send({ t: 'place', id: 3, x: 500, y: 6, color: 7 });
  t.equal((await c.waitForText((m) => m.id === 3)).error, 'invalid_pixel');
  c.send('not json');
  t.equal((await c.waitForText((m) => m.error === 'invalid_pixel' && m.id === null)).t, 'error');
  c.ws.send(Buffer.from([1, 2, 3]));
  t.equal((await c.waitForText((m) => m.error === 'invalid_request')).t, 'error', 'binary from a client is refused');

  const anon = await listen(wsUrl(s.base));
  t.teardown(() => anon.close());
  anon.send({ t: 'place', id: 'a', x: 1, y: 1, color: 1 });
  t.equal((await anon.waitForText((m) => m.id === 'a')).error, 'no_session', 'listening needs no session; placing does');

  const huge = await listen(wsUrl(s.base));
  huge.send('x'.repeat(5000));
  const closed = await huge.closed;
  t.not(closed.code, 1000, 'an oversized message closes the socket');

  const flood = await listen(wsUrl(s.base));
  for (let i = 0; i < 100; i++) flood.send({ t: 'place', id: i, x: 1, y: 1, color: 1 });
  t.equal((await flood.closed).code, 1008, 'a flooding client is closed');
  t.equal((await fetch(`${s.base}/healthz`)).status, 200, 'still serving');
});

t.test('browser origins: same host or ALLOWED_ORIGINS only', async (t) => {
  const s = await startInProcess({});
  t.teardown(() => s.stop());
  const host = new URL(s.base).host;
  const ok = await listen(wsUrl(s.base), { headers: { origin: `http://${host}` } });
  ok.close();
  t.match(String(await listen(wsUrl(s.base), { headers: { origin: 'https://evil.example' } }).catch((e) => e)), /403/);
  const s2 = await startInProcess({ ALLOWED_ORIGINS: 'https://canvas.example' });
  t.teardown(() => s2.stop());
  (await listen(wsUrl(s2.base), { headers: { origin: 'https://canvas.example' } })).close();
  t.match(String(await listen(wsUrl(s2.base), { headers: { origin: `http://${new URL(s2.base).host}` } }).catch((e) => e)), /403/);
});

t.test('two service processes on one Redis: pixels and tokens cross over', async (t) => {
  const { startRedis } = await import('./support/redis-server.js');
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const a = await startInProcess({ REDIS_URL: redis.url, COOLDOWN_MS: '60000' });
  t.teardown(() => a.stop());
  const b = await startChild({ REDIS_URL: redis.url, COOLDOWN_MS: '60000' });
  t.teardown(() => b.stop());
  const onB = await listen(wsUrl(b.base));
  t.teardown(() => onB.close());
  const fromB = await session(b.base);
  const placed = await put(a.base, fromB.token, { x: 42, y: 7, color: 9 });
  t.equal(placed.status, 200, 'a token minted by one container is accepted by the other');
  await onB.waitForSeq(placed.body.seq);
  t.same(onB.entries, [(7 * 100 + 42) * 16 + 9], "a pixel placed through one reaches the other's WebSocket client");
  t.equal((await put(b.base, fromB.token, { x: 1, y: 1, color: 1 })).status, 429, 'the cooldown is shared');
  const boardB = new Uint8Array(await (await fetch(`${b.base}/api/board`)).arrayBuffer());
  t.equal(boardB[(7 * 100 + 42) >> 1], 0x90, 'both serve the same board');
});

t.test('an embedded restart keeps the board and the seq', async (t) => {
  const first = await startInProcess({ COOLDOWN_MS: '0' });
  await placeMany(first.base, 7);
  const before = Buffer.from(await (await fetch(`${first.base}/api/board`)).arrayBuffer());
  await first.stop();
  const second = await startInProcess({ COOLDOWN_MS: '0', DATA_DIR: first.env.DATA_DIR });
  t.teardown(() => second.stop());
  const r = await fetch(`${second.base}/api/board`);
  t.equal(r.headers.get('x-canvas-seq'), '7');
  t.same(Buffer.from(await r.arrayBuffer()), before);
  const { token } = await session(second.base);
  t.equal((await put(second.base, token, { x: 0, y: 5, color: 1 })).body.seq, 8, 'seqs continue');
  // A crash (no clean snapshot) loses nothing either: the log is replayed.
  const third = await startInProcess({ COOLDOWN_MS: '0', DATA_DIR: first.env.DATA_DIR });
  t.teardown(() => third.stop());
  t.equal((await fetch(`${third.base}/api/board`)).headers.get('x-canvas-seq'), '8');
});
