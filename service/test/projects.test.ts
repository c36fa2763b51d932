// Community projects over HTTP: creating one (a session and one placement of the network's budget), reading and
// listing it, and a clear 4xx for every bad input — PNG colours outside the palette, an image over
// PROJECT_MAX_PIXELS, a project off the canvas, a malformed body, a bad push subscription.
import t from 'tap';
import { startFakePush } from './support/fake-push.js';
import { alertEnv, createProject, rgbaPng, templatePng } from './support/projects.js';
import { session, startInProcess } from './support/service.js';

const push = await startFakePush();
t.teardown(() => push.close());
const server = await startInProcess({ CANVAS_WIDTH: '100', CANVAS_HEIGHT: '80', PROJECT_MAX_PIXELS: '400', ...alertEnv(push.origin) });
t.teardown(() => server.stop());
const base = server.base;
const me = await session(base);
const b64 = (b: Buffer) => b.toString('base64');
const smiley = templatePng(4, 3, (x, y) => (y === 0 && x % 3 === 0 ? 3 : y === 2 ? 5 : null));

t.test('a valid project: 201 with its template, counts and public link; listed and readable', async (t) => {
  const r = await createProject(base, me.token, { name: '  Smiley ', x: 10, y: 20, png: b64(smiley) });
  t.equal(r.status, 201, JSON.stringify(r.body));
  t.match(r.body, { name: 'Smiley', x: 10, y: 20, width: 4, height: 3, hidden: false, createdBy: me.userId, total: 6, correct: 0, damaged: 0, completionPercent: 0 });
  t.match(r.body.id, /^[A-Za-z0-9_-]{11}$/);
  t.equal(r.body.link, `/?project=${r.body.id}`);
  const pixels = Buffer.from(r.body.pixels, 'base64');
  t.same([...pixels], [3, 255, 255, 3, 255, 255, 255, 255, 5, 5, 5, 5], 'palette indices row by row, 255 = transparent');
  const one = await (await fetch(`${base}/api/projects/${r.body.id}`)).json();
  t.equal(one.pixels, r.body.pixels);
  const list = await (await fetch(`${base}/api/projects`)).json();
  t.ok(list.projects.some((p: any) => p.id === r.body.id && p.pixels === undefined), 'listed, without the template');
  // Already-right pixels count at creation: the board is white (0) everywhere.
  const white = await createProject(base, me.token, { name: 'white', x: 0, y: 0, png: b64(templatePng(2, 2, () => 0)) });
  t.match(white.body, { total: 4, correct: 4, completionPercent: 100 });
});

