// Live controls for operators: cooldown, freeze and one colour through /api/admin/controls, applied on every
// container within seconds (embedded: one server; Redis: an in-process container and a child process), over
// HTTP and WebSocket alike; told to sockets as {"t":"controls"}; logged; kept across an embedded restart.
import t, { type Test } from 'tap';
import { autoCooldownMs } from '../src/auto-cooldown.js';
import { loadConfig } from '../src/config.js';
import { bothModes } from './support/modes.js';
import { startRedis } from './support/redis-server.js';
import { put, session, startChild, startInProcess } from './support/service.js';
import { listen, type Listener } from './support/ws-client.js';

const ADMIN = 'admin-token-controls-0123';

interface Container {
  name: string;
  base: string;
}

async function controls(base: string, body?: unknown, token: string | null = ADMIN): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = token === null ? {} : { 'x-admin-token': token };
  const r = await fetch(`${base}/api/admin/controls`, body === undefined ? { headers } : { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

const config = async (base: string) => (await (await fetch(`${base}/api/config`)).json()) as { cooldownMs: number; frozen: boolean; onlyColor: number | null };

/** Polls until check() is true; returns how long that took (ms). */
async function within(what: string, check: () => Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let nextId = 1;
async function wsPlace(l: Listener, x: number, y: number, color: number): Promise<any> {
  const id = nextId++;
  l.send({ t: 'place', id, x, y, color });
  return l.waitForText((m) => m.id === id);
}

async function sockets(t: Test, cs: Container[], token: string): Promise<Listener[]> {
  const ls = await Promise.all(cs.map((c) => listen(c.base.replace('http', 'ws') + '/ws', { headers: { authorization: `Bearer ${token}` } })));
  t.teardown(() => ls.forEach((l) => l.close()));
  return ls;
}

const controlsTexts = (l: Listener) => l.texts.filter((m) => m.t === 'controls');

/** The whole story against one or more containers sharing a canvas; returns the propagation times measured. */
async function scenario(t: Test, cs: Container[]): Promise<void> {
  const [c0, cN] = [cs[0], cs[cs.length - 1]];
  const a = await session(c0.base);
  const b = await session(c0.base);
  const watcher = await session(c0.base);
  const ws = await sockets(t, cs, watcher.token);
  for (const l of ws) {
    await l.waitForText((m) => m.t === 'controls');
    t.same(controlsTexts(l)[0], { t: 'controls', cooldownMs: 60_000, frozen: false, onlyColor: null }, 'a socket is told the controls when it opens');
  }
  t.match(await config(c0.base), { width: 100, height: 80, cooldownMs: 60_000, frozen: false, onlyColor: null }, 'GET /api/config has the live controls');

  // Cooldown: A placed under the configured 60 s; then a moderator sets 2 s.
  const first = await put(c0.base, a.token, { x: 1, y: 1, color: 1 });
  t.equal(first.status, 200);
  t.ok(Math.abs(first.body.nextPlacementAt - Date.now() - 60_000) < 1000, 'the configured cooldown before any change');
  const set = await controls(c0.base, { cooldownMs: 2000 });
  t.equal(set.status, 200);
  t.match(set.body, { cooldownMs: 2000, frozen: false, onlyColor: null, cooldownSource: 'moderator', defaultCooldownMs: 60_000, version: 1 });
  for (const c of cs) {
    const ms = await within(`cooldown on ${c.name}`, async () => (await config(c.base)).cooldownMs === 2000);
    t.comment(`cooldown 60000 → 2000 ms visible in GET /api/config on ${c.name} after ${ms} ms`);
  }
  for (const [i, l] of ws.entries()) {
    await l.waitForText((m) => m.t === 'controls' && m.cooldownMs === 2000);
    t.pass(`the socket on ${cs[i].name} got {"t":"controls","cooldownMs":2000}`);
  }
  const before = Date.now();
  const pb = await put(cN.base, b.token, { x: 2, y: 2, color: 2 });
  t.equal(pb.status, 200);
  const wait = pb.body.nextPlacementAt - before;
  t.comment(`B's placement on ${cN.name}: nextPlacementAt − now = ${wait} ms`);
  t.ok(wait >= 1900 && wait <= 2500, 'the new cooldown is the one given out');
  const refusedA = await put(cN.base, a.token, { x: 1, y: 2, color: 1 });
  t.equal(refusedA.body.error, 'cooldown', 'a wait already given keeps its length (the change applies from the next placement)');
  t.ok(refusedA.body.retryAfterMs > 50_000);
  const early = await put(c0.base, b.token, { x: 2, y: 3, color: 2 });
  t.equal(early.status, 429, 'B is still cooling down');
  t.ok(early.body.retryAfterMs <= 2000 && early.body.retryAfterMs > 1000, `retryAfterMs ${early.body.retryAfterMs} reflects 2 s`);
  await new Promise((r) => setTimeout(r, Math.max(0, pb.body.nextPlacementAt - Date.now()) + 50));
  const again = await put(c0.base, b.token, { x: 2, y: 3, color: 2 });
  t.equal(again.status, 200, `after 2 s B places again, on ${c0.name}`);

  // A longer cooldown from the other container.
  t.equal((await controls(cN.base, { cooldownMs: 120_000 })).status, 200);
  for (const c of cs) await within(`longer cooldown on ${c.name}`, async () => (await config(c.base)).cooldownMs === 120_000);
  await new Promise((r) => setTimeout(r, Math.max(0, again.body.nextPlacementAt - Date.now()) + 50));
  const long = await put(c0.base, b.token, { x: 3, y: 3, color: 3 });
  t.equal(long.status, 200);
  t.ok(Math.abs(long.body.nextPlacementAt - Date.now() - 120_000) < 1000, 'the longer cooldown is given out');
  const refused = await put(cN.base, b.token, { x: 3, y: 4, color: 3 });
  t.equal(refused.status, 429);
  t.ok(refused.body.retryAfterMs > 115_000 && refused.body.retryAfterMs <= 120_000, `retryAfterMs ${refused.body.retryAfterMs} reflects 120 s`);
  t.equal(refused.headers.get('retry-after'), String(Math.ceil(refused.body.retryAfterMs / 1000)));

  // Back to COOLDOWN_MS, then no cooldown for the rest (every try below may place).
  t.match((await controls(c0.base, { cooldownMs: null })).body, { cooldownMs: 60_000, cooldownSource: 'config' });
  t.equal((await controls(c0.base, { cooldownMs: 0 })).body.cooldownMs, 0);
  for (const c of cs) await within(`no cooldown on ${c.name}`, async () => (await config(c.base)).cooldownMs === 0);

  // Freeze: HTTP and WebSocket placements refused on every container, then accepted again.
  const placer = await session(c0.base);
  const pws = await sockets(t, cs, placer.token);
  t.equal((await controls(c0.base, { frozen: true })).body.frozen, true);
  for (const [i, c] of cs.entries()) {
    let last: Awaited<ReturnType<typeof put>> | undefined;
    const ms = await within(`freeze on ${c.name}`, async () => (last = await put(c.base, placer.token, { x: 5, y: 5, color: 5 })).status === 423);
    t.comment(`freeze refused PUT /api/pixel on ${c.name} after ${ms} ms`);
    t.match(last!.body, { error: 'frozen', message: /frozen/ });
    t.match(await wsPlace(pws[i], 5, 6, 5), { t: 'error', error: 'frozen', message: /frozen/ }, `WebSocket placement refused on ${c.name}`);
    await ws[i].waitForText((m) => m.t === 'controls' && m.frozen === true);
  }
  t.equal((await config(cN.base)).frozen, true);
  t.equal((await controls(cN.base, { frozen: false })).body.frozen, false);
  for (const [i, c] of cs.entries()) {
    const ms = await within(`unfreeze on ${c.name}`, async () => (await put(c.base, placer.token, { x: 6, y: 6, color: 6 })).status === 200);
    t.comment(`unfreeze accepted on ${c.name} after ${ms} ms`);
    t.match(await wsPlace(pws[i], 6, 7, 6), { t: 'ack' }, `WebSocket placement accepted on ${c.name}`);
  }

  // One colour: the others refused, that one accepted, over HTTP and WebSocket.
  t.equal((await controls(c0.base, { onlyColor: 5 })).body.onlyColor, 5);
  for (const [i, c] of cs.entries()) {
    let last: Awaited<ReturnType<typeof put>> | undefined;
    const ms = await within(`onlyColor on ${c.name}`, async () => (last = await put(c.base, placer.token, { x: 7, y: 7, color: 3 })).status === 403);
    t.comment(`onlyColor 5 refused colour 3 on ${c.name} after ${ms} ms`);
    t.match(last!.body, { error: 'color_not_allowed', onlyColor: 5 });
    t.equal((await put(c.base, placer.token, { x: 7, y: 8, color: 5 })).status, 200, `colour 5 accepted on ${c.name}`);
    t.match(await wsPlace(pws[i], 7, 9, 3), { t: 'error', error: 'color_not_allowed' });
    t.match(await wsPlace(pws[i], 7, 10, 5), { t: 'ack' });
    await ws[i].waitForText((m) => m.t === 'controls' && m.onlyColor === 5);
  }
  t.equal((await controls(c0.base, { onlyColor: null })).body.onlyColor, null);
  for (const c of cs) await within(`every colour on ${c.name}`, async () => (await put(c.base, placer.token, { x: 8, y: 8, color: 3 })).status === 200);

  // Each change is in the moderation log, newest first, with old → new.
  const log = await fetch(`${c0.base}/api/admin/log`, { method: 'POST', headers: { 'x-admin-token': ADMIN }, body: '{}' });
  const actions = ((await log.json()) as { actions: any[] }).actions.filter((a) => a.action === 'controls');
  t.same(
    actions.map((a) => a.changes).reverse(),
    [
      { cooldownMs: { from: 60_000, to: 2000 } },
      { cooldownMs: { from: 2000, to: 120_000 } },
      { cooldownMs: { from: 120_000, to: 60_000 } },
      { cooldownMs: { from: 60_000, to: 0 } },
      { frozen: { from: false, to: true } },
      { frozen: { from: true, to: false } },
      { onlyColor: { from: null, to: 5 } },
      { onlyColor: { from: 5, to: null } },
    ],
    'every change is logged with what changed, old → new',
  );
  t.same(actions.map((a) => a.version), [8, 7, 6, 5, 4, 3, 2, 1]);
  t.ok(actions.every((a) => a.by === 'admin' && typeof a.at === 'number'));
}

t.test('validation and the admin token', async (t) => {
  const s = await startInProcess({ ADMIN_TOKEN: ADMIN });
  t.teardown(() => s.stop());
  for (const token of [null, 'wrong-token-wrong-token']) {
    t.equal((await controls(s.base, undefined, token)).status, 403, `GET with ${token ? 'a wrong' : 'no'} token`);
    const r = await controls(s.base, { frozen: true }, token);
    t.equal(r.status, 403, `POST with ${token ? 'a wrong' : 'no'} token`);
    t.equal(r.body.error, 'forbidden');
  }
  const bad: [unknown, RegExp][] = [
    [{ cooldownMs: -1 }, /"cooldownMs"/],
    [{ cooldownMs: 1.5 }, /"cooldownMs"/],
    [{ cooldownMs: '2000' }, /"cooldownMs"/],
    [{ cooldownMs: 86_400_001 }, /"cooldownMs"/],
    [{ frozen: 'yes' }, /"frozen"/],
    [{ frozen: 1 }, /"frozen"/],
    [{ frozen: null }, /"frozen"/],
    [{ onlyColor: 16 }, /"onlyColor"/],
    [{ onlyColor: -1 }, /"onlyColor"/],
    [{ onlyColor: 'red' }, /"onlyColor"/],
    [{ onlyColor: 2, colour: 3 }, /"colour"/],
    [{}, /at least one/],
    ['not json', /JSON/],
    ['[1]', /object/],
  ];
  for (const [body, message] of bad) {
    const r = await controls(s.base, body);
    t.equal(r.status, 400, `400 for ${JSON.stringify(body)}`);
    t.equal(r.body.error, 'invalid_request');
    t.match(r.body.message, message, r.body.message);
  }
  t.match((await controls(s.base)).body, { cooldownMs: 60_000, frozen: false, onlyColor: null, version: 0 }, 'nothing was changed by the refused calls');
  t.match((await controls(s.base, { cooldownMs: 86_400_000, frozen: false, onlyColor: 15 })).body, { cooldownMs: 86_400_000, onlyColor: 15, version: 1 }, 'the bounds themselves are accepted');
});

t.test('embedded: one server, and the controls survive a restart', async (t) => {
  const s = await startInProcess({ ADMIN_TOKEN: ADMIN });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : s.stop()));
  await scenario(t, [{ name: 'embedded', base: s.base }]);
  await controls(s.base, { cooldownMs: 45_000, frozen: true, onlyColor: 12 });
  const before = (await controls(s.base)).body;
  await s.stop();
  stopped = true;
  const again = await startInProcess({ ADMIN_TOKEN: ADMIN, DATA_DIR: s.env.DATA_DIR });
  t.teardown(() => again.stop());
  t.same((await controls(again.base)).body, before, 'the same controls after a restart');
  t.match(await config(again.base), { cooldownMs: 45_000, frozen: true, onlyColor: 12 });
  const u = await session(again.base);
  t.equal((await put(again.base, u.token, { x: 1, y: 1, color: 12 })).body.error, 'frozen', 'still frozen');
  const l = await listen(again.base.replace('http', 'ws') + '/ws');
  t.teardown(() => l.close());
  t.same(await l.waitForText((m) => m.t === 'controls'), { t: 'controls', cooldownMs: 45_000, frozen: true, onlyColor: 12 });
});

t.test('redis: two containers (in-process and a child process) share the controls', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const env = { REDIS_URL: redis.url, ADMIN_TOKEN: ADMIN };
  const one = await startInProcess(env);
  t.teardown(() => one.stop());
  const two = await startChild(env);
  t.teardown(() => two.stop());
  await scenario(t, [
    { name: 'container 1 (in-process)', base: one.base },
    { name: 'container 2 (child process)', base: two.base },
  ]);
  t.match((await controls(two.base)).body, { cooldownMs: 0, frozen: false, onlyColor: null, version: 8 }, 'both containers report the same version');
});

