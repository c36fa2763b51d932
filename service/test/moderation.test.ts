// Moderation: named moderators, the append-only log (actions and refused attempts), bans by user and by network.
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { ADMIN, admin, netOf, putFrom } from './support/admin.js';
import { bothModes } from './support/modes.js';
import { put, session, startInProcess, testEnv } from './support/service.js';
import { listen } from './support/ws-client.js';

const ALICE = 'alice-token-alice-token-alice';
const BOB = 'bob-token-bob-token-bob-token';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const MODERATORS = `alice:${sha(ALICE)},bob:${sha(BOB)}`;
const OPEN = { COOLDOWN_MS: '0', RATE_LIMIT_PLACEMENTS_PER_MIN: '0', RATE_LIMIT_SESSIONS_PER_MIN: '0', TRUSTED_PROXY_HOPS: '1' };

bothModes(t, 'named moderators, and every attempt in the log', async (t, mode) => {
  const s = await startInProcess({ ...mode.env, ...OPEN, MODERATORS, ADMIN_TOKEN: ADMIN });
  t.teardown(() => s.stop());
  const u = await session(s.base);
  t.equal((await admin(s.base, 'POST', 'ban', { userId: u.userId }, { token: ALICE, name: 'alice' })).status, 200, 'alice by name');
  t.equal((await admin(s.base, 'POST', 'ban', { userId: u.userId, banned: false }, { token: BOB })).status, 200, 'bob without naming himself');
  t.equal((await admin(s.base, 'POST', 'controls', { frozen: false })).status, 200, 'ADMIN_TOKEN is the moderator "admin"');
  const wrong = await admin(s.base, 'POST', 'ban', { userId: u.userId }, { token: 'guess-guess-guess-guess', name: 'bob', from: '198.51.100.7' });
  t.equal(wrong.status, 403);
  t.equal(wrong.body.error, 'forbidden');
  t.equal((await admin(s.base, 'POST', 'ban', { userId: u.userId }, { token: ALICE, name: 'bob', from: '2001:db8:1:2::9' })).status, 403, "alice's token is not bob's");
  t.equal((await admin(s.base, 'GET', 'log', undefined, { from: '203.0.113.5' })).status, 403, 'no token');
  const all = (await admin(s.base, 'GET', 'log?limit=1000')).body;
  t.notOk(all.next, 'one page holds them all');
  t.same(
    all.actions.map((a: any) => [a.action, a.by, a.reason, a.net]),
    [
      ['auth_failed', undefined, 'no token', netOf('203.0.113.5')],
      ['auth_failed', 'bob', 'wrong token', netOf('2001:db8:1:2::9')],
      ['auth_failed', 'bob', 'wrong token', netOf('198.51.100.7')],
      ['controls', 'admin', undefined, undefined],
      ['unban', 'bob', undefined, undefined],
      ['ban', 'alice', undefined, undefined],
    ],
    'newest first: who did what, and who tried from which network (a hash, never the address)',
  );
  t.notOk(JSON.stringify(all).includes('198.51.100'), 'no address is kept');
  // Paging: two at a time, following "next", gives the same entries.
  const paged: any[] = [];
  let before: string | undefined;
  let pages = 0;
  do {
    const r = await admin(s.base, 'GET', `log?limit=2${before ? `&before=${before}` : ''}`);
    t.equal(r.status, 200);
    paged.push(...r.body.actions);
    before = r.body.next;
    pages++;
  } while (before);
  t.equal(pages, 3);
  t.same(paged.map((a) => a.id), all.actions.map((a: any) => a.id));
  t.equal((await admin(s.base, 'GET', 'log?before=x')).status, 400);
  t.equal((await admin(s.base, 'GET', 'log?limit=5000')).status, 400);
});

t.test('MODERATORS from a file, and bad entries refused at start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-mods-'));
  const file = join(dir, 'moderators');
  writeFileSync(file, `# name:sha256(token)\nalice:${sha(ALICE)}\n\nbob:${sha(BOB)}\n`);
  t.same(loadConfig(testEnv({ MODERATORS: file })).moderators.map((m) => m.name), ['alice', 'bob']);
  t.same(loadConfig(testEnv({ MODERATORS, ADMIN_TOKEN: ADMIN })).moderators.map((m) => m.name), ['alice', 'bob', 'admin']);
  t.throws(() => loadConfig(testEnv({ MODERATORS: 'alice:abc' })), /sha256/);
  t.throws(() => loadConfig(testEnv({ MODERATORS: `alice:${sha(ALICE)},alice:${sha(BOB)}` })), /twice/);
  t.throws(() => loadConfig(testEnv({ MODERATORS: join(dir, 'missing') })), /neither/);
  t.notOk(JSON.stringify(loadConfig(testEnv({ MODERATORS })).moderators).includes(ALICE), 'only hashes are kept');
});

