// What a new session costs: the proof-of-work challenge (both store modes), the optional captcha against a
// local fake siteverify, the warm-up before a young session's first placement, and the way in with difficulty 0.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { Tokens } from '../src/auth/token.js';
import { loadConfig } from '../src/config.js';
import { leadingZeroBits, PowChallenges, solveChallenge } from '../src/pow/challenge.js';
import { bothModes } from './support/modes.js';
import { put, startInProcess, TEST_SECRET, testEnv } from './support/service.js';
import { listen } from './support/ws-client.js';

const DIFFICULTY = 8;

async function post(base: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const r = await fetch(`${base}/api/session`, {
    method: 'POST',
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

async function challenge(base: string): Promise<{ challenge: string; difficulty: number; expiresAt: number; captcha: boolean; session: boolean }> {
  const r = await fetch(`${base}/api/session/challenge`);
  // Never cached: by the browser, a CDN or a proxy.
  if (r.status !== 200 || r.headers.get('cache-control') !== 'no-store') throw new Error(`challenge: ${r.status} ${r.headers.get('cache-control')}`);
  return (await r.json()) as any;
}

/** A string that does NOT give `difficulty` zero bits: proves the server checks the work. */
function nonSolution(c: string, difficulty: number): string {
  for (let i = 0; ; i++) if (leadingZeroBits(createHash('sha256').update(`${c}:x${i}`).digest()) < difficulty) return `x${i}`;
}

bothModes(t, 'proof-of-work for new sessions', async (t, mode) => {
  const server = await startInProcess({ ...mode.env, POW_DIFFICULTY: String(DIFFICULTY), POW_TTL_S: '30' });
  t.teardown(() => server.stop());
  const base = server.base;

  const plain = await post(base);
  t.equal(plain.status, 401, 'a plain POST is refused');
  t.match(plain.body, { error: 'pow_required', difficulty: DIFFICULTY, message: /GET \/api\/session\/challenge/ });

  const c = await challenge(base);
  t.equal(c.difficulty, DIFFICULTY);
  t.equal(c.captcha, false);
  t.ok(Math.abs(c.expiresAt - (Date.now() + 30_000)) < 5000, 'expires after POW_TTL_S');
  const solution = solveChallenge(c.challenge, c.difficulty);
  const ok = await post(base, { challenge: c.challenge, solution });
  t.equal(ok.status, 200, 'a solved challenge buys a session');
  t.match(ok.body, { userId: String, token: String });
  t.equal((await put(base, ok.body.token, { x: 1, y: 1, color: 3 })).status, 200, 'and the session places');

  const again = await post(base, { challenge: c.challenge, solution });
  t.same([again.status, again.body.error], [403, 'pow_reused'], 'a challenge buys one session only');
  const kept = await post(base, undefined, { authorization: `Bearer ${ok.body.token}` });
  t.same([kept.status, kept.body.userId], [200, ok.body.userId], 'a visitor with a valid session keeps it without new work');
  const told = await (await fetch(`${base}/api/session/challenge`, { headers: { authorization: `Bearer ${ok.body.token}` } })).json();
  t.equal(told.session, true, 'and the challenge says so');
  t.equal(c.session, false);

  const fresh = await challenge(base);
  const [nonce, exp, diff, sig] = fresh.challenge.split('.');
  const forgedNonce = `${nonce.slice(0, -1)}${nonce.endsWith('A') ? 'B' : 'A'}.${exp}.${diff}.${sig}`;
  const cheaper = `${nonce}.${exp}.1.${sig}`;
  const later = `${nonce}.${Number(exp) + 3_600_000}.${diff}.${sig}`;
  for (const [name, forged] of [['nonce', forgedNonce], ['difficulty', cheaper], ['expiry', later]]) {
    const r = await post(base, { challenge: forged, solution: solveChallenge(forged, 1) });
    t.same([r.status, r.body.error], [403, 'pow_invalid'], `a challenge with an altered ${name} is refused`);
  }
  const foreign = new PowChallenges([Buffer.from('another-secret-another-secret-another-secret')], DIFFICULTY, 30_000).issue();
  const r1 = await post(base, { challenge: foreign.challenge, solution: solveChallenge(foreign.challenge, DIFFICULTY) });
  t.same([r1.status, r1.body.error], [403, 'pow_invalid'], 'a challenge signed with another secret is refused');

  const weak = await post(base, { challenge: fresh.challenge, solution: nonSolution(fresh.challenge, DIFFICULTY) });
  t.same([weak.status, weak.body.error], [403, 'pow_insufficient'], 'a solution without enough zero bits is refused');
  t.match(weak.body.message, `${DIFFICULTY} zero bits`);
  const ours = (d: number, ttlMs: number) => new PowChallenges([Buffer.from(TEST_SECRET)], d, ttlMs);
  const easy = ours(2, 30_000).issue();
  const r2 = await post(base, { challenge: easy.challenge, solution: solveChallenge(easy.challenge, 2) });
  t.same([r2.status, r2.body.error], [403, 'pow_insufficient'], 'a genuine challenge of a lower difficulty than today’s is refused');
  const old = ours(DIFFICULTY, 30_000).issue(Date.now() - 31_000);
  const r3 = await post(base, { challenge: old.challenge, solution: solveChallenge(old.challenge, DIFFICULTY) });
  t.same([r3.status, r3.body.error], [401, 'pow_expired'], 'an expired challenge is refused');

  const bad = await post(base, 'not json');
  t.same([bad.status, bad.body.error], [400, 'invalid_request']);
  const typed = await post(base, { challenge: 42, solution: 'a' });
  t.same([typed.status, typed.body.error], [403, 'pow_invalid']);
  const long = await post(base, { challenge: fresh.challenge, solution: 'x'.repeat(33) });
  t.same([long.status, long.body.error], [403, 'pow_invalid'], 'solutions are at most 32 characters');

  if (mode.name === 'redis') {
    // A second container on the same Redis knows the challenge was used.
    const other = await startInProcess({ ...server.env, POW_DIFFICULTY: String(DIFFICULTY) });
    t.teardown(() => other.stop());
    const c2 = await challenge(base);
    const s2 = solveChallenge(c2.challenge, DIFFICULTY);
    t.equal((await post(base, { challenge: c2.challenge, solution: s2 })).status, 200);
    const replay = await post(other.base, { challenge: c2.challenge, solution: s2 });
    t.same([replay.status, replay.body.error], [403, 'pow_reused'], 'replayed on another container: refused fleet-wide');
    const c3 = await challenge(other.base);
    t.equal((await post(base, { challenge: c3.challenge, solution: solveChallenge(c3.challenge, DIFFICULTY) })).status, 200, 'any container’s challenge is good on any other');
  }
});

t.test('POW_DIFFICULTY=0: a plain POST is the way in (tests, load generators)', async (t) => {
  const server = await startInProcess({ POW_DIFFICULTY: '0' });
  t.teardown(() => server.stop());
  t.equal((await post(server.base)).status, 200);
  t.same(await challenge(server.base), { challenge: null, difficulty: 0, expiresAt: null, captcha: false, session: false });
  t.equal(loadConfig({ ...testEnv(), POW_DIFFICULTY: undefined }).powDifficulty, 16, 'on by default');
  t.throws(() => loadConfig(testEnv({ POW_DIFFICULTY: '33' })), { code: 'config_invalid', message: /POW_DIFFICULTY/ });
});

/** A Turnstile/hCaptcha-style siteverify: {success: response === 'good'}; 'slow' never answers. */
async function fakeVerifier(t: Test) {
  const seen: URLSearchParams[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      seen.push(form);
      if (form.get('response') === 'slow') return; // left hanging: the service's timeout must answer
      const good = form.get('secret') === 'captcha-secret' && form.get('response') === 'good';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(good ? { success: true } : { success: false, 'error-codes': ['invalid-input-response'] }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/siteverify`, seen, server };
}
t.test('optional captcha, checked with a (fake) siteverify', async (t) => {
  const v = await fakeVerifier(t);
  const server = await startInProcess({ POW_DIFFICULTY: '0', CAPTCHA_VERIFY_URL: v.url, CAPTCHA_SECRET: 'captcha-secret', CAPTCHA_TIMEOUT_MS: '300' });
  t.teardown(() => server.stop());
  const base = server.base;
  t.equal((await challenge(base)).captcha, true, 'the challenge says a captcha is needed');
  const none = await post(base);
  t.same([none.status, none.body.error], [401, 'captcha_required']);
  const bad = await post(base, { captchaToken: 'bad' });
  t.same([bad.status, bad.body.error], [403, 'captcha_failed']);
  t.match(bad.body.message, 'invalid-input-response');
  const good = await post(base, { captchaToken: 'good' });
  t.equal(good.status, 200, 'an accepted token buys a session');
  const last = v.seen.at(-1)!;
  t.same([last.get('secret'), last.get('response'), last.get('remoteip')], ['captcha-secret', 'good', '127.0.0.1'], 'form-encoded secret, response, remoteip');
  const slow = await post(base, { captchaToken: 'slow' });
  t.same([slow.status, slow.body.error], [503, 'captcha_unavailable'], 'a verifier that does not answer in CAPTCHA_TIMEOUT_MS: 503');
  v.server.closeAllConnections();
  v.server.close();
  const down = await post(base, { captchaToken: 'good' });
  t.same([down.status, down.body.error], [503, 'captcha_unavailable'], 'a verifier that is down: 503');
  t.match(down.body.message, 'could not be checked');
  t.throws(() => loadConfig(testEnv({ CAPTCHA_VERIFY_URL: v.url })), { code: 'config_invalid', message: /CAPTCHA_SECRET/ }, 'URL without secret');
});

t.test('captcha and proof-of-work together: a replayed challenge never reaches the verifier', async (t) => {
  const v = await fakeVerifier(t);
  const server = await startInProcess({ POW_DIFFICULTY: String(DIFFICULTY), CAPTCHA_VERIFY_URL: v.url, CAPTCHA_SECRET: 'captcha-secret' });
  t.teardown(() => server.stop());
  const c = await challenge(server.base);
  const body = { challenge: c.challenge, solution: solveChallenge(c.challenge, DIFFICULTY), captchaToken: 'good' };
  t.equal((await post(server.base, body)).status, 200);
  const calls = v.seen.length;
  t.equal((await post(server.base, body)).body.error, 'pow_reused');
  t.equal(v.seen.length, calls, 'no siteverify call for a replay');
});

t.test('SESSION_WARMUP_MS: a young session waits before its first placement', async (t) => {
  const server = await startInProcess({ SESSION_WARMUP_MS: '60000', COOLDOWN_MS: '0' });
  t.teardown(() => server.stop());
  const young = (await post(server.base)).body.token as string;
  const r = await put(server.base, young, { x: 2, y: 2, color: 1 });
  t.equal(r.status, 429);
  t.match(r.body, { error: 'warming_up', retryAfterMs: Number });
  t.ok(r.body.retryAfterMs > 55_000 && r.body.retryAfterMs <= 60_000, `retryAfterMs ${r.body.retryAfterMs}`);
  t.equal(r.headers.get('retry-after'), '60');
  // Issued 61 s ago (expiresAt − SESSION_TTL_S is the issue time).
  const ttl = loadConfig(server.env).sessionTtlS;
  const grown = new Tokens([Buffer.from(TEST_SECRET)], ttl).mint('grown-up', Date.now() - 61_000).token;
  t.equal((await put(server.base, grown, { x: 2, y: 2, color: 1 })).status, 200, 'an older session places');

  const ws = await listen(`${server.base.replace('http', 'ws')}/ws`, { headers: { authorization: `Bearer ${young}` } });
  t.teardown(() => ws.close());
  ws.send({ t: 'place', id: 7, x: 3, y: 3, color: 2 });
  const err = await ws.waitForText((m) => m.t === 'error' && m.id === 7);
  t.match(err, { error: 'warming_up', retryAfterMs: Number }, 'over the socket too');
});