t.test('redis: across a Redis restart the containers keep the controls, and later changes still reach both', async (t) => {
  const redis = await startRedis({ aof: true });
  t.teardown(() => redis.stop());
  const env = { REDIS_URL: redis.url, ADMIN_TOKEN: ADMIN, COOLDOWN_MS: '0' };
  const one = await startInProcess(env);
  t.teardown(() => one.stop());
  const two = await startChild(env);
  t.teardown(() => two.stop());
  t.equal((await controls(one.base, { frozen: true })).status, 200);
  await within('freeze on the child', async () => (await config(two.base)).frozen);
  await redis.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));
  t.equal((await config(two.base)).frozen, true, 'while Redis is down the last known controls hold');
  t.equal((await controls(one.base, { frozen: false })).status, 503, 'a change while Redis is down is refused, not half-applied');
  await redis.restart();
  await within('a change once Redis is back', async () => (await controls(one.base, { frozen: false, onlyColor: 3 })).status === 200, 15_000);
  const ms = await within('the change on the child', async () => {
    const c = await config(two.base);
    return !c.frozen && c.onlyColor === 3;
  });
  t.comment(`after the Redis restart the child had the change after ${ms} ms`);
  const u = await session(two.base);
  await within('placing on the child', async () => (await put(two.base, u.token, { x: 1, y: 1, color: 3 })).status === 200, 10_000);
  t.equal((await put(two.base, u.token, { x: 1, y: 2, color: 4 })).body.error, 'color_not_allowed');
});

