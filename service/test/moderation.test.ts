// Moderation: admin token, bans (403 banned over HTTP and socket), the kept moderation log.
import t, { type Test } from 'tap';
import { bothModes } from './support/modes.js';
import { put, session, startInProcess } from './support/service.js';
import { listen } from './support/ws-client.js';

const ADMIN = 'admin-token-admin-token';

async function admin(base: string, path: string, body: unknown, token = ADMIN) {
  const r = await fetch(`${base}/api/admin/${path}`, { method: 'POST', headers: { 'x-admin-token': token }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as any };
}

bothModes(t, 'bans', async (t, mode) => {
  const s = await startInProcess({ ...mode.env, COOLDOWN_MS: '0', ADMIN_TOKEN: ADMIN });
  t.teardown(() => s.stop());
  const bad = await session(s.base);
  t.equal((await put(s.base, bad.token, { x: 1, y: 1, color: 1 })).status, 200);
  t.equal((await admin(s.base, 'ban', { userId: bad.userId }, 'wrong-token-wrong')).status, 403, 'a wrong admin token is refused');
  t.equal((await admin(s.base, 'ban', { userId: '../etc' })).status, 400);
  t.same((await admin(s.base, 'ban', { userId: bad.userId })).body, { userId: bad.userId, banned: true });
  const refused = await put(s.base, bad.token, { x: 2, y: 2, color: 2 });
  t.equal(refused.status, 403);
  t.equal(refused.body.error, 'banned');
  const ws = await listen(s.base.replace('http', 'ws') + '/ws', { headers: { authorization: `Bearer ${bad.token}` } });
  t.teardown(() => ws.close());
  ws.send({ t: 'place', id: 9, x: 3, y: 3, color: 3 });
  t.equal((await ws.waitForText((m) => m.id === 9)).error, 'banned');
  const good = await session(s.base);
  t.equal((await put(s.base, good.token, { x: 2, y: 2, color: 2 })).status, 200, 'others still place');
  await admin(s.base, 'ban', { userId: bad.userId, banned: false });
  t.equal((await put(s.base, bad.token, { x: 2, y: 2, color: 4 })).status, 200, 'unbanned');
  const log = (await admin(s.base, 'log', {})).body.actions;
  t.same(log.map((a: any) => a.action), ['unban', 'ban'], 'every action is logged, newest first');
});

t.test('without ADMIN_TOKEN moderation is off', async (t) => {
  const s = await startInProcess({});
  t.teardown(() => s.stop());
  t.equal((await admin(s.base, 'ban', { userId: 'x' })).status, 403);
});

async function boardBytes(base: string): Promise<Uint8Array> {
  return new Uint8Array(await (await fetch(`${base}/api/board`)).arrayBuffer());
}
const colorAt = (b: Uint8Array, i: number) => (i % 2 === 0 ? b[i >> 1] >> 4 : b[i >> 1] & 0x0f);

async function rollbackScenario(t: Test, env: Record<string, string>) {
  const s = await startInProcess({ ...env, COOLDOWN_MS: '0', ADMIN_TOKEN: ADMIN });
  t.teardown(() => s.stop());
  const testStart = Date.now();
  const good = await session(s.base);
  const vandal = await session(s.base);
  const other = await session(s.base);
  // A picture first, then the vandal paints over part of it, then someone else fixes one pixel by hand.
  for (let x = 0; x < 6; x++) t.equal((await put(s.base, good.token, { x, y: 0, color: 5 })).status, 200);
  const from = Date.now();
  for (let x = 2; x < 8; x++) await put(s.base, vandal.token, { x, y: 0, color: 3 });
  const last = (await put(s.base, other.token, { x: 3, y: 0, color: 9 })).body.seq as number;
  // Rollback reads the history: wait until the writer has it all (Redis + DynamoDB), however loaded the box.
  for (let i = 0; i < 200; i++) {
    const h = await fetch(`${s.base}/api/pixel?x=3&y=0`);
    if (h.status === 200 && ((await h.json()) as { seq: number }).seq === last) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // From the last placement on: the listener must see exactly the rollback's placements.
  const listener = await listen(s.base.replace('http', 'ws') + `/ws?since=${last}`, { after: last });
  t.teardown(() => listener.close());
  const res = await admin(s.base, 'rollback', { userId: vandal.userId, from, to: Date.now() });
  t.equal(res.status, 200, JSON.stringify(res.body));
  t.same(res.body, { selected: 6, restored: 5 }, 'six selected; the one painted over since is left alone');
  const b = await boardBytes(s.base);
  t.same([0, 1, 2, 3, 4, 5, 6, 7].map((x) => colorAt(b, x)), [5, 5, 5, 9, 5, 5, 0, 0], 'each pixel back to what it was before');
  await listener.waitForSeq(Number((await fetch(`${s.base}/api/board`)).headers.get('x-canvas-seq')));
  t.equal(listener.seqs.length, 5, 'the restorations reached every screen as ordinary placements');
  const log = (await admin(s.base, 'log', {})).body.actions;
  t.equal(log[0].action, 'rollback');
  t.equal(log[0].userId, vandal.userId);
  const rect = await admin(s.base, 'rollback', { rect: { x0: 0, y0: 0, x1: 1, y1: 0 }, from: testStart, to: Date.now() });
  t.same(rect.body, { selected: 2, restored: 2 }, 'a rectangle rollback');
  const b2 = await boardBytes(s.base);
  t.same([colorAt(b2, 0), colorAt(b2, 1)], [0, 0]);
  t.equal((await admin(s.base, 'rollback', { rect: { x0: 0, y0: 0, x1: 1, y1: 0 }, from: 0 })).status, 400, 'unbounded rectangle ranges are refused');
}

t.test('rollback of a user in a time range [embedded]', async (t) => rollbackScenario(t, {}));

t.test('rollback of a user in a time range [redis + DynamoDB Local]', async (t) => {
  const { startRedis } = await import('./support/redis-server.js');
  const { startDynamo } = await import('./support/dynamo.js');
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const dynamo = await startDynamo();
  t.teardown(() => dynamo.stop());
  await rollbackScenario(t, { REDIS_URL: redis.url, DYNAMODB_TABLE: 'moderation', DYNAMODB_ENDPOINT: dynamo.endpoint });
});
