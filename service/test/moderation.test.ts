// Moderation: admin token, bans (403 banned over HTTP and socket), the kept moderation log.
import t from 'tap';
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
