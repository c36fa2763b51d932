// Community projects live, embedded and with Redis + DynamoDB Local (two containers): completion kept
// incrementally from the fan-out and sent to each project's watchers within a second, damage marked per pixel,
// one Web Push alert per threshold crossing for the whole fleet (verified and decrypted by a local push
// service), re-armed below half the threshold; a moderator hides a project everywhere; embedded, a restart
// keeps it.
import t, { type Test } from 'tap';
import { admin, ADMIN } from './support/admin.js';
import { startDynamo } from './support/dynamo.js';
import { startFakePush, type FakePush } from './support/fake-push.js';
import { alertEnv, createProject, templatePng } from './support/projects.js';
import { startRedis } from './support/redis-server.js';
import { put, session, startChild, startInProcess } from './support/service.js';
import { listen, type Listener } from './support/ws-client.js';

const ALERT_INTERVAL_MS = 2000;
const push = await startFakePush();
t.teardown(() => push.close());

interface Container {
  name: string;
  base: string;
}

const RED = 5;
const BLACK = 3;
/** 2×2 red at (20, 20): total 4. */
const AT = { x: 20, y: 20 };

async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 5000): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  for (;;) {
    const v = await check();
    if (v) return { value: v, ms: Date.now() - start };
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The newest {"t":"project"} counts a listener got. */
const latest = (l: Listener) => [...l.texts].reverse().find((m) => m.t === 'project' && m.total !== undefined);

async function allSee(t: Test, ls: Listener[], cs: Container[], what: string, pred: (m: any) => boolean, since: number): Promise<void> {
  for (const [i, l] of ls.entries()) {
    await eventually(`${what} on ${cs[i].name}`, async () => pred(latest(l)), 3000);
    const ms = Date.now() - since;
    t.ok(ms < 1000, `${what}: on ${cs[i].name}'s watcher ${ms} ms after the placement was acknowledged`);
  }
}

async function scenario(t: Test, cs: Container[], sub: string): Promise<string> {
  const [c0] = cs;
  const a = await session(c0.base);
  const created = await createProject(c0.base, a.token, { name: 'Red square', ...AT, png: templatePng(2, 2, () => RED).toString('base64') });
  t.equal(created.status, 201);
  const id: string = created.body.id;
  for (const c of cs) {
    const { ms } = await eventually(`project on ${c.name}`, async () => (await fetch(`${c.base}/api/projects/${id}`)).status === 200);
    t.comment(`the project is known on ${c.name} after ${ms} ms`);
  }
  const ls = await Promise.all(cs.map((c) => listen(c.base.replace('http', 'ws') + '/ws')));
  t.teardown(() => ls.forEach((l) => l.close()));
  for (const l of ls) {
    l.send({ t: 'watch', project: id });
    const snap = await l.waitForText((m) => m.t === 'project' && m.state !== undefined);
    t.match(snap, { id, total: 4, correct: 0, damaged: 0 });
    t.same([...Buffer.from(snap.state, 'base64')], [0, 0, 0, 0], 'the snapshot: every pixel to do');
  }
  const alert = await fetch(`${c0.base}/api/projects/${id}/alerts`, { method: 'POST', headers: { authorization: `Bearer ${a.token}` }, body: JSON.stringify({ subscription: push.subscribe(sub), thresholdPercent: 40 }) });
  t.equal(alert.status, 201);

  // Four people draw it, one pixel each; the placements go to every container in turn.
  for (let i = 0; i < 4; i++) {
    const u = await session(c0.base);
    const r = await put(cs[i % cs.length].base, u.token, { x: AT.x + (i % 2), y: AT.y + (i >> 1), color: RED });
    t.equal(r.status, 200);
    await allSee(t, ls, cs, `completion ${i + 1}/4`, (m) => m?.correct === i + 1, Date.now());
  }

  // A third party paints over two pixels: 50 % damage, past the 40 % threshold.
  const vandal = await session(c0.base);
  t.equal((await put(c0.base, vandal.token, { x: AT.x, y: AT.y, color: BLACK })).status, 200);
  await allSee(t, ls, cs, 'damage 1', (m) => m?.damaged === 1 && m.correct === 3, Date.now());
  t.ok(ls.every((l) => l.texts.some((m) => m.t === 'project' && Array.isArray(m.changes) && m.changes[0] === 0 && m.changes[1] === 2)), 'the damaged pixel (index 0, state 2) is in the update');
  t.equal(push.received.filter((p) => p.path.endsWith(sub)).length, 0, '25 % damage: below the threshold, no alert');
  t.equal((await put(cs[cs.length - 1].base, vandal.token, { x: AT.x + 1, y: AT.y, color: BLACK })).status, 200);
  await allSee(t, ls, cs, 'damage 2', (m) => m?.damaged === 2, Date.now());
  const mine = () => push.received.filter((p) => p.path.endsWith(sub));
  const { ms } = await eventually('the alert', async () => mine().length >= 1);
  t.comment(`alert at the push service ${ms} ms after the damage was seen`);
  const payload = JSON.parse(mine()[0].payload);
  t.match(payload, { project: id, name: 'Red square', damagePercent: 50, completionPercent: 50, url: `/?project=${id}` }, 'decrypted: it names the project');
  t.match(mine()[0].claims, { aud: push.origin, sub: 'mailto:ops@tessera.test' }, 'VAPID-signed for this push service');
  t.equal(mine()[0].urgency, 'high');
  t.same(push.refused, [], 'every request verified and decrypted');
  // More damage in the same episode: no second alert (and with two containers, only one sent the first).
  t.equal((await put(c0.base, vandal.token, { x: AT.x, y: AT.y + 1, color: BLACK })).status, 200);
  await allSee(t, ls, cs, 'damage 3', (m) => m?.damaged === 3, Date.now());
  await new Promise((r) => setTimeout(r, 1000));
  t.equal(mine().length, 1, 'one alert for the fleet, however far the damage goes');

  // Repaired below half the threshold: re-armed; damaged past it again (after the alert interval): a second alert.
  const fixer = await session(c0.base);
  for (const [dx, dy] of [[0, 0], [1, 0], [0, 1]]) t.equal((await put(c0.base, fixer.token, { x: AT.x + dx, y: AT.y + dy, color: RED })).status, 200);
  await allSee(t, ls, cs, 'repaired', (m) => m?.correct === 4 && m.damaged === 0, Date.now());
  await new Promise((r) => setTimeout(r, ALERT_INTERVAL_MS));
  for (const [dx, dy] of [[0, 0], [1, 1]]) t.equal((await put(c0.base, vandal.token, { x: AT.x + dx, y: AT.y + dy, color: BLACK })).status, 200);
  await eventually('the second alert', async () => mine().length >= 2);
  await new Promise((r) => setTimeout(r, 1000));
  t.equal(mine().length, 2, 'a new episode: exactly one more alert');

  // A moderator hides it: gone from every container and every watcher.
  const stranger = await admin(c0.base, 'POST', `projects/${id}`, { hidden: true }, { token: 'not-the-admin-token' });
  t.equal(stranger.status, 403);
  const hide = await admin(c0.base, 'POST', `projects/${id}`, { hidden: true });
  t.equal(hide.status, 200);
  t.same(hide.body, { id, hidden: true });
  for (const [i, l] of ls.entries()) {
    await l.waitForText((m) => m.t === 'project' && m.hidden === true, 3000);
    t.pass(`the watcher on ${cs[i].name} is told it is hidden`);
  }
  for (const c of cs) await eventually(`hidden on ${c.name}`, async () => (await fetch(`${c.base}/api/projects/${id}`)).status === 404, 3000);
  t.notOk((await (await fetch(`${cs[cs.length - 1].base}/api/projects`)).json()).projects.some((p: any) => p.id === id), 'not listed');
  const log = await admin(c0.base, 'GET', 'log');
  t.match(log.body.actions.find((e: any) => e.action === 'project_hidden'), { by: 'admin', project: id, name: 'Red square' }, 'in the moderation log');
  const again = await admin(c0.base, 'POST', `projects/${id}`, { hidden: false });
  t.equal(again.status, 200);
  await eventually('shown again', async () => (await fetch(`${cs[cs.length - 1].base}/api/projects/${id}`)).status === 200, 3000);
  t.equal((await admin(c0.base, 'POST', 'projects/AAAAAAAAAAA', {})).status, 404, 'hiding an unknown project: 404');
  t.equal((await admin(c0.base, 'POST', `projects/${id}`, { hidden: 'yes' })).status, 400, 'hidden must be a boolean');
  return id;
}

const env = (extra: Record<string, string> = {}) => ({ CANVAS_WIDTH: '100', CANVAS_HEIGHT: '80', COOLDOWN_MS: '0', ADMIN_TOKEN: ADMIN, ...alertEnv(push.origin, ALERT_INTERVAL_MS), ...extra });

t.test('embedded', async (t) => {
  const server = await startInProcess(env());
  let stopped = false;
  t.teardown(() => (stopped ? undefined : server.stop()));
  const id = await scenario(t, [{ name: 'embedded', base: server.base }], 'embedded');
  const before = await (await fetch(`${server.base}/api/projects/${id}`)).json();
  await server.stop();
  stopped = true;
  const again = await startInProcess({ ...server.env, PORT: '0' } as Record<string, string>);
  t.teardown(() => again.stop());
  const after = await (await fetch(`${again.base}/api/projects/${id}`)).json();
  t.match(after, { id, name: before.name, pixels: before.pixels, total: 4, correct: before.correct }, 'after a restart: the project, and its completion from the board');
  const watcher = await listen(again.base.replace('http', 'ws') + '/ws');
  t.teardown(() => watcher.close());
  watcher.send({ t: 'watch', project: 'nope' });
  t.match(await watcher.waitForText((m) => m.t === 'error'), { error: 'invalid_request', project: 'nope' }, 'watching a malformed id: an error message');
  watcher.send({ t: 'watch', project: 'AAAAAAAAAAA' });
  t.match(await watcher.waitForText((m) => m.t === 'error' && m.error === 'not_found'), { project: 'AAAAAAAAAAA' }, 'an unknown project: not_found');
});

t.test('redis + DynamoDB Local, two containers', async (t) => {
  const [redis, dynamo] = await Promise.all([startRedis(), startDynamo()]);
  t.teardown(() => Promise.all([redis.stop(), dynamo.stop()]));
  const e = env({ REDIS_URL: redis.url, DYNAMODB_TABLE: 'projects-test', DYNAMODB_ENDPOINT: dynamo.endpoint });
  const c0 = await startInProcess(e);
  t.teardown(() => c0.stop());
  const c1 = await startChild(e);
  t.teardown(() => c1.stop());
  await scenario(t, [{ name: 'container A', base: c0.base }, { name: 'container B', base: c1.base }], 'redis');
});