t.test('bad input: a clear 4xx each', async (t) => {
  const cases: [string, string | undefined, unknown, number, string, RegExp?][] = [
    ['no session', undefined, { name: 'a', x: 0, y: 0, png: b64(smiley) }, 401, 'no_session'],
    ['not JSON', me.token, '{nope', 400, 'invalid_project', /JSON/],
    ['an array', me.token, '[]', 400, 'invalid_project', /object/],
    ['no name', me.token, { x: 0, y: 0, png: b64(smiley) }, 400, 'invalid_project', /name/],
    ['a 65-character name', me.token, { name: 'n'.repeat(65), x: 0, y: 0, png: b64(smiley) }, 400, 'invalid_project', /name/],
    ['x not an integer', me.token, { name: 'a', x: 1.5, y: 0, png: b64(smiley) }, 400, 'invalid_project', /"x"/],
    ['y a string', me.token, { name: 'a', x: 0, y: '3', png: b64(smiley) }, 400, 'invalid_project', /"y"/],
    ['no png', me.token, { name: 'a', x: 0, y: 0 }, 400, 'invalid_project', /png/],
    ['png not base64', me.token, { name: 'a', x: 0, y: 0, png: 'not base64!' }, 400, 'invalid_project', /base64/],
    ['not a PNG', me.token, { name: 'a', x: 0, y: 0, png: b64(Buffer.from('GIF89a, honestly, a GIF of 33 bytes')) }, 400, 'invalid_project', /not a PNG/],
    ['a truncated PNG', me.token, { name: 'a', x: 0, y: 0, png: b64(smiley.subarray(0, 40)) }, 400, 'invalid_project', /cannot be decoded/],
    ['fully transparent', me.token, { name: 'a', x: 0, y: 0, png: b64(templatePng(3, 3, () => null)) }, 400, 'invalid_project', /transparent/],
    ['a colour outside the palette', me.token, { name: 'a', x: 0, y: 0, png: b64(rgbaPng(3, 2, (x, y) => (x === 2 && y === 1 ? [1, 2, 3, 255] : [255, 255, 255, 255]))) }, 422, 'project_off_palette', /pixel 2,1 .*#010203/],
    ['half transparent', me.token, { name: 'a', x: 0, y: 0, png: b64(rgbaPng(2, 2, () => [255, 255, 255, 128])) }, 422, 'project_off_palette', /alpha 128/],
    ['over PROJECT_MAX_PIXELS', me.token, { name: 'a', x: 0, y: 0, png: b64(templatePng(21, 20, () => 1)) }, 413, 'project_too_large', /420 pixels; at most 400/],
    ['past the right edge', me.token, { name: 'a', x: 97, y: 0, png: b64(smiley) }, 422, 'project_out_of_bounds', /at 97,0/],
    ['past the bottom edge', me.token, { name: 'a', x: 0, y: 78, png: b64(smiley) }, 422, 'project_out_of_bounds'],
    ['negative x', me.token, { name: 'a', x: -1, y: 0, png: b64(smiley) }, 422, 'project_out_of_bounds'],
  ];
  for (const [what, token, body, status, code, message] of cases) {
    const r = await createProject(base, token, body);
    t.equal(r.status, status, `${what}: ${status}`);
    t.equal(r.body.error, code, `${what}: ${code}`);
    if (message) t.match(r.body.message, message, `${what}: says what was wrong`);
  }
  const huge = await createProject(base, me.token, { name: 'a', x: 0, y: 0, png: 'A'.repeat(3_000_000) });
  t.equal(huge.status, 413, 'a body over the limit: 413');
  t.equal(huge.body.error, 'payload_too_large');
  const unknown = await fetch(`${base}/api/projects/AAAAAAAAAAA`);
  t.equal(unknown.status, 404);
  t.equal((await unknown.json()).error, 'not_found');
  t.equal((await fetch(`${base}/api/projects/x`)).status, 404, 'a malformed id: 404');
});

t.test('alert subscriptions: bad input refused', async (t) => {
  const p = await createProject(base, me.token, { name: 'alerts', x: 50, y: 50, png: b64(smiley) });
  const sub = push.subscribe('bad-input');
  const call = (body: unknown, token: string | null = me.token) =>
    fetch(`${base}/api/projects/${p.body.id}/alerts`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {}, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json() }));
  const cases: [string, unknown, RegExp][] = [
    ['no threshold', { subscription: sub }, /thresholdPercent/],
    ['threshold 0', { subscription: sub, thresholdPercent: 0 }, /thresholdPercent/],
    ['threshold 101', { subscription: sub, thresholdPercent: 101 }, /thresholdPercent/],
    ['no subscription', { thresholdPercent: 10 }, /PushSubscription/],
    ['endpoint not a URL', { subscription: { ...sub, endpoint: 'nope' }, thresholdPercent: 10 }, /not a URL/],
    ['a push service not allowed', { subscription: { ...sub, endpoint: 'http://169.254.169.254/latest' }, thresholdPercent: 10 }, /not allowed/],
    ['p256dh not a P-256 point', { subscription: { ...sub, keys: { ...sub.keys, p256dh: 'AAAA' } }, thresholdPercent: 10 }, /p256dh/],
    ['auth not 16 bytes', { subscription: { ...sub, keys: { ...sub.keys, auth: 'AAAA' } }, thresholdPercent: 10 }, /auth/],
  ];
  for (const [what, body, message] of cases) {
    const r = await call(body);
    t.equal(r.status, 400, `${what}: 400`);
    t.equal(r.body.error, 'invalid_subscription');
    t.match(r.body.message, message, `${what}: says what was wrong`);
  }
  t.equal((await call({ subscription: sub, thresholdPercent: 10 }, null)).status, 401, 'no session: 401');
  const ok = await call({ subscription: sub, thresholdPercent: 10 });
  t.equal(ok.status, 201);
  t.match(ok.body, { project: p.body.id, thresholdPercent: 10 });
  const key = await (await fetch(`${base}/api/push/key`)).json();
  t.equal(key.publicKey, server.env.VAPID_PUBLIC_KEY, 'the VAPID public key for PushManager.subscribe');
});