t.test('the automatic cooldown formula', async (t) => {
  const s = { baseMs: 300_000, refUsers: 1000, minMs: 30_000, maxMs: 900_000 };
  t.equal(autoCooldownMs(0, s), 30_000, 'nobody active: the minimum');
  t.equal(autoCooldownMs(1000, s), 300_000, 'the reference number of users: COOLDOWN_MS');
  t.equal(autoCooldownMs(500, s), 150_000);
  t.equal(autoCooldownMs(333, s), 90_000, 'rounded to 30 s above a minute');
  t.equal(autoCooldownMs(1_000_000, s), 900_000, 'the maximum');
  t.equal(autoCooldownMs(7, { ...s, minMs: 0 }), 0, 'rounded to 5 s below a minute');
  t.equal(autoCooldownMs(9, { ...s, minMs: 0 }), 5000);
  const env = { SESSION_SECRET: 'x'.repeat(32), DATA_DIR: '/tmp/tessera-unused' };
  t.equal(loadConfig(env).autoCooldown, undefined, 'off by default');
  t.same(loadConfig({ ...env, AUTO_COOLDOWN: '1' }).autoCooldown, { refUsers: 1000, minMs: 30_000, maxMs: 900_000 });
  t.throws(() => loadConfig({ ...env, AUTO_COOLDOWN: 'yes' }), /AUTO_COOLDOWN must be 0 or 1/);
  t.throws(() => loadConfig({ ...env, AUTO_COOLDOWN: '1', AUTO_COOLDOWN_MIN_MS: '60000', AUTO_COOLDOWN_MAX_MS: '1000' }), /AUTO_COOLDOWN_MIN_MS/);
  t.throws(() => loadConfig({ ...env, AUTO_COOLDOWN_REF_USERS: '0' }), /AUTO_COOLDOWN_REF_USERS/);
});