t.test('without moderators moderation is off', async (t) => {
  const s = await startInProcess({});
  t.teardown(() => s.stop());
  t.equal((await admin(s.base, 'POST', 'ban', { userId: 'x' })).status, 403);
});

bothModes(t, 'bans by user', async (t, mode) => {
  const s = await startInProcess({ ...mode.env, ...OPEN, ADMIN_TOKEN: ADMIN });
  t.teardown(() => s.stop());
  const bad = await session(s.base);
  t.equal((await put(s.base, bad.token, { x: 1, y: 1, color: 1 })).status, 200);
  t.equal((await admin(s.base, 'POST', 'ban', { userId: '../etc' })).status, 400);
  t.equal((await admin(s.base, 'POST', 'ban', {})).status, 400, 'a user or a network');
  t.same((await admin(s.base, 'POST', 'ban', { userId: bad.userId })).body, { userId: bad.userId, banned: true });
  const refused = await put(s.base, bad.token, { x: 2, y: 2, color: 2 });
  t.equal(refused.status, 403);
  t.equal(refused.body.error, 'banned');
  const ws = await listen(s.base.replace('http', 'ws') + '/ws', { headers: { authorization: `Bearer ${bad.token}` } });
  t.teardown(() => ws.close());
  ws.send({ t: 'place', id: 9, x: 3, y: 3, color: 3 });
  t.equal((await ws.waitForText((m) => m.id === 9)).error, 'banned');
  const good = await session(s.base);
  t.equal((await put(s.base, good.token, { x: 2, y: 2, color: 2 })).status, 200, 'others still place');
  await admin(s.base, 'POST', 'ban', { userId: bad.userId, banned: false });
  t.equal((await put(s.base, bad.token, { x: 2, y: 2, color: 4 })).status, 200, 'unbanned');
});

bothModes(t, 'bans by network prefix, over HTTP and WebSocket', async (t, mode) => {
  const s = await startInProcess({ ...mode.env, ...OPEN, ADMIN_TOKEN: ADMIN });
  t.teardown(() => s.stop());
  const a = await session(s.base);
  const b = await session(s.base);
  t.equal((await putFrom(s.base, a.token, '203.0.113.7', { x: 1, y: 1, color: 1 })).status, 200);
  t.equal((await admin(s.base, 'POST', 'ban', { net: 'not-a-hash' })).status, 400);
  t.same((await admin(s.base, 'POST', 'ban', { net: netOf('203.0.113.7') })).body, { net: netOf('203.0.113.7'), banned: true });
  const refused = await putFrom(s.base, b.token, '203.0.113.7', { x: 2, y: 2, color: 2 });
  t.equal(refused.status, 403, 'any session from the banned network');
  t.equal(refused.body.error, 'network_banned');
  t.equal((await putFrom(s.base, b.token, '203.0.113.8', { x: 2, y: 2, color: 2 })).status, 200, 'the next address is another network (IPv4 /32)');
  const ws = await listen(s.base.replace('http', 'ws') + '/ws', { headers: { authorization: `Bearer ${a.token}`, 'x-forwarded-for': '203.0.113.7' } });
  t.teardown(() => ws.close());
  ws.send({ t: 'place', id: 4, x: 3, y: 3, color: 3 });
  t.equal((await ws.waitForText((m) => m.id === 4)).error, 'network_banned', 'and over a socket');
  // A coarse ban covers the whole IPv4 /24 (or IPv6 /48).
  await admin(s.base, 'POST', 'ban', { net: netOf('198.51.100.1', 'coarse') });
  t.equal((await putFrom(s.base, b.token, '198.51.100.200', { x: 4, y: 4, color: 4 })).status, 403);
  t.equal((await putFrom(s.base, b.token, '2001:db8:7::1', { x: 4, y: 4, color: 4 })).status, 200);
  await admin(s.base, 'POST', 'ban', { net: netOf('203.0.113.7'), banned: false });
  t.equal((await putFrom(s.base, a.token, '203.0.113.7', { x: 5, y: 5, color: 5 })).status, 200, 'unbanned');
  const log = (await admin(s.base, 'GET', 'log')).body.actions.map((e: any) => e.action);
  t.same(log, ['unban_network', 'ban_network', 'ban_network']);
});