t.test('the price of a project, the canvas cap, and alerts without VAPID keys', async (t) => {
  const small = await startInProcess({ CANVAS_WIDTH: '100', CANVAS_HEIGHT: '80', PROJECT_MAX_COUNT: '1', RATE_LIMIT_PLACEMENTS_PER_MIN: '2', RATE_LIMIT_COARSE_FACTOR: '0' });
  t.teardown(() => small.stop());
  const u = await session(small.base);
  const body = { name: 'one', x: 0, y: 0, png: b64(smiley) };
  const first = await createProject(small.base, u.token, body);
  t.equal(first.status, 201);
  const second = await createProject(small.base, u.token, body);
  t.equal(second.status, 409, 'PROJECT_MAX_COUNT reached: 409');
  t.equal(second.body.error, 'too_many_projects');
  const third = await createProject(small.base, u.token, body);
  t.equal(third.status, 429, 'a project costs one placement of the network budget: the third call finds it spent');
  t.match(third.body, { error: 'rate_limited', budget: 'placements' });
  t.ok(Number(third.body.retryAfterMs) > 0);
  const alerts = await fetch(`${small.base}/api/projects/${first.body.id}/alerts`, { method: 'POST', headers: { authorization: `Bearer ${u.token}` }, body: '{}' });
  t.equal(alerts.status, 503);
  t.equal((await alerts.json()).error, 'alerts_disabled');
  t.same(await (await fetch(`${small.base}/api/push/key`)).json(), { publicKey: null });
});

t.test('configuration: projects and alert settings are checked at start', async (t) => {
  const { loadConfig } = await import('../src/config.js');
  const env = (e: Record<string, string>) => ({ SESSION_SECRET: 'x'.repeat(32), DATA_DIR: server.env.DATA_DIR!, ...e });
  const keys = alertEnv('https://push.example.com');
  t.match(loadConfig(env({})).projects, { maxPixels: 65_536, maxCount: 5000, vapid: undefined, alertIntervalMs: 600_000 }, 'the defaults');
  t.ok(loadConfig(env({})).projects.pushOrigins.includes('https://fcm.googleapis.com'), 'the browsers’ push services by default');
  t.match(loadConfig(env(keys)).projects, { vapid: { publicKey: keys.VAPID_PUBLIC_KEY, subject: 'mailto:ops@tessera.test' }, pushOrigins: ['https://push.example.com'] });
  const bad: [Record<string, string>, RegExp][] = [
    [{ VAPID_PUBLIC_KEY: keys.VAPID_PUBLIC_KEY }, /set together/],
    [{ ...keys, VAPID_PUBLIC_KEY: 'AAAA' }, /VAPID_PUBLIC_KEY must be 65 bytes/],
    [{ ...keys, VAPID_PRIVATE_KEY: 'AAAA' }, /VAPID_PRIVATE_KEY must be 32 bytes/],
    [{ ...keys, VAPID_SUBJECT: 'ops@tessera.test' }, /VAPID_SUBJECT must be a mailto: or https: URL/],
    [{ PUSH_ALLOWED_ORIGINS: 'https://push.example.com/path' }, /PUSH_ALLOWED_ORIGINS/],
    [{ PROJECT_MAX_PIXELS: '0' }, /PROJECT_MAX_PIXELS/],
    [{ PROJECT_ALERT_INTERVAL_MS: '10' }, /PROJECT_ALERT_INTERVAL_MS/],
  ];
  for (const [e, message] of bad) t.throws(() => loadConfig(env(e)), { message }, `refused: ${JSON.stringify(e).slice(0, 60)}`);
});