bothModes(t, 'automatic cooldown: follows who placed in the last 5 minutes; a moderator’s cooldown wins', async (t, mode) => {
  const s = await startInProcess({
    ...mode.env,
    ADMIN_TOKEN: ADMIN,
    COOLDOWN_MS: '60000',
    AUTO_COOLDOWN: '1',
    AUTO_COOLDOWN_REF_USERS: '2',
    AUTO_COOLDOWN_MIN_MS: '5000',
    AUTO_COOLDOWN_MAX_MS: '90000',
  });
  t.teardown(() => s.stop());
  t.match((await controls(s.base)).body, { cooldownMs: 5000, cooldownSource: 'auto', defaultCooldownMs: 60_000 }, 'nobody active yet: the minimum');
  const [l] = await sockets(t, [{ name: mode.name, base: s.base }], (await session(s.base)).token);
  const first = await session(s.base);
  t.equal((await put(s.base, first.token, { x: 1, y: 1, color: 1 })).status, 200);
  t.comment(`one active user: 30 s after ${await within('one user', async () => (await config(s.base)).cooldownMs === 30_000, 8000)} ms`);
  await l.waitForText((m) => m.t === 'controls' && m.cooldownMs === 30_000);
  for (let i = 0; i < 4; i++) t.equal((await put(s.base, (await session(s.base)).token, { x: 2 + i, y: 1, color: 2 })).status, 200);
  await within('five users', async () => (await config(s.base)).cooldownMs === 90_000, 8000);
  t.pass('five active users: 150 s, held at AUTO_COOLDOWN_MAX_MS');
  t.match((await controls(s.base, { cooldownMs: 10_000 })).body, { cooldownMs: 10_000, cooldownSource: 'moderator' });
  await new Promise((r) => setTimeout(r, 5500)); // past the next recomputation
  t.equal((await config(s.base)).cooldownMs, 10_000, 'the moderator’s cooldown wins over the automatic one');
  t.match((await controls(s.base, { cooldownMs: null })).body, { cooldownMs: 90_000, cooldownSource: 'auto' }, 'null hands it back');
});
